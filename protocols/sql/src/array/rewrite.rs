//! Array syntax as SQLite over stored JSON arrays: `ARRAY[...]`, `ARRAY(SELECT ...)`,
//! subscripts, `ANY`/`ALL`, `@>`/`<@`/`&&`, `||`, casts and the array functions.
//!
//! The pass runs before the general rewrite, top down, while the operands are still
//! PostgreSQL syntax whose types inference knows. Each construct becomes a template parsed
//! as SQL with the operands put in its holes (`__a1`, ...), so the passes after it still
//! translate the operands. Operands are evaluated once, in a one-row subquery
//! `(SELECT op AS _p1, ...) AS _p` that names nothing of the user's, so no template column
//! (`json_each`'s `key`, `value`, `id`, ...) can capture a name in an operand.

use std::ops::ControlFlow;

use sqlparser::ast::{
    self, AccessExpr, BinaryOperator, CastKind, Expr, Statement, Subscript, Value, VisitMut,
    VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::{Elem, codec};
use crate::catalog::Catalog;
use crate::error::{SqlError, code};
use crate::infer::StatementTypes;
use crate::types::PgType;

/// Rewrite the array syntax of `stmt`. Catalog queries (psql's) are left to their own pass.
pub fn rewrite(stmt: &mut Statement, catalog: &Catalog) -> Result<(), SqlError> {
    if let Statement::Query(q) = stmt
        && crate::describe::reads_catalog(q)
    {
        return Ok(());
    }
    let mut r = Rewriter {
        types: StatementTypes::new(stmt, catalog),
        err: None,
    };
    if let Statement::Update(up) = stmt {
        for a in &mut up.assignments {
            if let ast::AssignmentTarget::ColumnName(c) = &a.target {
                let col = Expr::Identifier(ast::Ident::new(crate::translate::object_name(c)));
                if let Some(PgType::Array(e)) = r.types.of(&col) {
                    coerce(&mut a.value, e)?;
                }
            }
        }
    }
    let _ = stmt.visit(&mut r);
    r.err.map_or(Ok(()), Err)
}

/// A column default of type `ty` as SQLite should store it: `'{}'` becomes `'[]'`.
pub(crate) fn default_expr(expr: &mut Expr, ty: PgType) -> Result<(), SqlError> {
    let PgType::Array(e) = ty else {
        return Ok(());
    };
    coerce(expr, e)?;
    let catalog = Catalog::default();
    let mut r = Rewriter {
        types: StatementTypes::new(expr, &catalog),
        err: None,
    };
    let _ = expr.visit(&mut r);
    r.err.map_or(Ok(()), Err)
}

pub(super) struct Rewriter<'a> {
    pub(super) types: StatementTypes<'a>,
    pub(super) err: Option<SqlError>,
}

/// What rewriting one expression did.
pub(super) enum Step {
    /// Nothing to do.
    Keep,
    /// Replaced by a template (whose operands are visited next).
    Done(Expr),
    /// Replaced by another expression of the user's, to be looked at again.
    Again(Expr),
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut ast::Query) -> ControlFlow<()> {
        self.check(|r| {
            super::order::order_by(r, q)?;
            super::unnest::query(r, q)
        })
    }

    fn pre_visit_select(&mut self, s: &mut ast::Select) -> ControlFlow<()> {
        self.check(|r| super::unnest::select(r, s))
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        self.check(|r| {
            // A bound on re-examinations, though each strips a layer.
            for _ in 0..16 {
                match r.expr(e)? {
                    Step::Keep => return Ok(()),
                    Step::Done(new) => {
                        *e = new;
                        return Ok(());
                    }
                    Step::Again(new) => *e = new,
                }
            }
            Ok(())
        })
    }
}

pub(super) fn multidimensional() -> SqlError {
    SqlError::unsupported("multidimensional arrays are not supported")
}

pub(super) fn lit(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_owned()).into())
}

pub(super) fn null() -> Expr {
    Expr::Value(Value::Null.into())
}

pub(super) fn parse_expr(sql: &str) -> Result<Expr, SqlError> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::new(code::INTERNAL_ERROR, format!("array rewrite: {e} in {sql}")))
}

