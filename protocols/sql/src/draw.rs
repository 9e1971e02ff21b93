//! `nextval('s')` once per row: in a SELECT with a FROM clause, an `INSERT … SELECT` and an
//! UPDATE, as PostgreSQL evaluates it.
//!
//! A call written once in such a statement cannot be resolved by the session to one literal
//! (every row would get it). Instead its marker becomes an expression over the sequence's
//! row and the row's number, and a reservation after the statement, in the same batch,
//! moves the sequence past every value handed out, as `serial` defaults do
//! ([`crate::serial`]). The row count comes from `changes()` for an INSERT or UPDATE, and
//! from counting the same SELECT for a query. A call in VALUES or in a SELECT without FROM
//! (one row) keeps the session's marker.

use dotdo_backend::Statement;
use sqlparser::ast::{self, Expr};

use crate::error::SqlError;
use crate::sequence::{SeqCall, find_call};

/// How a statement's rows are counted for its reservation.
pub enum Rows<'a> {
    /// An INSERT or UPDATE: the rows it changed (`changes()`).
    Changed,
    /// A query: the rows of the same query counted again (run with its parameters).
    Counted(&'a str),
}

/// The `nextval` markers of `sql`, each with its sequence, in text order.
fn next_calls(sql: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((r, call)) = find_call(&sql[at..]) {
        let range = at + r.start..at + r.end;
        at = range.end;
        if let SeqCall::Next(name) = call {
            out.push((range, name));
        }
    }
    out
}

