//! Errors with PostgreSQL SQLSTATE codes, and the one place SQLite errors are mapped to them.

use dotdo_backend::{ConstraintKind, Error as BackendError, SqliteErrorKind};

/// SQLSTATE codes used by the front-ends.
pub mod code {
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const CHECK_VIOLATION: &str = "23514";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DUPLICATE_DATABASE: &str = "42P04";
    pub const INVALID_CATALOG_NAME: &str = "3D000";
    pub const SYNTAX_ERROR: &str = "42601";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const INVALID_BINARY_REPRESENTATION: &str = "22P03";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const IN_FAILED_TRANSACTION: &str = "25P02";
    pub const NO_ACTIVE_TRANSACTION: &str = "25P01";
    pub const ACTIVE_TRANSACTION: &str = "25001";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const BAD_COPY_FORMAT: &str = "22P04";
    pub const QUERY_CANCELED: &str = "57014";
    pub const CANNOT_CONNECT_NOW: &str = "57P03";
    pub const INTERNAL_ERROR: &str = "XX000";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    pub const SEQUENCE_GENERATOR_LIMIT_EXCEEDED: &str = "2200H";
    pub const UNDEFINED_PARAMETER: &str = "42704";
    pub const SAVEPOINT_EXCEPTION: &str = "3B001";
}

/// An error the client sees: a SQLSTATE and PostgreSQL-style message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
}