/// Put `holes` into the `__a1`, `__a2`, ... identifiers of a parsed template.
pub(super) fn fill<V: VisitMut>(node: &mut V, holes: &[Expr]) {
    let _ = ast::visit_expressions_mut(node, |x| {
        if let Expr::Identifier(id) = x
            && id.quote_style.is_none()
            && let Some(n) = id.value.strip_prefix("__a")
            && let Ok(i) = n.parse::<usize>()
            && let Some(h) = i.checked_sub(1).and_then(|i| holes.get(i))
        {
            *x = h.clone();
        }
        ControlFlow::<()>::Continue(())
    });
}

pub(super) fn template(sql: &str, holes: &[Expr]) -> Result<Expr, SqlError> {
    let mut e = parse_expr(sql)?;
    fill(&mut e, holes);
    Ok(e)
}

/// `(SELECT body FROM (SELECT __a1 AS _p1, ...) AS _p)`: the operands bound once.
pub(super) fn bound(body: &str, holes: &[Expr]) -> Result<Expr, SqlError> {
    let binds: Vec<String> = (1..=holes.len())
        .map(|i| format!("__a{i} AS _p{i}"))
        .collect();
    template(
        &format!("(SELECT {body} FROM (SELECT {}) AS _p)", binds.join(", ")),
        holes,
    )
}

pub(super) fn string_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn placeholder(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::Placeholder(_)))
}

/// A `'{...}'` literal where an array of `elem` is expected, as stored JSON.
pub(super) fn coerce(e: &mut Expr, elem: Elem) -> Result<(), SqlError> {
    if let Some(s) = string_literal(e)
        && let dotdo_backend::Value::Text(json) = codec::from_text(elem, s)?
    {
        *e = lit(&json);
    }
    Ok(())
}

pub(super) fn elem_of(t: Option<PgType>) -> Option<Elem> {
    match t {
        Some(PgType::Array(e)) => Some(e),
        _ => None,
    }
}

/// How an element is kept, for deciding whether a cast changes stored values.
#[derive(PartialEq)]
enum Storage {
    Integer,
    Real,
    Numeric,
    Bool,
    Text,
}

fn storage(e: Elem) -> Storage {
    match e {
        Elem::Int2 | Elem::Int4 | Elem::Int8 => Storage::Integer,
        Elem::Float4 | Elem::Float8 => Storage::Real,
        Elem::Numeric => Storage::Numeric,
        Elem::Bool => Storage::Bool,
        _ => Storage::Text,
    }
}

/// SQL for element `v` (an SQL expression) of type `from` cast to `to`.
fn element_cast(v: &str, from: Elem, to: Elem) -> String {
    match (storage(from), storage(to)) {
        (Storage::Bool, Storage::Text) => {
            format!("CASE {v} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END")
        }
        (_, Storage::Bool) => format!(
            "CASE WHEN {v} IS NULL THEN NULL WHEN lower(CAST({v} AS TEXT)) IN ('t', 'true', 'y', 'yes', 'on', '1') THEN 1 ELSE 0 END"
        ),
        (_, Storage::Integer) => format!("CAST({v} AS INTEGER)"),
        (_, Storage::Real) => format!("CAST({v} AS REAL)"),
        (_, Storage::Numeric) => format!("CAST({v} AS NUMERIC)"),
        (_, Storage::Text) => format!("CAST({v} AS TEXT)"),
    }
}

/// SQL for element `v` of type `elem` as PostgreSQL's text output writes it.
pub(super) fn element_text(v: &str, elem: Elem) -> String {
    match storage(elem) {
        Storage::Bool => format!("CASE {v} WHEN 1 THEN 't' ELSE 'f' END"),
        Storage::Real => format!(
            "CASE WHEN {v} = CAST({v} AS INTEGER) AND abs({v}) < 1e15 THEN CAST(CAST({v} AS INTEGER) AS TEXT) ELSE CAST({v} AS TEXT) END"
        ),
        _ => format!("CAST({v} AS TEXT)"),
    }
}

