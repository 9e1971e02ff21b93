//! `unnest(a)` in FROM (with `WITH ORDINALITY`) and in the select list, as `json_each`.
//!
//! An unnest whose argument names no column becomes a derived table with PostgreSQL's
//! column names. One that reads a column of another FROM item (the usual `FROM t,
//! unnest(t.tags) AS tag`) must stay a table-valued function to see that row, so it becomes
//! `json_each(...) AS alias`, and the query's references to its columns become
//! `alias.value` (and `alias.key + 1` for the ordinality).

use std::ops::ControlFlow;

use sqlparser::ast::{self, Expr, Select, SelectItem, TableFactor, VisitMut, VisitorMut};

use super::rewrite::{Rewriter, fill, parse_expr};
use crate::error::SqlError;
use crate::translate::{ident_name, quote_ident};
use crate::types::PgType;

/// A column of an unnest that became `json_each`, and what references to it become.
struct Rename {
    table: String,
    column: String,
    sql: String,
}

/// The unnests in the FROM of a query's own SELECT: names are resolved over the whole
/// query (its ORDER BY included).
pub(super) fn query(r: &mut Rewriter<'_>, q: &mut ast::Query) -> Result<(), SqlError> {
    let ast::SetExpr::Select(s) = q.body.as_mut() else {
        return Ok(());
    };
    let (renames, made) = factors(r, s)?;
    if renames.is_empty() {
        return Ok(());
    }
    expand_wildcards(s, &renames, &made)?;
    alias_items(s, &renames);
    let names = qualify(r, s, &renames, &made);
    if let Some(order_by) = q.order_by.as_mut() {
        qualify_in(r, order_by, &renames, &names);
    }
    apply(q, &renames);
    let ast::SetExpr::Select(s) = q.body.as_mut() else {
        return Ok(());
    };
    restore(s, &made)
}

/// Unnests in a SELECT not handled as a query's (in a set operation), and unnest in the
/// select list.
pub(super) fn select(r: &mut Rewriter<'_>, s: &mut Select) -> Result<(), SqlError> {
    let (renames, made) = factors(r, s)?;
    if !renames.is_empty() {
        expand_wildcards(s, &renames, &made)?;
        alias_items(s, &renames);
        qualify(r, s, &renames, &made);
        apply(s, &renames);
        restore(s, &made)?;
    }
    select_list(r, s)
}

/// `json_each`'s columns, which would make the user's columns of these names ambiguous.
const JSON_EACH_COLUMNS: &[&str] = &[
    "key", "value", "type", "atom", "id", "parent", "fullkey", "path",
];

/// The names of a SELECT's FROM items other than the `json_each` ones made.
fn factor_names(s: &Select, made: &Made) -> Vec<String> {
    let mut out = Vec::new();
    for twj in &s.from {
        for f in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
            let name = match f {
                TableFactor::Table { name, alias, .. } => Some(alias.as_ref().map_or_else(
                    || crate::translate::object_name(name),
                    |a| ident_name(&a.name),
                )),
                TableFactor::Derived { alias: Some(a), .. } => Some(ident_name(&a.name)),
                _ => None,
            };
            out.extend(name.filter(|n| !made.iter().any(|(t, _)| t == n)));
        }
    }
    out
}

/// Unqualified references to the user's columns named like `json_each`'s columns (`id`,
/// `key`, `value`, ...) qualified with their relation, so the added `json_each` does not
/// make them ambiguous. Returns the relation names looked in.
fn qualify(r: &Rewriter<'_>, s: &mut Select, renames: &[Rename], made: &Made) -> Vec<String> {
    let names = factor_names(s, made);
    for item in &mut s.projection {
        if let SelectItem::UnnamedExpr(e @ Expr::Identifier(_)) = item
            && let Some(q) = qualified(r, e, renames, &names)
            && let Expr::Identifier(i) = e
        {
            *item = SelectItem::ExprWithAlias {
                expr: q,
                alias: i.clone(),
            };
        }
    }
    qualify_in(r, s, renames, &names);
    names
}

