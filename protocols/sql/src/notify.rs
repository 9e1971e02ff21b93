//! Statements the session answers without the database: LISTEN/UNLISTEN/NOTIFY and the
//! calls `SELECT pg_notify(channel, payload)` and `SELECT pg_sleep(seconds)`.

use sqlparser::ast::{self, Expr, FunctionArguments, SelectItem, SetExpr, Statement, Value};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::error::{SqlError, code};
use crate::translate::{Plan, ident_name};
use crate::types::PgType;

/// PostgreSQL's `NOTIFY_PAYLOAD_MAX_LENGTH` (`BLCKSZ - NAMEDATALEN - 128`): a payload must
/// be shorter than this many bytes.
pub const PAYLOAD_MAX: usize = 8000;
/// PostgreSQL's `NAMEDATALEN`: a channel name must be shorter than this many bytes.
pub const CHANNEL_MAX: usize = 64;

/// An argument of a session call: a constant, or a parameter bound at execution.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A constant; `None` is NULL.
    Const(Option<String>),
    /// `$n`, 0-based.
    Param(usize),
    /// Any other expression, evaluated by the database as `SELECT <expr>`.
    Expr(String),
}

/// A session call and the column name its one result row carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Notify { channel: Arg, payload: Arg },
    Sleep(Arg),
}

/// LISTEN, UNLISTEN or NOTIFY, parsed.
pub fn statement(sql: &str) -> Result<Plan, SqlError> {
    let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| SqlError::syntax(format!("syntax error: {e}")))?;
    if parsed.len() != 1 {
        return Err(SqlError::syntax("expected exactly one statement"));
    }
    Ok(match parsed.remove(0) {
        Statement::LISTEN { channel } => Plan::Listen(channel_name(&channel)?),
        Statement::UNLISTEN { channel }
            if channel.value == "*" && channel.quote_style.is_none() =>
        {
            Plan::Unlisten(None)
        }
        Statement::UNLISTEN { channel } => Plan::Unlisten(Some(channel_name(&channel)?)),
        Statement::NOTIFY { channel, payload } => {
            let channel = channel_name(&channel)?;
            Plan::Notify {
                channel: Arg::Const(Some(channel)),
                payload: Arg::Const(payload),
                column: None,
            }
        }
        _ => return Err(SqlError::syntax("syntax error")),
    })
}

/// A channel given as an identifier: cut to 63 bytes, as PostgreSQL cuts identifiers.
fn channel_name(ident: &ast::Ident) -> Result<String, SqlError> {
    let mut name = ident_name(ident);
    if name.len() >= CHANNEL_MAX {
        let mut end = CHANNEL_MAX - 1;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    check_channel(&name)?;
    Ok(name)
}

/// PostgreSQL's checks on a channel name (async.c `Async_Notify`).
pub fn check_channel(name: &str) -> Result<(), SqlError> {
    check_nul(name)?;
    if name.is_empty() {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            "channel name cannot be empty",
        ));
    }
    if name.len() >= CHANNEL_MAX {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            "channel name too long",
        ));
    }
    Ok(())
}

/// A text value never holds NUL in PostgreSQL, and NotificationResponse could not carry it.
fn check_nul(text: &str) -> Result<(), SqlError> {
    if text.contains('\0') {
        return Err(SqlError::new(
            "22021",
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        ));
    }
    Ok(())
}

/// PostgreSQL's check on a payload.
pub fn check_payload(payload: &str) -> Result<(), SqlError> {
    check_nul(payload)?;
    if payload.len() >= PAYLOAD_MAX {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            "payload string too long",
        ));
    }
    Ok(())
}

/// Whether `sql` (a SELECT) may be a session call: a cheap test before parsing.
pub fn may_be_call(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    bytes
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"pg_notify") || w[..8].eq_ignore_ascii_case(b"pg_sleep"))
}

/// `SELECT pg_notify(a, b)` or `SELECT pg_sleep(s)` with nothing else (no FROM, one
/// column): the plan. `None` when the SELECT is anything else.
pub fn call(sql: &str) -> Result<Option<Plan>, SqlError> {
    let Ok(mut parsed) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Ok(None);
    };
    if parsed.len() != 1 {
        return Ok(None);
    }
    let Statement::Query(query) = parsed.remove(0) else {
        return Ok(None);
    };
    let SetExpr::Select(select) = *query.body else {
        return Ok(None);
    };
    if !select.from.is_empty() || select.projection.len() != 1 || select.selection.is_some() {
        return Ok(None);
    }
    let (expr, alias) = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) => (e, None),
        SelectItem::ExprWithAlias { expr, alias } => (expr, Some(ident_name(alias))),
        _ => return Ok(None),
    };
    let Expr::Function(f) = expr else {
        return Ok(None);
    };
    let name = f.name.to_string().to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let FunctionArguments::List(list) = &f.args else {
        return Ok(None);
    };
    let mut args = Vec::new();
    for a in &list.args {
        let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a else {
            return Ok(None);
        };
        args.push(argument(e).unwrap_or_else(|| Arg::Expr(e.to_string())));
    }
    let column = alias.unwrap_or_else(|| name.to_owned());
    Ok(match (name, args.len()) {
        ("pg_notify", 2) => {
            let payload = args.pop().unwrap_or(Arg::Const(None));
            let channel = args.pop().unwrap_or(Arg::Const(None));
            Some(Plan::Notify {
                channel,
                payload,
                column: Some(column),
            })
        }
        ("pg_sleep", 1) => Some(Plan::Sleep {
            seconds: args.pop().unwrap_or(Arg::Const(None)),
            column,
        }),
        ("pg_notify" | "pg_sleep", _) => {
            return Err(SqlError::new(
                code::UNDEFINED_FUNCTION,
                format!(
                    "function {name} with {} arguments does not exist",
                    args.len()
                ),
            ));
        }
        _ => None,
    })
}

