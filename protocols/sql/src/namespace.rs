//! Schemas: CREATE/DROP SCHEMA, `search_path`, and relation names resolved to stored names.
//!
//! A relation of schema `s` is stored in the database's SQLite object as `"s.name"`; one of
//! `public` under its bare name, as every earlier version stored it (so old databases keep
//! their tables). Resolution runs on the parsed statement before anything else looks at it:
//! afterwards every relation it names is its stored name, so the catalog, type inference
//! and the SQLite text all agree. `pg_catalog` and `information_schema` names are left for
//! the catalog rewrite.

use std::collections::HashSet;
use std::ops::ControlFlow;

use dotdo_backend::{Statement as SqliteStatement, StatementResult, Value as SqlValue};
use sqlparser::ast::{
    self, Expr, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement, TableFactor,
    Value, VisitMut, VisitorMut,
};

use crate::catalog::Catalog;
use crate::error::SqlError;
use crate::translate::{Context, Plan, Query, ident_name, quote_ident};

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

/// Resolves the names of one statement.
struct Resolver<'c, 'a> {
    catalog: &'c Catalog,
    ctx: &'c Context<'a>,
    path: Vec<String>,
    ctes: HashSet<String>,
    /// Stored names of other schemas this statement's table factors now name.
    qualified: HashSet<String>,
}

impl Resolver<'_, '_> {
    /// The stored name a reference to an existing relation means; `None`: leave it.
    fn reference(&self, schema: Option<&str>, name: &str) -> Result<Option<String>, SqlError> {
        match schema {
            Some(s) if SYSTEM.contains(&s) => Ok(None),
            Some("public") => Ok(Some(name.to_owned())),
            Some(s) if self.catalog.namespace(s).is_some() => Ok(Some(stored_name(s, name))),
            Some(s) => Err(missing(&format!("{s}.{name}"))),
            None if self.ctes.contains(name) => Ok(None),
            None => {
                for s in &self.path {
                    if SYSTEM.contains(&s.as_str()) {
                        continue;
                    }
                    let stored = stored_name(s, name);
                    if self.catalog.has_relation(&stored) {
                        return Ok(Some(stored));
                    }
                }
                // A public relation when public is off the path is not there; a name that
                // is already stored (`"s.t"`, from an earlier pass) is.
                let already_stored = split_stored(self.catalog, name).0 != "public";
                if self.catalog.has_relation(name) && !already_stored {
                    return Err(missing(name));
                }
                Ok(None)
            }
        }
    }

    /// The stored name a new relation `name` gets.
    fn target(&self, name: &ObjectName) -> Result<String, SqlError> {
        let (schema, name) = schema_and_name(name);
        let schema = match schema {
            Some(s) if schema_exists(self.catalog, &s) => s,
            Some(s) => return Err(no_schema(&s)),
            None => creation_schema(self.ctx, self.catalog)?,
        };
        Ok(stored_name(&schema, &name))
    }

    fn resolve_name(&mut self, name: &mut ObjectName) -> Result<(), SqlError> {
        let (schema, bare) = schema_and_name(name);
        if let Some(stored) = self.reference(schema.as_deref(), &bare)? {
            let single = name.0.len() == 1 && stored == bare;
            if !single {
                self.set_stored(name, &stored);
            }
        }
        Ok(())
    }

    fn set_stored(&mut self, name: &mut ObjectName, stored: &str) {
        let (schema, _) = split_stored(self.catalog, stored);
        let ident = if schema == "public" {
            name.0
                .last()
                .and_then(|p| p.as_ident().cloned())
                .unwrap_or_else(|| Ident::new(stored))
        } else {
            self.qualified.insert(stored.to_owned());
            Ident::with_quote('"', stored)
        };
        name.0 = vec![ObjectNamePart::Identifier(ident)];
    }

