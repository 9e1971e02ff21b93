//! Sequences: `CREATE/DROP SEQUENCE` and the calls `nextval`, `currval`, `setval`, `lastval`.
//!
//! A sequence is a row of `_pg_sequences` in the database's object, with an empty view
//! `_pg_seq_<name>` that reserves its name (so SQLite reports duplicates and missing
//! sequences on DDL). Calls in
//! a statement are translated to markers (`dotdo_nextval('s')`) that the session resolves
//! before running the statement: it advances the sequence in a statement of its own (so the
//! value is taken even if the statement fails, as in PostgreSQL), keeps `currval` per
//! session, and puts the value in the statement as a literal.

use dotdo_backend::{Statement, Value as SqlValue};
use sqlparser::ast::{Expr, SequenceOptions, UnaryOperator, Value};

use crate::error::{SqlError, code};

/// A sequence call found in translated SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeqCall {
    Next(String),
    Curr(String),
    Set(String, i64, bool),
    Last,
}

fn reserved_name(seq: &str) -> String {
    crate::translate::quote_ident(&format!("_pg_seq_{seq}"))
}

fn int_of(e: &Expr) -> Result<i64, SqlError> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => int_of(expr).ok().and_then(i64::checked_neg),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => int_of(expr).ok(),
        Expr::Nested(e) => int_of(e).ok(),
        _ => None,
    }
    .ok_or_else(|| {
        SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("invalid sequence value: {e}"),
        )
    })
}

/// `CREATE SEQUENCE`: the row and the view that reserves its name.
pub fn create(
    name: &str,
    if_not_exists: bool,
    options: &[SequenceOptions],
) -> Result<Vec<Statement>, SqlError> {
    let mut increment = 1i64;
    let mut min = None;
    let mut max = None;
    let mut start = None;
    let mut cycle = false;
    for o in options {
        match o {
            SequenceOptions::IncrementBy(e, _) => increment = int_of(e)?,
            SequenceOptions::MinValue(e) => min = e.as_ref().map(int_of).transpose()?,
            SequenceOptions::MaxValue(e) => max = e.as_ref().map(int_of).transpose()?,
            SequenceOptions::StartWith(e, _) => start = Some(int_of(e)?),
            SequenceOptions::Cycle(no) => cycle = !no,
            SequenceOptions::Cache(_)
            | SequenceOptions::DataType(_)
            | SequenceOptions::OwnedBy(_) => {}
        }
    }
    if increment == 0 {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            "INCREMENT must not be zero",
        ));
    }
    let min = min.unwrap_or(if increment > 0 { 1 } else { i64::MIN });
    let max = max.unwrap_or(if increment > 0 { i64::MAX } else { -1 });
    if min >= max {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("MINVALUE ({min}) must be less than MAXVALUE ({max})"),
        ));
    }
    let start = start.unwrap_or(if increment > 0 { min } else { max });
    if start < min {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("START value ({start}) cannot be less than MINVALUE ({min})"),
        ));
    }
    if start > max {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("START value ({start}) cannot be greater than MAXVALUE ({max})"),
        ));
    }
    let not_exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
    Ok(vec![
        // The view holds the name, so that SQLite refuses a second sequence of that name.
        Statement::new(format!(
            "CREATE VIEW {not_exists}{} AS SELECT 1",
            reserved_name(name)
        )),
        Statement::with_params(
            "INSERT OR IGNORE INTO _pg_sequences \
             (name, increment, min_value, max_value, start_value, cycle, last_value, is_called) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, 0)",
            vec![
                SqlValue::Text(name.to_owned()),
                SqlValue::Integer(increment),
                SqlValue::Integer(min),
                SqlValue::Integer(max),
                SqlValue::Integer(start),
                SqlValue::Integer(cycle as i64),
            ],
        ),
    ])
}

