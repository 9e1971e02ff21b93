//! PostgreSQL statements to plans: SQLite batches with typed results, or session commands.

use std::ops::ControlFlow;

use dotdo_backend::{Statement as SqliteStatement, Value as SqlValue};
use sqlparser::ast::{
    self, CastKind, ColumnOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, DataType,
    Expr, FunctionArguments, ObjectName, SetExpr, Statement, TableConstraint, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::catalog::{self, Catalog, Column, Table};
use crate::error::{SqlError, code};
use crate::infer;
use crate::split::{leading_words, split_statements};
use crate::types::{self, PgType};

/// What the session knows that translation needs.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub database: &'a str,
    pub user: &'a str,
    pub backend_pid: i32,
    /// The session's `search_path` setting, as SHOW prints it.
    pub search_path: &'a str,
}

/// One result column: its name and, when the catalog or the expression tells, its type.
#[derive(Clone, Debug, PartialEq)]
pub struct OutColumn {
    pub name: String,
    pub ty: Option<PgType>,
}

/// A statement that runs on the database's object.
#[derive(Clone, Debug)]
pub struct Query {
    /// The batch; statement `main` is bound to the client's parameters and gives the result.
    pub batch: Vec<SqliteStatement>,
    pub main: usize,
    /// `Some` when the statement returns rows (SELECT, RETURNING).
    pub columns: Option<Vec<OutColumn>>,
    /// Inferred parameter types, `$1` first.
    pub params: Vec<PgType>,
    /// Command tag word: SELECT, INSERT, UPDATE, CREATE TABLE, ...
    pub tag: &'static str,
    /// The statement changes the schema: reload the catalog after it.
    pub ddl: bool,
    /// Only reads: may run outside the writer.
    pub read_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

#[derive(Clone, Debug)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: char,
    pub null: String,
    pub header: bool,
    pub quote: char,
}

#[derive(Clone, Debug)]
pub struct CopyFrom {
    pub table: String,
    pub columns: Vec<(String, PgType)>,
    pub options: CopyOptions,
}

#[derive(Clone, Debug)]
pub struct CopyTo {
    pub query: Query,
    pub options: CopyOptions,
}

/// A translated statement.
#[derive(Clone, Debug)]
pub enum Plan {
    Begin,
    Commit,
    Rollback,
    Savepoint(String),
    Release(String),
    RollbackTo(String),
    Query(Query),
    /// `SET`; `local` for SET LOCAL, which lasts until the transaction block ends.
    Set {
        name: String,
        value: String,
        local: bool,
    },
    Show(String),
    /// `SELECT set_config(name, value, is_local)`: a SET answered with the value as a row.
    SetConfig {
        name: String,
        value: String,
        local: bool,
        column: String,
    },
    Reset(Option<String>),
    CreateDatabase(String),
    DropDatabase {
        name: String,
        if_exists: bool,
    },
    CopyFrom(CopyFrom),
    CopyTo(CopyTo),
    /// Accepted and done with nothing to run (VACUUM, ANALYZE, ...): the tag.
    Utility(&'static str),
    /// `LISTEN channel`.
    Listen(String),
    /// `UNLISTEN channel`, or `UNLISTEN *` (`None`).
    Unlisten(Option<String>),
    /// `NOTIFY channel, 'payload'`, or `SELECT pg_notify(channel, payload)` when `column`
    /// names the result column of the call.
    Notify {
        channel: crate::notify::Arg,
        payload: crate::notify::Arg,
        column: Option<String>,
    },
    /// `ALTER SEQUENCE`: the session reads the sequence, then writes it.
    AlterSequence(crate::sequence::Alter),
    /// `ALTER SCHEMA ... RENAME TO`: the session reads the schema's objects, then renames.
    RenameSchema(crate::namespace::Rename),
    /// ALTER TABLE forms that rebuild the table (see `alter`).
    Rebuild(crate::alter::Rebuild),
    /// `SELECT pg_sleep(seconds)`: sleeps in the session, where a cancel request reaches it.
    Sleep {
        seconds: crate::notify::Arg,
        column: String,
    },
    /// A statement on Citus distributed or reference tables (see `citus`).
    Distributed(Box<crate::citus::Distributed>),
}

pub const SERVER_VERSION: &str = "15.8";
pub const VERSION_STRING: &str =
    "PostgreSQL 15.8 (dotdo) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit";

/// Translate every statement of a query string.
pub fn translate_all(
    sql: &str,
    catalog: &Catalog,
    ctx: &Context<'_>,
) -> Vec<Result<Plan, SqlError>> {
    split_statements(sql)
        .into_iter()
        .map(|s| translate(s, catalog, ctx))
        .collect()
}

/// Translate one statement (without a trailing semicolon).
pub fn translate(sql: &str, catalog: &Catalog, ctx: &Context<'_>) -> Result<Plan, SqlError> {
    if let Some(plan) = utility(sql)? {
        return crate::namespace::resolve_utility(plan, catalog, ctx);
    }
    let cleaned;
    let sql = if leading_words(sql, 1).first().is_some_and(|w| w == "COPY") {
        cleaned = strip_copy_freeze(sql);
        cleaned.as_str()
    } else {
        sql
    };
    let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| SqlError::syntax(syntax_message(&e.to_string())))?;
    if parsed.len() != 1 {
        return Err(SqlError::syntax("expected exactly one statement"));
    }
    let stmt = parsed.remove(0);
    translate_statement(stmt, catalog, ctx)
}

/// `FREEZE` only tunes PostgreSQL's heap; drop it (sqlparser does not know it either).
fn strip_copy_freeze(sql: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    let Some(open) = lower.rfind('(') else {
        return sql.to_owned();
    };
    let Some(close) = lower[open..].find(')').map(|c| open + c) else {
        return sql.to_owned();
    };
    let kept: Vec<&str> = sql[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|o| !o.to_ascii_lowercase().starts_with("freeze"))
        .collect();
    let head = &sql[..open];
    if kept.is_empty() {
        let head = head.trim_end();
        let head = head
            .strip_suffix("with")
            .or_else(|| head.strip_suffix("WITH"))
            .unwrap_or(head);
        format!("{head}{}", &sql[close + 1..])
    } else {
        format!("{head}({}){}", kept.join(", "), &sql[close + 1..])
    }
}

fn syntax_message(e: &str) -> String {
    let e = e.trim_start_matches("sql parser error: ");
    format!("syntax error: {e}")
}

/// Statements recognised by their leading words, before (or instead of) parsing.
fn utility(sql: &str) -> Result<Option<Plan>, SqlError> {
    let words = leading_words(sql, 3);
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    Ok(Some(match w(0) {
        "BEGIN" | "START" => Plan::Begin,
        "COMMIT" | "END" => Plan::Commit,
        "ABORT" => Plan::Rollback,
        "SET" if w(1) == "TRANSACTION" || w(1) == "SESSION" && w(2) == "CHARACTERISTICS" => {
            Plan::Utility("SET")
        }
        "SET" => {
            let (name, value) = parse_set(sql)?;
            Plan::Set {
                name,
                value,
                local: w(1) == "LOCAL",
            }
        }
        "SHOW" => {
            let rest = rest_after(sql, "show").trim().trim_end_matches(';').trim();
            let rest = rest.to_ascii_lowercase();
            // PostgreSQL's grammar spells one parameter in words (SQLAlchemy asks it).
            match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["transaction", "isolation", "level"] => {
                    Plan::Show("transaction_isolation".to_owned())
                }
                _ => Plan::Show(rest),
            }
        }
        "RESET" => {
            let rest = rest_after(sql, "reset")
                .trim()
                .trim_end_matches(';')
                .to_ascii_lowercase();
            Plan::Reset(if rest == "all" { None } else { Some(rest) })
        }
        "DISCARD" => Plan::Reset(None),
        "VACUUM" => Plan::Utility("VACUUM"),
        "ANALYZE" | "ANALYSE" => Plan::Utility("ANALYZE"),
        "CHECKPOINT" => Plan::Utility("CHECKPOINT"),
        "LISTEN" | "UNLISTEN" | "NOTIFY" => crate::notify::statement(sql)?,
        "SELECT" if crate::notify::may_be_call(sql) => return crate::notify::call(sql),
        "SELECT" if crate::namespace::may_be_set_config(sql) => {
            return Ok(crate::namespace::set_config_call(sql));
        }
        "DEALLOCATE" => Plan::Utility("DEALLOCATE"),
        "LOCK" => Plan::Utility("LOCK TABLE"),
        "CREATE" if w(1) == "EXTENSION" => Plan::Utility("CREATE EXTENSION"),
        "ALTER" if w(1) == "SEQUENCE" => Plan::AlterSequence(crate::sequence::parse_alter(sql)?),
        "ALTER"
            if w(1) == "TABLE"
                && let Some(a) = crate::serial::alter_column_restart(sql) =>
        {
            Plan::AlterSequence(a?)
        }
        "CREATE" if w(1) == "DATABASE" => Plan::CreateDatabase(object_name_after(sql, 2)?),
        "DROP" if w(1) == "DATABASE" => {
            let if_exists = w(2) == "IF";
            Plan::DropDatabase {
                name: object_name_after(sql, if if_exists { 4 } else { 2 })?,
                if_exists,
            }
        }
        _ => return Ok(None),
    }))
}

