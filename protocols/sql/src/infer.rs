//! Type inference: result column names and types, and parameter types, from the catalog.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use sqlparser::ast::{
    self, BinaryOperator, Expr, SelectItem, SetExpr, Statement, TableFactor, Value,
};

use crate::catalog::{Catalog, Table};
use crate::translate::{OutColumn, ident_name, object_name};
use crate::types::PgType;

/// Tables visible by name or alias.
#[derive(Default)]
struct Scope {
    tables: Vec<(String, Arc<Table>)>,
}

impl Scope {
    fn add_factor(&mut self, f: &TableFactor, catalog: &Catalog) {
        match f {
            TableFactor::Table { name, alias, .. } => {
                let t = catalog
                    .table(&object_name(name))
                    .cloned()
                    .or_else(|| crate::catalog_types::table(&object_name(name)));
                if let Some(t) = t.as_ref() {
                    let key = alias
                        .as_ref()
                        .map_or_else(|| t.name.clone(), |a| ident_name(&a.name));
                    self.tables.push((key, t.clone()));
                }
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.add_twj(table_with_joins, catalog),
            TableFactor::Derived {
                subquery,
                alias: Some(alias),
                ..
            } => {
                let cols = query_columns(subquery, catalog);
                let t = virtual_table(ident_name(&alias.name), cols, &alias.columns);
                self.tables.push((t.name.clone(), Arc::new(t)));
            }
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_ordinality,
                ..
            } => {
                let array = array_exprs
                    .first()
                    .and_then(|e| expr_type(e, self, catalog));
                let t = crate::array::unnest_columns(alias.as_ref(), array, *with_ordinality);
                self.tables.push((t.name.clone(), Arc::new(t)));
            }
            _ => {}
        }
    }

    fn add_twj(&mut self, twj: &ast::TableWithJoins, catalog: &Catalog) {
        self.add_factor(&twj.relation, catalog);
        for j in &twj.joins {
            self.add_factor(&j.relation, catalog);
        }
    }

    fn column(&self, name: &str) -> Option<PgType> {
        self.tables
            .iter()
            .find_map(|(_, t)| t.column(name).map(|c| c.ty))
            .filter(|t| *t != PgType::Unknown)
    }

    fn qualified(&self, table: &str, name: &str) -> Option<PgType> {
        self.tables
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(table))
            .and_then(|(_, t)| t.column(name).map(|c| c.ty))
            .filter(|t| *t != PgType::Unknown)
    }
}

fn number_type(n: &str) -> PgType {
    if n.contains(['.', 'e', 'E']) {
        PgType::Numeric { scale: None }
    } else if n.parse::<i32>().is_ok() {
        PgType::Int4
    } else if n.parse::<i64>().is_ok() {
        PgType::Int8
    } else {
        PgType::Numeric { scale: None }
    }
}

fn wider(a: PgType, b: PgType) -> PgType {
    use PgType::*;
    match (a, b) {
        (Float8, _) | (_, Float8) | (Float4, _) | (_, Float4) => Float8,
        (Numeric { .. }, _) | (_, Numeric { .. }) => Numeric { scale: None },
        (Int8, _) | (_, Int8) => Int8,
        (Int4, _) | (_, Int4) => Int4,
        (x, _) => x,
    }
}