/// `l || r` of two arrays: the stored texts spliced (both are minified JSON arrays).
const CAT: &str = "CASE WHEN _p._p2 IS NULL THEN _p._p1 WHEN _p._p1 IS NULL THEN _p._p2 \
    WHEN _p._p1 = '[]' THEN _p._p2 WHEN _p._p2 = '[]' THEN _p._p1 \
    ELSE printf('%s,%s', substr(_p._p1, 1, length(_p._p1) - 1), substr(_p._p2, 2)) END";

pub(super) fn cat(l: Expr, r: Expr) -> Result<Expr, SqlError> {
    bound(CAT, &[l, r])
}

pub(super) fn append(a: Expr, e: Expr) -> Result<Expr, SqlError> {
    template("json_insert(ifnull(__a1, '[]'), '$[#]', __a2)", &[a, e])
}

pub(super) fn prepend(e: Expr, a: Expr) -> Result<Expr, SqlError> {
    cat(template("json_array(__a1)", &[e])?, a)
}

/// The elements of array `_p._p1` that `filter` keeps, mapped by `map` (over `_j`,
/// `json_each`'s row), as a new array; NULL for a NULL array.
pub(super) fn map_elements(map: &str, filter: &str, holes: &[Expr]) -> Result<Expr, SqlError> {
    bound(
        &format!(
            "CASE WHEN _p._p1 IS NULL THEN NULL ELSE (SELECT json_group_array(_v) FROM \
             (SELECT {map} AS _v FROM json_each(_p._p1) AS _j WHERE {filter} ORDER BY _j.key)) END"
        ),
        holes,
    )
}