/// The text after the leading keyword `word` (which comments may precede).
fn rest_after<'a>(sql: &'a str, word: &str) -> &'a str {
    crate::split::skip_comments(sql)
        .get(word.len()..)
        .unwrap_or("")
}

fn object_name_after(sql: &str, words: usize) -> Result<String, SqlError> {
    let name = sql
        .split_whitespace()
        .nth(words)
        .ok_or_else(|| SqlError::syntax("syntax error at end of input"))?;
    let name = name.trim_end_matches(';');
    Ok(if name.starts_with('"') {
        name.trim_matches('"').to_owned()
    } else {
        name.to_ascii_lowercase()
    })
}

fn parse_set(sql: &str) -> Result<(String, String), SqlError> {
    let body = rest_after(sql, "set").trim();
    let body = body
        .strip_prefix("SESSION ")
        .or_else(|| body.strip_prefix("session "))
        .or_else(|| body.strip_prefix("LOCAL "))
        .or_else(|| body.strip_prefix("local "))
        .unwrap_or(body)
        .trim();
    let lower = body.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("time zone") {
        return Ok((
            "timezone".into(),
            unquote(body[body.len() - rest.len()..].trim()),
        ));
    }
    if lower.starts_with("names") {
        return Ok(("client_encoding".into(), unquote(body[5..].trim())));
    }
    let (name, value) = match body.find(['=']) {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => match lower.find(" to ") {
            Some(i) => (&body[..i], &body[i + 4..]),
            None => {
                return Err(SqlError::syntax(format!(
                    "syntax error at or near \"{body}\""
                )));
            }
        },
    };
    let name = name.trim().to_ascii_lowercase();
    if name == "search_path" {
        return Ok((name, crate::namespace::normalize_path(value)));
    }
    Ok((name, unquote(value.trim())))
}

fn unquote(v: &str) -> String {
    let v = v.trim().trim_end_matches(';').trim();
    if v.len() >= 2 && (v.starts_with('\'') && v.ends_with('\'')) {
        v[1..v.len() - 1].replace("''", "'")
    } else if v.eq_ignore_ascii_case("default") {
        String::new()
    } else {
        v.to_owned()
    }
}

fn translate_statement(
    mut stmt: Statement,
    catalog: &Catalog,
    ctx: &Context<'_>,
) -> Result<Plan, SqlError> {
    match &mut stmt {
        Statement::StartTransaction { .. } => return Ok(Plan::Begin),
        Statement::Commit { .. } => return Ok(Plan::Commit),
        Statement::Rollback {
            savepoint: None, ..
        } => return Ok(Plan::Rollback),
        Statement::Rollback {
            savepoint: Some(sp),
            ..
        } => return Ok(Plan::RollbackTo(sp.value.clone())),
        Statement::Savepoint { name } => return Ok(Plan::Savepoint(name.value.clone())),
        Statement::ReleaseSavepoint { name } => return Ok(Plan::Release(name.value.clone())),
        _ => {}
    }
    match &stmt {
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => return crate::namespace::create(schema_name, *if_not_exists, catalog),
        Statement::Drop {
            object_type: ast::ObjectType::Schema,
            if_exists,
            names,
            cascade,
            ..
        } => return crate::namespace::drop(names, *if_exists, *cascade, catalog),
        Statement::AlterSchema(a) => return crate::namespace::alter(a, catalog),
        _ => {}
    }
    crate::series::rewrite(&mut stmt);
    crate::describe::strip_catalog_qualifiers(&mut stmt);
    crate::namespace::resolve(&mut stmt, catalog, ctx)?;
    let params = infer::param_types(&stmt, catalog);
    match stmt {
        Statement::Query(mut q) => {
            strip_locks(&mut q);
            let columns = infer::query_columns(&q, catalog);
            if crate::describe::reads_catalog(&q) {
                if crate::describe::query_is_empty(&q) {
                    return Ok(Plan::Query(single(
                        crate::describe::no_rows(&columns),
                        Some(columns),
                        params,
                        "SELECT",
                        true,
                    )));
                }
                crate::describe::rewrite(&mut q);
                crate::srf::rewrite(&mut q);
            }
            crate::draw::check_query(&q)?;
            let has_from = match q.body.as_ref() {
                SetExpr::Select(s) => !s.from.is_empty(),
                _ => true,
            };
            let mut stmt = Statement::Query(q);
            crate::array::rewrite(&mut stmt, catalog)?;
            rewrite(&mut stmt, ctx)?;
            let sql = crate::namespace::relative_relnames(stmt.to_string(), ctx);
            if has_from
                && crate::draw::has_next_calls(&sql)
                && let Some((numbered, reserve)) = crate::draw::per_row(
                    &sql,
                    crate::draw::QUERY_ROW,
                    crate::draw::Rows::Counted(&sql),
                )
            {
                let mut q = single(numbered, Some(columns), params, "SELECT", false);
                q.batch.push(reserve);
                return Ok(Plan::Query(q));
            }
            Ok(Plan::Query(single(
                sql,
                Some(columns),
                params,
                "SELECT",
                true,
            )))
        }
        Statement::Insert(mut ins) => {
            let table = ins.table.to_string();
            let returning = ins
                .returning
                .as_ref()
                .map(|r| infer::returning_columns(r, &table, catalog));
            if let Some(src) = ins.source.as_ref() {
                crate::draw::check_query(src)?;
            }
            let reservations = crate::serial::insert(&mut ins, &table, catalog)?;
            match ins.source.as_mut() {
                Some(src) => sequence_defaults(src, &mut ins.columns, &table, catalog)?,
                None => {
                    // DEFAULT VALUES: the sequence columns get their values, the rest
                    // SQLite's defaults.
                    let defaults = sequence_default_exprs(&table, catalog);
                    if !defaults.is_empty() {
                        let names: Vec<String> =
                            defaults.iter().map(|(c, _)| quote_ident(&c.name)).collect();
                        let exprs: Vec<String> =
                            defaults.iter().map(|(_, e)| e.to_string()).collect();
                        let sql = format!(
                            "INSERT INTO t ({}) VALUES ({})",
                            names.join(", "),
                            exprs.join(", ")
                        );
                        if let Ok(mut p) = Parser::parse_sql(&PostgreSqlDialect {}, &sql)
                            && let Some(Statement::Insert(parsed)) = p.pop()
                        {
                            ins.columns = parsed.columns;
                            ins.source = parsed.source;
                        }
                    }
                }
            }
            if let Some(src) = ins.source.as_mut() {
                coerce_insert_values(src, &ins.columns, &table, catalog)?;
            }
            let from_select = ins
                .source
                .as_ref()
                .is_some_and(|s| !matches!(s.body.as_ref(), SetExpr::Values(_)));
            let mut stmt = Statement::Insert(ins);
            crate::array::rewrite(&mut stmt, catalog)?;
            rewrite(&mut stmt, ctx)?;
            let mut sql = stmt.to_string();
            let mut reservations = reservations;
            if from_select && crate::draw::has_next_calls(&sql) {
                if reservations.iter().any(|r| r.sql.contains("changes()")) {
                    return Err(SqlError::unsupported(
                        "nextval() in an INSERT ... SELECT that also fills a sequence default",
                    ));
                }
                if let Some((numbered, reserve)) =
                    crate::draw::per_row(&sql, crate::draw::QUERY_ROW, crate::draw::Rows::Changed)
                {
                    sql = numbered;
                    reservations.insert(0, reserve);
                }
            }
            let mut q = single(sql, returning, params, "INSERT", false);
            q.batch.extend(reservations);
            Ok(Plan::Query(q))
        }
        Statement::Update(mut up) => {
            let table = relation_name(&up.table.relation);
            let returning = up
                .returning
                .as_ref()
                .map(|r| infer::returning_columns(r, &table, catalog));
            let numbered = crate::draw::number_update(&mut up)?;
            let mut stmt = Statement::Update(up);
            crate::array::rewrite(&mut stmt, catalog)?;
            rewrite(&mut stmt, ctx)?;
            let sql = stmt.to_string();
            if numbered
                && let Some((sql, reserve)) =
                    crate::draw::per_row(&sql, crate::draw::UPDATE_ROW, crate::draw::Rows::Changed)
            {
                let mut q = single(sql, returning, params, "UPDATE", false);
                q.batch.push(reserve);
                return Ok(Plan::Query(q));
            }
            Ok(Plan::Query(single(sql, returning, params, "UPDATE", false)))
        }
        Statement::Delete(del) => {
            let table = match &del.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t
                    .first()
                    .map(|t| relation_name(&t.relation))
                    .unwrap_or_default(),
            };
            let returning = del
                .returning
                .as_ref()
                .map(|r| infer::returning_columns(r, &table, catalog));
            let mut stmt = Statement::Delete(del);
            crate::array::rewrite(&mut stmt, catalog)?;
            rewrite(&mut stmt, ctx)?;
            Ok(Plan::Query(single(
                stmt.to_string(),
                returning,
                params,
                "DELETE",
                false,
            )))
        }
        Statement::CreateTable(ct) => create_table(ct, ctx),
        Statement::CreateSequence {
            if_not_exists,
            name,
            sequence_options,
            ..
        } => Ok(Plan::Query(ddl(
            crate::sequence::create(&object_name(&name), if_not_exists, &sequence_options)?,
            "CREATE SEQUENCE",
        ))),
        Statement::CreateIndex(mut ci) => {
            ci.using = None;
            ci.concurrently = false;
            ci.include.clear();
            ci.with.clear();
            ci.nulls_distinct = None;
            for c in &mut ci.columns {
                c.operator_class = None;
            }
            let mut stmt = Statement::CreateIndex(ci);
            rewrite(&mut stmt, ctx)?;
            Ok(Plan::Query(ddl(
                vec![SqliteStatement::new(stmt.to_string())],
                "CREATE INDEX",
            )))
        }
        Statement::CreateView(cv) => {
            let columns = crate::describe::record_view(&cv, catalog);
            let mut stmt = Statement::CreateView(cv);
            crate::array::rewrite(&mut stmt, catalog)?;
            rewrite(&mut stmt, ctx)?;
            let mut batch = vec![SqliteStatement::new(stmt.to_string())];
            batch.extend(columns);
            Ok(Plan::Query(ddl(batch, "CREATE VIEW")))
        }
        Statement::AlterTable(at) => alter_table(at, catalog, ctx),
        Statement::Drop {
            object_type,
            if_exists,
            names,
            ..
        } => drop(object_type, if_exists, &names, catalog),
        Statement::Truncate(t) => {
            let restart = t.identity == Some(ast::TruncateIdentityOption::Restart);
            let mut batch: Vec<SqliteStatement> = t
                .table_names
                .iter()
                .map(|n| SqliteStatement::new(format!("DELETE FROM {}", sqlite_name(&n.name))))
                .collect();
            if restart {
                batch.extend(
                    t.table_names
                        .iter()
                        .map(|n| crate::serial::restart_owned(&object_name(&n.name))),
                );
            }
            Ok(Plan::Query(Query {
                tag: "TRUNCATE TABLE",
                ddl: false,
                ..ddl(batch, "TRUNCATE TABLE")
            }))
        }
        Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } => copy(source, to, target, &options, &legacy_options, catalog, ctx),
        Statement::Comment { .. } => Ok(Plan::Utility("COMMENT")),
        Statement::Grant(_) => Ok(Plan::Utility("GRANT")),
        Statement::Revoke(_) => Ok(Plan::Utility("REVOKE")),
        other => Err(SqlError::unsupported(format!(
            "statement not supported: {}",
            other.to_string().chars().take(60).collect::<String>()
        ))),
    }
}

