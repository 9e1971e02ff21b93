//! Citus distributed and reference tables: their metadata, and plans that route a statement
//! to one shard object or fan it out over all of them.
//!
//! Design (the session in `dotdo-postgres` runs these plans):
//!
//! - `SELECT create_distributed_table('t', 'col' [, shard_count => n])` spreads `t`'s rows
//!   over the `n` shard objects of the database (`pg/<db>`, objects `shard-<i>-of-<n>`),
//!   by `jump_shard(stable_hash(canonical(value)), n)` (see [`shard_of`]): the canonical
//!   value is the column's value converted to the column's type and written as text
//!   (integers in decimal, text as is, bytea as its bytes). Every table with the same shard
//!   count lives in the same `n` objects, so they are co-located (`colocationid` = `n`).
//!   `create_reference_table('t')` copies `t` to every shard object and keeps it in the
//!   coordinator (`main`). Metadata lives in the coordinator's `_pg_dist_partition` table,
//!   shown as `pg_dist_partition` and `citus_tables`.
//! - A statement whose WHERE pins the distribution column with `=` to a constant or a
//!   parameter (AND-ed with anything) runs unchanged on that one shard; an INSERT's VALUES
//!   rows are split by shard. Anything else fans out: plain rows are concatenated (or merged
//!   k-way by ORDER BY) with `LIMIT offset+limit` pushed down; count/sum/min/max/avg and
//!   GROUP BY (and SELECT DISTINCT) run as partial aggregates on each shard (avg as sum and
//!   count), and the client's own query, rewritten over the partial rows, runs on a scratch
//!   object in a discarded batch to combine them (so HAVING, ORDER BY, LIMIT and expressions
//!   mean what they mean on one object). UPDATE/DELETE fan out and sum their counts; DDL,
//!   writes to reference tables and COPY reach the coordinator and every shard object.
//! - Reads of reference tables alone run on the coordinator; joins of a distributed table
//!   with reference tables, and of co-located distributed tables on their distribution
//!   columns, run on each shard.
//! - Subqueries, CTEs and set operations over distributed tables run on one shard when every
//!   SELECT that reads one pins it to that shard (checked again with the parameters).
//! - Refused with 0A000: other subqueries, CTEs and set operations over distributed tables,
//!   joins of distributed tables that are not
//!   co-located on their distribution columns, a reference table on the outer side of an
//!   outer join with a distributed one, window functions, DISTINCT ON, `count(DISTINCT)` and
//!   other aggregates when not pinned, INSERT … SELECT, a distribution column that is not a
//!   constant or parameter in INSERT, changing the distribution column, unique constraints
//!   without it, views over distributed tables.

mod modify;
mod select;

use std::collections::BTreeMap;

use dotdo_backend::{Statement, StatementResult, Value};
use sqlparser::ast::{self, Expr, Statement as Ast};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::catalog::Catalog;
use crate::error::{SqlError, code};
use crate::translate::{Context, Plan, Query, object_name};
use crate::types::{self, PgType};

/// The void column `create_distributed_table` answers with (the others name theirs).
pub const CALL_COLUMN: &str = "create_distributed_table";

/// Statements that create the Citus metadata in a database's object; idempotent.
pub fn migrations() -> Vec<Statement> {
    include_str!("../schema/020_citus.sql")
        .split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Statement::new(s.trim_end_matches(';').to_owned()))
        .collect()
}

/// Reads the metadata; feed its result to [`Metadata::from_result`].
pub fn load_statement() -> Statement {
    Statement::new("SELECT tbl, method, col, typ, shard_count FROM _pg_dist_partition")
}

/// How one table is distributed.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Rows spread over `shards` objects by the hash of `column`.
    Hash {
        column: String,
        ty: PgType,
        shards: u32,
    },
    /// A full copy in every shard object and in the coordinator.
    Reference,
}

/// Which tables of a database are distributed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    tables: BTreeMap<String, Kind>,
}

