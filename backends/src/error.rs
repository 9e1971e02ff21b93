//! The contract's errors, with SQLite's own kinds carried through for the front-ends to map.

/// Why a batch, transaction or object operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The statement is outside what a SQLite-backed Durable Object accepts; nothing ran.
    #[error("statement {index} is not allowed in a Durable Object batch: {reason}")]
    Forbidden { index: usize, reason: String },
    /// SQLite refused statement `index` of the batch; the whole batch was rolled back.
    #[error("{message}")]
    Sqlite {
        index: usize,
        kind: SqliteErrorKind,
        /// SQLite's extended result code (0 when the error came from the bindings).
        code: i32,
        message: String,
    },
    /// The object's writer was not free within the lock timeout.
    #[error("timed out waiting for the writer of object {0}")]
    LockTimeout(String),
    /// The transaction was already finished, or was rolled back for being idle too long.
    #[error("transaction is no longer active: {0}")]
    TransactionClosed(String),
    /// A replayed transaction saw a different answer at commit (SQLSTATE 40001).
    #[error("could not serialize access due to concurrent update: {0}")]
    SerializationFailure(String),
    /// The backend node could not be reached; nothing was done.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// The request was sent but its reply was lost: it may or may not have committed.
    #[error("outcome unknown: {0}")]
    UnknownOutcome(String),
    /// A request the contract does not allow (too large, malformed name, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("storage I/O error: {0}")]
    Io(String),
    #[error("the backend is shutting down")]
    ShuttingDown,
}

impl Error {
    /// A constraint violation of the given kind, if this is one.
    pub fn constraint(&self) -> Option<ConstraintKind> {
        match self {
            Error::Sqlite {
                kind: SqliteErrorKind::Constraint(c),
                ..
            } => Some(*c),
            _ => None,
        }
    }

    /// True when retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::LockTimeout(_)
                | Error::SerializationFailure(_)
                | Error::Unavailable(_)
                | Error::Sqlite {
                    kind: SqliteErrorKind::Busy,
                    ..
                }
        )
    }
}

/// SQLite's primary result codes, as front-ends need to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteErrorKind {
    Constraint(ConstraintKind),
    /// Syntax errors, missing tables or columns, and other generic `SQLITE_ERROR`s.
    Error,
    Busy,
    ReadOnly,
    Interrupted,
    TooBig,
    /// Datatype mismatch (e.g. a non-integer into an INTEGER PRIMARY KEY).
    Mismatch,
    Range,
    Full,
    Corrupt,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    PrimaryKey,
    ForeignKey,
    NotNull,
    Check,
    Other,
}