fn single(
    sql: String,
    columns: Option<Vec<OutColumn>>,
    params: Vec<PgType>,
    tag: &'static str,
    read_only: bool,
) -> Query {
    Query {
        batch: vec![SqliteStatement::new(sql)],
        main: 0,
        columns,
        params,
        tag,
        ddl: false,
        read_only,
    }
}

pub(crate) fn ddl(batch: Vec<SqliteStatement>, tag: &'static str) -> Query {
    Query {
        batch,
        main: 0,
        columns: None,
        params: Vec::new(),
        tag,
        ddl: true,
        read_only: false,
    }
}

/// The relation a table factor names, without its alias.
fn relation_name(tf: &ast::TableFactor) -> String {
    match tf {
        ast::TableFactor::Table { name, .. } => name.to_string(),
        other => other.to_string(),
    }
}

fn strip_locks(q: &mut ast::Query) {
    q.locks.clear();
}

/// Unquoted names fold to lower case, as PostgreSQL does; the schema is dropped.
pub fn ident_name(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    }
}

pub fn object_name(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(i)) => ident_name(i),
        _ => name.to_string(),
    }
}

fn sqlite_name(name: &ObjectName) -> String {
    quote_ident(&object_name(name))
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Rewrite PostgreSQL-only syntax into what SQLite runs.
fn rewrite(stmt: &mut Statement, ctx: &Context<'_>) -> Result<(), SqlError> {
    let mut err = None;
    let _ = ast::visit_relations_mut(stmt, |name| {
        // Drop schema qualifiers (public.t, pg_catalog.x); information_schema's views live
        // under internal names so they cannot clash with user tables.
        if name.0.len() > 1 {
            let schema = name.0[name.0.len() - 2].to_string().to_ascii_lowercase();
            let last = name.0.pop();
            name.0.clear();
            match last {
                Some(ast::ObjectNamePart::Identifier(i))
                    if schema.trim_matches('"') == "information_schema" =>
                {
                    let view = format!("_pg_is_{}", ident_name(&i));
                    name.0
                        .push(ast::ObjectNamePart::Identifier(ast::Ident::with_quote(
                            '"', view,
                        )));
                }
                other => name.0.extend(other),
            }
        }
        ControlFlow::<()>::Continue(())
    });
    let _ = ast::visit_expressions_mut(stmt, |e| {
        if let Err(x) = rewrite_expr(e, ctx) {
            err = Some(x);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    err.map_or(Ok(()), Err)
}

fn lit(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_owned()).into())
}

fn raw(sql: &str) -> Expr {
    Expr::Identifier(ast::Ident::new(sql))
}

fn is_comparison(e: &Expr) -> bool {
    use ast::BinaryOperator as B;
    match e {
        Expr::BinaryOp { op, .. } => matches!(
            op,
            B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq | B::And | B::Or
        ),
        Expr::IsNull(_) | Expr::IsNotNull(_) | Expr::IsTrue(_) | Expr::IsFalse(_) => true,
        Expr::Nested(x) => is_comparison(x),
        _ => false,
    }
}

fn func_args(f: &ast::Function) -> Vec<Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

const NOW_SQL: &str = "strftime('%Y-%m-%d %H:%M:%f+00', 'now')";
const TODAY_SQL: &str = "date('now')";
const TIME_SQL: &str = "strftime('%H:%M:%f+00', 'now')";

/// Fix `now()` and its kin in translated SQL to `at` (`YYYY-MM-DD HH:MM:SS.SSS`, UTC), the
/// start of the transaction, as PostgreSQL does; `None` when the SQL does not read the clock.
/// (A replayed transaction must answer the same at commit as when the client ran it.)
pub fn fix_now(sql: &str, at: &str) -> Option<String> {
    if !sql.contains("'now')") {
        return None;
    }
    let fixed = |template: &str| template.replace("'now'", &format!("'{at}'"));
    Some(
        sql.replace(NOW_SQL, &fixed(NOW_SQL))
            .replace(TODAY_SQL, &fixed(TODAY_SQL))
            .replace(TIME_SQL, &fixed(TIME_SQL)),
    )
}

/// As [`fix_now`], but the clock reads parameter `?index` (to be bound to the block's start),
/// so the statement's text is the same in every transaction and SQLite's prepared statement
/// is reused. `None` when the SQL does not read the clock or has anonymous `?` parameters.
pub fn fix_now_param(sql: &str, index: usize) -> Option<String> {
    if !sql.contains("'now')") {
        return None;
    }
    let b = sql.as_bytes();
    let anonymous = b
        .iter()
        .enumerate()
        .any(|(i, &c)| c == b'?' && !b.get(i + 1).is_some_and(u8::is_ascii_digit));
    if anonymous {
        return None;
    }
    let param = format!("?{index}");
    let fixed = |template: &str| template.replace("'now'", &param);
    let out = sql
        .replace(NOW_SQL, &fixed(NOW_SQL))
        .replace(TODAY_SQL, &fixed(TODAY_SQL))
        .replace(TIME_SQL, &fixed(TIME_SQL));
    (out != sql).then_some(out)
}

/// Whether translated SQL draws random values, so answers it gave cannot be replayed.
pub fn draws_random(sql: &str) -> bool {
    sql.as_bytes()
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"random"))
}
const UUID_SQL: &str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