impl Metadata {
    pub fn from_result(result: &StatementResult) -> Metadata {
        let mut tables = BTreeMap::new();
        for row in &result.rows {
            let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or("").to_owned();
            let kind = if text(1) == "h" {
                Kind::Hash {
                    column: text(2),
                    ty: PgType::from_catalog_key(&text(3)),
                    shards: row.get(4).and_then(Value::as_i64).unwrap_or(1).max(1) as u32,
                }
            } else {
                Kind::Reference
            };
            tables.insert(text(0), kind);
        }
        Metadata { tables }
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    pub fn get(&self, table: &str) -> Option<&Kind> {
        // Tables by their stored names (`"s.t"` for a schema other than public).
        let name = table.trim_matches('"');
        let name = name.strip_prefix("public.").unwrap_or(name);
        self.tables
            .get(name)
            .or_else(|| self.tables.get(&name.to_ascii_lowercase()))
    }

    /// Reference tables, by name.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.tables
            .iter()
            .filter(|(_, k)| **k == Kind::Reference)
            .map(|(n, _)| n.as_str())
    }

    /// The shard counts in use: each is one group of shard objects.
    pub fn groups(&self) -> Vec<u32> {
        let mut g: Vec<u32> = self
            .tables
            .values()
            .filter_map(|k| match k {
                Kind::Hash { shards, .. } => Some(*shards),
                Kind::Reference => None,
            })
            .collect();
        g.sort_unstable();
        g.dedup();
        g
    }
}

/// The value a shard is chosen by: a constant of the statement or one of its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum KeySource {
    Const(Value),
    Param(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub source: KeySource,
    /// The distribution column's type, which the value is converted to before hashing.
    pub ty: PgType,
}

impl Key {
    /// The shard of `shards` this key picks with the client's `params`; `None` for NULL.
    pub fn shard(&self, params: &[Value], shards: u32) -> Option<u32> {
        let value = match &self.source {
            KeySource::Const(v) => v,
            KeySource::Param(i) => params.get(*i).unwrap_or(&Value::Null),
        };
        shard_of(self.ty, value, shards)
    }
}

/// The shard of `shards` a distribution column value of type `ty` belongs to (`None` for
/// NULL): jump consistent hashing of the stable hash of its canonical form.
pub fn shard_of(ty: PgType, value: &Value, shards: u32) -> Option<u32> {
    canonical(ty, value).map(|bytes| dotdo_shard::shard_of(&bytes, shards))
}

/// The bytes a distribution value is hashed by: the value converted to the column's type,
/// then integers in decimal, whole reals as integers, text as is, blobs as their bytes.
pub fn canonical(ty: PgType, value: &Value) -> Option<Vec<u8>> {
    let converted;
    let value = match value {
        Value::Text(s) if !matches!(ty, PgType::Text | PgType::Varchar | PgType::Bpchar) => {
            converted = types::from_text(ty, s).unwrap_or_else(|_| value.clone());
            &converted
        }
        v => v,
    };
    Some(match value {
        Value::Null => return None,
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            (*f as i64).to_string().into_bytes()
        }
        Value::Real(f) => format!("{f:?}").into_bytes(),
        Value::Text(s) => s.clone().into_bytes(),
        Value::Blob(b) => b.to_vec(),
    })
}

/// A statement derived from the client's, and which of the client's parameters it binds.
#[derive(Clone, Debug)]
pub struct Derived {
    pub stmt: Statement,
    /// For each `?n` of `stmt`, the index of the client's parameter it takes.
    pub params: Vec<usize>,
}

impl Derived {
    /// The statement bound to the client's parameters.
    pub fn bind(&self, params: &[Value]) -> Statement {
        let mut s = self.stmt.clone();
        s.params = self
            .params
            .iter()
            .map(|&i| params.get(i).cloned().unwrap_or(Value::Null))
            .collect();
        s
    }
}

/// A LIMIT or OFFSET: absent, a constant, or a parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    None,
    Const(u64),
    Param(usize),
}