/// `DROP SEQUENCE`: the row and the view that reserves its name.
pub fn drop(name: &str, if_exists: bool) -> Vec<Statement> {
    vec![
        Statement::new(format!(
            "DROP VIEW {}{}",
            if if_exists { "IF EXISTS " } else { "" },
            reserved_name(name)
        )),
        Statement::with_params(
            "DELETE FROM _pg_sequences WHERE name = ?1",
            vec![SqlValue::Text(name.to_owned())],
        ),
    ]
}

/// The sequence a call names: `'s'` or `'s'::regclass`, as PostgreSQL reads it (folded to
/// lower case unless double-quoted).
pub fn name_arg(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => {
                let s = s.trim();
                // A stored name, quoted whole by `namespace::resolve`: `"s.seq"`.
                if let Some(q) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                    && !q.contains('"')
                {
                    return Some(q.to_owned());
                }
                let s = s.rsplit('.').next().unwrap_or(s);
                Some(
                    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                        Some(q) => q.to_owned(),
                        None => s.to_ascii_lowercase(),
                    },
                )
            }
            _ => None,
        },
        Expr::Cast { expr, .. } | Expr::Nested(expr) => name_arg(expr),
        _ => None,
    }
}

fn bool_arg(e: &Expr) -> Option<bool> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Boolean(b) => Some(*b),
            Value::SingleQuotedString(s) => match s.to_ascii_lowercase().as_str() {
                "t" | "true" | "on" | "1" | "yes" => Some(true),
                "f" | "false" | "off" | "0" | "no" => Some(false),
                _ => None,
            },
            _ => None,
        },
        Expr::Nested(e) => bool_arg(e),
        _ => None,
    }
}

/// The marker for a call of `function` with `args`, or `None` when it is no sequence call.
pub fn marker(function: &str, args: &[Expr]) -> Option<Result<String, SqlError>> {
    let unsupported = || {
        Err(SqlError::unsupported(format!(
            "{function}() takes a constant sequence name (and constant values)"
        )))
    };
    let name = || {
        args.first()
            .and_then(name_arg)
            .filter(|n| !n.contains('\'') && !n.contains(')'))
    };
    Some(match function {
        "nextval" | "currval" => match name() {
            Some(n) if args.len() == 1 => Ok(format!("dotdo_{function}('{n}')")),
            _ => unsupported(),
        },
        "lastval" if args.is_empty() => Ok("dotdo_lastval()".to_owned()),
        "setval" => {
            let value = args.get(1).map(int_of);
            let called = match args.get(2) {
                None => Some(true),
                Some(e) => bool_arg(e),
            };
            match (name(), value, called) {
                (Some(n), Some(Ok(v)), Some(c)) if args.len() <= 3 => {
                    Ok(format!("dotdo_setval('{n}', {v}, {})", c as i64))
                }
                _ => unsupported(),
            }
        }
        _ => return None,
    })
}

/// The first sequence call marker in `sql`: its byte range and the call.
pub fn find_call(sql: &str) -> Option<(std::ops::Range<usize>, SeqCall)> {
    let start = sql.find("dotdo_")?;
    let rest = &sql[start..];
    let close = rest.find(')')?;
    let text = &rest[..=close];
    let range = start..start + close + 1;
    let quoted = |s: &str| -> Option<String> {
        let s = s.trim().strip_prefix('\'')?.strip_suffix('\'')?;
        Some(s.to_owned())
    };
    let inner = |prefix: &str| text.strip_prefix(prefix)?.strip_suffix(')');
    if text == "dotdo_lastval()" {
        return Some((range, SeqCall::Last));
    }
    if let Some(a) = inner("dotdo_nextval(") {
        return Some((range, SeqCall::Next(quoted(a)?)));
    }
    if let Some(a) = inner("dotdo_currval(") {
        return Some((range, SeqCall::Curr(quoted(a)?)));
    }
    if let Some(a) = inner("dotdo_setval(") {
        let mut parts = a.split(", ");
        let name = quoted(parts.next()?)?;
        let value = parts.next()?.trim().parse().ok()?;
        let called = parts.next()?.trim() == "1";
        return Some((range, SeqCall::Set(name, value, called)));
    }
    // Some other `dotdo_` text: look past it.
    let (r, call) = find_call(&sql[start + 6..])?;
    Some((r.start + start + 6..r.end + start + 6, call))
}