fn rewrite_expr(e: &mut Expr, ctx: &Context<'_>) -> Result<(), SqlError> {
    match e {
        Expr::Value(v) => {
            if let Value::Placeholder(p) = &mut v.value
                && let Some(n) = p.strip_prefix('$')
            {
                *p = format!("?{n}");
            }
            if let Value::EscapedStringLiteral(s) = &v.value {
                v.value = Value::SingleQuotedString(s.clone());
            }
        }
        Expr::ILike {
            negated,
            expr,
            pattern,
            escape_char,
            any,
        } => {
            *e = Expr::Like {
                negated: *negated,
                any: *any,
                expr: expr.clone(),
                pattern: pattern.clone(),
                escape_char: escape_char.clone(),
            };
        }
        Expr::Cast {
            expr, data_type, ..
        } if crate::describe::is_regclass(data_type)
            && matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_))) =>
        {
            // `'s.t'::regclass`: the relation's oid (its name resolved by `namespace`).
            if let Expr::Value(v) = expr.as_ref()
                && let Value::SingleQuotedString(s) = &v.value
            {
                *e = crate::describe::regclass_literal(s);
            }
        }
        Expr::Cast {
            kind,
            expr,
            data_type,
            ..
        } => {
            let ty = PgType::from_name(&data_type.to_string());
            let inner = std::mem::replace(expr.as_mut(), Expr::Value(Value::Null.into()));
            *e = cast_expr(inner, ty, data_type, kind.clone())?;
        }
        Expr::TypedString(ts) => {
            let ty = PgType::from_name(&ts.data_type.to_string());
            let s = match &ts.value.value {
                Value::SingleQuotedString(s) => s.clone(),
                other => other.to_string(),
            };
            *e = literal_of(ty, &s)?;
        }
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let name = name.trim_start_matches("pg_catalog.");
            let args = func_args(f);
            if let Some(m) = crate::sequence::marker(name, &args) {
                *e = Expr::Nested(Box::new(raw(&m?)));
                return Ok(());
            }
            if name == "pg_get_serial_sequence"
                && let [table, column] = args.as_slice()
            {
                *e = raw(&crate::serial::serial_sequence_sql(
                    &table.to_string(),
                    &column.to_string(),
                ));
                return Ok(());
            }
            let replacement = match name {
                "now"
                | "current_timestamp"
                | "transaction_timestamp"
                | "statement_timestamp"
                | "clock_timestamp"
                | "localtimestamp" => Some(raw(NOW_SQL)),
                "current_date" => Some(raw(TODAY_SQL)),
                "current_time" => Some(raw(TIME_SQL)),
                "version" => Some(lit(VERSION_STRING)),
                "current_database" | "current_catalog" => Some(lit(ctx.database)),
                // `namespace::resolve` put the answer in as the argument.
                "current_schema" | "current_schemas" => {
                    Some(args.first().cloned().unwrap_or_else(|| lit("public")))
                }
                "current_user" | "session_user" | "user" => Some(lit(ctx.user)),
                "pg_backend_pid" => Some(Expr::Value(
                    Value::Number(ctx.backend_pid.to_string(), false).into(),
                )),
                "gen_random_uuid" | "uuid_generate_v4" => Some(raw(UUID_SQL)),
                "random" => Some(raw("((random() & 9007199254740991) / 9007199254740992.0)")),
                "greatest" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("max")]);
                    None
                }
                "least" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("min")]);
                    None
                }
                "char_length" | "character_length" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("length")]);
                    None
                }
                "strpos" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("instr")]);
                    None
                }
                "bool_and" | "every" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("min")]);
                    None
                }
                "bool_or" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("max")]);
                    None
                }
                "btrim" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("trim")]);
                    None
                }
                "array_agg" | "jsonb_agg" | "json_agg" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("json_group_array")]);
                    None
                }
                "json_build_object" | "jsonb_build_object" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("json_object")]);
                    // A comparison is a JSON boolean, not SQLite's 0 or 1.
                    if let FunctionArguments::List(l) = &mut f.args {
                        for a in &mut l.args {
                            if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) = a
                                && is_comparison(x)
                            {
                                *x = raw(&format!(
                                    "json(CASE WHEN {x} THEN 'true' WHEN NOT ({x}) THEN 'false' END)"
                                ));
                            }
                        }
                    }
                    None
                }
                "json_build_array" | "jsonb_build_array" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("json_array")]);
                    None
                }
                "to_json" | "to_jsonb" => {
                    f.name = ObjectName::from(vec![ast::Ident::new("json_quote")]);
                    None
                }
                "set_config" => args.get(1).cloned(),
                // The public schema belongs to pg_database_owner (6171) in PostgreSQL 15.
                "pg_get_userbyid" => Some(match args.first() {
                    Some(u) => raw(&format!(
                        "(CASE {u} WHEN 6171 THEN 'pg_database_owner' ELSE 'postgres' END)"
                    )),
                    None => lit("postgres"),
                }),
                "pg_get_expr" => args.first().map(|a| {
                    raw(&crate::namespace::relative(
                        &a.to_string(),
                        ctx,
                        "nextval('",
                    ))
                }),
                "format_type" if args.len() == 2 => Some(raw(&format!(
                    "(CASE WHEN {t} = 1043 AND {m} > 4 THEN 'character varying(' || ({m} - 4) || ')' \
                     WHEN {t} = 1042 AND {m} > 4 THEN 'character(' || ({m} - 4) || ')' \
                     WHEN {t} = 1700 AND {m} >= 4 THEN 'numeric(' || (({m} - 4) >> 16) || ',' || (({m} - 4) & 65535) || ')' \
                     WHEN {t} = 1015 AND {m} > 4 THEN 'character varying(' || ({m} - 4) || ')[]' \
                     WHEN {t} = 1014 AND {m} > 4 THEN 'character(' || ({m} - 4) || ')[]' \
                     WHEN {t} = 1231 AND {m} >= 4 THEN 'numeric(' || (({m} - 4) >> 16) || ',' || (({m} - 4) & 65535) || ')[]' \
                     ELSE {plain} END)",
                    t = args[0],
                    m = args[1],
                    plain = format_type_sql(&args[0]),
                ))),
                "format_type" => args.first().map(|t| raw(&format_type_sql(t))),
                "pg_table_is_visible" | "pg_type_is_visible" | "pg_function_is_visible" => {
                    Some(raw("1"))
                }
                "pg_encoding_to_char" => Some(lit("UTF8")),
                "to_regtype" => args.first().map(|a| {
                    raw(&format!(
                        "(SELECT t.oid FROM pg_type AS t WHERE t.typname = lower({a}))"
                    ))
                }),
                "quote_ident" => args.first().map(|a| {
                    raw(&format!(
                        "(CASE WHEN {a} GLOB '*[^a-z0-9_]*' OR {a} GLOB '[0-9]*' OR {a} = '' \
                         THEN '\"' || replace({a}, '\"', '\"\"') || '\"' ELSE {a} END)"
                    ))
                }),
                // With a column number, that column's definition (its name here).
                "pg_get_indexdef" if args.len() >= 2 => Some(raw(&format!(
                    "(CASE WHEN {n} = 0 THEN (SELECT _val FROM _pg_lookup_indexdef WHERE _key = {i}) \
                     ELSE (SELECT _val FROM _pg_lookup_indexcol WHERE _key = {i} AND _pos = {n}) END)",
                    i = args[0],
                    n = args[1]
                ))),
                "pg_get_indexdef" => args.first().map(|i| {
                    raw(&format!(
                        "(SELECT _val FROM _pg_lookup_indexdef WHERE _key = {i})"
                    ))
                }),
                "pg_get_constraintdef" => args.first().map(|c| {
                    raw(&crate::namespace::relative(
                        &format!("(SELECT _val FROM _pg_lookup_condef WHERE _key = {c})"),
                        ctx,
                        "REFERENCES ",
                    ))
                }),
                "pg_partition_ancestors" => args.first().cloned(),
                "pg_get_function_result"
                | "pg_get_function_arguments"
                | "pg_get_triggerdef"
                | "pg_get_statisticsobjdef_columns"
                | "pg_relation_is_publishable" => Some(raw("NULL")),
                // n copies of s: hex(zeroblob(n)) is n "00" pairs, each replaced by s.
                "repeat" if args.len() == 2 => Some(raw(&format!(
                    "replace(hex(zeroblob(max({n}, 0))), '00', {s})",
                    s = args[0],
                    n = args[1]
                ))),
                "array_to_string" => args.first().cloned(),
                "array_position" => Some(raw("1")),
                "current_setting" => Some(match args.first() {
                    Some(Expr::Value(v)) if matches!(&v.value, Value::SingleQuotedString(n) if n.eq_ignore_ascii_case("search_path")) => {
                        lit(ctx.search_path)
                    }
                    _ => lit(""),
                }),
                "pg_typeof" => Some(lit("unknown")),
                _ => None,
            };
            if let Some(r) = replacement {
                *e = Expr::Nested(Box::new(r));
            }
        }
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let from = substring_from
                .as_deref()
                .map_or("1".to_owned(), ToString::to_string);
            let sql = match substring_for {
                Some(len) => format!("substr({expr}, {from}, {len})"),
                None => format!("substr({expr}, {from})"),
            };
            *e = raw(&sql);
        }
        Expr::Position { expr, r#in } => {
            *e = raw(&format!("instr({in_}, {expr})", in_ = r#in));
        }
        Expr::Collate { expr, .. } => {
            let inner = std::mem::replace(expr.as_mut(), Expr::Value(Value::Null.into()));
            *e = inner;
            return rewrite_expr(e, ctx);
        }
        Expr::BinaryOp {
            op: op @ ast::BinaryOperator::PGCustomBinaryOperator(_),
            ..
        } => {
            // OPERATOR(pg_catalog.~) and friends: the plain operator.
            if let ast::BinaryOperator::PGCustomBinaryOperator(parts) = op {
                let plain = match parts.last().map(String::as_str) {
                    Some("~") => Some(ast::BinaryOperator::PGRegexMatch),
                    Some("!~") => Some(ast::BinaryOperator::PGRegexNotMatch),
                    Some("~*") => Some(ast::BinaryOperator::PGRegexIMatch),
                    Some("=") => Some(ast::BinaryOperator::Eq),
                    _ => None,
                };
                match plain {
                    Some(p) => *op = p,
                    None => {
                        return Err(SqlError::unsupported(format!(
                            "operator {} is not supported",
                            parts.join(".")
                        )));
                    }
                }
            }
            return rewrite_expr(e, ctx);
        }
        Expr::BinaryOp { left, op, right }
            if matches!(
                op,
                ast::BinaryOperator::PGRegexMatch
                    | ast::BinaryOperator::PGRegexNotMatch
                    | ast::BinaryOperator::PGRegexIMatch
                    | ast::BinaryOperator::PGRegexNotIMatch
            ) =>
        {
            let negated = matches!(
                op,
                ast::BinaryOperator::PGRegexNotMatch | ast::BinaryOperator::PGRegexNotIMatch
            );
            let pattern = match right.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(p) => p.clone(),
                    _ => {
                        return Err(SqlError::unsupported(
                            "regular expressions must be literals",
                        ));
                    }
                },
                _ => {
                    return Err(SqlError::unsupported(
                        "regular expressions must be literals",
                    ));
                }
            };
            let glob = regex_to_glob(&pattern).ok_or_else(|| {
                SqlError::unsupported(format!("regular expression {pattern:?} is not supported"))
            })?;
            *e = raw(&format!(
                "({}{left} GLOB {})",
                if negated { "NOT " } else { "" },
                quote_str(&glob)
            ));
        }
        Expr::IsDistinctFrom(a, b) => *e = raw(&format!("({a} IS NOT {b})")),
        Expr::IsNotDistinctFrom(a, b) => *e = raw(&format!("({a} IS {b})")),
        Expr::Extract { field, expr, .. } => {
            let f = match field.to_string().to_ascii_lowercase().as_str() {
                "year" => "%Y",
                "month" => "%m",
                "day" => "%d",
                "hour" => "%H",
                "minute" => "%M",
                "second" => "%S",
                "dow" => "%w",
                "doy" => "%j",
                "epoch" => "%s",
                other => {
                    return Err(SqlError::unsupported(format!(
                        "EXTRACT({other}) is not supported"
                    )));
                }
            };
            *e = raw(&format!("CAST(strftime('{f}', {expr}) AS INTEGER)"));
        }
        _ => {}
    }
    Ok(())
}