fn qualify_in<V: VisitMut>(r: &Rewriter<'_>, node: &mut V, renames: &[Rename], names: &[String]) {
    let _ = node.visit(&mut Shallow {
        depth: 0,
        f: |e: &mut Expr| {
            if let Some(q) = qualified(r, e, renames, names) {
                *e = q;
            }
        },
    });
}

fn qualified(r: &Rewriter<'_>, e: &Expr, renames: &[Rename], names: &[String]) -> Option<Expr> {
    let Expr::Identifier(i) = e else { return None };
    let n = ident_name(i);
    if !JSON_EACH_COLUMNS.contains(&n.as_str()) || renames.iter().any(|x| x.column == n) {
        return None;
    }
    let owner = r.types.owner(&n, names)?;
    Some(Expr::CompoundIdentifier(vec![
        ast::Ident::with_quote('"', owner),
        i.clone(),
    ]))
}

fn has_identifiers(e: &Expr) -> bool {
    ast::visit_expressions(e, |x| {
        if matches!(x, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// The first FROM item of `SELECT 1 FROM {from}`, with `hole` in it.
fn factor(from: &str, hole: &Expr) -> Result<TableFactor, SqlError> {
    let sql = format!("SELECT 1 FROM {from}");
    let parsed =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql)
            .map_err(|e| {
                SqlError::new(
                    crate::error::code::INTERNAL_ERROR,
                    format!("array rewrite: {e}"),
                )
            })?;
    let mut f = match parsed.into_iter().next() {
        Some(ast::Statement::Query(q)) => match *q.body {
            ast::SetExpr::Select(s) => s.from.into_iter().next().map(|t| t.relation),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| SqlError::new(crate::error::code::INTERNAL_ERROR, "array rewrite: no FROM"))?;
    fill(&mut f, std::slice::from_ref(hole));
    Ok(f)
}

/// The `json_each` factors made, by alias, with the array each reads.
type Made = Vec<(String, Expr)>;

fn factors(r: &mut Rewriter<'_>, s: &mut Select) -> Result<(Vec<Rename>, Made), SqlError> {
    let mut renames = Vec::new();
    let mut made = Vec::new();
    for twj in &mut s.from {
        let joins = twj.joins.iter_mut().map(|j| &mut j.relation);
        for f in std::iter::once(&mut twj.relation).chain(joins) {
            unnest_factor(r, f, &mut renames, &mut made)?;
        }
    }
    Ok((renames, made))
}

fn unnest_factor(
    r: &mut Rewriter<'_>,
    f: &mut TableFactor,
    renames: &mut Vec<Rename>,
    made: &mut Made,
) -> Result<(), SqlError> {
    let TableFactor::UNNEST {
        alias,
        array_exprs,
        with_offset,
        with_ordinality,
        ..
    } = f
    else {
        return Ok(());
    };
    let [array] = array_exprs.as_slice() else {
        return Err(SqlError::unsupported(
            "unnest() of several arrays is not supported",
        ));
    };
    if *with_offset {
        return Err(SqlError::syntax("syntax error at or near \"OFFSET\""));
    }
    let array = array.clone();
    let t = super::unnest_columns(alias.as_ref(), r.ty(&array), *with_ordinality);
    let table = t.name.clone();
    let names: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let qt = quote_ident(&table);
    if !has_identifiers(&array) {
        let mut cols = format!("value AS {}", quote_ident(&names[0]));
        if let Some(n) = names.get(1) {
            cols.push_str(&format!(", key + 1 AS {}", quote_ident(n)));
        }
        *f = factor(
            &format!("(SELECT {cols} FROM json_each(__a1) ORDER BY key) AS {qt}"),
            &array,
        )?;
        return Ok(());
    }
    *f = factor(&format!("json_each(__a1) AS {qt}"), &array)?;
    let value = format!("{qt}.value");
    if let Some(ty) = t.columns.first().map(|c| c.ty) {
        r.types.written.insert(parse_expr(&value)?.to_string(), ty);
    }
    renames.push(Rename {
        table: table.clone(),
        column: names[0].clone(),
        sql: value,
    });
    if let Some(n) = names.get(1) {
        renames.push(Rename {
            table: table.clone(),
            column: n.clone(),
            sql: format!("({qt}.key + 1)"),
        });
        r.types.written.insert(
            parse_expr(&format!("({qt}.key + 1)"))?.to_string(),
            PgType::Int8,
        );
    }
    made.push((table, array));
    Ok(())
}

fn rename_of<'a>(e: &Expr, renames: &'a [Rename]) -> Option<&'a Rename> {
    match e {
        Expr::Identifier(i) => {
            let n = ident_name(i);
            renames.iter().find(|r| r.column == n)
        }
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            let (t, c) = (ident_name(&parts[0]), ident_name(&parts[1]));
            renames.iter().find(|r| r.table == t && r.column == c)
        }
        _ => None,
    }
}

/// Replace references to unnested columns everywhere in `node`.
fn apply<V: VisitMut>(node: &mut V, renames: &[Rename]) {
    let _ = ast::visit_expressions_mut(node, |e| {
        if let Some(r) = rename_of(e, renames)
            && let Ok(new) = parse_expr(&r.sql)
        {
            *e = new;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The made factors' arguments, which `apply` may have renamed, put back.
fn restore(s: &mut Select, made: &Made) -> Result<(), SqlError> {
    for twj in &mut s.from {
        let joins = twj.joins.iter_mut().map(|j| &mut j.relation);
        for f in std::iter::once(&mut twj.relation).chain(joins) {
            if let TableFactor::Table {
                alias: Some(a),
                args: Some(_),
                ..
            } = f
                && let Some((table, array)) = made.iter().find(|(t, _)| *t == ident_name(&a.name))
            {
                *f = factor(&format!("json_each(__a1) AS {}", quote_ident(table)), array)?;
            }
        }
    }
    Ok(())
}

/// A select item that is just a reference to an unnested column keeps its name.
fn alias_items(s: &mut Select, renames: &[Rename]) {
    for item in &mut s.projection {
        if let SelectItem::UnnamedExpr(e) = item
            && let Some(r) = rename_of(e, renames)
        {
            *item = SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias: ast::Ident::with_quote('"', r.column.clone()),
            };
        }
    }
}

/// `*` and `alias.*` spelled out, since `json_each` has columns of its own.
fn expand_wildcards(s: &mut Select, renames: &[Rename], made: &Made) -> Result<(), SqlError> {
    let columns_of = |table: &str| -> Vec<String> {
        renames
            .iter()
            .filter(|r| r.table == table)
            .map(|r| format!("{} AS {}", r.sql, quote_ident(&r.column)))
            .collect()
    };
    let mut all = Vec::new();
    for twj in &s.from {
        for f in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
            match f {
                TableFactor::Table { alias: Some(a), .. }
                    if made.iter().any(|(t, _)| *t == ident_name(&a.name)) =>
                {
                    all.extend(columns_of(&ident_name(&a.name)));
                }
                TableFactor::Table { name, alias, .. } => all.push(format!(
                    "{}.*",
                    alias
                        .as_ref()
                        .map_or_else(|| name.to_string(), |a| a.name.to_string())
                )),
                TableFactor::Derived { alias: Some(a), .. } => all.push(format!("{}.*", a.name)),
                _ => all.push(String::new()),
            }
        }
    }
    let mut out = Vec::new();
    for item in std::mem::take(&mut s.projection) {
        let expansion = match &item {
            SelectItem::Wildcard(_) if all.iter().all(|x| !x.is_empty()) => all.clone(),
            SelectItem::QualifiedWildcard(kind, _) => {
                let name = kind.to_string();
                let name = name
                    .trim_end_matches(".*")
                    .trim_matches('"')
                    .to_ascii_lowercase();
                if made.iter().any(|(t, _)| *t == name) {
                    columns_of(&name)
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        };
        if expansion.is_empty() {
            out.push(item);
        } else {
            out.extend(items(&expansion.join(", "))?);
        }
    }
    s.projection = out;
    Ok(())
}

fn items(sql: &str) -> Result<Vec<SelectItem>, SqlError> {
    let parsed = sqlparser::parser::Parser::parse_sql(
        &sqlparser::dialect::PostgreSqlDialect {},
        &format!("SELECT {sql}"),
    )
    .map_err(|e| {
        SqlError::new(
            crate::error::code::INTERNAL_ERROR,
            format!("array rewrite: {e}"),
        )
    })?;
    match parsed.into_iter().next() {
        Some(ast::Statement::Query(q)) => match *q.body {
            ast::SetExpr::Select(s) => Ok(s.projection),
            _ => Ok(Vec::new()),
        },
        _ => Ok(Vec::new()),
    }
}

/// Calls a visitor for expressions outside subqueries only.
struct Shallow<F: FnMut(&mut Expr)> {
    depth: usize,
    f: F,
}

impl<F: FnMut(&mut Expr)> VisitorMut for Shallow<F> {
    type Break = ();

    fn pre_visit_query(&mut self, _q: &mut ast::Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &mut ast::Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if self.depth == 0 {
            (self.f)(e);
        }
        ControlFlow::Continue(())
    }
}

fn unnest_arg(e: &Expr) -> Option<Expr> {
    let Expr::Function(f) = e else { return None };
    if super::infer::function_name(f) != "unnest" {
        return None;
    }
    super::infer::args(f).first().map(|a| (*a).clone())
}

/// `SELECT ..., unnest(a), ... FROM ...`: one row per element, as a cross join with
/// `json_each(a)` (which may read the other FROM items' columns).
fn select_list(r: &mut Rewriter<'_>, s: &mut Select) -> Result<(), SqlError> {
    let mut found: Vec<Expr> = Vec::new();
    for item in &mut s.projection {
        let _ = item.visit(&mut Shallow {
            depth: 0,
            f: |e: &mut Expr| found.extend(unnest_arg(e)),
        });
    }
    let Some(array) = found.first().cloned() else {
        return Ok(());
    };
    if found.iter().any(|a| a.to_string() != array.to_string()) {
        return Err(SqlError::unsupported(
            "several different unnest() calls in one select list are not supported",
        ));
    }
    let grouped = !matches!(&s.group_by, ast::GroupByExpr::Expressions(v, _) if v.is_empty());
    if grouped || s.having.is_some() {
        return Err(SqlError::unsupported(
            "unnest() in the select list of a grouped query is not supported",
        ));
    }
    let alias = format!("_u{}", s.from.len());
    let value = parse_expr(&format!("{alias}.value"))?;
    if let Some(PgType::Array(e)) = r.ty(&array) {
        r.types.written.insert(value.to_string(), e.pg());
    }
    for item in &mut s.projection {
        if let SelectItem::UnnamedExpr(e) = item
            && unnest_arg(e).is_some()
        {
            *item = SelectItem::ExprWithAlias {
                expr: value.clone(),
                alias: ast::Ident::new("unnest"),
            };
            continue;
        }
        let _ = item.visit(&mut Shallow {
            depth: 0,
            f: |e: &mut Expr| {
                if unnest_arg(e).is_some() {
                    *e = value.clone();
                }
            },
        });
    }
    s.from.push(ast::TableWithJoins {
        relation: factor(&format!("json_each(__a1) AS {alias}"), &array)?,
        joins: Vec::new(),
    });
    let made = vec![(alias, array)];
    qualify(r, s, &[], &made);
    Ok(())
}