fn expr_type(e: &Expr, scope: &Scope, catalog: &Catalog) -> Option<PgType> {
    if let Some(t) = crate::array::expr_type(e, &|x| expr_type(x, scope, catalog)) {
        return Some(t);
    }
    match e {
        Expr::Identifier(i) => scope.column(&ident_name(i)),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => scope.qualified(
            &ident_name(&parts[parts.len() - 2]),
            &ident_name(&parts[parts.len() - 1]),
        ),
        Expr::Cast { data_type, .. } => PgType::from_name(&data_type.to_string()),
        Expr::TypedString(ts) => PgType::from_name(&ts.data_type.to_string()),
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(number_type(n)),
            Value::SingleQuotedString(_)
            | Value::EscapedStringLiteral(_)
            | Value::DollarQuotedString(_) => Some(PgType::Text),
            Value::Boolean(_) => Some(PgType::Bool),
            _ => None,
        },
        Expr::Nested(inner) => expr_type(inner, scope, catalog),
        Expr::UnaryOp {
            op: ast::UnaryOperator::Not,
            ..
        } => Some(PgType::Bool),
        Expr::UnaryOp { expr, .. } => expr_type(expr, scope, catalog),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo => {
                let l = expr_type(left, scope, catalog);
                let r = expr_type(right, scope, catalog);
                match (l, r) {
                    (Some(l), Some(r)) if l.is_numeric() && r.is_numeric() => Some(wider(l, r)),
                    (Some(l), _) if l.is_numeric() => Some(l),
                    (_, Some(r)) if r.is_numeric() => Some(r),
                    _ => None,
                }
            }
            BinaryOperator::StringConcat => Some(PgType::Text),
            BinaryOperator::Arrow | BinaryOperator::HashArrow => Some(PgType::Jsonb),
            BinaryOperator::LongArrow | BinaryOperator::HashLongArrow => Some(PgType::Text),
            _ => Some(PgType::Bool),
        },
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::In { .. }
        | Expr::Between { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::Exists { .. } => Some(PgType::Bool),
        Expr::Case {
            conditions,
            else_result,
            ..
        } => conditions
            .iter()
            .find_map(|c| expr_type(&c.result, scope, catalog))
            .or_else(|| {
                else_result
                    .as_ref()
                    .and_then(|e| expr_type(e, scope, catalog))
            }),
        Expr::Subquery(q) => query_columns(q, catalog).first().and_then(|c| c.ty),
        Expr::Function(f) => function_type(f, scope, catalog),
        Expr::Substring { .. } | Expr::Trim { .. } => Some(PgType::Text),
        Expr::Position { .. } => Some(PgType::Int4),
        Expr::Extract { .. } => Some(PgType::Numeric { scale: None }),
        _ => None,
    }
}

fn function_type(f: &ast::Function, scope: &Scope, catalog: &Catalog) -> Option<PgType> {
    let name = f.name.to_string().to_ascii_lowercase();
    let name = name.trim_start_matches("pg_catalog.");
    let first_arg = || -> Option<PgType> {
        match &f.args {
            ast::FunctionArguments::List(l) => l.args.iter().find_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                    expr_type(e, scope, catalog)
                }
                _ => None,
            }),
            _ => None,
        }
    };
    Some(match name {
        "count" | "row_number" | "rank" | "dense_rank" | "ntile" => PgType::Int8,
        "sum" => match first_arg() {
            Some(t) if t.is_integer() => PgType::Int8,
            Some(PgType::Float4 | PgType::Float8) => PgType::Float8,
            _ => PgType::Numeric { scale: None },
        },
        "avg" => match first_arg() {
            Some(PgType::Float4 | PgType::Float8) => PgType::Float8,
            _ => PgType::Numeric { scale: None },
        },
        "min" | "max" | "abs" | "coalesce" | "nullif" | "greatest" | "least" | "lag" | "lead"
        | "first_value" | "last_value" => first_arg()?,
        "round" | "trunc" | "ceil" | "ceiling" | "floor" => {
            first_arg().unwrap_or(PgType::Numeric { scale: None })
        }
        "length" | "char_length" | "character_length" | "octet_length" | "strpos"
        | "pg_backend_pid" => PgType::Int4,
        "now"
        | "current_timestamp"
        | "transaction_timestamp"
        | "statement_timestamp"
        | "clock_timestamp" => PgType::Timestamptz,
        "current_date" => PgType::Date,
        "gen_random_uuid" | "uuid_generate_v4" => PgType::Uuid,
        "nextval" | "currval" | "setval" | "lastval" => PgType::Int8,
        "random" | "sqrt" | "power" | "pow" | "exp" | "ln" | "log" | "pi" => PgType::Float8,
        "json_build_object" | "json_agg" | "to_json" | "json_build_array" => PgType::Json,
        "jsonb_build_object" | "jsonb_agg" | "to_jsonb" | "jsonb_build_array" => PgType::Jsonb,
        "current_database" | "current_schema" | "current_user" | "session_user" | "user" => {
            PgType::Name
        }
        "bool_and" | "bool_or" | "every" => PgType::Bool,
        _ => PgType::Text,
    })
}