/// A constant or a parameter, possibly cast (`$1::text`, `'x'::text`, `5.0::float8`).
fn argument(e: &Expr) -> Option<Arg> {
    match e {
        Expr::Cast { expr, .. } | Expr::Nested(expr) => argument(expr),
        Expr::Value(v) => match &v.value {
            Value::Null => Some(Arg::Const(None)),
            Value::Number(n, _) => Some(Arg::Const(Some(n.clone()))),
            Value::SingleQuotedString(s)
            | Value::EscapedStringLiteral(s)
            | Value::DollarQuotedString(ast::DollarQuotedString { value: s, .. }) => {
                Some(Arg::Const(Some(s.clone())))
            }
            Value::Placeholder(p) => p
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n >= 1)
                .map(|n| Arg::Param(n - 1)),
            _ => None,
        },
        Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => match argument(expr)? {
            Arg::Const(Some(n)) => Some(Arg::Const(Some(format!("-{n}")))),
            _ => None,
        },
        _ => None,
    }
}

/// The parameter types of a session call: `text` for pg_notify, `float8` for pg_sleep.
pub fn param_types(plan: &Plan) -> Vec<PgType> {
    let (args, ty): (Vec<&Arg>, PgType) = match plan {
        Plan::Notify {
            channel, payload, ..
        } => (vec![channel, payload], PgType::Text),
        Plan::Sleep { seconds, .. } => (vec![seconds], PgType::Float8),
        _ => return Vec::new(),
    };
    let n = args
        .iter()
        .filter_map(|a| match a {
            Arg::Param(i) => Some(i + 1),
            Arg::Const(_) => None,
            // Parameters inside an expression count as well: their highest number.
            Arg::Expr(e) => highest_param(e),
        })
        .max()
        .unwrap_or(0);
    vec![ty; n]
}

fn highest_param(expr: &str) -> Option<usize> {
    let mut best = None;
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits: String = expr[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse::<usize>() {
                best = best.max(Some(n));
            }
            i += 1 + digits.len();
        } else {
            i += 1;
        }
    }
    best
}

/// The seconds `pg_sleep` was given, as PostgreSQL reads a float8 argument.
pub fn sleep_seconds(text: &str) -> Result<f64, SqlError> {
    text.trim().parse::<f64>().map_err(|_| {
        SqlError::new(
            code::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type double precision: \"{text}\""),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listen_unlisten_notify() {
        assert!(matches!(statement("LISTEN Foo"), Ok(Plan::Listen(c)) if c == "foo"));
        assert!(matches!(statement("UNLISTEN *"), Ok(Plan::Unlisten(None))));
        assert!(matches!(statement("UNLISTEN \"A\""), Ok(Plan::Unlisten(Some(c))) if c == "A"));
        match statement("NOTIFY chan, 'hi ''there'''") {
            Ok(Plan::Notify {
                channel, payload, ..
            }) => {
                assert_eq!(channel, Arg::Const(Some("chan".into())));
                assert_eq!(payload, Arg::Const(Some("hi 'there'".into())));
            }
            other => panic!("{other:?}"),
        }
        let long = format!("LISTEN {}", "x".repeat(64));
        assert!(matches!(statement(&long), Ok(Plan::Listen(c)) if c.len() == 63));
        assert_eq!(
            check_channel(&"x".repeat(64)).err().map(|e| e.code),
            Some("22023")
        );
    }

    #[test]
    fn recognises_calls() {
        assert!(may_be_call("select PG_NOTIFY('a', 'b')"));
        assert!(may_be_call("SELECT pg_sleep(1)"));
        assert!(!may_be_call("SELECT 1"));
        match call("SELECT pg_notify($1, $2)") {
            Ok(Some(Plan::Notify {
                channel,
                payload,
                column,
            })) => {
                assert_eq!(channel, Arg::Param(0));
                assert_eq!(payload, Arg::Param(1));
                assert_eq!(column.as_deref(), Some("pg_notify"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            call("SELECT pg_sleep(0.5::float8) AS z"),
            Ok(Some(Plan::Sleep { column, .. })) if column == "z"
        ));
        assert!(matches!(call("SELECT pg_sleep(1) FROM t"), Ok(None)));
        assert!(call("SELECT pg_notify('a')").is_err());
    }
}