/// A default expression as SQLite runs it (`None` for a sequence call, which INSERTs write
/// themselves) and as PostgreSQL prints it.
fn default_sql(expr: &Expr, ctx: &Context<'_>) -> Result<(Option<String>, String), SqlError> {
    let mut sqlite = expr.clone();
    let mut err = None;
    let _ = ast::visit_expressions_mut(&mut sqlite, |e| {
        if let Err(x) = rewrite_expr(e, ctx) {
            err = Some(x);
        }
        ControlFlow::<()>::Continue(())
    });
    if let Some(e) = err {
        return Err(e);
    }
    let sqlite = sqlite.to_string();
    let sqlite = (!crate::sequence::has_calls(&sqlite)).then_some(sqlite);
    Ok((sqlite, expr.to_string()))
}

/// A default as PostgreSQL prints it (`pg_get_expr`): a string constant carries its
/// column's type, as `'x'::text`.
fn default_text(expr: &Expr, ty: PgType) -> String {
    let text = expr.to_string();
    let is_string =
        matches!(expr, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
    match ty {
        PgType::Text if is_string => format!("{text}::text"),
        PgType::Varchar if is_string => format!("{text}::character varying"),
        PgType::Array(e) if is_string => format!("{text}::{}", e.array_name()),
        _ => text,
    }
}

/// The name `format_type` gives a type oid, as SQL over the oid expression `t`.
fn format_type_sql(t: &Expr) -> String {
    format!(
        "(CASE {t} WHEN 16 THEN 'boolean' WHEN 21 THEN 'smallint' WHEN 23 THEN 'integer' WHEN 20 THEN 'bigint' \
         WHEN 700 THEN 'real' WHEN 701 THEN 'double precision' WHEN 25 THEN 'text' WHEN 1043 THEN 'character varying' \
         WHEN 1042 THEN 'character' WHEN 17 THEN 'bytea' WHEN 1082 THEN 'date' WHEN 1083 THEN 'time without time zone' \
         WHEN 1114 THEN 'timestamp without time zone' WHEN 1184 THEN 'timestamp with time zone' WHEN 1186 THEN 'interval' \
         WHEN 2950 THEN 'uuid' WHEN 114 THEN 'json' WHEN 3802 THEN 'jsonb' WHEN 1700 THEN 'numeric' {arrays}ELSE 'text' END)",
        arrays = crate::array::format_type_cases(),
    )
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The anchored, metacharacter-free regular expressions catalog queries use (`^pg_toast`,
/// `^(t)$`) as GLOB patterns.
fn regex_to_glob(re: &str) -> Option<String> {
    let (anchored_start, rest) = match re.strip_prefix('^') {
        Some(r) => (true, r),
        None => (false, re),
    };
    let (anchored_end, rest) = match rest.strip_suffix('$') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(rest);
    if rest.chars().any(|c| "[]()|*+?.\\{}^$".contains(c)) {
        return None;
    }
    Some(format!(
        "{}{rest}{}",
        if anchored_start { "" } else { "*" },
        if anchored_end { "" } else { "*" }
    ))
}

/// A literal of type `ty` written as text, in SQLite's representation.
fn literal_of(ty: Option<PgType>, s: &str) -> Result<Expr, SqlError> {
    let Some(ty) = ty else { return Ok(lit(s)) };
    Ok(match types::from_text(ty, s)? {
        SqlValue::Integer(i) => Expr::Value(Value::Number(i.to_string(), false).into()),
        SqlValue::Real(f) => raw(&format!("{f:?}")),
        SqlValue::Blob(b) => raw(&format!(
            "X'{}'",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        )),
        SqlValue::Text(t) => lit(&t),
        SqlValue::Null => Expr::Value(Value::Null.into()),
    })
}

fn cast_expr(
    inner: Expr,
    ty: Option<PgType>,
    data_type: &DataType,
    kind: CastKind,
) -> Result<Expr, SqlError> {
    if let Expr::Value(v) = &inner
        && let Value::SingleQuotedString(s) = &v.value
    {
        return literal_of(ty, s);
    }
    let sqlite_type = match ty {
        Some(PgType::Bool) => {
            return Ok(raw(&format!(
                "(CASE WHEN lower(CAST({inner} AS TEXT)) IN ('t','true','yes','on','1','y') THEN 1 WHEN ({inner}) IS NULL THEN NULL ELSE 0 END)"
            )));
        }
        Some(PgType::Oid) => return Ok(inner),
        Some(t) => t.sqlite_type(),
        None => {
            let _ = (data_type, kind);
            "TEXT"
        }
    };
    Ok(raw(&format!("CAST({inner} AS {sqlite_type})")))
}

/// Literal strings inserted into typed columns are converted as PostgreSQL would
/// (`'t'` into a boolean, `'\x00'` into bytea), and checked (22P02).
/// The columns of `table` whose default calls `nextval`, with that default parsed.
fn sequence_default_exprs<'a>(table: &str, catalog: &'a Catalog) -> Vec<(&'a Column, Expr)> {
    let Some(t) = catalog.table(&table.trim_matches('"').to_ascii_lowercase()) else {
        return Vec::new();
    };
    t.columns
        .iter()
        .filter_map(|c| {
            let d = c.default.as_deref()?;
            // A serial column's recorded default names no sequence: SQLite numbers it.
            let serial = format!("nextval('{}_{}_seq'::regclass)", t.name, c.name);
            if !d.to_ascii_lowercase().contains("nextval") || d == serial {
                return None;
            }
            let expr = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(d)
                .and_then(|mut p| p.parse_expr())
                .ok()?;
            Some((c, expr))
        })
        .collect()
}

/// Columns whose default calls `nextval` get it written into each VALUES row, since the
/// session resolves sequence calls in the statement's text (SQLite never sees `nextval`).
fn sequence_defaults(
    src: &mut ast::Query,
    columns: &mut Vec<ObjectName>,
    table: &str,
    catalog: &Catalog,
) -> Result<(), SqlError> {
    let Some(t) = catalog.table(&table.trim_matches('"').to_ascii_lowercase()) else {
        return Ok(());
    };
    let seq_cols = sequence_default_exprs(table, catalog);
    if seq_cols.is_empty() {
        return Ok(());
    }
    let SetExpr::Values(values) = src.body.as_mut() else {
        // One value per row cannot be written into a SELECT's text.
        let omitted = |c: &Column| {
            !columns
                .iter()
                .any(|n| object_name(n).eq_ignore_ascii_case(&c.name))
        };
        if !columns.is_empty() && seq_cols.iter().all(|(c, _)| !omitted(c)) {
            return Ok(());
        }
        return Err(SqlError::unsupported(
            "INSERT ... SELECT into a table with a nextval() default is not supported: list the column and call nextval() in the SELECT",
        ));
    };
    if columns.is_empty() {
        let width = values.rows.iter().map(|r| r.len()).max().unwrap_or(0);
        *columns = t
            .columns
            .iter()
            .take(width)
            .map(|c| ObjectName::from(vec![ast::Ident::new(c.name.clone())]))
            .collect();
    }
    for (col, expr) in seq_cols {
        let pos = columns
            .iter()
            .position(|c| object_name(c).eq_ignore_ascii_case(&col.name));
        match pos {
            Some(i) => {
                for row in &mut values.rows {
                    if let Some(Expr::Identifier(id)) = row.get(i)
                        && id.quote_style.is_none()
                        && id.value.eq_ignore_ascii_case("default")
                    {
                        row[i] = expr.clone();
                    }
                }
            }
            None => {
                columns.push(ObjectName::from(vec![ast::Ident::new(col.name.clone())]));
                for row in &mut values.rows {
                    row.push(expr.clone());
                }
            }
        }
    }
    Ok(())
}

fn coerce_insert_values(
    src: &mut ast::Query,
    columns: &[ObjectName],
    table: &str,
    catalog: &Catalog,
) -> Result<(), SqlError> {
    let Some(t) = catalog.table(&table.trim_matches('"').to_ascii_lowercase()) else {
        return Ok(());
    };
    let SetExpr::Values(values) = src.body.as_mut() else {
        return Ok(());
    };
    let types: Vec<Option<PgType>> = if columns.is_empty() {
        t.columns.iter().map(|c| Some(c.ty)).collect()
    } else {
        columns
            .iter()
            .map(|c| t.column(&object_name(c)).map(|c| c.ty))
            .collect()
    };
    for row in &mut values.rows {
        for (expr, ty) in row.iter_mut().zip(&types) {
            let Some(ty) = ty else { continue };
            if matches!(ty, PgType::Text | PgType::Varchar | PgType::Bpchar) {
                continue;
            }
            if let Expr::Value(v) = expr
                && let Value::SingleQuotedString(s) = &v.value
            {
                *expr = literal_of(Some(*ty), s)?;
            }
        }
    }
    Ok(())
}

/// The catalog type and SQLite column SQL of a column definition.
fn column_sql(
    col: &ast::ColumnDef,
    ctx: &Context<'_>,
    table: &str,
) -> Result<(Column, String), SqlError> {
    let name = ident_name(&col.name);
    let type_text = col.data_type.to_string();
    let lower = type_text.to_ascii_lowercase();
    let ty = PgType::from_name(&type_text).unwrap_or(PgType::Text);
    let mut serial = matches!(
        lower.as_str(),
        "serial" | "bigserial" | "smallserial" | "serial4" | "serial8" | "serial2"
    );
    let mut parts = Vec::new();
    let mut not_null = false;
    let mut primary = false;
    let mut default = None;
    let mut identity = false;
    for opt in &col.options {
        match &opt.option {
            ColumnOption::NotNull => {
                not_null = true;
                parts.push("NOT NULL".to_owned());
            }
            ColumnOption::Null => {}
            ColumnOption::Default(expr) => {
                let mut stmt_expr = expr.clone();
                crate::array::default_expr(&mut stmt_expr, ty)?;
                let mut err = None;
                let _ = ast::visit_expressions_mut(&mut stmt_expr, |e| {
                    if let Err(x) = rewrite_expr(e, ctx) {
                        err = Some(x);
                    }
                    ControlFlow::<()>::Continue(())
                });
                if let Some(e) = err {
                    return Err(e);
                }
                default = Some(default_text(expr, ty));
                let sql = stmt_expr.to_string();
                // A sequence call is written into each INSERT instead (see
                // `sequence_defaults`): SQLite cannot run it.
                if !crate::sequence::has_calls(&sql) {
                    parts.push(format!("DEFAULT ({sql})"));
                }
            }
            ColumnOption::PrimaryKey(_) => {
                primary = true;
                not_null = true;
            }
            ColumnOption::Unique(_) => parts.push("UNIQUE".to_owned()),
            ColumnOption::Identity(_) => serial = true,
            ColumnOption::Generated { .. } => {
                serial = true;
                identity = true;
            }
            ColumnOption::ForeignKey(_) | ColumnOption::Check(_) => {
                parts.push(opt.option.to_string())
            }
            _ => {}
        }
    }
    if serial {
        not_null = true;
        // An identity column has no default (pg_attrdef); psql shows its attidentity.
        default = (!identity).then(|| {
            format!(
                "nextval('{}'::regclass)",
                crate::serial::sequence_name(table, &name)
            )
        });
    }
    // With a sequence of its own, only a primary key needs to be SQLite's rowid.
    let sql = if serial && primary {
        format!(
            "{} INTEGER PRIMARY KEY {}",
            quote_ident(&name),
            parts.join(" ")
        )
    } else if serial {
        format!(
            "{} INTEGER NOT NULL {}",
            quote_ident(&name),
            parts.join(" ")
        )
    } else {
        if primary {
            parts.insert(0, "PRIMARY KEY".to_owned());
        }
        format!(
            "{} {} {}",
            quote_ident(&name),
            ty.sqlite_type(),
            parts.join(" ")
        )
    };
    let typmod = type_modifier(&lower);
    Ok((
        Column {
            name,
            ty,
            typmod,
            not_null,
            default,
        },
        sql.trim_end().to_owned(),
    ))
}

fn type_modifier(lower: &str) -> i32 {
    // An array's modifier is its element's: `varchar(5)[]`.
    let lower = lower
        .split('[')
        .next()
        .unwrap_or(lower)
        .trim_end_matches(" array");
    let Some((_, inner)) = lower.split_once('(') else {
        return -1;
    };
    let nums: Vec<i32> = inner
        .trim_end_matches(')')
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if lower.starts_with("numeric") || lower.starts_with("decimal") {
        let p = nums.first().copied().unwrap_or(0);
        let s = nums.get(1).copied().unwrap_or(0);
        ((p << 16) | s) + 4
    } else {
        nums.first().map_or(-1, |n| n + 4)
    }
}

fn create_table(ct: ast::CreateTable, ctx: &Context<'_>) -> Result<Plan, SqlError> {
    let table = object_name(&ct.name);
    if let Some(q) = ct.query {
        let mut stmt = Statement::Query(q);
        rewrite(&mut stmt, ctx)?;
        let sql = format!(
            "CREATE TABLE {}{} AS {stmt}",
            if ct.if_not_exists {
                "IF NOT EXISTS "
            } else {
                ""
            },
            quote_ident(&table)
        );
        return Ok(Plan::Query(ddl(vec![SqliteStatement::new(sql)], "SELECT")));
    }
    let checks = crate::describe::record_checks(&ct, &table);
    let mut cols = Vec::new();
    let mut defs = Vec::new();
    for c in &ct.columns {
        let (col, sql) = column_sql(c, ctx, &table)?;
        cols.push(col);
        defs.push(sql);
    }
    for c in &ct.constraints {
        if let TableConstraint::PrimaryKey(pk) = c {
            for ic in &pk.columns {
                let n = ic
                    .column
                    .expr
                    .to_string()
                    .trim_matches('"')
                    .to_ascii_lowercase();
                if let Some(col) = cols.iter_mut().find(|x| x.name == n) {
                    col.not_null = true;
                }
            }
        }
        defs.push(c.to_string());
    }
    let sql = format!(
        "CREATE TABLE {}{} ({})",
        if ct.if_not_exists {
            "IF NOT EXISTS "
        } else {
            ""
        },
        quote_ident(&table),
        defs.join(", ")
    );
    let mut batch = vec![SqliteStatement::new(sql)];
    for (c, def) in cols.iter().zip(&ct.columns) {
        if let Some((identity, options)) = crate::serial::column_kind(def) {
            batch.extend(crate::serial::create_owned(
                &table,
                &c.name,
                c.ty,
                identity,
                &options,
                ct.if_not_exists,
            )?);
        }
    }
    let t = Table {
        name: table.clone(),
        columns: cols,
    };
    if ct.if_not_exists {
        // Only record the columns when the table is new.
        batch.push(SqliteStatement::with_params(
            "INSERT OR IGNORE INTO _pg_columns (tbl, col, pos, typ, typmod, not_null, dflt) SELECT ?1, '', 0, '25', -1, 0, NULL WHERE 0",
            vec![SqlValue::Text(table)],
        ));
        for (pos, c) in t.columns.iter().enumerate() {
            let mut s = catalog::record_column(&t.name, pos as i64 + 1, c);
            s.sql = s
                .sql
                .replace("INSERT OR REPLACE", "INSERT OR IGNORE")
                .into();
            batch.push(s);
        }
    } else {
        batch.extend(catalog::record_table(&t));
        batch.extend(checks);
    }
    Ok(Plan::Query(ddl(batch, "CREATE TABLE")))
}

fn alter_table(
    at: ast::AlterTable,
    catalog: &Catalog,
    ctx: &Context<'_>,
) -> Result<Plan, SqlError> {
    let table = object_name(&at.name);
    let existing = catalog.table(&table).cloned();
    let mut batch = Vec::new();
    let mut changes = Vec::new();
    let qt = quote_ident(&table);
    for op in at.operations {
        match op {
            ast::AlterTableOperation::AddColumn {
                column_def,
                if_not_exists,
                ..
            } => {
                if if_not_exists
                    && existing
                        .as_ref()
                        .is_some_and(|t| t.column(&ident_name(&column_def.name)).is_some())
                {
                    continue;
                }
                if crate::serial::column_kind(&column_def).is_some() {
                    return Err(SqlError::unsupported(
                        "ALTER TABLE ... ADD COLUMN with a serial or identity column",
                    ));
                }
                let (col, sql) = column_sql(&column_def, ctx, &table)?;
                batch.push(SqliteStatement::new(format!(
                    "ALTER TABLE {qt} ADD COLUMN {sql}"
                )));
                let pos = existing.as_ref().map_or(0, |t| t.columns.len()) as i64 + 1;
                batch.push(catalog::record_column(&table, pos, &col));
            }
            ast::AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for c in column_names {
                    let name = ident_name(&c);
                    let known = existing.as_ref().is_none_or(|t| t.column(&name).is_some());
                    if !known {
                        if if_exists {
                            continue;
                        }
                        return Err(SqlError::new(
                            code::UNDEFINED_COLUMN,
                            format!("column \"{name}\" of relation \"{table}\" does not exist"),
                        ));
                    }
                    // The session drops it in place, or rebuilds the table when indexes or
                    // constraints use it (SQLite refuses to drop those columns).
                    changes.push(crate::alter::Change::DropColumn { column: name });
                }
            }
            ast::AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let (old, new) = (ident_name(&old_column_name), ident_name(&new_column_name));
                batch.push(SqliteStatement::new(format!(
                    "ALTER TABLE {qt} RENAME COLUMN {} TO {}",
                    quote_ident(&old),
                    quote_ident(&new)
                )));
                batch.push(SqliteStatement::with_params(
                    "UPDATE _pg_columns SET col = ?3 WHERE tbl = ?1 AND col = ?2",
                    vec![
                        SqlValue::Text(table.clone()),
                        SqlValue::Text(old),
                        SqlValue::Text(new),
                    ],
                ));
            }
            ast::AlterTableOperation::RenameTable { table_name } => {
                let new = match table_name {
                    ast::RenameTableNameKind::To(n) | ast::RenameTableNameKind::As(n) => {
                        object_name(&n)
                    }
                };
                batch.push(SqliteStatement::new(format!(
                    "ALTER TABLE {qt} RENAME TO {}",
                    quote_ident(&new)
                )));
                batch.push(SqliteStatement::with_params(
                    "UPDATE _pg_columns SET tbl = ?2 WHERE tbl = ?1",
                    vec![SqlValue::Text(table.clone()), SqlValue::Text(new.clone())],
                ));
                batch.push(SqliteStatement::with_params(
                    "UPDATE _pg_checks SET tbl = ?2 WHERE tbl = ?1",
                    vec![SqlValue::Text(table.clone()), SqlValue::Text(new.clone())],
                ));
                batch.push(SqliteStatement::with_params(
                    "UPDATE _pg_fkeys SET tbl = ?2 WHERE tbl = ?1",
                    vec![SqlValue::Text(table.clone()), SqlValue::Text(new)],
                ));
            }
            ast::AlterTableOperation::AddConstraint { constraint, .. } => match constraint {
                // SQLite cannot add keys to a table; a unique index enforces the same.
                TableConstraint::PrimaryKey(pk) => {
                    let cols: Vec<String> = pk
                        .columns
                        .iter()
                        .map(|c| c.column.expr.to_string())
                        .collect();
                    let name = pk.name.as_ref().map_or(format!("{table}_pkey"), |n| {
                        crate::namespace::sibling(&table, &ident_name(n))
                    });
                    batch.push(SqliteStatement::new(format!(
                        "CREATE UNIQUE INDEX {} ON {qt} ({})",
                        quote_ident(&name),
                        cols.join(", ")
                    )));
                    for c in &cols {
                        batch.push(SqliteStatement::with_params(
                            "UPDATE _pg_columns SET not_null = 1 WHERE tbl = ?1 AND col = ?2",
                            vec![
                                SqlValue::Text(table.clone()),
                                SqlValue::Text(c.trim_matches('"').to_ascii_lowercase()),
                            ],
                        ));
                    }
                }
                TableConstraint::Unique(u) => {
                    let cols: Vec<String> = u
                        .columns
                        .iter()
                        .map(|c| c.column.expr.to_string())
                        .collect();
                    let name = u
                        .name
                        .as_ref()
                        .map_or(format!("{table}_{}_key", cols.join("_")), |n| {
                            crate::namespace::sibling(&table, &ident_name(n))
                        });
                    batch.push(SqliteStatement::new(format!(
                        "CREATE UNIQUE INDEX {} ON {qt} ({})",
                        quote_ident(&name),
                        cols.join(", ")
                    )));
                }
                // SQLite adds checks and foreign keys only by rebuilding the table.
                TableConstraint::Check(chk) => {
                    let name = chk.name.as_ref().map_or_else(
                        || match crate::describe::first_column(&chk.expr) {
                            Some(c) => format!("{}_{c}_check", crate::namespace::bare(&table)),
                            None => format!("{}_check", crate::namespace::bare(&table)),
                        },
                        ident_name,
                    );
                    changes.push(crate::alter::Change::AddCheck {
                        name,
                        expr: chk.expr.to_string(),
                    });
                }
                fk @ TableConstraint::ForeignKey(_) => {
                    changes.push(crate::alter::Change::AddForeignKey(fk.to_string()));
                }
                other => {
                    return Err(SqlError::unsupported(format!(
                        "ALTER TABLE ADD {other} is not supported"
                    )));
                }
            },
            ast::AlterTableOperation::AlterColumn { column_name, op } => {
                let column = ident_name(&column_name);
                changes.push(match op {
                    ast::AlterColumnOperation::SetNotNull => crate::alter::Change::NotNull {
                        column,
                        not_null: true,
                    },
                    ast::AlterColumnOperation::DropNotNull => crate::alter::Change::NotNull {
                        column,
                        not_null: false,
                    },
                    ast::AlterColumnOperation::DropDefault => crate::alter::Change::Default {
                        column,
                        default: None,
                    },
                    ast::AlterColumnOperation::SetDefault { value } => {
                        let ty = existing
                            .as_ref()
                            .and_then(|t| t.column(&column))
                            .map_or(PgType::Unknown, |c| c.ty);
                        let mut stored = value.clone();
                        crate::array::default_expr(&mut stored, ty)?;
                        let (sqlite, _) = default_sql(&stored, ctx)?;
                        let pg = default_text(&value, ty);
                        crate::alter::Change::Default {
                            column,
                            default: Some((sqlite, pg)),
                        }
                    }
                    other => {
                        return Err(SqlError::unsupported(format!(
                            "ALTER TABLE ALTER COLUMN {other} is not supported"
                        )));
                    }
                });
            }
            ast::AlterTableOperation::DropConstraint {
                if_exists, name, ..
            } => {
                let name = ident_name(&name);
                if name.ends_with("_pkey") {
                    return Err(SqlError::unsupported(
                        "ALTER TABLE DROP CONSTRAINT of a primary key is not supported",
                    ));
                }
                changes.push(crate::alter::Change::DropConstraint { name, if_exists });
            }
            other => {
                return Err(SqlError::unsupported(format!(
                    "ALTER TABLE {other} is not supported"
                )));
            }
        }
    }
    if !batch.is_empty()
        && changes
            .iter()
            .all(|c| matches!(c, crate::alter::Change::DropColumn { .. }))
    {
        // With other actions, a column is dropped in place, as SQLite allows.
        for c in changes.drain(..) {
            if let crate::alter::Change::DropColumn { column } = c {
                batch.extend(crate::alter::drop_column_in_place(&table, &column));
            }
        }
    }
    if !changes.is_empty() {
        if !batch.is_empty() {
            return Err(SqlError::unsupported(
                "this combination of ALTER TABLE actions is not supported: run them one at a time",
            ));
        }
        if existing.is_none() {
            return Err(SqlError::new(
                code::UNDEFINED_TABLE,
                format!("relation \"{table}\" does not exist"),
            ));
        }
        return Ok(Plan::Rebuild(crate::alter::Rebuild { table, changes }));
    }
    if existing.is_none() && !batch.is_empty() {
        // Let SQLite report the missing relation (42P01) by touching it first.
        batch.insert(
            0,
            SqliteStatement::new(format!("SELECT 1 FROM {qt} LIMIT 0")),
        );
    }
    Ok(Plan::Query(ddl(batch, "ALTER TABLE")))
}