/// Advances sequence `name`: the first statement returns its new value (no row when it is
/// missing or has reached its end without CYCLE); the second its `increment, min_value,
/// max_value` (no row when it is missing), for the error.
pub fn advance(name: &str) -> Vec<Statement> {
    let name = SqlValue::Text(name.to_owned());
    vec![
        Statement::with_params(
            "UPDATE _pg_sequences SET is_called = 1, last_value = CASE \
             WHEN is_called = 0 THEN last_value \
             WHEN increment > 0 AND last_value > max_value - increment THEN min_value \
             WHEN increment < 0 AND last_value < min_value - increment THEN max_value \
             ELSE last_value + increment END \
             WHERE name = ?1 AND (is_called = 0 OR cycle <> 0 \
               OR (increment > 0 AND last_value <= max_value - increment) \
               OR (increment < 0 AND last_value >= min_value - increment)) \
             RETURNING last_value",
            vec![name.clone()],
        ),
        Statement::with_params(
            "SELECT increment, min_value, max_value FROM _pg_sequences WHERE name = ?1",
            vec![name],
        ),
    ]
}

/// The error of a `nextval` that found sequence `name` at its end.
pub fn exhausted(name: &str, increment: i64, min: i64, max: i64) -> SqlError {
    let end = if increment > 0 {
        format!("maximum value of sequence \"{name}\" ({max})")
    } else {
        format!("minimum value of sequence \"{name}\" ({min})")
    };
    SqlError::new(
        code::SEQUENCE_GENERATOR_LIMIT_EXCEEDED,
        format!("nextval: reached {end}"),
    )
}

/// Sets sequence `name` when `value` is within its bounds; returns `last_value, min_value,
/// max_value` after (a row with the old value when out of bounds, none if it is missing).
pub fn set(name: &str, value: i64, called: bool) -> Vec<Statement> {
    vec![
        Statement::with_params(
            "UPDATE _pg_sequences SET last_value = ?2, is_called = ?3 \
             WHERE name = ?1 AND ?2 BETWEEN min_value AND max_value",
            vec![
                SqlValue::Text(name.to_owned()),
                SqlValue::Integer(value),
                SqlValue::Integer(called as i64),
            ],
        ),
        Statement::with_params(
            "SELECT last_value, min_value, max_value FROM _pg_sequences WHERE name = ?1",
            vec![SqlValue::Text(name.to_owned())],
        ),
    ]
}

/// One row if sequence `name` exists.
pub fn exists(name: &str) -> Statement {
    Statement::with_params(
        "SELECT 1 FROM _pg_sequences WHERE name = ?1",
        vec![SqlValue::Text(name.to_owned())],
    )
}