impl Bound {
    pub fn value(&self, params: &[Value]) -> Option<u64> {
        match self {
            Bound::None => None,
            Bound::Const(n) => Some(*n),
            Bound::Param(i) => params
                .get(*i)
                .and_then(|v| match v {
                    Value::Integer(n) => Some(*n),
                    Value::Text(s) => s.trim().parse().ok(),
                    Value::Real(f) => Some(*f as i64),
                    _ => None,
                })
                .map(|n| n.max(0) as u64),
        }
    }
}

/// One ORDER BY key of a merge: a column of the shard rows.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    /// The column: counted among the hidden trailing sort columns when `hidden`.
    pub column: usize,
    pub hidden: bool,
    pub desc: bool,
    /// Where NULLs go: SQLite's default puts them first ascending, last descending.
    pub nulls_first: bool,
}

/// How shard results become the client's.
#[derive(Clone, Debug)]
pub enum Merge {
    /// Rows concatenated, or merged by `order`; `hidden` trailing sort columns are dropped;
    /// then OFFSET and LIMIT.
    Rows {
        order: Vec<SortKey>,
        hidden: usize,
        offset: Bound,
        limit: Bound,
    },
    /// Partial rows loaded into `_citus_partials` (columns `names`) on a scratch object,
    /// where `combine` (the client's query over them) runs.
    Combine {
        names: Vec<String>,
        combine: Derived,
    },
    /// Writes: rows changed summed, RETURNING rows concatenated.
    Writes,
}

/// One VALUES row of a distributed INSERT.
#[derive(Clone, Debug)]
pub struct RowInsert {
    pub key: Key,
    pub insert: Derived,
}

#[derive(Clone, Debug)]
pub enum Action {
    CreateDistributed {
        table: String,
        column: String,
        ty: PgType,
        shard_count: Option<u32>,
    },
    CreateReference {
        table: String,
    },
    Undistribute {
        table: String,
    },
    /// The local statement, on the one shard of `shards` that `key` picks.
    Pinned {
        shards: u32,
        key: Key,
    },
    /// The local statement, whose every SELECT pins a distributed table: on the one shard
    /// all `keys` pick (refused at run time if they pick different ones).
    PinnedAll {
        shards: u32,
        keys: Vec<Key>,
    },
    /// `shard` on every shard of `shards`, merged.
    FanOut {
        shards: u32,
        shard: Derived,
        merge: Merge,
    },
    /// The local statement on the coordinator, then on every shard object of `groups`
    /// (reference table writes, DDL). `forget` names tables whose metadata goes.
    Everywhere {
        groups: Vec<u32>,
        forget: Vec<String>,
        /// Shards may lack what the statement drops (DROP INDEX names no table).
        tolerant: bool,
    },
    /// A distributed INSERT, row by row.
    Insert {
        shards: u32,
        rows: Vec<RowInsert>,
    },
    /// An ALTER TABLE that rebuilds the table, on the coordinator and every shard object of
    /// `groups` (each reads its own copy of the schema, which is the same everywhere).
    Rebuild {
        rebuild: crate::alter::Rebuild,
        groups: Vec<u32>,
    },
    /// `COPY ... TO STDOUT`: the rows of `inner` (a SELECT's action) in COPY's format.
    CopyOut {
        options: crate::translate::CopyOptions,
        inner: Box<Action>,
    },
}

/// A statement on distributed or reference tables.
#[derive(Clone, Debug)]
pub struct Distributed {
    /// The statement as one object runs it: its batch, columns, parameter types and tag.
    pub local: Query,
    pub action: Action,
}

impl Distributed {
    /// Whether the statement only reads.
    pub fn read_only(&self) -> bool {
        match &self.action {
            Action::Pinned { .. } | Action::PinnedAll { .. } => self.local.read_only,
            Action::FanOut { merge, .. } => !matches!(merge, Merge::Writes),
            Action::CopyOut { .. } => true,
            _ => false,
        }
    }
}