impl Rewriter<'_> {
    fn check(&mut self, f: impl FnOnce(&mut Self) -> Result<(), SqlError>) -> ControlFlow<()> {
        match f(self) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.err = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    pub(super) fn ty(&self, e: &Expr) -> Option<PgType> {
        self.types.of(e)
    }

    pub(super) fn is_array(&self, e: &Expr) -> bool {
        matches!(self.ty(e), Some(PgType::Array(_)))
    }

    fn expr(&mut self, e: &Expr) -> Result<Step, SqlError> {
        Ok(match e {
            Expr::Array(a) => {
                if a.elem.iter().any(|x| self.is_array(x)) {
                    return Err(multidimensional());
                }
                let holes: Vec<String> = (1..=a.elem.len()).map(|i| format!("__a{i}")).collect();
                Step::Done(template(
                    &format!("json_array({})", holes.join(", ")),
                    &a.elem,
                )?)
            }
            Expr::Function(f) => self.function(f)?,
            Expr::CompoundFieldAccess { root, access_chain } => {
                self.subscript(root, access_chain)?
            }
            Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => self.quantified(left, compare_op, right, true)?,
            Expr::AllOp {
                left,
                compare_op,
                right,
            } => self.quantified(left, compare_op, right, false)?,
            Expr::BinaryOp { left, op, right } => self.binary(left, op, right)?,
            Expr::IsDistinctFrom(l, r) | Expr::IsNotDistinctFrom(l, r) => {
                let (mut l, mut r) = (l.as_ref().clone(), r.as_ref().clone());
                if !self.coerce_pair(&mut l, &mut r)? {
                    return Ok(Step::Keep);
                }
                let (l, r) = (Box::new(l), Box::new(r));
                Step::Done(match e {
                    Expr::IsDistinctFrom(..) => Expr::IsDistinctFrom(l, r),
                    _ => Expr::IsNotDistinctFrom(l, r),
                })
            }
            Expr::Cast {
                kind,
                expr,
                data_type,
                ..
            } => self.cast(kind, expr, data_type)?,
            _ => Step::Keep,
        })
    }

    /// Convert a string literal compared with an array; whether one was converted.
    fn coerce_pair(&self, l: &mut Expr, r: &mut Expr) -> Result<bool, SqlError> {
        if let (Some(e), Some(_)) = (elem_of(self.ty(l)), string_literal(r)) {
            coerce(r, e)?;
            return Ok(true);
        }
        if let (Some(_), Some(e)) = (string_literal(l), elem_of(self.ty(r))) {
            coerce(l, e)?;
            return Ok(true);
        }
        Ok(false)
    }

    fn binary(&self, left: &Expr, op: &BinaryOperator, right: &Expr) -> Result<Step, SqlError> {
        let (mut l, mut r) = (left.clone(), right.clone());
        let (lt, rt) = (self.ty(left), self.ty(right));
        let rebuilt = |l: Expr, r: Expr| Expr::BinaryOp {
            left: Box::new(l),
            op: op.clone(),
            right: Box::new(r),
        };
        Ok(match op {
            BinaryOperator::StringConcat => {
                let (la, ra) = (elem_of(lt), elem_of(rt));
                let unknown = |e: &Expr| {
                    string_literal(e).is_some()
                        || placeholder(e)
                        || matches!(e, Expr::Value(v) if v.value == Value::Null)
                };
                match (la, ra) {
                    (Some(_), Some(_)) => Step::Done(cat(l, r)?),
                    (Some(e), None) if unknown(&r) => {
                        coerce(&mut r, e)?;
                        Step::Done(cat(l, r)?)
                    }
                    (None, Some(e)) if unknown(&l) => {
                        coerce(&mut l, e)?;
                        Step::Done(cat(l, r)?)
                    }
                    (Some(_), None) => Step::Done(append(l, r)?),
                    (None, Some(_)) => Step::Done(prepend(l, r)?),
                    (None, None) => Step::Keep,
                }
            }
            BinaryOperator::AtArrow | BinaryOperator::ArrowAt | BinaryOperator::PGOverlap => {
                if [lt, rt]
                    .iter()
                    .any(|t| matches!(t, Some(PgType::Json | PgType::Jsonb)))
                {
                    return Ok(Step::Keep);
                }
                let elem = elem_of(lt).or(elem_of(rt)).unwrap_or(Elem::Text);
                coerce(&mut l, elem)?;
                coerce(&mut r, elem)?;
                Step::Done(match op {
                    BinaryOperator::AtArrow => contains(l, r)?,
                    BinaryOperator::ArrowAt => contains(r, l)?,
                    _ => bound(
                        "CASE WHEN _p._p1 IS NULL OR _p._p2 IS NULL THEN NULL ELSE EXISTS \
                         (SELECT 1 FROM json_each(_p._p1) AS _a JOIN json_each(_p._p2) AS _b ON _a.value = _b.value) END",
                        &[l, r],
                    )?,
                })
            }
            BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
                if elem_of(lt).or(elem_of(rt)).is_some() =>
            {
                self.coerce_pair(&mut l, &mut r)?;
                let e = elem_of(lt).or(elem_of(rt)).unwrap_or(Elem::Text);
                match (
                    super::order::sort_key(l.clone(), e)?,
                    super::order::sort_key(r.clone(), e)?,
                ) {
                    (Some(kl), Some(kr)) => Step::Done(rebuilt(kl, kr)),
                    _ => Step::Done(rebuilt(l, r)),
                }
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                if self.coerce_pair(&mut l, &mut r)? {
                    Step::Done(rebuilt(l, r))
                } else {
                    Step::Keep
                }
            }
            _ => Step::Keep,
        })
    }

    /// `left op ANY (right)` / `left op ALL (right)`.
    fn quantified(
        &self,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
        any: bool,
    ) -> Result<Step, SqlError> {
        let right = match right {
            Expr::Nested(inner) => inner.as_ref(),
            r => r,
        };
        if let Expr::Subquery(q) = right {
            let negated = match (any, op) {
                (true, BinaryOperator::Eq) => false,
                (false, BinaryOperator::NotEq) => true,
                _ => {
                    return Err(SqlError::unsupported(
                        "only = ANY and <> ALL are supported with a subquery",
                    ));
                }
            };
            return Ok(Step::Done(Expr::In {
                expr: Box::new(left.clone()),
                target: ast::InTarget::Subquery(q.clone()),
                negated,
                global: false,
            }));
        }
        let mut r = right.clone();
        let elem = elem_of(self.ty(right))
            .or_else(|| self.ty(left).and_then(Elem::of))
            .unwrap_or(Elem::Text);
        coerce(&mut r, elem)?;
        let holes = [left.clone(), r];
        let set = "(SELECT value FROM json_each(ifnull(__a2, '[null]')))";
        let op_sql = match op {
            BinaryOperator::Eq if any => {
                return Ok(Step::Done(template(&format!("__a1 IN {set}"), &holes)?));
            }
            BinaryOperator::NotEq if !any => {
                return Ok(Step::Done(template(&format!("__a1 NOT IN {set}"), &holes)?));
            }
            BinaryOperator::Eq => "=",
            BinaryOperator::NotEq => "<>",
            BinaryOperator::Lt => "<",
            BinaryOperator::LtEq => "<=",
            BinaryOperator::Gt => ">",
            BinaryOperator::GtEq => ">=",
            other => {
                return Err(SqlError::unsupported(format!(
                    "operator {other} is not supported with ANY or ALL"
                )));
            }
        };
        // Three-valued: true if any (all) comparison is; NULL if one is unknown and none
        // decides; an empty array gives false for ANY and true for ALL.
        let decide = if any {
            "CASE WHEN max(_c) = 1 THEN 1 WHEN count(*) = count(_c) THEN 0 END"
        } else {
            "CASE WHEN min(_c) = 0 THEN 0 WHEN count(*) = count(_c) THEN 1 END"
        };
        Ok(Step::Done(template(
            &format!(
                "(SELECT {decide} FROM (SELECT (_p._p1 {op_sql} _j.value) AS _c \
                 FROM (SELECT __a1 AS _p1, __a2 AS _p2) AS _p, json_each(ifnull(_p._p2, '[null]')) AS _j))"
            ),
            &holes,
        )?))
    }

    fn subscript(&self, root: &Expr, chain: &[AccessExpr]) -> Result<Step, SqlError> {
        if chain
            .iter()
            .filter(|a| matches!(a, AccessExpr::Subscript(_)))
            .count()
            > 1
        {
            return Err(multidimensional());
        }
        let Some((root, sub)) = super::infer::subscripted(root, chain) else {
            return Ok(Step::Keep);
        };
        Ok(Step::Done(match sub {
            Subscript::Index { index } => {
                if let Expr::Value(v) = index
                    && let Value::Number(n, _) = &v.value
                    && let Ok(i) = n.parse::<i64>()
                {
                    if i < 1 {
                        return Ok(Step::Done(null()));
                    }
                    template(&format!("json_extract(__a1, '$[{}]')", i - 1), &[root])?
                } else {
                    bound(
                        "CASE WHEN _p._p2 >= 1 THEN json_extract(_p._p1, printf('$[%d]', _p._p2 - 1)) END",
                        &[
                            root,
                            template("CAST(__a1 AS INTEGER)", std::slice::from_ref(index))?,
                        ],
                    )?
                }
            }
            Subscript::Slice {
                lower_bound,
                upper_bound,
                stride: None,
            } => map_elements(
                "_j.value",
                "_j.key >= _p._p2 - 1 AND _j.key <= _p._p3 - 1",
                &[
                    root,
                    lower_bound.clone().unwrap_or_else(|| parse_num(1)),
                    upper_bound
                        .clone()
                        .unwrap_or_else(|| parse_num(i32::MAX as i64)),
                ],
            )?,
            Subscript::Slice { .. } => {
                return Err(SqlError::syntax("syntax error at or near \":\""));
            }
        }))
    }

    fn cast(
        &self,
        kind: &CastKind,
        inner: &Expr,
        data_type: &ast::DataType,
    ) -> Result<Step, SqlError> {
        let target = PgType::from_name(&data_type.to_string());
        let source = self.ty(inner);
        match target {
            Some(PgType::Array(to)) => {
                if string_literal(inner).is_some()
                    || placeholder(inner)
                    || matches!(inner, Expr::Value(v) if v.value == Value::Null)
                {
                    return Ok(Step::Keep);
                }
                if let Expr::Array(a) = inner {
                    // Each element takes the cast: ARRAY['1']::int[] is ARRAY['1'::int].
                    let elem_type = ast::DataType::Custom(
                        ast::ObjectName::from(vec![ast::Ident::new(to.pg().name())]),
                        Vec::new(),
                    );
                    let elem = a
                        .elem
                        .iter()
                        .map(|x| Expr::Cast {
                            kind: kind.clone(),
                            expr: Box::new(x.clone()),
                            data_type: elem_type.clone(),
                            format: None,
                        })
                        .collect();
                    return Ok(Step::Again(Expr::Array(ast::Array { elem, named: true })));
                }
                match source {
                    Some(PgType::Array(from)) if storage(from) == storage(to) => {
                        Ok(Step::Again(inner.clone()))
                    }
                    Some(PgType::Array(from)) => Ok(Step::Done(map_elements(
                        &element_cast("_j.value", from, to),
                        "1",
                        std::slice::from_ref(inner),
                    )?)),
                    None => Ok(Step::Again(inner.clone())),
                    Some(t)
                        if matches!(storage(Elem::of(t).unwrap_or(Elem::Text)), Storage::Text) =>
                    {
                        Err(SqlError::unsupported(format!(
                            "casting {} to {} is supported only for literals and parameters",
                            t.name(),
                            to.array_name()
                        )))
                    }
                    Some(t) => Err(SqlError::new(
                        "42846",
                        format!("cannot cast type {} to {}", t.name(), to.array_name()),
                    )),
                }
            }
            Some(PgType::Text | PgType::Varchar | PgType::Bpchar) => match elem_of(source) {
                Some(from) => Ok(Step::Done(array_text(inner.clone(), from)?)),
                None => Ok(Step::Keep),
            },
            _ => Ok(Step::Keep),
        }
    }
}

