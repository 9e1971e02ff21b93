//! Catalog queries such as psql's `\d`, `\du` and `\df` send: relations that are always
//! empty here (policies, triggers, publications, role memberships, user functions...) and
//! the `regclass` casts whose text is a relation's name.
//!
//! A query whose rows must come from an always-empty relation answers no rows without
//! running (SQLite could not run the array and set-returning syntax those queries use),
//! and a subquery over one is replaced by what an empty subquery gives.

use std::ops::ControlFlow;

use sqlparser::ast::{
    self, DataType, Expr, FunctionArguments, JoinOperator, Query, SelectItem, SetExpr, SetOperator,
    TableFactor, Value,
};

/// Catalog relations that hold no rows in a dotdo database.
const EMPTY: &[&str] = &[
    "pg_policy",
    "pg_statistic_ext",
    "pg_publication",
    "pg_publication_namespace",
    "pg_publication_rel",
    "pg_trigger",
    "pg_inherits",
    "pg_partitioned_table",
    "pg_auth_members",
    "pg_proc",
    "pg_collation",
    "pg_rewrite",
    "pg_event_trigger",
    "pg_foreign_table",
    // Only the default operator classes: none that SQLAlchemy must name.
    "pg_opclass",
];

/// Whether `q` reads a `pg_` relation: only those queries go through the passes below.
pub fn reads_catalog(q: &Query) -> bool {
    ast::visit_relations(q, |name| {
        let catalog = name.0.last().is_some_and(|p| {
            p.to_string()
                .trim_matches('"')
                .to_ascii_lowercase()
                .starts_with("pg_")
        });
        if catalog {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// SQLite for no rows with `columns`' names.
pub fn no_rows(columns: &[crate::OutColumn]) -> String {
    let items: Vec<String> = columns
        .iter()
        .map(|c| format!("NULL AS {}", crate::translate::quote_ident(&c.name)))
        .collect();
    if items.is_empty() {
        return "SELECT NULL WHERE 0".into();
    }
    format!("SELECT {} WHERE 0", items.join(", "))
}

fn empty_relation(name: &ast::ObjectName) -> bool {
    name.0.last().is_some_and(|p| {
        let n = p.to_string().trim_matches('"').to_ascii_lowercase();
        EMPTY.contains(&n.as_str())
    })
}

/// Whether `q` returns no rows because every row would come from an empty relation.
pub fn query_is_empty(q: &Query) -> bool {
    set_is_empty(&q.body)
}

fn set_is_empty(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(s) => select_is_empty(s),
        SetExpr::Query(q) => query_is_empty(q),
        SetExpr::SetOperation {
            op, left, right, ..
        } => match op {
            SetOperator::Union => set_is_empty(left) && set_is_empty(right),
            SetOperator::Intersect => set_is_empty(left) || set_is_empty(right),
            _ => set_is_empty(left),
        },
        _ => false,
    }
}

fn select_is_empty(s: &ast::Select) -> bool {
    // An aggregate without GROUP BY answers one row even over nothing.
    let aggregates = s.projection.iter().any(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => aggregate(e),
        _ => false,
    });
    if aggregates {
        return false;
    }
    s.from.iter().any(|twj| {
        factor_is_empty(&twj.relation)
            && twj.joins.iter().all(|j| {
                !matches!(
                    j.join_operator,
                    JoinOperator::RightOuter(_) | JoinOperator::FullOuter(_)
                )
            })
            || twj.joins.iter().any(|j| {
                matches!(
                    j.join_operator,
                    JoinOperator::Join(_) | JoinOperator::Inner(_) | JoinOperator::CrossJoin(_)
                ) && factor_is_empty(&j.relation)
            })
    })
}

/// Whether `e` is an aggregate call (outside subqueries, which have their own rows).
fn aggregate(e: &Expr) -> bool {
    match e {
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let name = name.rsplit('.').next().unwrap_or(&name);
            matches!(name, "count" | "sum" | "max" | "min" | "avg" | "every")
                || name.ends_with("_agg")
                || name.starts_with("bool_")
        }
        Expr::Cast { expr, .. } | Expr::Nested(expr) | Expr::UnaryOp { expr, .. } => {
            aggregate(expr)
        }
        Expr::BinaryOp { left, right, .. } => aggregate(left) || aggregate(right),
        _ => false,
    }
}

fn factor_is_empty(f: &TableFactor) -> bool {
    match f {
        TableFactor::Table { name, .. } => empty_relation(name),
        TableFactor::Derived { subquery, .. } => query_is_empty(subquery),
        _ => false,
    }
}

pub(crate) fn is_regclass(t: &DataType) -> bool {
    let text = t.to_string().to_ascii_lowercase();
    text == "regclass" || text == "pg_catalog.regclass"
}

fn raw(sql: &str) -> Expr {
    Expr::Identifier(ast::Ident::new(sql))
}

/// The relation oid a `'name'::regclass` literal names, as SQL.
pub(crate) fn regclass_literal(s: &str) -> Expr {
    if s.trim().parse::<i64>().is_ok() {
        return Expr::Value(Value::Number(s.trim().to_owned(), false).into());
    }
    let name = s.trim();
    // The catalogs' own oids, as pg_depend's classid names them.
    match name {
        "pg_catalog.pg_class" | "pg_class" => return raw("1259"),
        "pg_catalog.pg_constraint" | "pg_constraint" => return raw("2606"),
        "pg_catalog.pg_type" | "pg_type" => return raw("1247"),
        _ => {}
    }
    let name = name.strip_prefix("public.").unwrap_or(name);
    let name = if name.starts_with('"') {
        name.trim_matches('"').to_owned()
    } else {
        name.to_ascii_lowercase()
    };
    raw(&format!(
        "(SELECT _val FROM _pg_lookup_reloid WHERE _key = '{}')",
        name.replace('\'', "''")
    ))
}

/// Replace subqueries over empty relations, `'name'::regclass` literals, and `regclass`
/// casts that a query returns as a column (PostgreSQL prints those as the relation's name).
pub fn rewrite(q: &mut Query) {
    if let SetExpr::Select(s) = q.body.as_mut() {
        for item in &mut s.projection {
            let (expr, alias) = match item {
                SelectItem::UnnamedExpr(e) => (e.clone(), None),
                SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), Some(alias.clone())),
                _ => continue,
            };
            let Expr::Cast {
                expr: inner,
                data_type,
                ..
            } = &expr
            else {
                continue;
            };
            if !is_regclass(data_type) || matches!(inner.as_ref(), Expr::Value(_)) {
                continue;
            }
            let alias = alias.unwrap_or_else(|| match inner.as_ref() {
                Expr::Identifier(i) => i.clone(),
                Expr::CompoundIdentifier(parts) => parts
                    .last()
                    .cloned()
                    .unwrap_or_else(|| ast::Ident::new("regclass")),
                _ => ast::Ident::new("regclass"),
            });
            *item = SelectItem::ExprWithAlias {
                expr: raw(&format!(
                    "(SELECT _val FROM _pg_lookup_relname WHERE _key = {inner})"
                )),
                alias,
            };
        }
    }
    let _ = ast::visit_expressions_mut(q, |e| {
        let all = matches!(e, Expr::AllOp { .. });
        match e {
            Expr::Subquery(sub) if query_is_empty(sub) => {
                *e = Expr::Value(Value::Null.into());
            }
            Expr::Exists { subquery, negated } if query_is_empty(subquery) => {
                *e = Expr::Value(Value::Boolean(*negated).into());
            }
            Expr::In {
                target: ast::InTarget::Subquery(subquery),
                negated,
                ..
            } if query_is_empty(subquery) => {
                *e = Expr::Value(Value::Boolean(*negated).into());
            }
            Expr::Function(f)
                if f.name.to_string().eq_ignore_ascii_case("array")
                    && matches!(&f.args, FunctionArguments::Subquery(sub) if query_is_empty(sub)) =>
            {
                *e = Expr::Value(Value::SingleQuotedString("{}".into()).into());
            }
            // SQLAlchemy reads an identity's options by its sequence's oid.
            Expr::Cast {
                expr, data_type, ..
            } if is_regclass(data_type) && serial_sequence_args(expr).is_some() => {
                if let Some((t, c)) = serial_sequence_args(expr) {
                    *e = raw(&crate::serial::serial_sequence_oid_sql(&t, &c));
                }
            }
            Expr::Cast {
                expr, data_type, ..
            } if is_regclass(data_type) => {
                if let Expr::Value(v) = expr.as_ref()
                    && let Value::SingleQuotedString(s) = &v.value
                {
                    *e = regclass_literal(s);
                }
            }
            // Storage parameters: none are kept.
            Expr::CompoundIdentifier(parts)
                if parts
                    .last()
                    .is_some_and(|p| p.value.eq_ignore_ascii_case("reloptions")) =>
            {
                *e = Expr::Value(Value::Null.into());
            }
            // `x = ANY (ARRAY[...])`, `x <> ALL (ARRAY[...])` (SQLAlchemy's reflection): a
            // list. The array rewrite leaves catalog queries alone.
            Expr::AnyOp {
                left,
                compare_op: ast::BinaryOperator::Eq,
                right,
                ..
            }
            | Expr::AllOp {
                left,
                compare_op: ast::BinaryOperator::NotEq,
                right,
            } => {
                let negated = all;
                let inner = match right.as_ref() {
                    Expr::Nested(i) => i.as_ref(),
                    r => r,
                };
                if let Expr::Array(a) = inner {
                    *e = Expr::In {
                        expr: left.clone(),
                        target: ast::InTarget::List(a.elem.clone()),
                        negated,
                        global: false,
                    };
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The arguments of a `pg_get_serial_sequence(table, column)` call, as SQL text.
fn serial_sequence_args(e: &Expr) -> Option<(String, String)> {
    let Expr::Function(f) = e else { return None };
    if !f
        .name
        .to_string()
        .to_ascii_lowercase()
        .ends_with("pg_get_serial_sequence")
    {
        return None;
    }
    let FunctionArguments::List(l) = &f.args else {
        return None;
    };
    match l.args.as_slice() {
        [ast::FunctionArg::Unnamed(a), ast::FunctionArg::Unnamed(b)] => {
            Some((a.to_string(), b.to_string()))
        }
        _ => None,
    }
}

/// `pg_catalog.pg_class.relname` (SQLAlchemy's reflection) as `pg_class.relname`: the
/// column's schema qualifier goes, as it does from the relation itself. Runs before name
/// resolution, which writes some arguments (`pg_table_is_visible`'s) into SQL text.
pub fn strip_catalog_qualifiers(stmt: &mut ast::Statement) {
    let _ = ast::visit_expressions_mut(stmt, |e| {
        if let Expr::CompoundIdentifier(parts) = e
            && parts.len() == 3
            && parts[0].value.eq_ignore_ascii_case("pg_catalog")
        {
            parts.remove(0);
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Statements recording `ct`'s CHECK constraints under PostgreSQL's names, for
/// `pg_constraint` (SQLite keeps checks only in the table's text).
pub fn record_checks(ct: &ast::CreateTable, table: &str) -> Vec<dotdo_backend::Statement> {
    use dotdo_backend::{Statement, Value as V};
    let mut checks: Vec<(String, String)> = Vec::new();
    let short = crate::namespace::bare(table);
    for c in &ct.columns {
        for o in &c.options {
            if let ast::ColumnOption::Check(chk) = &o.option {
                let col = crate::translate::ident_name(&c.name);
                let name = chk
                    .name
                    .as_ref()
                    .or(o.name.as_ref())
                    .map_or(format!("{short}_{col}_check"), crate::translate::ident_name);
                checks.push((name, format!("CHECK ({})", chk.expr)));
            }
        }
    }
    for c in &ct.constraints {
        if let ast::TableConstraint::Check(chk) = c {
            let name = chk.name.as_ref().map_or_else(
                || match first_column(&chk.expr) {
                    Some(col) => format!("{short}_{col}_check"),
                    None => format!("{short}_check"),
                },
                crate::translate::ident_name,
            );
            checks.push((name, format!("CHECK ({})", chk.expr)));
        }
    }
    let mut out = vec![
        Statement::with_params(
            "DELETE FROM _pg_checks WHERE tbl = ?1",
            vec![V::Text(table.to_owned())],
        ),
        Statement::with_params(
            "DELETE FROM _pg_fkeys WHERE tbl = ?1",
            vec![V::Text(table.to_owned())],
        ),
    ];
    // Foreign keys with names of their own (SQLite does not report them).
    for c in &ct.columns {
        for o in &c.options {
            if let ast::ColumnOption::ForeignKey(fk) = &o.option
                && let Some(name) = fk.name.as_ref().or(o.name.as_ref())
            {
                out.push(record_fkey(table, name, std::slice::from_ref(&c.name)));
            }
        }
    }
    for c in &ct.constraints {
        if let ast::TableConstraint::ForeignKey(fk) = c
            && let Some(name) = &fk.name
        {
            out.push(record_fkey(table, name, &fk.columns));
        }
    }
    for (name, def) in checks {
        out.push(Statement::with_params(
            "INSERT OR REPLACE INTO _pg_checks (tbl, name, def) VALUES (?1, ?2, ?3)",
            vec![V::Text(table.to_owned()), V::Text(name), V::Text(def)],
        ));
    }
    out
}

/// Statements recording a view's columns and the types inference gives them, for
/// `pg_attribute` (`\\d view`); a column whose type is not known is `text`.
pub fn record_view(
    cv: &ast::CreateView,
    catalog: &crate::Catalog,
) -> Vec<dotdo_backend::Statement> {
    use dotdo_backend::{Statement, Value as V};
    let view = crate::translate::object_name(&cv.name);
    let inferred = crate::infer::query_columns(&cv.query, catalog);
    let mut out = vec![Statement::with_params(
        "DELETE FROM _pg_view_columns WHERE view = ?1",
        vec![V::Text(view.clone())],
    )];
    for (i, c) in inferred.iter().enumerate() {
        let name = cv
            .columns
            .get(i)
            .map_or_else(|| c.name.clone(), |d| crate::translate::ident_name(&d.name));
        let ty = c.ty.unwrap_or(crate::PgType::Text);
        out.push(Statement::with_params(
            "INSERT OR REPLACE INTO _pg_view_columns (view, col, pos, typ) VALUES (?1, ?2, ?3, ?4)",
            vec![
                V::Text(view.clone()),
                V::Text(name),
                V::Integer(i as i64 + 1),
                V::Text(ty.catalog_key()),
            ],
        ));
    }
    out
}

/// The statement recording foreign key `name` of `table` on `columns`.
pub fn record_fkey(
    table: &str,
    name: &ast::Ident,
    columns: &[ast::Ident],
) -> dotdo_backend::Statement {
    let cols: Vec<String> = columns.iter().map(crate::translate::ident_name).collect();
    dotdo_backend::Statement::with_params(
        "INSERT OR REPLACE INTO _pg_fkeys (tbl, cols, name) VALUES (?1, ?2, ?3)",
        vec![
            dotdo_backend::Value::Text(table.to_owned()),
            dotdo_backend::Value::Text(cols.join(",")),
            dotdo_backend::Value::Text(crate::translate::ident_name(name)),
        ],
    )
}

/// The first column an expression names: PostgreSQL names a table CHECK after it.
pub(crate) fn first_column(e: &Expr) -> Option<String> {
    let mut found = None;
    let _ = ast::visit_expressions(e, |x| {
        match x {
            Expr::Identifier(i) => found = Some(crate::translate::ident_name(i)),
            Expr::CompoundIdentifier(parts) => {
                found = parts.last().map(crate::translate::ident_name);
            }
            _ => return ControlFlow::Continue(()),
        }
        ControlFlow::Break(())
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn query(sql: &str) -> Query {
        match Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0)
        {
            ast::Statement::Query(q) => *q,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn knows_which_queries_are_empty() {
        assert!(query_is_empty(&query(
            "SELECT t.tgname FROM pg_catalog.pg_trigger t WHERE t.tgrelid = 1"
        )));
        assert!(query_is_empty(&query(
            "SELECT c.oid FROM pg_class c, pg_inherits i WHERE c.oid = i.inhparent"
        )));
        assert!(query_is_empty(&query(
            "SELECT 1 FROM pg_publication p UNION SELECT 2 FROM pg_publication_rel r"
        )));
        assert!(!query_is_empty(&query(
            "SELECT 1 FROM pg_publication p UNION SELECT 2 FROM pg_class"
        )));
        assert!(!query_is_empty(&query(
            "SELECT c.relname FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
        )));
        assert!(!query_is_empty(&query("SELECT count(*) FROM pg_proc")));
        assert!(query_is_empty(&query(
            "SELECT (SELECT string_agg(a, ',') FROM pg_class) FROM pg_publication"
        )));
    }

    #[test]
    fn rewrites_subqueries_and_regclass() {
        let mut q = query(
            "SELECT ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON m.roleid = b.oid) AS memberof, \
             (SELECT c.collname FROM pg_collation c) AS coll, conrelid::pg_catalog.regclass \
             FROM pg_constraint WHERE confrelid IN (VALUES ('16386'::pg_catalog.regclass)) AND x = 'users'::regclass",
        );
        rewrite(&mut q);
        let text = q.to_string();
        assert!(text.contains("'{}' AS memberof"), "{text}");
        assert!(text.contains("NULL AS coll"), "{text}");
        assert!(
            text.contains(
                "(SELECT _val FROM _pg_lookup_relname WHERE _key = conrelid) AS conrelid"
            ),
            "{text}"
        );
        assert!(text.contains("VALUES (16386)"), "{text}");
        assert!(
            text.contains("x = (SELECT _val FROM _pg_lookup_reloid WHERE _key = 'users')"),
            "{text}"
        );
    }
}
