//! Ordering arrays as PostgreSQL does, element by element, for `ORDER BY` and `<`/`>`.
//!
//! The stored JSON text does not sort that way (`[10]` < `[9]`, `[]` last), so an array
//! of integers, booleans or strings is ordered by a key built from its elements: each
//! element spelled so that text order is its order, NULL elements after all others, joined
//! by a separator below every element character, so a prefix sorts first. Arrays of floats
//! and numerics keep their text order.

use sqlparser::ast::{self, Expr, OrderByKind, SelectItem, SetExpr, Value};

use super::Elem;
use super::rewrite::{Rewriter, template};
use crate::error::SqlError;
use crate::types::PgType;

/// The sort key of array `a` (an expression) of element type `elem`, if it has one.
pub(super) fn sort_key(a: Expr, elem: Elem) -> Result<Option<Expr>, SqlError> {
    let (element, null, separator) = match elem {
        Elem::Bool | Elem::Int2 | Elem::Int4 | Elem::Int8 => (
            "CASE WHEN _j.value < 0 THEN printf('0%019d', _j.value + 9223372036854775807) \
             ELSE printf('1%019d', _j.value) END",
            "'2'",
            "','",
        ),
        Elem::Float4 | Elem::Float8 | Elem::Numeric => return Ok(None),
        _ => ("printf('%s%s', char(2), _j.value)", "char(3)", "char(1)"),
    };
    template(
        &format!(
            "(SELECT CASE WHEN _p._p1 IS NULL THEN NULL ELSE ifnull((SELECT group_concat(_k, {separator}) FROM \
             (SELECT CASE WHEN _j.type = 'null' THEN {null} ELSE {element} END AS _k \
             FROM json_each(_p._p1) AS _j ORDER BY _j.key)), '') END FROM (SELECT __a1 AS _p1) AS _p)"
        ),
        &[a],
    )
    .map(Some)
}

/// `ORDER BY` items that are arrays (by expression, output name or position) ordered by
/// their sort keys.
pub(super) fn order_by(r: &Rewriter<'_>, q: &mut ast::Query) -> Result<(), SqlError> {
    let Some(order_by) = q.order_by.as_mut() else {
        return Ok(());
    };
    let OrderByKind::Expressions(items) = &mut order_by.kind else {
        return Ok(());
    };
    let projection: Vec<(Option<String>, Expr)> = match q.body.as_ref() {
        SetExpr::Select(s) => s
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(e) => (None, e.clone()),
                SelectItem::ExprWithAlias { expr, alias } => {
                    (Some(crate::translate::ident_name(alias)), expr.clone())
                }
                _ => (None, Expr::Value(Value::Null.into())),
            })
            .collect(),
        _ => return Ok(()),
    };
    for item in items {
        let target = match &item.expr {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => n
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| projection.get(i.checked_sub(1)?))
                    .map(|(_, e)| e.clone()),
                _ => None,
            },
            Expr::Identifier(i) => {
                let name = crate::translate::ident_name(i);
                projection
                    .iter()
                    .find(|(alias, _)| alias.as_deref() == Some(name.as_str()))
                    .map(|(_, e)| e.clone())
            }
            _ => None,
        }
        .unwrap_or_else(|| item.expr.clone());
        if let Some(PgType::Array(e)) = r.ty(&target)
            && let Some(key) = sort_key(target, e)?
        {
            item.expr = key;
        }
    }
    Ok(())
}
