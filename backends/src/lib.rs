//! The Durable Object contract: named single-writer objects, each one transactional SQLite database.
//!
//! Front-ends talk only to [`Backend`]; whether objects live in embedded SQLite files, in a
//! `workerd`/Cloudflare worker or in `dotdo store` pods is a matter of configuration.

/// The contract's scenarios, written once and run against every backend.
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod embedded;
mod error;
pub mod placement;
mod policy;
pub mod remote;
pub mod replay;
mod value;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use error::{ConstraintKind, Error, SqliteErrorKind};
pub use policy::{MAX_PARAMS, MAX_SQL_BYTES, check_limits, check_statement};
pub use value::Value;

/// The address of an object, like `idFromName` in Workers.
///
/// `namespace` names the front-end and tenant that owns the object (`redis/0`, `pg/appdb`,
/// `kafka/orders`); `name` is the shard or entity inside it. Both may hold any characters:
/// backends escape them where they become file names or URLs.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectId {
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One parameterised SQL statement. Parameters bind to `?1`, `?2`, … (or plain `?`).
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub sql: Cow<'static, str>,
    pub params: Vec<Value>,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    pub fn with_params(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }

    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.params.push(value.into());
        self
    }
}

/// An ordered list of statements, run atomically in one transaction.
pub type Batch = Vec<Statement>;

/// What one statement of a batch produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatementResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted by this statement (0 for queries).
    pub rows_changed: u64,
    /// The rowid of the last row this batch inserted, up to and including this statement;
    /// 0 while the batch has inserted nothing. (Not SQLite's connection-wide value, so the
    /// same batch on the same data always answers the same, as replayed transactions need.)
    /// A replayed transaction does not validate it at commit: read generated keys through
    /// RETURNING where the client must see them.
    pub last_insert_id: i64,
}

/// The Durable Object contract.
///
/// `execute` is the one operation: the batch runs in a single transaction, all or nothing,
/// and its reply is released only once the batch is durable (output gate). Replies to reads
/// are held too, since a read may have seen writes that are not yet durable.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Run `batch` atomically on `object`, creating the object if it does not exist.
    async fn execute(&self, object: &ObjectId, batch: Batch)
    -> Result<Vec<StatementResult>, Error>;

    /// Run `batch` as `execute` would, to durability, on the calling thread, blocking it for
    /// the commit and its fsync (as redis-server's event loop waits for `appendfsync
    /// always`), when the backend can without waiting for anything else: the object open
    /// and idle, everything it committed already durable. `None` means it could not, and
    /// nothing was done: call `execute`. Backends that cannot never do.
    fn execute_inline(
        &self,
        object: &ObjectId,
        batch: &Batch,
    ) -> Option<Result<Vec<StatementResult>, Error>> {
        let _ = (object, batch);
        None
    }

    /// Run `batch` as `execute` would and return its results, then discard its effects.
    /// Replay-with-validation transactions are built on this.
    async fn dry_run(&self, object: &ObjectId, batch: Batch)
    -> Result<Vec<StatementResult>, Error>;

    /// As [`Backend::dry_run`], but the reply may leave before the data it saw is durable
    /// (it need not wait at the output gate). For a [`replay::ReplayTransaction`], whose
    /// answers stand only once the transaction ends: its COMMIT ([`Backend::execute_checked`])
    /// and its ROLLBACK ([`Backend::sync`]) return only when everything it may have seen is
    /// durable. A backend that cannot tell answers as `dry_run` does.
    async fn dry_run_provisional(
        &self,
        object: &ObjectId,
        batch: Batch,
    ) -> Result<Vec<StatementResult>, Error> {
        self.dry_run(object, batch).await
    }

    /// Return once everything `object` committed so far is durable, so every answer given so
    /// far (provisional ones included) stands. Backends whose every reply waits at the
    /// output gate have nothing to wait for.
    async fn sync(&self, object: &ObjectId) -> Result<(), Error> {
        let _ = object;
        Ok(())
    }

    /// Run `batch` atomically and commit it only if each of its first `expected.len()`
    /// statements answers as `expected` says (the same columns, rows and rows changed);
    /// otherwise change nothing and fail with `SerializationFailure`, as also when one of
    /// them now fails. This is the commit of a [`replay::ReplayTransaction`]. Durable when it
    /// returns, like `execute`.
    async fn execute_checked(
        &self,
        object: &ObjectId,
        batch: Batch,
        expected: Vec<StatementResult>,
    ) -> Result<(), Error> {
        replay::execute_checked_by_locking(self, object, batch, expected).await
    }

    /// Start an interactive transaction on `object`, waiting at most the backend's lock
    /// timeout for the object's writer.
    async fn begin(&self, object: &ObjectId) -> Result<Box<dyn Transaction>, Error>;

    /// Names of the objects that exist in `namespace`, sorted.
    async fn list_objects(&self, namespace: &str) -> Result<Vec<String>, Error>;

    /// Delete `object` and all its data; a later `execute` creates it afresh.
    async fn delete_object(&self, object: &ObjectId) -> Result<(), Error>;

    /// Finish in-flight work, make it durable and close every object. Calls made after
    /// this return [`Error::ShuttingDown`].
    async fn shutdown(&self);
}

/// An interactive transaction on one object, spread over round trips.
///
/// A failed `execute` leaves the transaction as it was before that batch, so a front-end can
/// decide itself whether the whole transaction is lost (PostgreSQL) or not. Dropping the
/// handle without `commit` rolls the transaction back.
#[async_trait]
pub trait Transaction: Send {
    async fn execute(&mut self, batch: Batch) -> Result<Vec<StatementResult>, Error>;
    async fn savepoint(&mut self, name: &str) -> Result<(), Error>;
    async fn release_savepoint(&mut self, name: &str) -> Result<(), Error>;
    async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), Error>;
    /// Commit; returns once the transaction is durable.
    async fn commit(self: Box<Self>) -> Result<(), Error>;
    async fn rollback(self: Box<Self>) -> Result<(), Error>;
}

/// A shared handle to any backend.
pub type SharedBackend = Arc<dyn Backend>;