pub fn has_next_calls(sql: &str) -> bool {
    sql.contains("dotdo_nextval(") && !next_calls(sql).is_empty()
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `sql` with its `nextval` markers numbered by `row` (an SQL expression, 1 for the first
/// row), and the reservation to run after it; `None` when it calls no `nextval`.
pub fn per_row(sql: &str, row: &str, rows: Rows<'_>) -> Option<(String, Statement)> {
    let calls = next_calls(sql);
    if calls.is_empty() {
        return None;
    }
    // Calls per row of each sequence, in order of first appearance.
    let mut per_seq: Vec<(String, usize)> = Vec::new();
    for (_, name) in &calls {
        match per_seq.iter_mut().find(|(n, _)| n == name) {
            Some((_, m)) => *m += 1,
            None => per_seq.push((name.clone(), 1)),
        }
    }
    let mut out = String::with_capacity(sql.len() + calls.len() * 120);
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut last = 0;
    for (range, name) in &calls {
        let m = per_seq
            .iter()
            .find(|(n, _)| n == name)
            .map_or(1, |(_, m)| *m);
        let j = match seen.iter_mut().find(|(n, _)| n == name) {
            Some((_, j)) => {
                *j += 1;
                *j - 1
            }
            None => {
                seen.push((name.clone(), 1));
                0
            }
        };
        out.push_str(&sql[last..range.start]);
        // The row number stays outside the subqueries: a window function inside one would
        // number the subquery's single row.
        let q = quote_str(name);
        out.push_str(&format!(
            "((SELECT last_value + is_called * increment FROM _pg_sequences WHERE name = {q}) \
             + (({row} - 1) * {m} + {j}) * (SELECT increment FROM _pg_sequences WHERE name = {q}))"
        ));
        last = range.end;
    }
    out.push_str(&sql[last..]);
    let (count, prefix) = match rows {
        Rows::Changed => ("changes()".to_owned(), ""),
        Rows::Counted(q) => {
            // The counted copy must not draw: its markers give NULL.
            let mut plain = String::new();
            let mut last = 0;
            for (range, _) in &calls {
                plain.push_str(&q[last..range.start]);
                plain.push_str("NULL");
                last = range.end;
            }
            plain.push_str(&q[last..]);
            (format!("(SELECT count(*) FROM ({plain}))"), "_p")
        }
    };
    let cases: String = per_seq
        .iter()
        .map(|(name, m)| {
            let new = format!("last_value + (is_called + {count} * {m} - 1) * increment");
            format!(
                " WHEN {} THEN CASE WHEN {new} BETWEEN min_value AND max_value THEN {new} ELSE abs(-9223372036854775807 - 1) END",
                quote_str(name)
            )
        })
        .collect();
    let names: Vec<String> = per_seq.iter().map(|(n, _)| quote_str(n)).collect();
    let reserve = Statement::new(format!(
        "{}{prefix} SET last_value = CASE name{cases} END, is_called = 1 \
         WHERE name IN ({}) AND {count} > 0 RETURNING name, last_value",
        crate::serial::RESERVE_PREFIX,
        names.join(", ")
    ));
    Some((out, reserve))
}

fn calls_nextval(e: &Expr) -> bool {
    let mut found = false;
    let _ = ast::visit_expressions(e, |x| {
        if let Expr::Function(f) = x
            && f.name.to_string().to_ascii_lowercase().ends_with("nextval")
        {
            found = true;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

fn count_nextval<V: ast::Visit>(node: &V) -> usize {
    let mut n = 0;
    let _ = ast::visit_expressions(node, |x| {
        if let Expr::Function(f) = x
            && f.name.to_string().to_ascii_lowercase().ends_with("nextval")
        {
            n += 1;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    n
}

/// Checks that a query with a FROM clause calls `nextval` only in its own select list (so
/// that its rows are the rows that draw): elsewhere (a subquery, WHERE, a set operation)
/// one value per row is not supported.
pub fn check_query(q: &ast::Query) -> Result<(), SqlError> {
    let total = count_nextval(q);
    if total == 0 {
        return Ok(());
    }
    let top = match q.body.as_ref() {
        ast::SetExpr::Select(s) if s.from.is_empty() => return Ok(()),
        // VALUES rows are one row each: the session's markers serve them.
        ast::SetExpr::Values(_) => return Ok(()),
        ast::SetExpr::Select(s) if s.distinct.is_none() => {
            s.projection.iter().map(count_nextval).sum()
        }
        _ => 0,
    };
    if top == total {
        Ok(())
    } else {
        Err(SqlError::unsupported(
            "nextval() with a constant name is evaluated once per row only in the select list of a query with FROM",
        ))
    }
}

/// An UPDATE whose SET calls `nextval` numbers the rows it updates: it joins a numbering of
/// the rows its WHERE selects (`_dotdo_n`). Returns whether it did.
pub fn number_update(up: &mut ast::Update) -> Result<bool, SqlError> {
    if !up.assignments.iter().any(|a| calls_nextval(&a.value)) {
        return Ok(false);
    }
    if up.from.is_some() || !up.table.joins.is_empty() {
        return Err(SqlError::unsupported(
            "nextval() in an UPDATE with FROM: one value per row is not supported there",
        ));
    }
    let ast::TableFactor::Table { name, alias, .. } = &up.table.relation else {
        return Err(SqlError::unsupported("nextval() in this UPDATE"));
    };
    let target = match alias {
        Some(a) => a.name.to_string(),
        None => name.to_string(),
    };
    let relation = up.table.relation.to_string();
    let filter = up
        .selection
        .as_ref()
        .map(|s| format!(" WHERE {s}"))
        .unwrap_or_default();
    let sql = format!(
        "UPDATE x SET a = 1 FROM (SELECT {target}.rowid AS _dotdo_r, row_number() OVER () AS _dotdo_n \
         FROM {relation}{filter}) AS _dotdo_n WHERE {}{target}.rowid = _dotdo_n._dotdo_r",
        up.selection
            .as_ref()
            .map(|s| format!("({s}) AND "))
            .unwrap_or_default()
    );
    let parsed =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql)
            .map_err(|e| SqlError::syntax(e.to_string()))?;
    let Some(ast::Statement::Update(p)) = parsed.into_iter().next() else {
        return Err(SqlError::unsupported("nextval() in this UPDATE"));
    };
    up.from = p.from;
    up.selection = p.selection;
    Ok(true)
}

/// The row number of a numbered UPDATE's row.
pub const UPDATE_ROW: &str = "_dotdo_n._dotdo_n";
/// The row number of a query's row.
pub const QUERY_ROW: &str = "row_number() OVER ()";
