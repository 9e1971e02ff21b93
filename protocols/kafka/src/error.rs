//! Errors of the Kafka front-end.

use crate::errors;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid kafka config: {0}")]
    Config(String),
    #[error("backend: {0}")]
    Backend(#[from] dotdo_backend::Error),
    #[error("frame of {0} bytes exceeds the limit")]
    FrameTooLarge(usize),
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl Error {
    /// The Kafka error code a client sees for this error.
    pub fn code(&self) -> i16 {
        match self {
            Error::Backend(_) | Error::Corrupt(_) => errors::KAFKA_STORAGE_ERROR,
            Error::Malformed(_) => errors::INVALID_REQUEST,
            _ => errors::UNKNOWN_SERVER_ERROR,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
