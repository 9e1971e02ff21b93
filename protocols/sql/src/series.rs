//! Table factors SQLite lacks: `generate_series(start, stop[, step])` in FROM, as a recursive
//! CTE (SQLite's own is an extension a Durable Object does not load), and `(VALUES …) AS
//! t(a, b)` (SQLAlchemy's bulk INSERT), whose column names SQLite cannot take from an alias.

use std::ops::ControlFlow;

use sqlparser::ast::{self, Statement, TableFactor, VisitMut, VisitorMut};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::translate::quote_ident;

struct Series;

fn derived(args: &[ast::FunctionArg], alias: Option<&ast::TableAlias>) -> Option<TableFactor> {
    let exprs: Vec<String> = args
        .iter()
        .map(|a| match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e.to_string()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let (start, stop, step) = match exprs.as_slice() {
        [a, b] => (a.clone(), b.clone(), "1".to_owned()),
        [a, b, c] => (a.clone(), b.clone(), c.clone()),
        _ => return None,
    };
    let cmp = if step.trim_start().starts_with('-') {
        ">="
    } else {
        "<="
    };
    let column = match alias {
        Some(a) => match a.columns.first() {
            Some(c) => c.name.value.clone(),
            None => a.name.value.clone(),
        },
        None => "generate_series".to_owned(),
    };
    let name = alias.map_or_else(|| "generate_series".to_owned(), |a| a.name.value.clone());
    let sql = format!(
        "SELECT * FROM (WITH RECURSIVE _dotdo_gs(v) AS (SELECT {start} WHERE {start} {cmp} {stop} \
         UNION ALL SELECT v + ({step}) FROM _dotdo_gs WHERE v + ({step}) {cmp} {stop}) \
         SELECT v AS {} FROM _dotdo_gs) AS {}",
        quote_ident(&column),
        quote_ident(&name)
    );
    let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok()?;
    let Some(Statement::Query(q)) = parsed.pop() else {
        return None;
    };
    let ast::SetExpr::Select(s) = *q.body else {
        return None;
    };
    s.from.into_iter().next().map(|t| t.relation)
}

/// `(VALUES …) AS t(a, b)` as `(SELECT column1 AS a, column2 AS b FROM (VALUES …)) AS t`.
fn named_values(subquery: &ast::Query, alias: &ast::TableAlias) -> Option<TableFactor> {
    let items: Vec<String> = alias
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("column{} AS {}", i + 1, quote_ident(&c.name.value)))
        .collect();
    let sql = format!(
        "SELECT * FROM (SELECT {} FROM (SELECT 1) AS _dotdo_v) AS {}",
        items.join(", "),
        quote_ident(&alias.name.value)
    );
    let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok()?;
    let Some(Statement::Query(q)) = parsed.pop() else {
        return None;
    };
    let ast::SetExpr::Select(s) = *q.body else {
        return None;
    };
    let mut outer = s.from.into_iter().next()?.relation;
    if let TableFactor::Derived {
        subquery: named, ..
    } = &mut outer
        && let ast::SetExpr::Select(inner) = named.body.as_mut()
        && let Some(from) = inner.from.first_mut()
    {
        from.relation = TableFactor::Derived {
            lateral: false,
            subquery: Box::new(subquery.clone()),
            alias: None,
            sample: None,
        };
    }
    Some(outer)
}

impl VisitorMut for Series {
    type Break = ();

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Derived {
            subquery,
            alias: Some(alias),
            ..
        } = tf
            && !alias.columns.is_empty()
            && matches!(subquery.body.as_ref(), ast::SetExpr::Values(_))
            && let Some(d) = named_values(subquery, alias)
        {
            *tf = d;
            return ControlFlow::Continue(());
        }
        if let TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } = tf
            && name.to_string().eq_ignore_ascii_case("generate_series")
            && let Some(d) = derived(&args.args, alias.as_ref())
        {
            *tf = d;
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites every `generate_series(…)` in FROM.
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut Series);
}