    /// A sequence or regclass name in a string literal: its stored name, quoted.
    fn literal_name(&self, text: &str) -> Result<Option<String>, SqlError> {
        let items = split_list(text, '.');
        let names: Vec<String> = items.iter().map(|i| unquote_ident(i)).collect();
        let (schema, name) = match names.as_slice() {
            [n] => (None, n.clone()),
            [.., s, n] => (Some(s.as_str()), n.clone()),
            [] => return Ok(None),
        };
        Ok(self
            .reference(schema, &name)?
            .map(|stored| quote_ident(&stored)))
    }

    fn expr(&mut self, e: &mut Expr) -> Result<(), SqlError> {
        match e {
            Expr::Function(f) => {
                let fname = f.name.to_string().to_ascii_lowercase();
                let fname = fname.trim_start_matches("pg_catalog.");
                match fname {
                    "nextval" | "currval" | "setval" => {
                        if let FunctionArguments::List(l) = &mut f.args
                            && let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a))) =
                                l.args.first_mut()
                        {
                            self.rename_literal(a)?;
                        }
                    }
                    // The answer goes in as the argument: `translate` turns the call into it.
                    "current_schema" => {
                        let v = current_schema(self.ctx, self.catalog);
                        set_args(f, vec![v.map_or(Expr::Value(Value::Null.into()), lit)]);
                    }
                    "current_schemas" => {
                        let implicit = !matches!(first_arg(f), Some(Expr::Value(v)) if v.value == Value::Boolean(false));
                        let v = current_schemas(self.ctx, self.catalog, implicit);
                        set_args(f, vec![lit(v)]);
                    }
                    "pg_table_is_visible" => {
                        if let Some(a) = first_arg(f) {
                            let sql = visible_sql(&a.to_string(), &self.path);
                            *e = Expr::Nested(Box::new(Expr::Identifier(Ident::new(sql))));
                        }
                    }
                    _ => {}
                }
            }
            Expr::Cast {
                expr, data_type, ..
            } if data_type
                .to_string()
                .to_ascii_lowercase()
                .ends_with("regclass") =>
            {
                self.rename_literal(expr)?;
            }
            Expr::CompoundIdentifier(idents) if idents.len() == 3 => {
                let schema = ident_name(&idents[0]);
                if schema == "public" || self.catalog.namespace(&schema).is_some() {
                    idents.remove(0);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn rename_literal(&self, e: &mut Expr) -> Result<(), SqlError> {
        match e {
            Expr::Value(v) => {
                if let Value::SingleQuotedString(s) = &v.value
                    && let Some(stored) = self.literal_name(s)?
                {
                    v.value = Value::SingleQuotedString(stored);
                }
                Ok(())
            }
            Expr::Cast { expr, .. } | Expr::Nested(expr) => self.rename_literal(expr),
            _ => Ok(()),
        }
    }
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

fn lit(s: String) -> Expr {
    Expr::Value(Value::SingleQuotedString(s).into())
}

fn first_arg(f: &ast::Function) -> Option<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => match l.args.first() {
            Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))) => Some(e),
            _ => None,
        },
        _ => None,
    }
}

fn set_args(f: &mut ast::Function, args: Vec<Expr>) {
    f.args = FunctionArguments::List(ast::FunctionArgumentList {
        duplicate_treatment: None,
        args: args
            .into_iter()
            .map(|e| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)))
            .collect(),
        clauses: Vec::new(),
    });
}

impl VisitorMut for Resolver<'_, '_> {
    type Break = SqlError;