fn drop(
    object_type: ast::ObjectType,
    if_exists: bool,
    names: &[ObjectName],
    catalog: &Catalog,
) -> Result<Plan, SqlError> {
    let (kind, tag) = match object_type {
        ast::ObjectType::Table => ("TABLE", "DROP TABLE"),
        ast::ObjectType::Index => ("INDEX", "DROP INDEX"),
        ast::ObjectType::View => ("VIEW", "DROP VIEW"),
        ast::ObjectType::Sequence => {
            let batch = names
                .iter()
                .flat_map(|n| crate::sequence::drop(&object_name(n), if_exists))
                .collect();
            return Ok(Plan::Query(ddl(batch, "DROP SEQUENCE")));
        }
        other => {
            return Err(SqlError::unsupported(format!(
                "DROP {other} is not supported"
            )));
        }
    };
    let mut batch = Vec::new();
    for n in names {
        let name = object_name(n);
        batch.push(SqliteStatement::new(format!(
            "DROP {kind} {}{}",
            if if_exists { "IF EXISTS " } else { "" },
            quote_ident(&name)
        )));
        if kind == "TABLE" {
            batch.push(catalog::forget_table(&name));
            batch.extend(crate::serial::drop_owned(&name, catalog));
        }
    }
    Ok(Plan::Query(ddl(batch, tag)))
}

