//! Citus calls, writes and DDL on distributed and reference tables.

use sqlparser::ast::{self, Expr, SelectItem, SetExpr, Statement as Ast};

use super::{Action, Key, KeySource, Kind, Merge, RowInsert, derive, relations, unsupported};
use crate::catalog::Catalog;
use crate::error::{SqlError, code};
use crate::translate::{Context, Query, ident_name, object_name};

const PARTITION_VALUE: &str = "modifying the partition value of rows is not allowed";

/// `SELECT create_distributed_table(...)` and friends, when `stmt` is such a call.
pub(super) fn citus_call(stmt: &Ast, catalog: &Catalog) -> Option<Result<Action, SqlError>> {
    let Ast::Query(q) = stmt else { return None };
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let [SelectItem::UnnamedExpr(Expr::Function(f))] = s.projection.as_slice() else {
        return None;
    };
    if !s.from.is_empty() {
        return None;
    }
    let name = f.name.to_string().to_ascii_lowercase();
    let name = name.rsplit('.').next().unwrap_or(&name).to_owned();
    if !matches!(
        name.as_str(),
        "create_distributed_table" | "create_reference_table" | "undistribute_table"
    ) {
        return None;
    }
    Some(call(&name, f, catalog))
}

fn string_arg(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        Expr::Cast { expr, .. } | Expr::Nested(expr) => string_arg(expr),
        _ => None,
    }
}

/// A regclass written as text: unquoted names fold to lower case, the schema is dropped.
/// Name resolution leaves a relation's stored name quoted whole (`"s.t"`): that is kept.
fn regclass(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') && !s[1..s.len() - 1].contains('"') {
        return s[1..s.len() - 1].to_owned();
    }
    let last = s.rsplit('.').next().unwrap_or(s).trim();
    if last.len() >= 2 && last.starts_with('"') && last.ends_with('"') {
        last[1..last.len() - 1].replace("\"\"", "\"")
    } else {
        last.to_ascii_lowercase()
    }
}

