//! The array functions (`array_length`, `array_append`, `array_to_string`,
//! `string_to_array`, `array_agg`, `ARRAY(SELECT ...)`, ...) as SQLite over stored JSON.

use sqlparser::ast::{self, Expr, FunctionArguments};

use super::Elem;
use super::infer::{args, function_name};
use super::rewrite::{
    Rewriter, Step, append, bound, cat, coerce, elem_of, element_text, map_elements,
    multidimensional, null, parse_expr, prepend, template,
};
use crate::error::{SqlError, code};

impl Rewriter<'_> {
    pub(super) fn function(&self, f: &ast::Function) -> Result<Step, SqlError> {
        let name = function_name(f);
        if name == "array" {
            return match &f.args {
                FunctionArguments::Subquery(q) => Ok(Step::Done(array_of_query(q)?)),
                _ => Ok(Step::Keep),
            };
        }
        let a: Vec<Expr> = args(f).into_iter().cloned().collect();
        let arg = |i: usize| a.get(i).cloned().unwrap_or_else(null);
        let elem = || elem_of(a.first().and_then(|x| self.ty(x))).unwrap_or(Elem::Text);
        let want = |n: usize| -> Result<(), SqlError> {
            if a.len() < n {
                Err(SqlError::new(
                    code::UNDEFINED_FUNCTION,
                    format!("function {name} with {} arguments does not exist", a.len()),
                ))
            } else {
                Ok(())
            }
        };
        let coerced = |i: usize, e: Elem| -> Result<Expr, SqlError> {
            let mut x = arg(i);
            coerce(&mut x, e)?;
            Ok(x)
        };
        Ok(Step::Done(match name.as_str() {
            "array_agg" => {
                if a.first().is_some_and(|x| self.is_array(x)) {
                    return Err(multidimensional());
                }
                let mut inner = f.clone();
                inner.name = ast::ObjectName::from(vec![ast::Ident::new("json_group_array")]);
                // No rows aggregate to NULL, as in PostgreSQL (json_group_array gives []).
                template("nullif(__a1, '[]')", &[Expr::Function(inner)])?
            }
            "array_length" | "array_upper" => {
                want(2)?;
                let e = coerced(0, elem())?;
                template(
                    "CASE WHEN __a2 = 1 THEN nullif(json_array_length(__a1), 0) END",
                    &[e, arg(1)],
                )?
            }
            "array_lower" => {
                want(2)?;
                let e = coerced(0, elem())?;
                template(
                    "CASE WHEN __a2 = 1 AND json_array_length(__a1) > 0 THEN 1 END",
                    &[e, arg(1)],
                )?
            }
            "cardinality" => {
                want(1)?;
                template("json_array_length(__a1)", &[coerced(0, elem())?])?
            }
            "array_ndims" => {
                want(1)?;
                template(
                    "CASE WHEN json_array_length(__a1) > 0 THEN 1 END",
                    &[coerced(0, elem())?],
                )?
            }
            "array_dims" => {
                want(1)?;
                bound(
                    "CASE WHEN json_array_length(_p._p1) > 0 THEN printf('[1:%d]', json_array_length(_p._p1)) END",
                    &[coerced(0, elem())?],
                )?
            }
            "array_append" => {
                want(2)?;
                append(coerced(0, elem())?, arg(1))?
            }
            "array_prepend" => {
                want(2)?;
                let e = elem_of(self.ty(&arg(1))).unwrap_or(Elem::Text);
                prepend(arg(0), coerced(1, e)?)?
            }
            "array_cat" => {
                want(2)?;
                let e = elem_of(self.ty(&arg(0)))
                    .or(elem_of(self.ty(&arg(1))))
                    .unwrap_or(Elem::Text);
                cat(coerced(0, e)?, coerced(1, e)?)?
            }
            "array_remove" => {
                want(2)?;
                map_elements(
                    "_j.value",
                    "_j.value IS DISTINCT FROM _p._p2",
                    &[coerced(0, elem())?, arg(1)],
                )?
            }
            "array_replace" => {
                want(3)?;
                map_elements(
                    "CASE WHEN _j.value IS NOT DISTINCT FROM _p._p2 THEN _p._p3 ELSE _j.value END",
                    "1",
                    &[coerced(0, elem())?, arg(1), arg(2)],
                )?
            }
            "array_position" => {
                want(2)?;
                bound(
                    "(SELECT min(_j.key) + 1 FROM json_each(_p._p1) AS _j \
                     WHERE _j.value IS NOT DISTINCT FROM _p._p2 AND _j.key >= coalesce(_p._p3, 1) - 1)",
                    &[coerced(0, elem())?, arg(1), arg(2)],
                )?
            }
            "array_positions" => {
                want(2)?;
                map_elements(
                    "_j.key + 1",
                    "_j.value IS NOT DISTINCT FROM _p._p2",
                    &[coerced(0, elem())?, arg(1)],
                )?
            }
            "array_to_string" => {
                want(2)?;
                let e = elem();
                bound(
                    &format!(
                        "CASE WHEN _p._p1 IS NULL THEN NULL ELSE coalesce((SELECT group_concat(_v, _p._p2) FROM \
                         (SELECT CASE WHEN _j.type = 'null' THEN _p._p3 ELSE {} END AS _v \
                         FROM json_each(_p._p1) AS _j ORDER BY _j.key)), '') END",
                        element_text("_j.value", e)
                    ),
                    &[coerced(0, e)?, arg(1), arg(2)],
                )?
            }
            "coalesce" => {
                let Some(e) = a.iter().find_map(|x| elem_of(self.ty(x))) else {
                    return Ok(Step::Keep);
                };
                let mut g = f.clone();
                if let FunctionArguments::List(l) = &mut g.args {
                    for x in &mut l.args {
                        if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) = x {
                            coerce(x, e)?;
                        }
                    }
                }
                Expr::Function(g)
            }
            "string_to_array" => {
                want(2)?;
                bound(STRING_TO_ARRAY, &[arg(0), arg(1), arg(2)])?
            }
            "unnest" => {
                return Err(SqlError::unsupported(
                    "unnest() is supported in FROM and as a select-list item only",
                ));
            }
            _ => return Ok(Step::Keep),
        }))
    }
}