fn copy(
    source: CopySource,
    to: bool,
    target: CopyTarget,
    options: &[CopyOption],
    legacy: &[CopyLegacyOption],
    catalog: &Catalog,
    ctx: &Context<'_>,
) -> Result<Plan, SqlError> {
    let mut opts = CopyOptions {
        format: CopyFormat::Text,
        delimiter: '\t',
        null: "\\N".into(),
        header: false,
        quote: '"',
    };
    let mut delimiter = None;
    let mut null = None;
    for o in options {
        match o {
            CopyOption::Format(f) => {
                opts.format = match f.value.to_ascii_lowercase().as_str() {
                    "csv" => CopyFormat::Csv,
                    "text" => CopyFormat::Text,
                    other => {
                        return Err(SqlError::unsupported(format!(
                            "COPY format \"{other}\" is not supported"
                        )));
                    }
                }
            }
            CopyOption::Delimiter(c) => delimiter = Some(*c),
            CopyOption::Null(s) => null = Some(s.clone()),
            CopyOption::Header(h) => opts.header = *h,
            CopyOption::Quote(c) => opts.quote = *c,
            _ => {}
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Binary => {
                return Err(SqlError::unsupported("COPY BINARY is not supported"));
            }
            CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            CopyLegacyOption::Null(s) => null = Some(s.clone()),
            CopyLegacyOption::Csv(_) => opts.format = CopyFormat::Csv,
            _ => {}
        }
    }
    if opts.format == CopyFormat::Csv {
        opts.delimiter = ',';
        opts.null = String::new();
    }
    if let Some(d) = delimiter {
        opts.delimiter = d;
    }
    if let Some(n) = null {
        opts.null = n;
    }
    match (to, target, source) {
        (
            false,
            CopyTarget::Stdin,
            CopySource::Table {
                table_name,
                columns,
            },
        ) => {
            let table = object_name(&table_name);
            let t = catalog.table(&table).ok_or_else(|| {
                SqlError::new(
                    code::UNDEFINED_TABLE,
                    format!("relation \"{table}\" does not exist"),
                )
            })?;
            let columns = if columns.is_empty() {
                t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect()
            } else {
                columns
                    .iter()
                    .map(|c| {
                        let n = ident_name(c);
                        t.column(&n)
                            .map(|col| (col.name.clone(), col.ty))
                            .ok_or_else(|| {
                                SqlError::new(
                                    code::UNDEFINED_COLUMN,
                                    format!(
                                        "column \"{n}\" of relation \"{table}\" does not exist"
                                    ),
                                )
                            })
                    })
                    .collect::<Result<_, _>>()?
            };
            Ok(Plan::CopyFrom(CopyFrom {
                table,
                columns,
                options: opts,
            }))
        }
        (true, CopyTarget::Stdout, source) => {
            let sql = match source {
                CopySource::Table {
                    table_name,
                    columns,
                } => {
                    let cols = if columns.is_empty() {
                        "*".to_owned()
                    } else {
                        columns
                            .iter()
                            .map(|c| quote_ident(&ident_name(c)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    format!("SELECT {cols} FROM {}", sqlite_name(&table_name))
                }
                CopySource::Query(q) => q.to_string(),
            };
            match translate(&sql, catalog, ctx)? {
                Plan::Query(query) => Ok(Plan::CopyTo(CopyTo {
                    query,
                    options: opts,
                })),
                _ => Err(SqlError::syntax("COPY needs a query")),
            }
        }
        _ => Err(SqlError::unsupported(
            "COPY to or from a file is not supported; use STDIN or STDOUT",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context {
            database: "db",
            user: "u",
            backend_pid: 1,
            search_path: crate::namespace::DEFAULT_PATH,
        }
    }

    #[test]
    fn the_clock_of_a_block_is_a_parameter() {
        let c = Catalog::default();
        let sql = sql_of(translate("SELECT now(), current_date, $1", &c, &ctx()).unwrap());
        let fixed = fix_now_param(&sql, 2).unwrap();
        assert!(
            !fixed.contains("'now'") && fixed.matches("?2").count() == 2,
            "{fixed}"
        );
        assert_eq!(fix_now_param("SELECT 1", 1), None);
        assert_eq!(fix_now_param(&format!("{sql} WHERE x = ?"), 2), None);
    }

    fn sql_of(plan: Plan) -> String {
        match plan {
            Plan::Query(q) => q.batch[q.main].sql.to_string(),
            other => panic!("not a query: {other:?}"),
        }
    }

    #[test]
    fn rewrites_postgres_syntax() {
        let c = Catalog::default();
        let s = sql_of(
            translate("select $1::int, 'x' ilike 'X', now()", &c, &ctx()).expect("translates"),
        );
        assert!(s.contains("CAST(?1 AS INTEGER)"), "{s}");
        assert!(s.contains("LIKE"), "{s}");
        assert!(s.contains("strftime"), "{s}");
        let s =
            sql_of(translate("select * from public.t for update", &c, &ctx()).expect("translates"));
        assert_eq!(s, "SELECT * FROM t");
    }

    #[test]
    fn create_table_maps_types_and_records_them() {
        let c = Catalog::default();
        let plan = translate(
            "create table t (id serial primary key, b boolean not null, n numeric(10,2))",
            &c,
            &ctx(),
        )
        .expect("translates");
        let Plan::Query(q) = plan else {
            panic!("query")
        };
        assert!(
            q.batch[0].sql.contains("\"id\" INTEGER PRIMARY KEY"),
            "{}",
            q.batch[0].sql
        );
        assert!(
            q.batch[0].sql.contains("\"b\" INTEGER NOT NULL"),
            "{}",
            q.batch[0].sql
        );
        assert!(q.ddl);
        // CREATE, the serial's sequence (its name view, its row, its owner), forget, three
        // columns, and clearing the CHECK and foreign key records.
        assert_eq!(q.batch.len(), 10);
        assert!(
            q.batch[1].sql.contains("_pg_seq_t_id_seq"),
            "{}",
            q.batch[1].sql
        );
    }

    #[test]
    fn utility_statements() {
        let c = Catalog::default();
        assert!(matches!(
            translate("SET search_path TO public", &c, &ctx()),
            Ok(Plan::Set { .. })
        ));
        assert!(matches!(
            translate("begin isolation level serializable", &c, &ctx()),
            Ok(Plan::Begin)
        ));
        assert!(
            matches!(translate("rollback to savepoint a", &c, &ctx()), Ok(Plan::RollbackTo(s)) if s == "a")
        );
        assert!(matches!(translate("selec 1", &c, &ctx()), Err(e) if e.code == code::SYNTAX_ERROR));
        assert!(matches!(translate("/* é */ SHOW é", &c, &ctx()), Ok(Plan::Show(s)) if s == "é"));
        assert!(
            matches!(translate("/*ééé*/ SET a = 1", &c, &ctx()), Ok(Plan::Set { name, .. }) if name == "a")
        );
    }
}