fn unsupported(what: &str) -> SqlError {
    SqlError::unsupported(what.to_owned())
}

/// The plan of `sql` when it concerns distributed or reference tables (or calls a Citus
/// function); `None` when the ordinary translation is the whole story.
pub fn plan(sql: &str, catalog: &Catalog, ctx: &Context<'_>) -> Option<Result<Plan, SqlError>> {
    let meta = catalog.distribution();
    let lower = sql.to_ascii_lowercase();
    let calls = [
        "create_distributed_table",
        "create_reference_table",
        "undistribute_table",
    ]
    .iter()
    .any(|f| lower.contains(f));
    let views = lower.contains("citus_tables");
    if meta.is_empty() && !calls && !views {
        return None;
    }
    let first = crate::split::leading_words(sql, 1);
    let first = first.first().map(String::as_str).unwrap_or("");
    if !matches!(
        first,
        "SELECT"
            | "WITH"
            | "INSERT"
            | "UPDATE"
            | "DELETE"
            | "CREATE"
            | "ALTER"
            | "DROP"
            | "TRUNCATE"
            | "COPY"
            | "VALUES"
            | "TABLE"
            | "("
    ) {
        return None;
    }
    let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    if parsed.len() != 1 {
        return None;
    }
    let mut stmt = parsed.remove(0);
    // Relations by their stored names (schemas, search_path), as the metadata keeps them;
    // a name that does not resolve is left to `translate`, which reports it.
    if crate::namespace::resolve(&mut stmt, catalog, ctx).is_err() {
        return None;
    }
    // Stored names resolve to themselves with `public` alone on the path (under the
    // session's path a public table could be taken for a schema's table of the same name).
    let resolved = Context {
        search_path: "public",
        ..ctx.clone()
    };
    let ctx = &resolved;
    if views {
        rename_views(&mut stmt);
    }
    if calls && let Some(call) = modify::citus_call(&stmt, catalog) {
        return Some(call.map(|action| {
            let name = match action {
                Action::CreateReference { .. } => "create_reference_table",
                Action::Undistribute { .. } => "undistribute_table",
                _ => CALL_COLUMN,
            };
            Plan::Distributed(Box::new(Distributed {
                local: void_query(name),
                action,
            }))
        }));
    }
    if meta.is_empty() {
        return views.then(|| crate::translate::translate(&stmt.to_string(), catalog, ctx));
    }
    // Reads of reference tables run on the coordinator, which holds them too.
    let reads = matches!(stmt, Ast::Query(_));
    let touched = relations(&stmt).iter().any(|name| match meta.get(name) {
        Some(Kind::Hash { .. }) => true,
        Some(Kind::Reference) => !reads,
        None => false,
    }) || matches!(
        &stmt,
        Ast::Drop {
            object_type: ast::ObjectType::Index,
            ..
        }
    );
    if !touched {
        return views.then(|| crate::translate::translate(&stmt.to_string(), catalog, ctx));
    }
    Some(plan_statement(stmt, catalog, ctx))
}

fn plan_statement(stmt: Ast, catalog: &Catalog, ctx: &Context<'_>) -> Result<Plan, SqlError> {
    let local = match crate::translate::translate(&stmt.to_string(), catalog, ctx)? {
        Plan::Query(q) => q,
        Plan::Rebuild(rebuild) => {
            let Action::Everywhere { groups, .. } = modify::ddl(&stmt, catalog)? else {
                return Err(unsupported(
                    "this ALTER TABLE form is not supported on distributed or reference tables",
                ));
            };
            return Ok(Plan::Distributed(Box::new(Distributed {
                local: crate::translate::ddl(Vec::new(), "ALTER TABLE"),
                action: Action::Rebuild { rebuild, groups },
            })));
        }
        Plan::CopyFrom(c) => return Ok(Plan::CopyFrom(c)),
        Plan::CopyTo(c) => return copy_out(&stmt, c, catalog, ctx),
        other => return Ok(other),
    };
    let action = match &stmt {
        Ast::Query(q) => select::plan(q, catalog, ctx)?,
        Ast::Insert(ins) => modify::insert(ins, catalog, ctx)?,
        Ast::Update(_) | Ast::Delete(_) => modify::update_or_delete(&stmt, catalog, &local)?,
        _ => modify::ddl(&stmt, catalog)?,
    };
    Ok(Plan::Distributed(Box::new(Distributed { local, action })))
}