/// PostgreSQL's output name for an unaliased select expression.
fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => ident_name(i),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        Expr::Function(f) => f
            .name
            .0
            .last()
            .map(|p| match p {
                ast::ObjectNamePart::Identifier(i) => ident_name(i),
                other => other.to_string(),
            })
            .unwrap_or_default(),
        Expr::Cast {
            expr, data_type, ..
        } => match expr_name(expr).as_str() {
            "?column?" => cast_name(&data_type.to_string()),
            n => n.to_owned(),
        },
        Expr::Nested(inner) => expr_name(inner),
        Expr::Array(_) => "array".into(),
        Expr::CompoundFieldAccess { root, access_chain } => {
            match crate::array::subscripted(root, access_chain) {
                Some((array, _)) => expr_name(&array),
                None => expr_name(root),
            }
        }
        Expr::Case { .. } => "case".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Substring { .. } => "substring".into(),
        Expr::Position { .. } => "position".into(),
        Expr::Trim { .. } => "btrim".into(),
        Expr::Extract { .. } => "extract".into(),
        Expr::Subquery(q) => query_columns(q, &Catalog::default())
            .first()
            .map_or("?column?".into(), |c| c.name.clone()),
        _ => "?column?".into(),
    }
}

fn cast_name(type_text: &str) -> String {
    // `'{1}'::int[]` is named after its element type, as PostgreSQL does.
    let lower = type_text.trim().to_ascii_lowercase();
    if let Some(base) = lower
        .strip_suffix(" array")
        .or_else(|| lower.find('[').map(|i| &lower[..i]))
        .filter(|_| matches!(PgType::from_name(&lower), Some(PgType::Array(_))))
    {
        return cast_name(base);
    }
    match PgType::from_name(type_text) {
        Some(PgType::Int4) => "int4".into(),
        Some(PgType::Int8) => "int8".into(),
        Some(PgType::Int2) => "int2".into(),
        Some(PgType::Bool) => "bool".into(),
        Some(PgType::Float8) => "float8".into(),
        Some(PgType::Float4) => "float4".into(),
        Some(PgType::Varchar) => "varchar".into(),
        Some(PgType::Timestamptz) => "timestamptz".into(),
        Some(PgType::Timestamp) => "timestamp".into(),
        Some(t) => t.name().to_owned(),
        None => type_text.to_ascii_lowercase(),
    }
}

fn items_columns(items: &[SelectItem], scope: &Scope, catalog: &Catalog) -> Vec<OutColumn> {
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::UnnamedExpr(e) => out.push(OutColumn {
                name: expr_name(e),
                ty: expr_type(e, scope, catalog),
            }),
            SelectItem::ExprWithAlias { expr, alias } => out.push(OutColumn {
                name: ident_name(alias),
                ty: expr_type(expr, scope, catalog),
            }),
            SelectItem::Wildcard(_) => {
                if scope.tables.is_empty() {
                    return Vec::new();
                }
                for (_, t) in &scope.tables {
                    out.extend(t.columns.iter().map(|c| OutColumn {
                        name: c.name.clone(),
                        ty: Some(c.ty).filter(|t| *t != PgType::Unknown),
                    }));
                }
            }
            SelectItem::QualifiedWildcard(kind, _) => {
                let name = kind.to_string();
                let name = name
                    .trim_end_matches(".*")
                    .rsplit('.')
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_ascii_lowercase();
                let Some((_, t)) = scope.tables.iter().find(|(k, _)| *k == name) else {
                    return Vec::new();
                };
                out.extend(t.columns.iter().map(|c| OutColumn {
                    name: c.name.clone(),
                    ty: Some(c.ty),
                }));
            }
            _ => return Vec::new(),
        }
    }
    out
}

/// The result columns of a query, or an empty list when they cannot be worked out.
pub fn query_columns(q: &ast::Query, catalog: &Catalog) -> Vec<OutColumn> {
    let mut local = catalog.clone();
    if let Some(with) = &q.with {
        for cte in &with.cte_tables {
            let cols = query_columns(&cte.query, &local);
            local = local.with_table(virtual_table(
                ident_name(&cte.alias.name),
                cols,
                &cte.alias.columns,
            ));
        }
    }
    set_expr_columns(&q.body, &local)
}

