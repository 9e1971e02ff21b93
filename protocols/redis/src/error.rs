//! Errors of the Redis front-end.

/// Why the server or a shard could not do its work (command errors are replies, not these).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("storage error: {0}")]
    Storage(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl From<dotdo_backend::Error> for Error {
    fn from(e: dotdo_backend::Error) -> Self {
        Error::Storage(e.to_string())
    }
}