/// `COPY t TO STDOUT` or `COPY (SELECT ...) TO STDOUT` over distributed tables: the query
/// is planned as a SELECT, its rows written out in COPY's format.
fn copy_out(
    stmt: &Ast,
    c: crate::translate::CopyTo,
    catalog: &Catalog,
    ctx: &Context<'_>,
) -> Result<Plan, SqlError> {
    let Ast::Copy { source, .. } = stmt else {
        return Err(unsupported("this COPY is not supported"));
    };
    let query = match source {
        ast::CopySource::Query(q) => q.as_ref().clone(),
        ast::CopySource::Table {
            table_name,
            columns,
        } => {
            let cols = if columns.is_empty() {
                "*".to_owned()
            } else {
                columns
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let sql = format!("SELECT {cols} FROM {table_name}");
            match Parser::parse_sql(&PostgreSqlDialect {}, &sql)
                .map_err(|e| SqlError::syntax(e.to_string()))?
                .pop()
            {
                Some(Ast::Query(q)) => *q,
                _ => return Err(unsupported("this COPY is not supported")),
            }
        }
    };
    let inner = select::plan(&query, catalog, ctx)?;
    Ok(Plan::Distributed(Box::new(Distributed {
        local: c.query,
        action: Action::CopyOut {
            options: c.options,
            inner: Box::new(inner),
        },
    })))
}

/// The answer of a Citus function: one row, one empty column.
fn void_query(name: &str) -> Query {
    Query {
        batch: Vec::new(),
        main: 0,
        columns: Some(vec![crate::translate::OutColumn {
            name: name.into(),
            ty: Some(PgType::Text),
        }]),
        params: Vec::new(),
        tag: "SELECT",
        ddl: true,
        read_only: false,
    }
}

/// `citus_tables` lives under an internal name, out of the way of `pg_class` listings.
fn rename_views(stmt: &mut Ast) {
    let _ = ast::visit_relations_mut(stmt, |name| {
        if object_name(name) == "citus_tables" {
            *name = ast::ObjectName::from(vec![ast::Ident::with_quote('"', "_pg_citus_tables")]);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// Every relation `stmt` names, as catalog names.
fn relations(stmt: &Ast) -> Vec<String> {
    let mut out = Vec::new();
    let _ = ast::visit_relations(stmt, |name| {
        out.push(object_name(name));
        std::ops::ControlFlow::<()>::Continue(())
    });
    if let Ast::CreateIndex(ci) = stmt {
        out.push(object_name(&ci.table_name));
    }
    if let Ast::Truncate(t) = stmt {
        out.extend(t.table_names.iter().map(|n| object_name(&n.name)));
    }
    if let Ast::Drop { names, .. } = stmt {
        out.extend(names.iter().map(object_name));
    }
    if let Ast::AlterTable(at) = stmt {
        out.push(object_name(&at.name));
    }
    if let Ast::Copy {
        source: ast::CopySource::Table { table_name, .. },
        ..
    } = stmt
    {
        out.push(object_name(table_name));
    }
    out
}

/// Renumber the `$n` placeholders of `stmt` to `$1..` in order of appearance; returns the
/// client's parameter index behind each.
fn compact_params<T: ast::VisitMut>(stmt: &mut T) -> Vec<usize> {
    let mut map: Vec<usize> = Vec::new();
    let _ = ast::visit_expressions_mut(stmt, |e| {
        if let Expr::Value(v) = e
            && let ast::Value::Placeholder(p) = &mut v.value
            && let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
            && n > 0
        {
            let index = match map.iter().position(|&m| m == n - 1) {
                Some(i) => i,
                None => {
                    map.push(n - 1);
                    map.len() - 1
                }
            };
            *p = format!("${}", index + 1);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    map
}

/// Translate a derived PostgreSQL statement to the one SQLite statement it runs as.
fn derive(
    mut stmt: Ast,
    catalog: &Catalog,
    ctx: &Context<'_>,
) -> Result<(Derived, Query), SqlError> {
    let params = compact_params(&mut stmt);
    let Plan::Query(q) = crate::translate::translate(&stmt.to_string(), catalog, ctx)? else {
        return Err(SqlError::new(
            code::INTERNAL_ERROR,
            "a shard statement did not translate to a query",
        ));
    };
    if q.batch.len() != 1 {
        return Err(unsupported(
            "this statement is not supported on distributed tables",
        ));
    }
    Ok((
        Derived {
            stmt: q.batch[0].clone(),
            params,
        },
        q,
    ))
}

/// A constant or parameter as a shard key source.
fn key_source(e: &Expr) -> Option<KeySource> {
    match e {
        Expr::Nested(inner) => key_source(inner),
        Expr::Cast { expr, .. } => key_source(expr),
        Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => match key_source(expr)? {
            KeySource::Const(Value::Integer(i)) => Some(KeySource::Const(Value::Integer(-i))),
            KeySource::Const(Value::Real(f)) => Some(KeySource::Const(Value::Real(-f))),
            _ => None,
        },
        Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => Some(KeySource::Const(
                n.parse::<i64>()
                    .map(Value::Integer)
                    .or_else(|_| n.parse::<f64>().map(Value::Real))
                    .ok()?,
            )),
            ast::Value::SingleQuotedString(s) => Some(KeySource::Const(Value::Text(s.clone()))),
            ast::Value::Null => Some(KeySource::Const(Value::Null)),
            ast::Value::Placeholder(p) => p
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .map(|n| KeySource::Param(n - 1)),
            _ => None,
        },
        _ => None,
    }
}

/// The AND-ed conjuncts of `e`.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            let mut out = conjuncts(left);
            out.extend(conjuncts(right));
            out
        }
        Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

/// Whether `e` holds a subquery.
fn has_subquery<T: ast::Visit>(e: &T) -> bool {
    let mut found = false;
    let _ = ast::visit_expressions(e, |x| {
        if matches!(
            x,
            Expr::Subquery(_)
                | Expr::Exists { .. }
                | Expr::In {
                    target: ast::InTarget::Subquery(_),
                    ..
                }
        ) {
            found = true;
            return std::ops::ControlFlow::Break(());
        }
        std::ops::ControlFlow::Continue(())
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let col = |t: &str, c: &str, pos: i64, ty: &str| {
            vec![
                Value::Text(t.into()),
                Value::Text(c.into()),
                Value::Integer(pos),
                Value::Text(ty.into()),
                Value::Integer(-1),
                Value::Integer(0),
                Value::Null,
            ]
        };
        let columns = StatementResult {
            rows: vec![
                col("orders", "customer_id", 1, "23"),
                col("orders", "id", 2, "23"),
                col("orders", "amount", 3, "23"),
                col("customers", "id", 1, "23"),
                col("customers", "name", 2, "25"),
                col("kinds", "kind", 1, "25"),
            ],
            ..Default::default()
        };
        let meta = StatementResult {
            rows: vec![
                vec![
                    Value::Text("orders".into()),
                    Value::Text("h".into()),
                    Value::Text("customer_id".into()),
                    Value::Text("23".into()),
                    Value::Integer(4),
                ],
                vec![
                    Value::Text("customers".into()),
                    Value::Text("h".into()),
                    Value::Text("id".into()),
                    Value::Text("23".into()),
                    Value::Integer(4),
                ],
                vec![
                    Value::Text("kinds".into()),
                    Value::Text("n".into()),
                    Value::Null,
                    Value::Null,
                    Value::Integer(0),
                ],
            ],
            ..Default::default()
        };
        Catalog::from_result(&columns).with_distribution(Metadata::from_result(&meta))
    }

    fn action(sql: &str) -> Result<Action, SqlError> {
        let ctx = Context {
            database: "db",
            user: "u",
            backend_pid: 1,
            search_path: crate::namespace::DEFAULT_PATH,
        };
        match plan(sql, &catalog(), &ctx) {
            Some(Ok(Plan::Distributed(d))) => Ok(d.action),
            Some(Ok(other)) => panic!("{sql}: not distributed: {other:?}"),
            Some(Err(e)) => Err(e),
            None => panic!("{sql}: not intercepted"),
        }
    }

    #[test]
    fn the_hash_is_pinned() {
        // Changing these would move every stored row: never do it.
        assert_eq!(
            canonical(PgType::Int4, &Value::Integer(42)),
            Some(b"42".to_vec())
        );
        assert_eq!(
            canonical(PgType::Int8, &Value::Text("42".into())),
            Some(b"42".to_vec())
        );
        assert_eq!(
            canonical(PgType::Numeric { scale: None }, &Value::Real(5.0)),
            Some(b"5".to_vec())
        );
        assert_eq!(canonical(PgType::Int4, &Value::Null), None);
        let shards: Vec<u32> = (1..=8)
            .filter_map(|i| shard_of(PgType::Int4, &Value::Integer(i), 4))
            .collect();
        assert_eq!(shards, vec![2, 2, 2, 3, 2, 0, 2, 3]);
    }

    #[test]
    fn pins_fans_out_and_refuses() {
        assert!(matches!(
            action("SELECT * FROM orders WHERE customer_id = 5 AND amount > 1").unwrap(),
            Action::Pinned { shards: 4, .. }
        ));
        assert!(matches!(
            action(
                "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = $1"
            )
            .unwrap(),
            Action::Pinned {
                key: Key {
                    source: KeySource::Param(0),
                    ..
                },
                ..
            }
        ));
        assert!(matches!(
            action("SELECT * FROM orders ORDER BY amount LIMIT 3 OFFSET 2").unwrap(),
            Action::FanOut {
                merge: Merge::Rows {
                    limit: Bound::Const(3),
                    offset: Bound::Const(2),
                    ..
                },
                ..
            }
        ));
        assert!(matches!(
            action("SELECT amount, count(*) FROM orders GROUP BY amount HAVING sum(id) > 1")
                .unwrap(),
            Action::FanOut {
                merge: Merge::Combine { .. },
                ..
            }
        ));
        match action("INSERT INTO orders VALUES (1, 1, 1), ($1, 2, 2)").unwrap() {
            Action::Insert { shards: 4, rows } => {
                assert_eq!(rows.len(), 2);
                assert_eq!(rows[1].key.source, KeySource::Param(0));
                assert_eq!(rows[1].insert.params, vec![0]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            action("INSERT INTO kinds VALUES ('a')").unwrap(),
            Action::Everywhere { .. }
        ));
        for refused in [
            "SELECT * FROM orders WHERE id IN (SELECT id FROM orders)",
            "SELECT row_number() OVER () FROM orders",
            "SELECT * FROM orders o JOIN customers c ON c.id = o.id",
            "SELECT * FROM kinds k LEFT JOIN orders o ON true",
            "UPDATE orders SET customer_id = 2",
            "INSERT INTO orders (id) VALUES (1)",
            "SELECT string_agg(id::text, ',') FROM orders",
        ] {
            assert_eq!(
                action(refused).unwrap_err().code,
                code::FEATURE_NOT_SUPPORTED,
                "{refused}"
            );
        }
        assert_eq!(
            action("SELECT create_distributed_table('nope', 'id')")
                .unwrap_err()
                .code,
            code::UNDEFINED_TABLE
        );
        assert_eq!(
            action("SELECT create_distributed_table('kinds', 'nope')")
                .unwrap_err()
                .code,
            "42P16"
        );
    }
}