fn call(name: &str, f: &ast::Function, catalog: &Catalog) -> Result<Action, SqlError> {
    let ast::FunctionArguments::List(list) = &f.args else {
        return Err(SqlError::new(
            code::UNDEFINED_FUNCTION,
            format!("function {name}() does not exist"),
        ));
    };
    let mut positional = Vec::new();
    let mut shard_count = None;
    for a in &list.args {
        let (n, e) = match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                positional.push(e);
                continue;
            }
            ast::FunctionArg::Named {
                name,
                arg: ast::FunctionArgExpr::Expr(e),
                ..
            }
            | ast::FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg: ast::FunctionArgExpr::Expr(e),
                ..
            } => (name, e),
            _ => return Err(unsupported("this argument is not supported")),
        };
        match ident_name(n).as_str() {
            "shard_count" => {
                let n = match super::key_source(e) {
                    Some(KeySource::Const(dotdo_backend::Value::Integer(n))) => n,
                    _ => {
                        return Err(SqlError::new(
                            code::INVALID_PARAMETER_VALUE,
                            "shard_count must be an integer constant",
                        ));
                    }
                };
                if !(1..=64000).contains(&n) {
                    return Err(SqlError::new(
                        code::INVALID_PARAMETER_VALUE,
                        format!(
                            "{n} is outside the valid range for parameter \"shard_count\" (1 .. 64000)"
                        ),
                    ));
                }
                shard_count = Some(n as u32);
            }
            "colocate_with" => {
                let with = string_arg(e).unwrap_or_default().to_ascii_lowercase();
                if with != "default" && with != "none" {
                    match catalog.distribution().get(&regclass(&with)) {
                        Some(Kind::Hash { shards, .. }) => shard_count = Some(*shards),
                        _ => {
                            return Err(SqlError::new(
                                code::INVALID_PARAMETER_VALUE,
                                format!(
                                    "cannot colocate with \"{with}\": it is not a distributed table"
                                ),
                            ));
                        }
                    }
                }
            }
            "distribution_type" => {
                if string_arg(e).is_none_or(|t| !t.eq_ignore_ascii_case("hash")) {
                    return Err(unsupported("only hash distribution is supported"));
                }
            }
            other => {
                return Err(SqlError::new(
                    code::UNDEFINED_FUNCTION,
                    format!("function {name} has no parameter named \"{other}\""),
                ));
            }
        }
    }
    let arg = |i: usize| positional.get(i).and_then(|e| string_arg(e));
    let Some(table_arg) = arg(0) else {
        return Err(SqlError::new(
            code::UNDEFINED_FUNCTION,
            format!("function {name} expects the table name as a string"),
        ));
    };
    let table_name = regclass(&table_arg);
    let Some(table) = catalog.table(&table_name).cloned() else {
        return Err(SqlError::new(
            code::UNDEFINED_TABLE,
            format!("relation \"{table_arg}\" does not exist"),
        ));
    };
    let existing = catalog.distribution().get(&table.name).cloned();
    match name {
        "undistribute_table" => {
            if existing.is_none() {
                return Err(SqlError::new(
                    code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "cannot undistribute table because the table is not distributed",
                ));
            }
            return Ok(Action::Undistribute {
                table: table.name.clone(),
            });
        }
        _ if existing.is_some() => {
            return Err(SqlError::new(
                "42P16",
                format!("table \"{}\" is already distributed", table.name),
            ));
        }
        "create_reference_table" => {
            return Ok(Action::CreateReference {
                table: table.name.clone(),
            });
        }
        _ => {}
    }
    let Some(column_arg) = arg(1) else {
        return Err(SqlError::new(
            code::UNDEFINED_FUNCTION,
            "function create_distributed_table expects the distribution column as a string",
        ));
    };
    let column_name = if column_arg.starts_with('"') {
        column_arg.trim_matches('"').to_owned()
    } else {
        column_arg.clone()
    };
    let Some(column) = table.columns.iter().find(|c| c.name == column_name) else {
        return Err(SqlError::new(
            code::UNDEFINED_COLUMN,
            format!(
                "column \"{column_arg}\" of relation \"{}\" does not exist",
                table.name
            ),
        ));
    };
    Ok(Action::CreateDistributed {
        table: table.name.clone(),
        column: column.name.clone(),
        ty: column.ty,
        shard_count,
    })
}

fn all_groups(catalog: &Catalog) -> Vec<u32> {
    catalog.distribution().groups()
}

/// The groups of shard objects that hold `table`.
fn groups_of(kind: &Kind, catalog: &Catalog) -> Vec<u32> {
    match kind {
        Kind::Hash { shards, .. } => vec![*shards],
        Kind::Reference => all_groups(catalog),
    }
}

fn everywhere(groups: Vec<u32>) -> Action {
    Action::Everywhere {
        groups,
        forget: Vec::new(),
        tolerant: false,
    }
}

/// Other distributed tables than `target` that `stmt` names.
fn other_distributed(stmt: &Ast, target: &str, catalog: &Catalog) -> bool {
    let meta = catalog.distribution();
    let mut seen_target = false;
    relations(stmt).iter().any(|n| {
        if n == target && !seen_target {
            seen_target = true;
            return false;
        }
        matches!(meta.get(n), Some(Kind::Hash { .. }))
    })
}