fn parse_num(n: i64) -> Expr {
    Expr::Value(Value::Number(n.to_string(), false).into())
}

/// `a @> b`: every element of `b` is in `a` (NULL elements are in nothing).
fn contains(a: Expr, b: Expr) -> Result<Expr, SqlError> {
    bound(
        "CASE WHEN _p._p1 IS NULL OR _p._p2 IS NULL THEN NULL ELSE NOT EXISTS \
         (SELECT 1 FROM json_each(_p._p2) AS _b WHERE NOT EXISTS \
         (SELECT 1 FROM json_each(_p._p1) AS _a WHERE _a.value = _b.value)) END",
        &[a, b],
    )
}

/// `arr::text`: PostgreSQL's text form of the array, written by SQL.
fn array_text(a: Expr, elem: Elem) -> Result<Expr, SqlError> {
    let text = element_text("_j.value", elem);
    let special: Vec<String> = [123, 125, 44, 34, 92, 32, 9, 10, 11, 12, 13]
        .iter()
        .map(|c| format!("instr(_t, char({c})) > 0"))
        .collect();
    let special = special.join(" OR ");
    let quoted = if elem.is_number() {
        "_t".to_owned()
    } else {
        format!(
            // array_out quotes empty strings, NULL, and text with " \ { } , or whitespace.
            "CASE WHEN _t = '' OR upper(_t) = 'NULL' OR {special} \
         THEN printf('%s%s%s', char(34), replace(replace(_t, char(92), char(92, 92)), char(34), char(92, 34)), char(34)) ELSE _t END"
        )
    };
    bound(
        &format!(
            "CASE WHEN _p._p1 IS NULL THEN NULL ELSE printf('{{%s}}', coalesce((SELECT group_concat(_e, ',') FROM \
             (SELECT CASE WHEN _n THEN 'NULL' ELSE {quoted} END AS _e FROM \
             (SELECT _j.type = 'null' AS _n, {text} AS _t FROM json_each(_p._p1) AS _j ORDER BY _j.key))), '')) END"
        ),
        &[a],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        let a = parse_expr("x").unwrap();
        map_elements("_j.value", "1", std::slice::from_ref(&a)).unwrap();
        array_text(a.clone(), Elem::Text).unwrap();
        array_text(a.clone(), Elem::Int4).unwrap();
        bound(
            super::super::functions::STRING_TO_ARRAY,
            &[a.clone(), a.clone(), a.clone()],
        )
        .unwrap();
        cat(a.clone(), a.clone()).unwrap();
        contains(a.clone(), a).unwrap();
    }

    fn catalog() -> Catalog {
        let col = |name: &str, ty: PgType| crate::catalog::Column {
            name: name.into(),
            ty,
            typmod: -1,
            not_null: false,
            default: None,
        };
        Catalog::default().with_table(crate::catalog::Table {
            name: "t".into(),
            columns: vec![
                col("id", PgType::Int4),
                col("tags", PgType::Array(Elem::Text)),
                col("nums", PgType::Array(Elem::Int4)),
            ],
        })
    }

    fn translated(sql: &str) -> Result<crate::Query, SqlError> {
        let ctx = crate::Context {
            database: "db",
            user: "u",
            backend_pid: 1,
            search_path: crate::namespace::DEFAULT_PATH,
        };
        match crate::translate(sql, &catalog(), &ctx)? {
            crate::Plan::Query(q) => Ok(q),
            other => panic!("not a query: {other:?}"),
        }
    }

    fn sql(sql: &str) -> String {
        let q = translated(sql).expect(sql);
        q.batch[q.main].sql.to_string()
    }

    #[test]
    fn any_with_a_parameter_is_an_indexable_in() {
        let q = translated("SELECT id FROM t WHERE id = ANY($1)").unwrap();
        assert_eq!(q.params, vec![PgType::Array(Elem::Int4)]);
        let s = q.batch[q.main].sql.to_string();
        assert!(
            s.contains("id IN (SELECT value FROM json_each(ifnull(?1, '[null]')))"),
            "{s}"
        );
    }

    #[test]
    fn parameters_take_the_types_arrays_give_them() {
        let q = translated(
            "SELECT id FROM t WHERE $1 = ANY(nums) AND nums @> ARRAY[$2, $3]::int8[] AND tags[$4] = $5",
        )
        .unwrap();
        assert_eq!(
            q.params,
            vec![
                PgType::Int4,
                PgType::Int8,
                PgType::Int8,
                PgType::Int4,
                PgType::Text
            ]
        );
    }

    #[test]
    fn literals_meeting_arrays_become_stored_json() {
        let s = sql("SELECT id FROM t WHERE tags = '{a,\"b c\"}' AND nums @> '{1}'");
        assert!(s.contains(r#"'["a","b c"]'"#), "{s}");
        assert!(s.contains("'[1]'"), "{s}");
        let s = sql("UPDATE t SET nums = '{1,2}' WHERE id = 1");
        assert!(s.contains("'[1,2]'"), "{s}");
        let e = translated("SELECT id FROM t WHERE nums = '{1,'").unwrap_err();
        assert_eq!(e.code, "22P02");
    }

    #[test]
    fn result_types_of_array_expressions() {
        let types = |sql: &str| -> Vec<Option<PgType>> {
            let q = translated(sql).expect(sql);
            q.columns.unwrap_or_default().iter().map(|c| c.ty).collect()
        };
        assert_eq!(
            types(
                "SELECT ARRAY[1,2], nums[1], tags || 'x'::text, unnest(tags), cardinality(nums) FROM t"
            ),
            vec![
                Some(PgType::Array(Elem::Int4)),
                Some(PgType::Int4),
                Some(PgType::Array(Elem::Text)),
                Some(PgType::Text),
                Some(PgType::Int4),
            ]
        );
        assert_eq!(
            types("SELECT array_agg(id), ARRAY(SELECT tags[1] FROM t) FROM t"),
            vec![
                Some(PgType::Array(Elem::Int4)),
                Some(PgType::Array(Elem::Text)),
            ]
        );
    }

    #[test]
    fn unnest_does_not_capture_the_users_columns() {
        let s = sql("SELECT id, tag FROM t, unnest(tags) AS tag ORDER BY id");
        assert!(s.contains(r#""t".id"#), "{s}");
        assert!(s.contains(r#"json_each(tags) AS "tag""#), "{s}");
        assert!(s.contains(r#""tag".value AS "tag""#), "{s}");
    }

    #[test]
    fn multidimensional_arrays_are_refused() {
        for q in [
            "SELECT ARRAY[ARRAY[1],ARRAY[2]]",
            "SELECT '{{1}}'::int[]",
            "SELECT nums[1][1] FROM t",
        ] {
            assert_eq!(translated(q).unwrap_err().code, "0A000", "{q}");
        }
    }
}
