//! Types of array expressions and of the parameters they meet, for `crate::infer`.

use sqlparser::ast::{self, AccessExpr, BinaryOperator, Expr, FunctionArguments, Subscript};

use super::Elem;
use crate::catalog::{Column, Table};
use crate::translate::ident_name;
use crate::types::PgType;

/// The unnamed arguments of a call.
pub(crate) fn args(f: &ast::Function) -> Vec<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A call's name, lower-cased, without `pg_catalog.`.
pub(crate) fn function_name(f: &ast::Function) -> String {
    let name = f.name.to_string().to_ascii_lowercase();
    name.trim_start_matches("pg_catalog.").to_owned()
}

fn array_of(t: Option<PgType>) -> PgType {
    PgType::Array(t.and_then(Elem::of).unwrap_or(Elem::Text))
}

fn element_of(t: Option<PgType>) -> Option<PgType> {
    match t {
        Some(PgType::Array(e)) => Some(e.pg()),
        _ => None,
    }
}

fn is_array(t: Option<PgType>) -> bool {
    matches!(t, Some(PgType::Array(_)))
}

/// The type PostgreSQL gives `ARRAY[...]`: its elements' common type.
fn constructor_type(elems: &[Expr], ty: &dyn Fn(&Expr) -> Option<PgType>) -> PgType {
    let mut common: Option<PgType> = None;
    for e in elems {
        let Some(t) = ty(e) else { continue };
        common = Some(match common {
            None => t,
            Some(c) if c.is_numeric() && t.is_numeric() => {
                use PgType::*;
                match (c, t) {
                    (Float8 | Float4, _) | (_, Float8 | Float4) => Float8,
                    (Numeric { .. }, _) | (_, Numeric { .. }) => Numeric { scale: None },
                    (Int8, _) | (_, Int8) => Int8,
                    _ => c,
                }
            }
            Some(c) => c,
        });
    }
    array_of(common)
}

/// The type of an array expression (or of one whose type arrays decide), or `None` to let
/// the general inference answer. `ty` types sub-expressions.
pub(crate) fn expr_type(e: &Expr, ty: &dyn Fn(&Expr) -> Option<PgType>) -> Option<PgType> {
    match e {
        Expr::Array(a) => Some(constructor_type(&a.elem, ty)),
        Expr::CompoundFieldAccess { root, access_chain } => {
            let (root, sub) = subscripted(root, access_chain)?;
            match sub {
                Subscript::Index { .. } => element_of(ty(&root)),
                Subscript::Slice { .. } => ty(&root).filter(|t| is_array(Some(*t))),
            }
        }
        Expr::BinaryOp {
            left,
            op: BinaryOperator::StringConcat,
            right,
        } => {
            let (l, r) = (ty(left), ty(right));
            if is_array(l) {
                l
            } else if is_array(r) {
                r
            } else {
                None
            }
        }
        Expr::AnyOp { .. } | Expr::AllOp { .. } => Some(PgType::Bool),
        Expr::Function(f) => function_type(f, ty),
        _ => None,
    }
}

/// `a[i]` and `t.a[i]` (which sqlparser reads as `t` with the access chain `.a[i]`) as the
/// array expression and its one subscript.
pub(crate) fn subscripted<'a>(
    root: &Expr,
    chain: &'a [AccessExpr],
) -> Option<(Expr, &'a Subscript)> {
    let (AccessExpr::Subscript(sub), dots) = chain.split_last()? else {
        return None;
    };
    if dots.is_empty() {
        return Some((root.clone(), sub));
    }
    let Expr::Identifier(first) = root else {
        return None;
    };
    let mut parts = vec![first.clone()];
    for d in dots {
        match d {
            AccessExpr::Dot(Expr::Identifier(i)) => parts.push(i.clone()),
            _ => return None,
        }
    }
    Some((Expr::CompoundIdentifier(parts), sub))
}