pub(super) fn insert(
    ins: &ast::Insert,
    catalog: &Catalog,
    ctx: &Context<'_>,
) -> Result<Action, SqlError> {
    let table = object_name(match &ins.table {
        ast::TableObject::TableName(n) => n,
        _ => {
            return Err(unsupported("INSERT into a table function is not supported"));
        }
    });
    let stmt = Ast::Insert(ins.clone());
    let Some(kind) = catalog.distribution().get(&table).cloned() else {
        return Err(unsupported(
            "INSERT into a local table that reads a distributed table is not supported",
        ));
    };
    if other_distributed(&stmt, &table, catalog) {
        return Err(unsupported(
            "INSERT ... SELECT from a distributed table is not supported",
        ));
    }
    let Kind::Hash { column, ty, shards } = kind else {
        return Ok(everywhere(all_groups(catalog)));
    };
    let Some(source) = ins.source.as_ref() else {
        return Err(SqlError::new(
            code::FEATURE_NOT_SUPPORTED,
            "cannot perform an INSERT without a partition column value",
        ));
    };
    let SetExpr::Values(values) = source.body.as_ref() else {
        return Err(unsupported(
            "INSERT ... SELECT into a distributed table is not supported",
        ));
    };
    let names: Vec<String> = if ins.columns.is_empty() {
        catalog
            .table(&table)
            .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    } else {
        ins.columns.iter().map(object_name).collect()
    };
    let Some(pos) = names.iter().position(|n| *n == column) else {
        return Err(SqlError::new(
            code::FEATURE_NOT_SUPPORTED,
            "cannot perform an INSERT without a partition column value",
        ));
    };
    if let Some(ast::OnInsert::OnConflict(oc)) = &ins.on
        && let ast::OnConflictAction::DoUpdate(du) = &oc.action
        && assigns(&du.assignments, &column)
    {
        return Err(unsupported(PARTITION_VALUE));
    }
    let mut rows = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let source = row.get(pos).and_then(super::key_source).ok_or_else(|| {
            unsupported(
                "the distribution column's value in an INSERT must be a constant or a parameter",
            )
        })?;
        if source == KeySource::Const(dotdo_backend::Value::Null) {
            return Err(SqlError::new(
                "22004",
                "cannot perform an INSERT with NULL in the partition column",
            ));
        }
        let mut one = ins.clone();
        if let Some(src) = one.source.as_mut()
            && let SetExpr::Values(v) = src.body.as_mut()
        {
            v.rows = vec![row.clone()];
        }
        let (insert, _) = derive(Ast::Insert(one), catalog, ctx)?;
        rows.push(RowInsert {
            key: Key { source, ty },
            insert,
        });
    }
    Ok(Action::Insert { shards, rows })
}

fn assigns(assignments: &[ast::Assignment], column: &str) -> bool {
    assignments.iter().any(|a| match &a.target {
        ast::AssignmentTarget::ColumnName(n) => object_name(n) == column,
        ast::AssignmentTarget::Tuple(ns) => ns.iter().any(|n| object_name(n) == column),
    })
}

pub(super) fn update_or_delete(
    stmt: &Ast,
    catalog: &Catalog,
    local: &Query,
) -> Result<Action, SqlError> {
    let (relation, selection) = match stmt {
        Ast::Update(up) => {
            if up.from.is_some() && other_distributed(stmt, "", catalog) {
                // Checked again below with the target known.
            }
            (&up.table.relation, up.selection.as_ref())
        }
        Ast::Delete(del) => {
            let from = match &del.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
            };
            let Some(first) = from.first() else {
                return Err(unsupported("DELETE without a table"));
            };
            (&first.relation, del.selection.as_ref())
        }
        _ => return Err(unsupported("this statement is not supported here")),
    };
    let ast::TableFactor::Table { name, alias, .. } = relation else {
        return Err(unsupported("this UPDATE/DELETE target is not supported"));
    };
    let table = object_name(name);
    let Some(kind) = catalog.distribution().get(&table).cloned() else {
        return Err(unsupported(
            "UPDATE or DELETE of a local table that reads a distributed table is not supported",
        ));
    };
    if other_distributed(stmt, &table, catalog) {
        return Err(unsupported(
            "UPDATE or DELETE joining other distributed tables is not supported",
        ));
    }
    let Kind::Hash { column, ty, shards } = kind else {
        return Ok(everywhere(all_groups(catalog)));
    };
    if let Ast::Update(up) = stmt
        && assigns(&up.assignments, &column)
    {
        return Err(unsupported(PARTITION_VALUE));
    }
    let instances = vec![super::select::Instance {
        alias: alias
            .as_ref()
            .map_or_else(|| table.clone(), |a| ident_name(&a.name)),
        dist: Some((column, ty, shards)),
    }];
    let conj: Vec<&Expr> = selection.into_iter().flat_map(super::conjuncts).collect();
    if let Some(key) = super::select::pinned_key(&instances, &conj) {
        return Ok(Action::Pinned { shards, key });
    }
    let Some(main) = local.batch.get(local.main) else {
        return Err(unsupported(
            "this statement is not supported on distributed tables",
        ));
    };
    Ok(Action::FanOut {
        shards,
        shard: super::Derived {
            stmt: main.clone(),
            params: (0..local.params.len()).collect(),
        },
        merge: Merge::Writes,
    })
}