pub fn missing(name: &str) -> SqlError {
    SqlError::new(
        code::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

/// Is the SQL a sequence call marker holder (so the session must resolve it)?
pub fn has_calls(sql: &str) -> bool {
    find_call(sql).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markers_in_order() {
        let sql = "SELECT dotdo_currval('a'), dotdo_nextval('b')";
        let (r, c) = find_call(sql).unwrap();
        assert_eq!(c, SeqCall::Curr("a".into()));
        assert_eq!(&sql[r], "dotdo_currval('a')");
        let sql = "SELECT dotdo_setval('s', -5, 0)";
        assert_eq!(
            find_call(sql).unwrap().1,
            SeqCall::Set("s".into(), -5, false)
        );
        assert_eq!(
            find_call("SELECT dotdo_lastval()").unwrap().1,
            SeqCall::Last
        );
        assert_eq!(find_call("SELECT 1"), None);
    }

    #[test]
    fn parses_and_checks_alter_sequence() {
        let a = parse_alter("ALTER SEQUENCE IF EXISTS public.\"S\" INCREMENT BY 2 NO MAXVALUE RESTART CYCLE OWNED BY NONE").unwrap();
        // The schema stays for `namespace::resolve_utility`.
        assert_eq!(a.name, "public.S");
        assert!(a.if_exists);
        assert_eq!(a.increment, Some(2));
        assert_eq!(a.max, Some(None));
        assert_eq!(a.restart, Some(None));
        assert_eq!(a.cycle, Some(true));
        assert!(parse_alter("ALTER SEQUENCE s FROBNICATE").is_err());
        let a = parse_alter("ALTER SEQUENCE s MINVALUE 10").unwrap();
        let e = alter(&a, [1, 1, 5, 1, 0]).unwrap_err();
        assert_eq!(e.message, "MINVALUE (10) must be less than MAXVALUE (5)");
        let a = parse_alter("ALTER SEQUENCE s RESTART WITH 50").unwrap();
        assert!(alter(&a, [1, 1, 10, 1, 0]).is_err());
        assert_eq!(alter(&a, [1, 1, 100, 1, 0]).unwrap().len(), 1);
    }

    #[test]
    fn create_checks_bounds() {
        assert!(create("s", false, &[]).is_ok());
        let e = create(
            "s",
            false,
            &[SequenceOptions::StartWith(
                Expr::Value(Value::Number("0".into(), false).into()),
                true,
            )],
        )
        .unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMETER_VALUE);
    }
}

/// `ALTER SEQUENCE`: the options given; `None` leaves one as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alter {
    pub name: String,
    pub if_exists: bool,
    pub rename: Option<String>,
    pub increment: Option<i64>,
    /// `Some(None)`: NO MINVALUE (the default for the direction).
    pub min: Option<Option<i64>>,
    pub max: Option<Option<i64>>,
    pub start: Option<i64>,
    /// `Some(None)`: RESTART at the start value.
    pub restart: Option<Option<i64>>,
    pub cycle: Option<bool>,
}

fn unquote_name(word: &str) -> String {
    match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(q) => q.replace("\"\"", "\""),
        None => word.to_ascii_lowercase(),
    }
}

/// Parse `ALTER SEQUENCE …` (sqlparser does not know it).
pub fn parse_alter(sql: &str) -> Result<Alter, SqlError> {
    let words: Vec<&str> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let syntax = |near: &str| SqlError::syntax(format!("syntax error at or near \"{near}\""));
    let mut i = 2;
    let mut a = Alter::default();
    if upper.get(i).map(String::as_str) == Some("IF")
        && upper.get(i + 1).map(String::as_str) == Some("EXISTS")
    {
        a.if_exists = true;
        i += 2;
    }
    let name = words.get(i).ok_or_else(|| syntax("end of input"))?;
    // Qualified as written (`s.seq`): `namespace::resolve_utility` makes it a stored name.
    a.name = name
        .split('.')
        .map(unquote_name)
        .collect::<Vec<_>>()
        .join(".");
    i += 1;
    let num = |i: usize| -> Result<i64, SqlError> {
        let w = words.get(i).ok_or_else(|| syntax("end of input"))?;
        w.parse().map_err(|_| syntax(w))
    };
    let word = |i: usize| upper.get(i).map(String::as_str).unwrap_or("");
    while i < words.len() {
        match word(i) {
            "RENAME" if word(i + 1) == "TO" => {
                let new = words.get(i + 2).ok_or_else(|| syntax("end of input"))?;
                a.rename = Some(unquote_name(new));
                i += 3;
            }
            "AS" => i += 2,
            "INCREMENT" => {
                i += if word(i + 1) == "BY" { 2 } else { 1 };
                a.increment = Some(num(i)?);
                i += 1;
            }
            "MINVALUE" => {
                a.min = Some(Some(num(i + 1)?));
                i += 2;
            }
            "MAXVALUE" => {
                a.max = Some(Some(num(i + 1)?));
                i += 2;
            }
            "NO" => {
                match word(i + 1) {
                    "MINVALUE" => a.min = Some(None),
                    "MAXVALUE" => a.max = Some(None),
                    "CYCLE" => a.cycle = Some(false),
                    other => return Err(syntax(other)),
                }
                i += 2;
            }
            "CYCLE" => {
                a.cycle = Some(true);
                i += 1;
            }
            "START" => {
                i += if word(i + 1) == "WITH" { 2 } else { 1 };
                a.start = Some(num(i)?);
                i += 1;
            }
            "RESTART" => {
                i += 1;
                if word(i) == "WITH" {
                    i += 1;
                }
                match words.get(i).and_then(|w| w.parse::<i64>().ok()) {
                    Some(n) => {
                        a.restart = Some(Some(n));
                        i += 1;
                    }
                    None => a.restart = Some(None),
                }
            }
            "CACHE" => i += 2,
            // Sequences are not tied to columns here: ownership changes nothing.
            "OWNED" if word(i + 1) == "BY" => i += 3,
            other => return Err(syntax(other)),
        }
    }
    Ok(a)
}

