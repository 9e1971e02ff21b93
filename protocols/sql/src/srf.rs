//! `unnest(x)` and `generate_subscripts(x, 1)` in a catalog query's select list (SQLAlchemy
//! reads `pg_index.indkey` so): SQLite has no set-returning functions there, so the select
//! joins `json_each(x)` and reads each element and its position from it. Catalog arrays
//! (`indkey`) are JSON arrays in the views.

use std::ops::ControlFlow;

use sqlparser::ast::{self, Expr, FunctionArguments, Query, SetExpr, VisitMut, VisitorMut};

const ALIAS: &str = "_dotdo_u";

fn call<'a>(e: &'a Expr, name: &str) -> Option<&'a [ast::FunctionArg]> {
    let Expr::Function(f) = e else { return None };
    if !f.name.to_string().to_ascii_lowercase().ends_with(name) {
        return None;
    }
    match &f.args {
        FunctionArguments::List(l) => Some(&l.args),
        _ => None,
    }
}

fn arg_expr(a: &ast::FunctionArg) -> Option<&Expr> {
    match a {
        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
        _ => None,
    }
}

struct Srf;

impl VisitorMut for Srf {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(s) = q.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        // The array the select list unnests (one per select).
        let mut array: Option<Expr> = None;
        for item in &s.projection {
            let e = match item {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => continue,
            };
            if array.is_none()
                && let Some([a]) = call(e, "unnest")
                && let Some(x) = arg_expr(a)
            {
                array = Some(x.clone());
            }
        }
        let Some(array) = array else {
            return ControlFlow::Continue(());
        };
        if s.from.is_empty() {
            return ControlFlow::Continue(());
        }
        for item in &mut s.projection {
            let e = match item {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => continue,
            };
            let replacement = if let Some([a]) = call(e, "unnest")
                && arg_expr(a) == Some(&array)
            {
                Some(format!("{ALIAS}.value"))
            } else if let Some([a]) = call(e, "unnest")
                && let Some(other) = arg_expr(a)
            {
                // Another array unnested beside it: its element at the same position.
                Some(format!("json_extract({other}, '$[' || {ALIAS}.key || ']')"))
            } else if let Some([_, _]) = call(e, "generate_subscripts") {
                Some(format!("({ALIAS}.key + 1)"))
            } else {
                None
            };
            if let Some(r) = replacement {
                *e = Expr::Identifier(ast::Ident::new(r));
            }
        }
        let sql = format!("SELECT 1 FROM a CROSS JOIN json_each({array}) AS {ALIAS}");
        let Some(join) =
            sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql)
                .ok()
                .and_then(|mut p| p.pop())
                .and_then(|st| match st {
                    ast::Statement::Query(q) => match *q.body {
                        SetExpr::Select(sel) => {
                            sel.from.into_iter().next()?.joins.into_iter().next()
                        }
                        _ => None,
                    },
                    _ => None,
                })
        else {
            return ControlFlow::Continue(());
        };
        if let Some(last) = s.from.last_mut() {
            last.joins.push(join);
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites the set-returning calls of every select of a catalog query.
pub fn rewrite(q: &mut Query) {
    let _ = q.visit(&mut Srf);
}