pub(super) fn ddl(stmt: &Ast, catalog: &Catalog) -> Result<Action, SqlError> {
    let meta = catalog.distribution();
    match stmt {
        Ast::CreateIndex(ci) => {
            let table = object_name(&ci.table_name);
            let Some(kind) = meta.get(&table) else {
                return Err(unsupported("this statement is not supported here"));
            };
            if let Kind::Hash { column, .. } = kind
                && ci.unique
                && !ci.columns.iter().any(|c| {
                    c.column
                        .expr
                        .to_string()
                        .trim_matches('"')
                        .eq_ignore_ascii_case(column)
                })
            {
                return Err(unsupported(
                    "creating unique indexes on non-partition columns is currently unsupported",
                ));
            }
            Ok(everywhere(groups_of(kind, catalog)))
        }
        Ast::AlterTable(at) => {
            let table = object_name(&at.name);
            let Some(kind) = meta.get(&table) else {
                return Err(unsupported(
                    "ALTER TABLE that refers to a distributed table is not supported",
                ));
            };
            if let Kind::Hash { column, .. } = kind {
                for op in &at.operations {
                    let touches = match op {
                        ast::AlterTableOperation::DropColumn { column_names, .. } => {
                            column_names.iter().any(|c| ident_name(c) == *column)
                        }
                        ast::AlterTableOperation::RenameColumn {
                            old_column_name, ..
                        } => ident_name(old_column_name) == *column,
                        ast::AlterTableOperation::AlterColumn { column_name, .. } => {
                            ident_name(column_name) == *column
                        }
                        _ => false,
                    };
                    if touches {
                        return Err(unsupported(
                            "cannot execute ALTER TABLE command involving partition column",
                        ));
                    }
                }
            }
            if at
                .operations
                .iter()
                .any(|op| matches!(op, ast::AlterTableOperation::RenameTable { .. }))
            {
                return Err(unsupported(
                    "renaming a distributed or reference table is not supported",
                ));
            }
            Ok(everywhere(groups_of(kind, catalog)))
        }
        Ast::Drop {
            object_type, names, ..
        } => {
            let mut groups: Vec<u32> = Vec::new();
            let mut forget = Vec::new();
            let tolerant = *object_type != ast::ObjectType::Table;
            if tolerant {
                groups = all_groups(catalog);
            }
            for n in names {
                let name = object_name(n);
                if let Some(kind) = meta.get(&name) {
                    if *object_type != ast::ObjectType::Table {
                        return Err(unsupported(
                            "this DROP is not supported on a distributed table",
                        ));
                    }
                    let g = groups_of(kind, catalog);
                    if !groups.is_empty() && groups != g {
                        return Err(unsupported(
                            "drop tables of different shard counts one statement at a time",
                        ));
                    }
                    groups = g;
                    forget.push(name);
                }
            }
            Ok(Action::Everywhere {
                groups,
                forget,
                tolerant,
            })
        }
        Ast::Truncate(t) => {
            let mut groups: Vec<u32> = Vec::new();
            for n in &t.table_names {
                if let Some(kind) = meta.get(&object_name(&n.name)) {
                    for g in groups_of(kind, catalog) {
                        if !groups.contains(&g) {
                            groups.push(g);
                        }
                    }
                }
            }
            Ok(Action::Everywhere {
                groups,
                forget: Vec::new(),
                tolerant: true,
            })
        }
        _ => Err(unsupported(
            "this statement is not supported on distributed or reference tables",
        )),
    }
}