impl SqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: None,
        }
    }

    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(code::SYNTAX_ERROR, message)
    }

    pub fn unsupported(what: impl Into<String>) -> Self {
        Self::new(code::FEATURE_NOT_SUPPORTED, what)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl From<BackendError> for SqlError {
    fn from(e: BackendError) -> Self {
        match &e {
            BackendError::Sqlite { kind, message, .. } => from_sqlite(*kind, message),
            BackendError::SerializationFailure(m) => SqlError::new(
                code::SERIALIZATION_FAILURE,
                format!("could not serialize access due to concurrent update: {m}"),
            ),
            BackendError::LockTimeout(_) => SqlError::new(
                code::LOCK_NOT_AVAILABLE,
                "could not obtain lock on the database within the lock timeout",
            ),
            BackendError::TransactionClosed(_) => SqlError::new(
                code::SERIALIZATION_FAILURE,
                "the transaction was rolled back by the server",
            ),
            BackendError::ShuttingDown => SqlError::new(
                code::CANNOT_CONNECT_NOW,
                "the database system is shutting down",
            ),
            _ => SqlError::new(code::INTERNAL_ERROR, e.to_string()),
        }
    }
}

/// `t.col` from SQLite's "... constraint failed: t.col, t.col2".
fn constraint_target(message: &str) -> (String, Vec<String>) {
    let list = message.rsplit_once(": ").map_or("", |(_, r)| r);
    let mut table = String::new();
    let mut cols = Vec::new();
    for item in list.split(", ") {
        // A table of another schema is stored as `s.t`: its constraints are named by `t`.
        if let Some((t, c)) = item.rsplit_once('.') {
            table = t.rsplit('.').next().unwrap_or(t).to_owned();
            cols.push(c.to_owned());
        }
    }
    (table, cols)
}

fn from_sqlite(kind: SqliteErrorKind, message: &str) -> SqlError {
    tracing::debug!(?kind, message, "sqlite error");
    match kind {
        SqliteErrorKind::Constraint(c) => {
            let (table, cols) = constraint_target(message);
            match c {
                ConstraintKind::Unique | ConstraintKind::PrimaryKey => {
                    let suffix = if c == ConstraintKind::PrimaryKey {
                        "pkey".to_owned()
                    } else {
                        format!("{}_key", cols.join("_"))
                    };
                    SqlError::new(
                        code::UNIQUE_VIOLATION,
                        format!(
                            "duplicate key value violates unique constraint \"{table}_{suffix}\""
                        ),
                    )
                    .with_detail(format!("Key ({}) already exists.", cols.join(", ")))
                }
                ConstraintKind::ForeignKey => SqlError::new(
                    code::FOREIGN_KEY_VIOLATION,
                    "insert or update on table violates foreign key constraint",
                ),
                ConstraintKind::NotNull => SqlError::new(
                    code::NOT_NULL_VIOLATION,
                    format!(
                        "null value in column \"{}\" of relation \"{table}\" violates not-null constraint",
                        cols.join(", ")
                    ),
                ),
                ConstraintKind::Check => SqlError::new(
                    code::CHECK_VIOLATION,
                    format!("new row violates check constraint: {message}"),
                ),
                ConstraintKind::Other => SqlError::new(code::CHECK_VIOLATION, message.to_owned()),
            }
        }
        SqliteErrorKind::Mismatch => SqlError::new(code::DATATYPE_MISMATCH, message.to_owned()),
        SqliteErrorKind::TooBig => SqlError::new("54000", message.to_owned()),
        SqliteErrorKind::Busy => SqlError::new(code::SERIALIZATION_FAILURE, message.to_owned()),
        _ => from_sqlite_message(message),
    }
}

/// A relation's name as PostgreSQL's "already exists" messages print it: unquoted, without
/// the schema its stored name carries (`"s.t"` is `t` of schema `s`).
fn relname(stored: &str) -> &str {
    let t = stored.trim_matches('"');
    t.split_once('.').map_or(t, |(_, name)| name)
}

fn from_sqlite_message(message: &str) -> SqlError {
    // Newer SQLite appends " in <statement> at offset N"; PostgreSQL's messages do not.
    let message = message.split(" in ").next().unwrap_or(message);
    if let Some(t) = message.strip_prefix("no such table: ") {
        let t = t.strip_prefix("main.").unwrap_or(t);
        return SqlError::new(
            code::UNDEFINED_TABLE,
            format!("relation \"{t}\" does not exist"),
        );
    }
    if message.starts_with("Cannot add a NOT NULL column with default value NULL") {
        // ALTER TABLE ADD COLUMN … NOT NULL on a table with rows (SQLite names neither).
        return SqlError::new(
            code::NOT_NULL_VIOLATION,
            "column of relation contains null values",
        );
    }
    if let Some(c) = message.strip_prefix("no such column: ") {
        return SqlError::new(
            code::UNDEFINED_COLUMN,
            format!("column \"{c}\" does not exist"),
        );
    }
    if let Some(f) = message.strip_prefix("no such function: ") {
        return SqlError::new(
            code::UNDEFINED_FUNCTION,
            format!("function {f} does not exist"),
        );
    }
    if message.starts_with("table ") && message.ends_with(" already exists") {
        let t = message
            .trim_start_matches("table ")
            .trim_end_matches(" already exists");
        return SqlError::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{}\" already exists", relname(t)),
        );
    }
    if let Some(t) = message
        .strip_prefix("view ")
        .and_then(|t| t.strip_suffix(" already exists"))
        .map(|t| t.trim_matches('"'))
        .and_then(|t| t.strip_prefix("_pg_seq_"))
    {
        return SqlError::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{}\" already exists", relname(t)),
        );
    }
    if let Some(t) = message
        .strip_prefix("view ")
        .and_then(|t| t.strip_suffix(" already exists"))
    {
        return SqlError::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{}\" already exists", relname(t)),
        );
    }
    if let Some(t) = message.strip_prefix("no such view: _pg_seq_") {
        return SqlError::new(
            code::UNDEFINED_TABLE,
            format!("sequence \"{t}\" does not exist"),
        );
    }
    if message.starts_with("index ") && message.ends_with(" already exists") {
        let t = message
            .trim_start_matches("index ")
            .trim_end_matches(" already exists");
        return SqlError::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{}\" already exists", relname(t)),
        );
    }
    if message.contains("syntax error") || message.contains("incomplete input") {
        return SqlError::syntax(message.to_owned());
    }
    if message.contains("has no column named") {
        let c = message.rsplit(' ').next().unwrap_or("");
        return SqlError::new(
            code::UNDEFINED_COLUMN,
            format!("column \"{c}\" does not exist"),
        );
    }
    if message.starts_with("ambiguous column name") {
        return SqlError::new("42702", message.to_owned());
    }
    SqlError::new(code::INTERNAL_ERROR, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(kind: SqliteErrorKind, message: &str) -> SqlError {
        BackendError::Sqlite {
            index: 0,
            kind,
            code: 0,
            message: message.into(),
        }
        .into()
    }

    #[test]
    fn maps_sqlite_errors_to_sqlstate() {
        let e = sqlite(
            SqliteErrorKind::Constraint(ConstraintKind::Unique),
            "UNIQUE constraint failed: t.a",
        );
        assert_eq!(e.code, code::UNIQUE_VIOLATION);
        assert_eq!(
            e.message,
            "duplicate key value violates unique constraint \"t_a_key\""
        );
        assert_eq!(
            sqlite(SqliteErrorKind::Error, "no such table: nope").code,
            code::UNDEFINED_TABLE
        );
        assert_eq!(
            sqlite(SqliteErrorKind::Error, "no such column: x").code,
            code::UNDEFINED_COLUMN
        );
        let e = sqlite(
            SqliteErrorKind::Constraint(ConstraintKind::NotNull),
            "NOT NULL constraint failed: t.b",
        );
        assert_eq!(e.code, code::NOT_NULL_VIOLATION);
        // Stored names of other schemas do not show.
        let e = sqlite(SqliteErrorKind::Error, "table \"s.t\" already exists");
        assert_eq!(e.message, "relation \"t\" already exists");
        let e = sqlite(
            SqliteErrorKind::Constraint(ConstraintKind::Unique),
            "UNIQUE constraint failed: s.t.a",
        );
        assert_eq!(
            e.message,
            "duplicate key value violates unique constraint \"t_a_key\""
        );
        let e = sqlite(
            SqliteErrorKind::Constraint(ConstraintKind::NotNull),
            "NOT NULL constraint failed: s.t.b",
        );
        assert_eq!(
            e.message,
            "null value in column \"b\" of relation \"t\" violates not-null constraint"
        );
    }
}
