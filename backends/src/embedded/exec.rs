//! Running statements on one SQLite connection, and SQLite's errors in the contract's terms.

use rusqlite::{Connection, ErrorCode, ffi};

use crate::{ConstraintKind, Error, SqliteErrorKind, Statement, StatementResult, Value};

/// Whether a group of statements wrote anything (so the WAL must be synced before replies).
pub(crate) struct Ran {
    pub results: Vec<StatementResult>,
    pub wrote: bool,
}

/// Run each statement of `batch` in order on `conn`, inside whatever transaction is open.
pub(crate) fn run_batch(conn: &Connection, batch: &[Statement]) -> Result<Ran, Error> {
    let mut results = Vec::with_capacity(batch.len());
    let mut wrote = false;
    let mut inserted = false;
    for (index, stmt) in batch.iter().enumerate() {
        let (mut result, w) = run_statement(conn, index, stmt)?;
        wrote |= w;
        inserted |= result.rows_changed > 0 && crate::policy::inserts(&stmt.sql);
        if !inserted {
            result.last_insert_id = 0;
        }
        results.push(result);
    }
    Ok(Ran { results, wrote })
}

fn run_statement(
    conn: &Connection,
    index: usize,
    stmt: &Statement,
) -> Result<(StatementResult, bool), Error> {
    let err = |e| sqlite_error(index, e);
    let mut st = conn.prepare_cached(&stmt.sql).map_err(err)?;
    if st.parameter_count() != stmt.params.len() {
        return Err(Error::Sqlite {
            index,
            kind: SqliteErrorKind::Range,
            code: ffi::SQLITE_RANGE,
            message: format!(
                "statement takes {} parameters but {} were supplied",
                st.parameter_count(),
                stmt.params.len()
            ),
        });
    }
    for (i, p) in stmt.params.iter().enumerate() {
        st.raw_bind_parameter(i + 1, p).map_err(err)?;
    }
    let columns: Vec<String> = st.column_names().map(String::from).collect();
    let readonly = st.readonly();
    let ncol = columns.len();
    let before = conn.total_changes();
    let mut rows_out = Vec::new();
    {
        let mut rows = st.raw_query();
        while let Some(row) = rows.next().map_err(err)? {
            let mut r = Vec::with_capacity(ncol);
            for c in 0..ncol {
                r.push(row.get::<_, Value>(c).map_err(err)?);
            }
            rows_out.push(r);
        }
    }
    // `changes()` keeps the count of the last DML statement, so only trust it when this
    // statement moved the connection's total.
    let rows_changed = if !readonly && conn.total_changes() != before {
        conn.changes()
    } else {
        0
    };
    let result = StatementResult {
        columns,
        rows: rows_out,
        rows_changed,
        last_insert_id: conn.last_insert_rowid(),
    };
    Ok((result, !readonly))
}

/// Run a statement we wrote ourselves (transaction control, savepoints), kept prepared: the
/// group-commit path runs several of these per batch.
/// Whether every statement of `batch` only reads (SQLite's own verdict on the prepared
/// statement). A statement that fails to prepare counts as a write: it fails later, in order.
pub(crate) fn reads_only(conn: &Connection, batch: &[Statement]) -> bool {
    batch
        .iter()
        .all(|s| conn.prepare_cached(&s.sql).is_ok_and(|st| st.readonly()))
}

pub(crate) fn control(conn: &Connection, sql: &str) -> Result<(), Error> {
    let mut st = conn.prepare_cached(sql).map_err(|e| sqlite_error(0, e))?;
    st.raw_execute().map(drop).map_err(|e| sqlite_error(0, e))
}

/// Quote a savepoint name as an SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(crate) fn sqlite_error(index: usize, e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            let kind = match f.code {
                ErrorCode::ConstraintViolation => {
                    SqliteErrorKind::Constraint(match f.extended_code {
                        ffi::SQLITE_CONSTRAINT_UNIQUE => ConstraintKind::Unique,
                        ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ConstraintKind::PrimaryKey,
                        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ConstraintKind::ForeignKey,
                        ffi::SQLITE_CONSTRAINT_NOTNULL => ConstraintKind::NotNull,
                        ffi::SQLITE_CONSTRAINT_CHECK => ConstraintKind::Check,
                        _ => ConstraintKind::Other,
                    })
                }
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => SqliteErrorKind::Busy,
                ErrorCode::ReadOnly => SqliteErrorKind::ReadOnly,
                ErrorCode::OperationInterrupted => SqliteErrorKind::Interrupted,
                ErrorCode::TooBig => SqliteErrorKind::TooBig,
                ErrorCode::TypeMismatch => SqliteErrorKind::Mismatch,
                ErrorCode::ParameterOutOfRange => SqliteErrorKind::Range,
                ErrorCode::DiskFull => SqliteErrorKind::Full,
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => SqliteErrorKind::Corrupt,
                ErrorCode::Unknown => SqliteErrorKind::Error,
                _ => SqliteErrorKind::Other,
            };
            Error::Sqlite {
                index,
                kind,
                code: f.extended_code,
                message: msg.unwrap_or_else(|| f.to_string()),
            }
        }
        rusqlite::Error::MultipleStatement => Error::Invalid(format!(
            "statement {index} holds more than one SQL statement"
        )),
        other => Error::Sqlite {
            index,
            kind: SqliteErrorKind::Error,
            code: 0,
            message: other.to_string(),
        },
    }
}
