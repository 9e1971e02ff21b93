//! What a batch may contain: exactly what a SQLite-backed Cloudflare Durable Object accepts.

use crate::{Error, Statement};

/// Most parameters one statement may bind: a Durable Object's SQL API refuses more.
pub const MAX_PARAMS: usize = 100;
/// Longest SQL text of one statement, in bytes: a Durable Object's limit.
pub const MAX_SQL_BYTES: usize = 100_000;

/// Refuse a statement beyond a Durable Object's size limits, so that a front-end that keeps
/// within them on the embedded backend keeps within them everywhere.
pub fn check_limits(index: usize, stmt: &Statement) -> Result<(), Error> {
    if stmt.params.len() > MAX_PARAMS {
        return Err(Error::Forbidden {
            index,
            reason: format!(
                "a statement binds at most {MAX_PARAMS} parameters (this one binds {})",
                stmt.params.len()
            ),
        });
    }
    if stmt.sql.len() > MAX_SQL_BYTES {
        return Err(Error::Forbidden {
            index,
            reason: format!("a statement's SQL is at most {MAX_SQL_BYTES} bytes"),
        });
    }
    Ok(())
}

/// Refuse statements a Durable Object refuses: transaction control, ATTACH/DETACH, VACUUM,
/// and the pragmas that change journaling or durability. `index` is the statement's place
/// in its batch, for the error.
pub fn check_statement(index: usize, sql: &str) -> Result<(), Error> {
    let mut words = keywords(sql);
    let first = words.next().unwrap_or_default();
    let refuse = |reason: &str| {
        Err(Error::Forbidden {
            index,
            reason: reason.to_owned(),
        })
    };
    match first.as_str() {
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => refuse(
            "transaction control is done by the batch itself; use an interactive Transaction",
        ),
        "ATTACH" | "DETACH" => refuse("ATTACH and DETACH are not available"),
        "VACUUM" => refuse("VACUUM is not available"),
        "PRAGMA" => {
            let name = words.next().unwrap_or_default();
            let name = name.rsplit('.').next().unwrap_or_default();
            match name {
                "JOURNAL_MODE" | "SYNCHRONOUS" | "LOCKING_MODE" | "WRITABLE_SCHEMA"
                | "WAL_CHECKPOINT" | "WAL_AUTOCHECKPOINT" | "JOURNAL_SIZE_LIMIT" | "TEMP_STORE"
                | "MMAP_SIZE" => refuse("this PRAGMA is managed by the storage layer"),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// True for statements that insert rows (INSERT, REPLACE, and upserts), judged by their
/// first keyword, or by the first one after a leading `WITH` clause's name.
pub(crate) fn inserts(sql: &str) -> bool {
    let mut words = keywords(sql);
    match words.next().as_deref() {
        Some("INSERT" | "REPLACE") => true,
        Some("WITH") => sql.to_ascii_uppercase().contains("INSERT"),
        _ => false,
    }
}

/// Upper-cased leading words of `sql`, skipping white space and `--`/`/* */` comments.
fn keywords(sql: &str) -> impl Iterator<Item = String> + '_ {
    let mut rest = sql;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix("--") {
                rest = r.find('\n').map_or("", |i| &r[i..]);
            } else if let Some(r) = rest.strip_prefix("/*") {
                rest = r.find("*/").map_or("", |i| &r[i + 2..]);
            } else {
                break;
            }
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        let word = rest[..end].to_ascii_uppercase();
        rest = &rest[end..];
        Some(word)
    })
}

#[cfg(test)]
mod tests {
    use super::check_statement;

    #[test]
    fn refuses_transaction_control_and_attach() {
        for sql in [
            "BEGIN",
            "  begin immediate",
            "COMMIT",
            "end transaction",
            "rollback to x",
            "SAVEPOINT a",
            "release a",
            "ATTACH 'x.db' AS x",
            "detach x",
            "VACUUM INTO '/tmp/x'",
            "PRAGMA journal_mode=DELETE",
            "pragma main.synchronous = off",
            "-- comment\nBEGIN",
            "/* c */ commit",
        ] {
            assert!(check_statement(0, sql).is_err(), "{sql} should be refused");
        }
    }

    #[test]
    fn refuses_statements_beyond_durable_object_limits() {
        use super::{MAX_PARAMS, MAX_SQL_BYTES, check_limits};
        use crate::{Statement, Value};
        let ok = Statement::with_params("SELECT 1", vec![Value::Null; MAX_PARAMS]);
        assert!(check_limits(0, &ok).is_ok());
        let many = Statement::with_params("SELECT 1", vec![Value::Null; MAX_PARAMS + 1]);
        assert!(check_limits(0, &many).is_err());
        let long = Statement::new(format!("SELECT '{}'", "x".repeat(MAX_SQL_BYTES)));
        assert!(check_limits(0, &long).is_err());
    }

    #[test]
    fn accepts_ordinary_statements() {
        for sql in [
            "SELECT 1",
            "insert into t values (1)",
            "CREATE TABLE begin_x (a)",
            "PRAGMA table_info(t)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "",
        ] {
            assert!(check_statement(0, sql).is_ok(), "{sql} should be accepted");
        }
    }
}