/// The row `ALTER SEQUENCE` reads: `increment, min_value, max_value, start_value, cycle`.
pub fn read(name: &str) -> Statement {
    Statement::with_params(
        "SELECT increment, min_value, max_value, start_value, cycle FROM _pg_sequences WHERE name = ?1",
        vec![SqlValue::Text(name.to_owned())],
    )
}

/// The statements of `ALTER SEQUENCE` given the sequence's current `increment, min_value,
/// max_value, start_value, cycle`, checked as PostgreSQL checks them.
pub fn alter(a: &Alter, current: [i64; 5]) -> Result<Vec<Statement>, SqlError> {
    let [inc0, min0, max0, start0, cycle0] = current;
    let increment = a.increment.unwrap_or(inc0);
    if increment == 0 {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            "INCREMENT must not be zero",
        ));
    }
    let min = match a.min {
        Some(Some(v)) => v,
        Some(None) => {
            if increment > 0 {
                1
            } else {
                i64::MIN
            }
        }
        None => min0,
    };
    let max = match a.max {
        Some(Some(v)) => v,
        Some(None) => {
            if increment > 0 {
                i64::MAX
            } else {
                -1
            }
        }
        None => max0,
    };
    if min >= max {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("MINVALUE ({min}) must be less than MAXVALUE ({max})"),
        ));
    }
    let start = a.start.unwrap_or(start0);
    let bound = |what: &str, v: i64| -> Result<(), SqlError> {
        if v < min {
            return Err(SqlError::new(
                code::INVALID_PARAMETER_VALUE,
                format!("{what} value ({v}) cannot be less than MINVALUE ({min})"),
            ));
        }
        if v > max {
            return Err(SqlError::new(
                code::INVALID_PARAMETER_VALUE,
                format!("{what} value ({v}) cannot be greater than MAXVALUE ({max})"),
            ));
        }
        Ok(())
    };
    bound("START", start)?;
    let restart = a.restart.map(|r| r.unwrap_or(start));
    if let Some(r) = restart {
        bound("RESTART", r)?;
    }
    let cycle = a.cycle.map_or(cycle0, i64::from);
    let name = SqlValue::Text(a.name.clone());
    let mut out = vec![Statement::with_params(
        "UPDATE _pg_sequences SET increment = ?2, min_value = ?3, max_value = ?4, start_value = ?5, cycle = ?6, \
         last_value = coalesce(?7, last_value), is_called = CASE WHEN ?7 IS NULL THEN is_called ELSE 0 END \
         WHERE name = ?1",
        vec![
            name.clone(),
            SqlValue::Integer(increment),
            SqlValue::Integer(min),
            SqlValue::Integer(max),
            SqlValue::Integer(start),
            SqlValue::Integer(cycle),
            restart.map_or(SqlValue::Null, SqlValue::Integer),
        ],
    )];
    if let Some(new) = &a.rename {
        out.push(Statement::new(format!(
            "DROP VIEW {}",
            reserved_name(&a.name)
        )));
        out.push(Statement::new(format!(
            "CREATE VIEW {} AS SELECT 1",
            reserved_name(new)
        )));
        out.push(Statement::with_params(
            "UPDATE _pg_sequences SET name = ?2 WHERE name = ?1",
            vec![name, SqlValue::Text(new.clone())],
        ));
    }
    Ok(out)
}
