//! PostgreSQL front-end: the wire protocol on pgwire.