fn function_type(f: &ast::Function, ty: &dyn Fn(&Expr) -> Option<PgType>) -> Option<PgType> {
    let name = function_name(f);
    if name == "array" {
        return match &f.args {
            FunctionArguments::Subquery(q) => Some(array_of(ty(&Expr::Subquery(q.clone())))),
            _ => None,
        };
    }
    let a = args(f);
    let arg = |i: usize| a.get(i).and_then(|e| ty(e));
    Some(match name.as_str() {
        "array_agg" => array_of(arg(0)),
        "array_append" | "array_cat" | "array_remove" | "array_replace" => {
            if is_array(arg(0)) {
                arg(0)?
            } else if is_array(arg(1)) {
                arg(1)?
            } else {
                array_of(arg(1))
            }
        }
        "array_prepend" => {
            if is_array(arg(1)) {
                arg(1)?
            } else {
                array_of(arg(0))
            }
        }
        "array_length" | "array_upper" | "array_lower" | "array_ndims" | "cardinality"
        | "array_position" => PgType::Int4,
        "array_positions" => PgType::Array(Elem::Int4),
        "array_to_string" | "array_dims" => PgType::Text,
        "string_to_array" => PgType::Array(Elem::Text),
        "unnest" => element_of(arg(0)).unwrap_or(PgType::Text),
        _ => return None,
    })
}

/// Parameter types that array syntax decides: `x = ANY($1)` (an array of `x`'s type),
/// `$1 = ANY(a)`, `a[$1]`, and the element arguments of the array functions.
pub(crate) fn note_params(
    e: &Expr,
    ty: &dyn Fn(&Expr) -> Option<PgType>,
    placeholder: &dyn Fn(&Expr) -> Option<usize>,
    note: &mut dyn FnMut(usize, Option<PgType>),
) {
    match e {
        Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
            if let Some(n) = placeholder(right) {
                note(n, Some(array_of(ty(left))));
            }
            if let Some(n) = placeholder(left) {
                note(n, element_of(ty(right)));
            }
        }
        // `ARRAY[$1, $2]::int[]`: each element is an int.
        Expr::Cast {
            expr, data_type, ..
        } => {
            if let (Expr::Array(a), Some(PgType::Array(e))) =
                (expr.as_ref(), PgType::from_name(&data_type.to_string()))
            {
                for x in &a.elem {
                    if let Some(n) = placeholder(x) {
                        note(n, Some(e.pg()));
                    }
                }
            }
        }
        Expr::CompoundFieldAccess { access_chain, .. } => {
            for a in access_chain {
                match a {
                    AccessExpr::Subscript(Subscript::Index { index }) => {
                        if let Some(n) = placeholder(index) {
                            note(n, Some(PgType::Int4));
                        }
                    }
                    AccessExpr::Subscript(Subscript::Slice {
                        lower_bound,
                        upper_bound,
                        ..
                    }) => {
                        for b in [lower_bound, upper_bound].into_iter().flatten() {
                            if let Some(n) = placeholder(b) {
                                note(n, Some(PgType::Int4));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Expr::Function(f) => {
            let a = args(f);
            let arg = |i: usize| a.get(i).copied();
            let mut param = |i: usize, t: Option<PgType>| {
                if let Some(n) = arg(i).and_then(placeholder) {
                    note(n, t);
                }
            };
            match function_name(f).as_str() {
                "array_append" | "array_remove" | "array_position" | "array_positions" => {
                    let elem = arg(0).and_then(|x| element_of(ty(x)));
                    param(1, elem);
                    param(0, arg(1).and_then(ty).map(|t| array_of(Some(t))));
                }
                "array_prepend" => {
                    param(0, arg(1).and_then(|x| element_of(ty(x))));
                    param(1, arg(0).and_then(ty).map(|t| array_of(Some(t))));
                }
                "array_cat" => {
                    param(1, arg(0).and_then(ty));
                    param(0, arg(1).and_then(ty));
                }
                "array_length" | "array_upper" | "array_lower" => param(1, Some(PgType::Int4)),
                _ => {}
            }
        }
        _ => {}
    }
}

/// The relation `unnest(a) [WITH ORDINALITY] [AS alias[(x[, n])]]` gives, as PostgreSQL
/// names it: the element column is named after the alias (or `unnest`), the ordinality
/// column `ordinality`.
pub(crate) fn unnest_columns(
    alias: Option<&ast::TableAlias>,
    array: Option<PgType>,
    ordinality: bool,
) -> Table {
    let elem = element_of(array);
    let table = alias.map_or_else(|| "unnest".to_owned(), |a| ident_name(&a.name));
    let named = |i: usize, default: &str| {
        alias
            .and_then(|a| a.columns.get(i))
            .map_or_else(|| default.to_owned(), |c| ident_name(&c.name))
    };
    let column = |name: String, ty: PgType| Column {
        name,
        ty,
        typmod: -1,
        not_null: false,
        default: None,
    };
    let mut columns = vec![column(named(0, &table), elem.unwrap_or(PgType::Text))];
    if ordinality {
        columns.push(column(named(1, "ordinality"), PgType::Int8));
    }
    Table {
        name: table,
        columns,
    }
}