fn virtual_table(
    name: String,
    cols: Vec<OutColumn>,
    renames: &[ast::TableAliasColumnDef],
) -> Table {
    Table {
        name,
        columns: cols
            .into_iter()
            .enumerate()
            .map(|(i, c)| crate::catalog::Column {
                name: renames.get(i).map_or(c.name, |r| ident_name(&r.name)),
                ty: c.ty.unwrap_or(PgType::Unknown),
                typmod: -1,
                not_null: false,
                default: None,
            })
            .collect(),
    }
}

fn set_expr_columns(body: &SetExpr, catalog: &Catalog) -> Vec<OutColumn> {
    match body {
        SetExpr::Select(s) => {
            let mut scope = Scope::default();
            for twj in &s.from {
                scope.add_twj(twj, catalog);
            }
            items_columns(&s.projection, &scope, catalog)
        }
        SetExpr::Query(q) => query_columns(q, catalog),
        SetExpr::SetOperation { left, .. } => set_expr_columns(left, catalog),
        SetExpr::Values(v) => v
            .rows
            .first()
            .map(|r| {
                let scope = Scope::default();
                r.iter()
                    .enumerate()
                    .map(|(i, e)| OutColumn {
                        name: format!("column{}", i + 1),
                        ty: expr_type(e, &scope, catalog),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

pub fn returning_columns(items: &[SelectItem], table: &str, catalog: &Catalog) -> Vec<OutColumn> {
    let mut scope = Scope::default();
    if let Some(t) = catalog.table(table) {
        scope.tables.push((t.name.clone(), t.clone()));
    }
    items_columns(items, &scope, catalog)
}

fn placeholder(e: &Expr) -> Option<usize> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok(),
            _ => None,
        },
        Expr::Nested(inner) => placeholder(inner),
        _ => None,
    }
}

/// Parameter types (`$1` first), from the columns and casts they meet; `text` otherwise.
pub fn param_types(stmt: &Statement, catalog: &Catalog) -> Vec<PgType> {
    let mut scope = Scope::default();
    let _ = ast::visit_relations(stmt, |name| {
        if let Some(t) = catalog.table(&object_name(name)) {
            scope.tables.push((t.name.clone(), t.clone()));
        }
        ControlFlow::<()>::Continue(())
    });
    let mut found: HashMap<usize, PgType> = HashMap::new();
    let mut max = 0;
    let note = |n: usize, t: Option<PgType>, found: &mut HashMap<usize, PgType>| {
        if let Some(t) = t {
            found.entry(n).or_insert(t);
        }
    };
    let _ = ast::visit_expressions(stmt, |e| {
        if let Some(n) = placeholder(e) {
            max = max.max(n);
        }
        crate::array::note_params(
            e,
            &|x| expr_type(x, &scope, catalog),
            &placeholder,
            &mut |n, t| note(n, t, &mut found),
        );
        match e {
            Expr::BinaryOp { left, right, op } => {
                let arith = matches!(
                    op,
                    BinaryOperator::Plus
                        | BinaryOperator::Minus
                        | BinaryOperator::Multiply
                        | BinaryOperator::Divide
                );
                if let Some(n) = placeholder(right) {
                    let t = expr_type(left, &scope, catalog).filter(|t| !arith || t.is_numeric());
                    note(n, t, &mut found);
                }
                if let Some(n) = placeholder(left) {
                    let t = expr_type(right, &scope, catalog).filter(|t| !arith || t.is_numeric());
                    note(n, t, &mut found);
                }
            }
            Expr::In {
                expr,
                target: ast::InTarget::List(list),
                ..
            } => {
                let t = expr_type(expr, &scope, catalog);
                for item in list {
                    if let Some(n) = placeholder(item) {
                        note(n, t, &mut found);
                    }
                }
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                let t = expr_type(expr, &scope, catalog);
                for b in [low, high] {
                    if let Some(n) = placeholder(b) {
                        note(n, t, &mut found);
                    }
                }
            }
            Expr::Cast {
                expr, data_type, ..
            } => {
                if let Some(n) = placeholder(expr) {
                    note(n, PgType::from_name(&data_type.to_string()), &mut found);
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    match stmt {
        Statement::Insert(ins) => {
            if let (Some(t), Some(src)) = (
                catalog.table(&ins.table.to_string().trim_matches('"').to_ascii_lowercase()),
                &ins.source,
            ) && let SetExpr::Values(values) = src.body.as_ref()
            {
                let types: Vec<Option<PgType>> = if ins.columns.is_empty() {
                    t.columns.iter().map(|c| Some(c.ty)).collect()
                } else {
                    ins.columns
                        .iter()
                        .map(|c| t.column(&object_name(c)).map(|c| c.ty))
                        .collect()
                };
                for row in &values.rows {
                    for (e, ty) in row.iter().zip(&types) {
                        if let Some(n) = placeholder(e) {
                            note(n, *ty, &mut found);
                        }
                    }
                }
            }
        }
        Statement::Update(up) => {
            for a in &up.assignments {
                if let (ast::AssignmentTarget::ColumnName(c), Some(n)) =
                    (&a.target, placeholder(&a.value))
                {
                    note(n, scope.column(&object_name(c)), &mut found);
                }
            }
        }
        Statement::Query(q) => {
            if let Some(ast::LimitClause::LimitOffset { limit, offset, .. }) = &q.limit_clause {
                if let Some(n) = limit.as_ref().and_then(placeholder) {
                    note(n, Some(PgType::Int8), &mut found);
                }
                if let Some(n) = offset.as_ref().and_then(|o| placeholder(&o.value)) {
                    note(n, Some(PgType::Int8), &mut found);
                }
            }
        }
        _ => {}
    }
    (1..=max)
        .map(|n| found.get(&n).copied().unwrap_or(PgType::Text))
        .collect()
}

/// Expression types anywhere in one statement, every relation it reads in scope under its
/// alias: what the array rewrite, which works on whole statements, asks about operands.
pub(crate) struct StatementTypes<'a> {
    scope: Scope,
    catalog: &'a Catalog,
    /// Types of expressions the rewrite itself wrote (`u.value` for an unnested element).
    pub(crate) written: HashMap<String, PgType>,
}

impl<'a> StatementTypes<'a> {
    pub(crate) fn new<V: ast::Visit>(node: &V, catalog: &'a Catalog) -> Self {
        struct Factors<'s, 'c> {
            scope: &'s mut Scope,
            catalog: &'c Catalog,
        }
        impl ast::Visitor for Factors<'_, '_> {
            type Break = ();
            fn pre_visit_table_factor(&mut self, f: &TableFactor) -> ControlFlow<()> {
                if !matches!(f, TableFactor::NestedJoin { .. }) {
                    self.scope.add_factor(f, self.catalog);
                }
                ControlFlow::Continue(())
            }
        }
        let mut scope = Scope::default();
        let _ = node.visit(&mut Factors {
            scope: &mut scope,
            catalog,
        });
        // Relations named outside FROM: the table an INSERT writes (its ON CONFLICT
        // assignments read it), UPDATE and DELETE targets.
        let _ = ast::visit_relations(node, |name| {
            if let Some(t) = catalog.table(&object_name(name))
                && !scope.tables.iter().any(|(k, _)| *k == t.name)
            {
                scope.tables.push((t.name.clone(), t.clone()));
            }
            ControlFlow::<()>::Continue(())
        });
        Self {
            scope,
            catalog,
            written: HashMap::new(),
        }
    }

    /// The first of the relations named `names` that has `column`.
    pub(crate) fn owner(&self, column: &str, names: &[String]) -> Option<String> {
        self.scope
            .tables
            .iter()
            .find(|(k, t)| names.iter().any(|n| n == k) && t.column(column).is_some())
            .map(|(k, _)| k.clone())
    }

    pub(crate) fn of(&self, e: &Expr) -> Option<PgType> {
        if let Some(t) = self.written.get(&e.to_string()) {
            return Some(*t);
        }
        expr_type(e, &self.scope, self.catalog).or_else(|| match e {
            // A qualifier the scope does not know (an outer query's alias): the column alone.
            Expr::CompoundIdentifier(parts) => self.scope.column(&ident_name(parts.last()?)),
            _ => None,
        })
    }
}