    fn pre_visit_query(&mut self, q: &mut ast::Query) -> ControlFlow<SqlError> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.ctes.insert(ident_name(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &mut ObjectName) -> ControlFlow<SqlError> {
        match self.resolve_name(name) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn post_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<SqlError> {
        // `FROM s.t` is `FROM "s.t" AS t`, so that `t.col` still names its columns.
        if let TableFactor::Table { name, alias, .. } = tf
            && alias.is_none()
            && let [ObjectNamePart::Identifier(i)] = name.0.as_slice()
            && self.qualified.contains(&i.value)
        {
            let (_, bare) = split_stored(self.catalog, &i.value);
            *alias = Some(ast::TableAlias {
                explicit: true,
                name: Ident::with_quote('"', bare),
                columns: Vec::new(),
                at: None,
            });
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<SqlError> {
        match self.expr(e) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

/// Resolve every relation `stmt` names to its stored name (see the module comment).
pub fn resolve(stmt: &mut Statement, catalog: &Catalog, ctx: &Context<'_>) -> Result<(), SqlError> {
    let mut r = Resolver {
        catalog,
        ctx,
        path: search_path(ctx, catalog),
        ctes: HashSet::new(),
        qualified: HashSet::new(),
    };
    // Names of new relations are targets, not references: set them aside for the visit.
    let placeholder = || ObjectName::from(vec![Ident::new("_pg_new_relation")]);
    let mut target = None;
    match stmt {
        Statement::CreateTable(ct) => {
            let stored = r.target(&ct.name)?;
            for c in &mut ct.columns {
                for o in &mut c.options {
                    if let ast::ColumnOption::ForeignKey(fk) = &mut o.option {
                        r.resolve_name(&mut fk.foreign_table)?;
                    }
                }
            }
            for c in &mut ct.constraints {
                if let ast::TableConstraint::ForeignKey(fk) = c {
                    r.resolve_name(&mut fk.foreign_table)?;
                }
            }
            ct.name = placeholder();
            target = Some(stored);
        }
        Statement::CreateView(cv) => {
            target = Some(r.target(&cv.name)?);
            cv.name = placeholder();
        }
        Statement::CreateSequence { name, .. } => {
            let stored = r.target(name)?;
            r.set_stored(name, &stored);
        }
        Statement::CreateIndex(ci) => {
            r.resolve_name(&mut ci.table_name)?;
            let table = ci.table_name.to_string();
            let (schema, _) = split_stored(catalog, table.trim_matches('"'));
            if let Some(n) = ci.name.as_mut() {
                let (_, bare) = schema_and_name(n);
                let stored = stored_name(&schema, &bare);
                r.set_stored(n, &stored);
            }
        }
        Statement::Drop {
            object_type,
            if_exists,
            names,
            ..
        } => {
            for n in names.iter_mut() {
                let (schema, bare) = schema_and_name(n);
                match schema.as_deref() {
                    Some(s) if !schema_exists(catalog, s) => {
                        if !*if_exists {
                            return Err(no_schema(s));
                        }
                    }
                    _ if matches!(object_type, ast::ObjectType::Schema) => {}
                    s => {
                        if let Some(stored) = r.reference(s, &bare).ok().flatten() {
                            r.set_stored(n, &stored);
                        }
                    }
                }
            }
        }
        Statement::AlterTable(at) => {
            r.resolve_name(&mut at.name)?;
            let table = at.name.to_string();
            let (schema, _) = split_stored(catalog, table.trim_matches('"'));
            for op in &mut at.operations {
                if let ast::AlterTableOperation::RenameTable { table_name } = op {
                    let (ast::RenameTableNameKind::To(n) | ast::RenameTableNameKind::As(n)) =
                        table_name;
                    let (_, bare) = schema_and_name(n);
                    let stored = stored_name(&schema, &bare);
                    r.set_stored(n, &stored);
                }
                if let ast::AlterTableOperation::AddConstraint {
                    constraint: ast::TableConstraint::ForeignKey(fk),
                    ..
                } = op
                {
                    r.resolve_name(&mut fk.foreign_table)?;
                }
            }
            // Resolved already: the visit must not resolve it twice.
            let name = std::mem::replace(&mut at.name, placeholder());
            let out = stmt.visit(&mut r);
            if let Statement::AlterTable(at) = stmt {
                at.name = name;
            }
            return out.break_value().map_or(Ok(()), Err);
        }
        Statement::Copy {
            source: ast::CopySource::Table { table_name, .. },
            ..
        } => r.resolve_name(table_name)?,
        _ => {}
    }
    if let ControlFlow::Break(e) = stmt.visit(&mut r) {
        return Err(e);
    }
    if let Some(stored) = target {
        let mut name = ObjectName::from(vec![Ident::new(stored.clone())]);
        r.set_stored(&mut name, &stored);
        match stmt {
            Statement::CreateTable(ct) => ct.name = name,
            Statement::CreateView(cv) => cv.name = name,
            _ => {}
        }
    }
    Ok(())
}

/// Names in statements parsed from their text (ALTER SEQUENCE), resolved as [`resolve`]
/// resolves parsed ones.
pub fn resolve_utility(plan: Plan, catalog: &Catalog, ctx: &Context<'_>) -> Result<Plan, SqlError> {
    let Plan::AlterSequence(mut a) = plan else {
        return Ok(plan);
    };
    let r = Resolver {
        catalog,
        ctx,
        path: search_path(ctx, catalog),
        ctes: HashSet::new(),
        qualified: HashSet::new(),
    };
    let (schema, name) = match a.name.split_once('.') {
        Some((s, n)) => (Some(s.to_owned()), n.to_owned()),
        None => (None, a.name.clone()),
    };
    a.name = match r.reference(schema.as_deref(), &name) {
        Ok(Some(stored)) => stored,
        Ok(None) => name,
        Err(_) if a.if_exists => name,
        Err(e) => return Err(e),
    };
    if let Some(new) = a.rename.take() {
        a.rename = Some(sibling(&a.name, bare(&new)));
    }
    Ok(Plan::AlterSequence(a))
}

/// `CREATE SCHEMA`.
pub fn create(
    schema_name: &ast::SchemaName,
    if_not_exists: bool,
    catalog: &Catalog,
) -> Result<Plan, SqlError> {
    let name = match schema_name {
        ast::SchemaName::Simple(n) | ast::SchemaName::NamedAuthorization(n, _) => {
            schema_and_name(n).1
        }
        ast::SchemaName::UnnamedAuthorization(role) => ident_name(role),
    };
    if schema_exists(catalog, &name) {
        if if_not_exists {
            return Ok(Plan::Utility("CREATE SCHEMA"));
        }
        return Err(SqlError::new(
            DUPLICATE_SCHEMA,
            format!("schema \"{name}\" already exists"),
        ));
    }
    check_new_name(&name)?;
    Ok(ddl_plan(
        vec![SqliteStatement::with_params(
            "INSERT INTO _pg_namespaces (oid, name) VALUES ((SELECT coalesce(max(oid), 16999) + 1 FROM _pg_namespaces), ?1)",
            vec![SqlValue::Text(name)],
        )],
        "CREATE SCHEMA",
    ))
}

/// `DROP SCHEMA`: with CASCADE, its tables, views and sequences go too (indexes with
/// their tables).
pub fn drop(
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
    catalog: &Catalog,
) -> Result<Plan, SqlError> {
    let mut batch = Vec::new();
    for n in names {
        let (_, name) = schema_and_name(n);
        if SYSTEM.contains(&name.as_str()) {
            return Err(SqlError::new(
                DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {name} because it is required by the database system"),
            ));
        }
        if name == "public" {
            return Err(SqlError::unsupported("DROP SCHEMA public is not supported"));
        }
        if catalog.namespace(&name).is_none() {
            if if_exists {
                continue;
            }
            return Err(no_schema(&name));
        }
        let members: Vec<(&String, &String)> = catalog
            .relations()
            .filter(|(stored, kind)| {
                kind.as_str() != "index" && split_stored(catalog, stored).0 == name
            })
            .collect();
        if !members.is_empty() && !cascade {
            let detail: Vec<String> = members
                .iter()
                .map(|(stored, kind)| format!("{kind} {stored} depends on schema {name}"))
                .collect();
            return Err(SqlError::new(
                DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {name} because other objects depend on it"),
            )
            .with_detail(detail.join("\n")));
        }
        for (stored, kind) in drop_order(catalog, members) {
            let param = || vec![SqlValue::Text(stored.clone())];
            match kind.as_str() {
                "view" => {
                    batch.push(SqliteStatement::new(format!(
                        "DROP VIEW IF EXISTS {}",
                        quote_ident(stored)
                    )));
                    batch.push(SqliteStatement::with_params(
                        "DELETE FROM _pg_view_columns WHERE view = ?1",
                        param(),
                    ));
                }
                "table" => {
                    batch.push(SqliteStatement::new(format!(
                        "DROP TABLE IF EXISTS {}",
                        quote_ident(stored)
                    )));
                    for t in ["_pg_columns", "_pg_checks", "_pg_fkeys"] {
                        batch.push(SqliteStatement::with_params(
                            format!("DELETE FROM {t} WHERE tbl = ?1"),
                            param(),
                        ));
                    }
                }
                "sequence" => batch.extend(crate::sequence::drop(stored, true)),
                _ => {}
            }
        }
        batch.push(SqliteStatement::with_params(
            "DELETE FROM _pg_namespaces WHERE name = ?1",
            vec![SqlValue::Text(name)],
        ));
    }
    if batch.is_empty() {
        return Ok(Plan::Utility("DROP SCHEMA"));
    }
    Ok(ddl_plan(batch, "DROP SCHEMA"))
}

/// Views first (they may read the tables), then each table before the tables it references
/// (SQLite's DROP TABLE deletes the rows, which a referencing row would forbid).
fn drop_order<'c>(
    catalog: &'c Catalog,
    mut members: Vec<(&'c String, &'c String)>,
) -> Vec<(&'c String, &'c String)> {
    members.sort_by_key(|(_, kind)| kind.as_str() != "view");
    let mut out = Vec::new();
    while !members.is_empty() {
        let referenced = |name: &String, rest: &[(&String, &String)]| {
            catalog.references().iter().any(|(child, parent)| {
                parent == name && child != name && rest.iter().any(|(r, _)| *r == child)
            })
        };
        let next = (0..members.len())
            .find(|&i| !referenced(members[i].0, &members))
            .unwrap_or(0);
        out.push(members.remove(next));
    }
    out
}

/// `ALTER SCHEMA from RENAME TO to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// `ALTER SCHEMA`: only RENAME TO.
pub fn alter(a: &ast::AlterSchema, catalog: &Catalog) -> Result<Plan, SqlError> {
    let from = schema_and_name(&a.name).1;
    let [ast::AlterSchemaOperation::Rename { name }] = a.operations.as_slice() else {
        return Err(SqlError::unsupported(
            "ALTER SCHEMA supports only RENAME TO",
        ));
    };
    let to = schema_and_name(name).1;
    if from == "public" || SYSTEM.contains(&from.as_str()) {
        return Err(SqlError::unsupported(format!(
            "ALTER SCHEMA {from} RENAME is not supported"
        )));
    }
    if catalog.namespace(&from).is_none() {
        return Err(no_schema(&from));
    }
    if schema_exists(catalog, &to) {
        return Err(SqlError::new(
            DUPLICATE_SCHEMA,
            format!("schema \"{to}\" already exists"),
        ));
    }
    check_new_name(&to)?;
    Ok(Plan::RenameSchema(Rename { from, to }))
}

fn check_new_name(name: &str) -> Result<(), SqlError> {
    if name.starts_with("pg_") {
        return Err(SqlError::new(
            RESERVED_NAME,
            format!("unacceptable schema name \"{name}\""),
        )
        .with_detail("The prefix \"pg_\" is reserved for system schemas."));
    }
    if name.contains('.') || name.starts_with('_') {
        return Err(SqlError::unsupported(format!(
            "schema name \"{name}\" is not supported (no '.', no leading '_')"
        )));
    }
    Ok(())
}

/// What [`rename_batch`] needs: the schema's SQLite objects and its sequences.
pub fn rename_read(r: &Rename) -> Vec<SqliteStatement> {
    let prefix = || {
        vec![
            SqlValue::Text(format!("{}.", r.from)),
            SqlValue::Integer(r.from.chars().count() as i64 + 1),
        ]
    };
    vec![
        SqliteStatement::with_params(
            "SELECT type, name, sql FROM sqlite_schema WHERE substr(name, 1, ?2) = ?1",
            prefix(),
        ),
        SqliteStatement::with_params(
            "SELECT name FROM _pg_sequences WHERE substr(name, 1, ?2) = ?1",
            prefix(),
        ),
    ]
}

/// The batch that renames schema `r.from`: SQLite renames tables (and what refers to them)
/// but not indexes or views, which are made again under their new names.
pub fn rename_batch(r: &Rename, read: &[StatementResult]) -> Vec<SqliteStatement> {
    let (old, new) = (format!("{}.", r.from), format!("{}.", r.to));
    let moved = |name: &str| format!("{new}{}", name.get(old.len()..).unwrap_or(""));
    let requoted = |sql: &str| sql.replace(&format!("\"{old}"), &format!("\"{new}"));
    let text =
        |row: &[SqlValue], i: usize| row.get(i).and_then(SqlValue::as_str).map(str::to_owned);
    let mut drops = Vec::new();
    let mut renames = Vec::new();
    let mut creates = Vec::new();
    for row in read.first().map_or(&[][..], |r| &r.rows[..]) {
        let (Some(kind), Some(name)) = (text(row, 0), text(row, 1)) else {
            continue;
        };
        match (kind.as_str(), text(row, 2)) {
            ("table", _) => renames.push(SqliteStatement::new(format!(
                "ALTER TABLE {} RENAME TO {}",
                quote_ident(&name),
                quote_ident(&moved(&name))
            ))),
            ("index" | "view", Some(sql)) => {
                drops.push(SqliteStatement::new(format!(
                    "DROP {} {}",
                    kind.to_ascii_uppercase(),
                    quote_ident(&name)
                )));
                creates.push(SqliteStatement::new(requoted(&sql)));
            }
            _ => {}
        }
    }
    let mut batch = vec![SqliteStatement::new("SELECT 1 WHERE 0")];
    batch.extend(drops);
    batch.extend(renames);
    batch.extend(creates);
    for row in read.get(1).map_or(&[][..], |r| &r.rows[..]) {
        let Some(name) = text(row, 0) else { continue };
        batch.push(SqliteStatement::new(format!(
            "DROP VIEW IF EXISTS {}",
            quote_ident(&format!("_pg_seq_{name}"))
        )));
        batch.push(SqliteStatement::new(format!(
            "CREATE VIEW {} AS SELECT 1",
            quote_ident(&format!("_pg_seq_{}", moved(&name)))
        )));
    }
    let params = || {
        vec![
            SqlValue::Text(old.clone()),
            SqlValue::Integer(old.chars().count() as i64),
            SqlValue::Text(new.clone()),
        ]
    };
    for (table, column) in [
        ("_pg_columns", "tbl"),
        ("_pg_checks", "tbl"),
        ("_pg_fkeys", "tbl"),
        ("_pg_view_columns", "view"),
        ("_pg_sequences", "name"),
    ] {
        batch.push(SqliteStatement::with_params(
            format!(
                "UPDATE {table} SET {column} = ?3 || substr({column}, ?2 + 1) WHERE substr({column}, 1, ?2) = ?1"
            ),
            params(),
        ));
    }
    // Serial columns' recorded defaults name their sequence with the schema.
    batch.push(SqliteStatement::with_params(
        "UPDATE _pg_columns SET dflt = replace(dflt, 'nextval(''' || ?1, 'nextval(''' || ?3) WHERE substr(tbl, 1, length(?3)) = ?3",
        params(),
    ));
    batch.push(SqliteStatement::with_params(
        "UPDATE _pg_namespaces SET name = ?2 WHERE name = ?1",
        vec![SqlValue::Text(r.from.clone()), SqlValue::Text(r.to.clone())],
    ));
    batch
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

fn ddl_plan(mut batch: Vec<SqliteStatement>, tag: &'static str) -> Plan {
    // The main statement is bound to the client's parameters: it must take none.
    batch.insert(0, SqliteStatement::new("SELECT 1 WHERE 0"));
    Plan::Query(Query {
        batch,
        main: 0,
        columns: None,
        params: Vec::new(),
        tag,
        ddl: true,
        read_only: false,
    })
}

#[cfg(test)]
mod tests;
