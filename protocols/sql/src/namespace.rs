//! Schemas: CREATE/DROP SCHEMA, `search_path`, and relation names resolved to stored names.
//!
//! A relation of schema `s` is stored in the database's SQLite object as `"s.name"`; one of
//! `public` under its bare name, as every earlier version stored it (so old databases keep
//! their tables). Resolution runs on the parsed statement before anything else looks at it:
//! afterwards every relation it names is its stored name, so the catalog, type inference
//! and the SQLite text all agree. `pg_catalog` and `information_schema` names are left for
//! the catalog rewrite.

use sqlparser::ast::{self, Expr, FunctionArguments, ObjectName, ObjectNamePart, Statement, Value};

use crate::catalog::Catalog;
use crate::error::SqlError;
use crate::translate::{Context, Plan, ident_name, quote_ident};

pub const UNDEFINED_SCHEMA: &str = "3F000";
pub const DUPLICATE_SCHEMA: &str = "42P06";
pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
pub const RESERVED_NAME: &str = "42939";

/// PostgreSQL's default `search_path`.
pub const DEFAULT_PATH: &str = "\"$user\", public";

const SYSTEM: [&str; 2] = ["pg_catalog", "information_schema"];

/// The name a relation `name` of `schema` is stored under.
pub fn stored_name(schema: &str, name: &str) -> String {
    if schema == "public" {
        name.to_owned()
    } else {
        format!("{schema}.{name}")
    }
}

/// A table's name without its schema, for the names PostgreSQL derives from it
/// (`t_pkey`, `t_a_check`). Schema names hold no '.', so the first one ends the schema.
pub fn bare(stored: &str) -> &str {
    stored.split_once('.').map_or(stored, |(_, t)| t)
}

/// The stored name of `name` in the schema of stored table `table` (its indexes).
pub fn sibling(table: &str, name: &str) -> String {
    match table.split_once('.') {
        Some((schema, _)) => format!("{schema}.{name}"),
        None => name.to_owned(),
    }
}

/// A stored name split into its schema and its name there.
pub fn split_stored<'a>(catalog: &Catalog, stored: &'a str) -> (String, &'a str) {
    for (i, _) in stored.match_indices('.') {
        if catalog.namespace(&stored[..i]).is_some() {
            return (stored[..i].to_owned(), &stored[i + 1..]);
        }
    }
    ("public".to_owned(), stored)
}

fn schema_exists(catalog: &Catalog, schema: &str) -> bool {
    schema == "public" || SYSTEM.contains(&schema) || catalog.namespace(schema).is_some()
}

/// Split a `search_path` value (or a qualified name) on commas outside double quotes.
fn split_list(value: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c == sep && !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// One element of a list as PostgreSQL reads it: double quotes keep case, else folded.
fn unquote_ident(item: &str) -> String {
    match item.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(q) => q.replace("\"\"", "\""),
        None => item.to_ascii_lowercase(),
    }
}

fn needs_quotes(name: &str) -> bool {
    let mut chars = name.chars();
    !chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
}

