//! The reply data type, independent of the protocol version it is written in.

use bytes::Bytes;

/// One reply. RESP3-only shapes degrade to their RESP2 forms when encoded for RESP2.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// A missing bulk string (`$-1` / `_`).
    Nil,
    /// A missing array (`*-1` / `_`).
    NilArray,
    Array(Vec<Reply>),
    Set(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Push(Vec<Reply>),
    Double(f64),
    /// A double already formatted (Redis's "human" long doubles): bulk in RESP2, `,` in RESP3.
    DoubleText(String),
    Bool(bool),
    Verbatim(String),
}

impl Reply {
    pub fn ok() -> Self {
        Reply::Simple("OK".into())
    }

    pub fn bulk(b: impl Into<Bytes>) -> Self {
        Reply::Bulk(b.into())
    }

    pub fn err(msg: impl Into<String>) -> Self {
        Reply::Error(msg.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    pub fn opt_bulk(b: Option<Bytes>) -> Self {
        b.map_or(Reply::Nil, Reply::Bulk)
    }

    pub fn bulks<I: IntoIterator<Item = Bytes>>(items: I) -> Self {
        Reply::Array(items.into_iter().map(Reply::Bulk).collect())
    }

    pub fn wrong_args(cmd: &str) -> Self {
        Reply::Error(format!(
            "ERR wrong number of arguments for '{}' command",
            cmd.to_ascii_lowercase()
        ))
    }
}

/// Error replies worded as Redis words them.
pub mod errors {
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const NOT_INT: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const SYNTAX: &str = "ERR syntax error";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    pub const INDEX_RANGE: &str = "ERR index out of range";
    pub const DB_RANGE: &str = "ERR DB index is out of range";
    pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
    pub const NOAUTH: &str = "NOAUTH Authentication required.";
    pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
}