/// `string_to_array(s, sep [, null])`: split by a recursive CTE; a NULL separator splits
/// into characters, an empty one gives the whole string.
pub(super) const STRING_TO_ARRAY: &str = "CASE WHEN _p._p1 IS NULL THEN NULL WHEN _p._p1 = '' THEN '[]' \
    WHEN _p._p2 IS NULL THEN (SELECT json_group_array(CASE WHEN _c IS NOT DISTINCT FROM _p._p3 THEN NULL ELSE _c END) FROM \
      (WITH RECURSIVE _n(_i) AS (SELECT 1 UNION ALL SELECT _i + 1 FROM _n WHERE _i < length(_p._p1)) \
       SELECT substr(_p._p1, _i, 1) AS _c FROM _n ORDER BY _i)) \
    WHEN _p._p2 = '' THEN json_array(CASE WHEN _p._p1 IS NOT DISTINCT FROM _p._p3 THEN NULL ELSE _p._p1 END) \
    ELSE (SELECT json_group_array(CASE WHEN _v IS NOT DISTINCT FROM _p._p3 THEN NULL ELSE _v END) FROM \
      (WITH RECURSIVE _s(_i, _v, _r) AS (SELECT 0, NULL, printf('%s%s', _p._p1, _p._p2) UNION ALL \
         SELECT _i + 1, substr(_r, 1, instr(_r, _p._p2) - 1), substr(_r, instr(_r, _p._p2) + length(_p._p2)) \
         FROM _s WHERE _r <> '') \
       SELECT _v FROM _s WHERE _i > 0 ORDER BY _i)) END";

/// `ARRAY(SELECT x ...)`: the query's rows, in its order, as an array.
fn array_of_query(q: &ast::Query) -> Result<Expr, SqlError> {
    let mut q = q.clone();
    let mut body = q.body.as_mut();
    loop {
        match body {
            ast::SetExpr::Select(s) => {
                let item = s
                    .projection
                    .first_mut()
                    .ok_or_else(|| SqlError::syntax("subquery must return only one column"))?;
                let expr = match item {
                    ast::SelectItem::UnnamedExpr(e) => e.clone(),
                    ast::SelectItem::ExprWithAlias { expr, .. } => expr.clone(),
                    _ => {
                        return Err(SqlError::unsupported(
                            "ARRAY(SELECT *) is not supported: name the column",
                        ));
                    }
                };
                *item = ast::SelectItem::ExprWithAlias {
                    expr,
                    alias: ast::Ident::new("_v"),
                };
                break;
            }
            ast::SetExpr::Query(inner) => body = inner.body.as_mut(),
            ast::SetExpr::SetOperation { left, .. } => body = left.as_mut(),
            _ => {
                return Err(SqlError::unsupported(
                    "ARRAY() of this query is not supported",
                ));
            }
        }
    }
    parse_expr(&format!("(SELECT json_group_array(_v) FROM ({q}) AS _q)"))
}