/// The value of `SET search_path` as SHOW prints it: `a, "$user", public`.
pub fn normalize_path(raw: &str) -> String {
    let raw = raw.trim().trim_end_matches(';').trim();
    if raw.eq_ignore_ascii_case("default") {
        return DEFAULT_PATH.to_owned();
    }
    split_list(raw, ',')
        .iter()
        .map(|item| {
            let name = match item.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                Some(s) => s.replace("''", "'"),
                None => unquote_ident(item),
            };
            if needs_quotes(&name) {
                quote_ident(&name)
            } else {
                name
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `search_path` a startup `options` value sets (`-c search_path=a,b`,
/// `--search_path=a`; libpq escapes spaces in values as `\ `).
pub fn options_search_path(options: &str) -> Option<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    words.push(cur);
    let mut found = None;
    let mut iter = words.iter();
    while let Some(w) = iter.next() {
        let setting = match w.as_str() {
            "-c" => iter.next().map(String::as_str),
            w => w.strip_prefix("-c").or_else(|| w.strip_prefix("--")),
        };
        if let Some((name, value)) = setting.and_then(|s| s.split_once('='))
            && name.trim().eq_ignore_ascii_case("search_path")
        {
            found = Some(value.to_owned());
        }
    }
    found
}

/// The schemas of `ctx`'s search path that exist, in order (`"$user"` is the user's schema
/// when there is one).
pub fn search_path(ctx: &Context<'_>, catalog: &Catalog) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in split_list(ctx.search_path, ',') {
        let name = if item == "\"$user\"" || item == "$user" {
            ctx.user.to_owned()
        } else {
            unquote_ident(&item)
        };
        if schema_exists(catalog, &name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// `current_schema()`: the first existing schema on the path.
pub fn current_schema(ctx: &Context<'_>, catalog: &Catalog) -> Option<String> {
    search_path(ctx, catalog).into_iter().next()
}

/// `current_schemas(implicit)` as its text: `{pg_catalog,public}`.
pub fn current_schemas(ctx: &Context<'_>, catalog: &Catalog, implicit: bool) -> String {
    let mut path = search_path(ctx, catalog);
    if implicit && !path.iter().any(|s| s == "pg_catalog") {
        path.insert(0, "pg_catalog".to_owned());
    }
    let items: Vec<String> = path
        .iter()
        .map(|s| {
            if needs_quotes(s) {
                quote_ident(s)
            } else {
                s.clone()
            }
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

/// The schema unqualified CREATEs go to.
pub fn creation_schema(ctx: &Context<'_>, catalog: &Catalog) -> Result<String, SqlError> {
    search_path(ctx, catalog)
        .into_iter()
        .find(|s| !SYSTEM.contains(&s.as_str()))
        .ok_or_else(|| SqlError::new(UNDEFINED_SCHEMA, "no schema has been selected to create in"))
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => ident_name(i),
            other => other.to_string(),
        })
        .collect()
}

/// `(schema, name)` of a possibly qualified name; a database part is dropped.
fn schema_and_name(name: &ObjectName) -> (Option<String>, String) {
    let mut p = parts(name);
    let last = p.pop().unwrap_or_default();
    (p.pop(), last)
}

fn missing(name: &str) -> SqlError {
    SqlError::new(
        crate::code::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

fn no_schema(schema: &str) -> SqlError {
    SqlError::new(
        UNDEFINED_SCHEMA,
        format!("schema \"{schema}\" does not exist"),
    )
}

/// The schemas other than public named on the path (existing or not: only names that
/// match a relation's schema matter).
fn named_schemas(ctx: &Context<'_>) -> Vec<String> {
    split_list(ctx.search_path, ',')
        .iter()
        .map(|item| match item.as_str() {
            "\"$user\"" | "$user" => ctx.user.to_owned(),
            other => unquote_ident(other),
        })
        .filter(|s| s != "public" && !SYSTEM.contains(&s.as_str()))
        .collect()
}

/// SQL text `expr` with the schema dropped after each `prefix` (`REFERENCES `) for the
/// schemas on the path: PostgreSQL prints a visible relation's name unqualified.
pub fn relative(expr: &str, ctx: &Context<'_>, prefix: &str) -> String {
    let quote = |s: &str| s.replace('\'', "''");
    named_schemas(ctx).iter().fold(expr.to_owned(), |acc, s| {
        format!(
            "replace({acc}, '{p}{s}.', '{p}')",
            p = quote(prefix),
            s = quote(s)
        )
    })
}

/// `x::regclass` printed (a `_pg_lookup_relname` lookup, see `describe`): unqualified for
/// relations of schemas on the path.
pub fn relative_relnames(sql: String, ctx: &Context<'_>) -> String {
    const LOOKUP: &str = "SELECT _val FROM _pg_lookup_relname";
    let schemas = named_schemas(ctx);
    if schemas.is_empty() || !sql.contains(LOOKUP) {
        return sql;
    }
    let cases: Vec<String> = schemas
        .iter()
        .map(|s| {
            let s = s.replace('\'', "''");
            format!(
                "WHEN substr(_val, 1, {n}) = '{s}.' THEN substr(_val, {from})",
                n = s.chars().count() + 1,
                from = s.chars().count() + 2
            )
        })
        .collect();
    sql.replace(
        LOOKUP,
        &format!(
            "SELECT CASE {} ELSE _val END FROM _pg_lookup_relname",
            cases.join(" ")
        ),
    )
}

/// `pg_table_is_visible(oid)` as SQL: the relation's schema is on the path and no schema
/// before it there has a relation of the same name.
fn visible_sql(oid: &str, path: &[String]) -> String {
    let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let list: Vec<String> = path.iter().map(|s| quoted(s)).collect();
    let rank: Vec<String> = path
        .iter()
        .enumerate()
        .map(|(i, s)| format!("WHEN {} THEN {i}", quoted(s)))
        .collect();
    if list.is_empty() {
        return "0".to_owned();
    }
    format!(
        "EXISTS (SELECT 1 FROM pg_class AS _vis_c JOIN pg_namespace AS _vis_n ON _vis_n.oid = _vis_c.relnamespace \
         WHERE _vis_c.oid = {oid} AND _vis_n.nspname = (SELECT _vis_n2.nspname FROM pg_class AS _vis_c2 \
         JOIN pg_namespace AS _vis_n2 ON _vis_n2.oid = _vis_c2.relnamespace \
         WHERE _vis_c2.relname = _vis_c.relname AND _vis_n2.nspname IN ({list}) \
         ORDER BY CASE _vis_n2.nspname {rank} END LIMIT 1))",
        list = list.join(", "),
        rank = rank.join(" "),
    )
}

/// Whether `sql` may be a `SELECT set_config(...)` (see [`set_config_call`]).
pub fn may_be_set_config(sql: &str) -> bool {
    sql.as_bytes()
        .windows(10)
        .any(|w| w.eq_ignore_ascii_case(b"set_config"))
}

/// `SELECT set_config('name', 'value', is_local)` with constant arguments and nothing else:
/// the session changes the setting. `None` for any other SELECT.
pub fn set_config_call(sql: &str) -> Option<Plan> {
    let mut parsed =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, sql)
            .ok()?;
    let Some(Statement::Query(q)) = parsed.pop() else {
        return None;
    };
    let ast::SetExpr::Select(select) = *q.body else {
        return None;
    };
    if !parsed.is_empty() || !select.from.is_empty() || select.projection.len() != 1 {
        return None;
    }
    let (f, column) = match &select.projection[0] {
        ast::SelectItem::UnnamedExpr(Expr::Function(f)) => (f, "set_config".to_owned()),
        ast::SelectItem::ExprWithAlias {
            expr: Expr::Function(f),
            alias,
        } => (f, ident_name(alias)),
        _ => return None,
    };
    let fname = f.name.to_string().to_ascii_lowercase();
    if fname.trim_start_matches("pg_catalog.") != "set_config" {
        return None;
    }
    let FunctionArguments::List(l) = &f.args else {
        return None;
    };
    let consts: Vec<&Value> = l
        .args
        .iter()
        .filter_map(|a| match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(Expr::Value(v))) => Some(&v.value),
            _ => None,
        })
        .collect();
    let [
        Value::SingleQuotedString(name),
        Value::SingleQuotedString(value),
        local,
    ] = consts.as_slice()
    else {
        return None;
    };
    let local = match local {
        Value::Boolean(b) => *b,
        Value::SingleQuotedString(s) => {
            matches!(s.to_ascii_lowercase().as_str(), "t" | "true" | "on")
        }
        _ => return None,
    };
    let name = name.to_ascii_lowercase();
    let value = if name == "search_path" {
        normalize_path(value)
    } else {
        value.clone()
    };
    Some(Plan::SetConfig {
        name,
        value,
        local,
        column,
    })
}

mod ddl;
mod resolve;

pub use ddl::{Rename, alter, create, drop, rename_batch, rename_read};
pub use resolve::{resolve, resolve_utility};

#[cfg(test)]
mod tests;
