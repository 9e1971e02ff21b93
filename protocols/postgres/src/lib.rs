//! PostgreSQL front-end: the wire protocol on pgwire.
//!
//! Each database is its own namespace (`pg/<db>`) with one object holding its tables and
//! its catalog of declared types. A connection's statements are translated by `dotdo-sql`
//! and run as batches on that object, or inside an interactive `Transaction`.

mod auth;
mod cancel;
mod connection;
mod copy;
mod database;
mod distributed;
mod encode;
mod handler;
mod notify;
mod session;
mod simple;

use std::net::SocketAddr;
use std::sync::Arc;

use dotdo_backend::SharedBackend;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use database::Databases;

/// A user that may log in with SCRAM-SHA-256.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: String,
}

/// The `[postgres]` section's protocol settings.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// Users allowed to log in with SCRAM-SHA-256. Default: none.
    pub users: Vec<User>,
    /// Let clients on loopback in without a password (PostgreSQL's `trust`). Default: true.
    /// With no users configured, every client is trusted.
    pub trust_loopback: bool,
    /// SCRAM-SHA-256 iteration count. Default: 4096 (PostgreSQL's default).
    pub scram_iterations: usize,
    /// Rows per batch when loading COPY FROM STDIN. Default: 5000.
    pub copy_batch_rows: usize,
    /// How transaction blocks run. Default: optimistic.
    pub transactions: TransactionMode,
    /// Shards of a Citus distributed table when `create_distributed_table` names no
    /// `shard_count`. Default: 8.
    pub shard_count: u32,
}

/// How a transaction block (`BEGIN … COMMIT`) runs on its database's object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransactionMode {
    /// Replay with validation: nothing is held between round trips; each statement is
    /// answered by a dry run of the block so far, and COMMIT applies the block only if every
    /// statement still answers as the client saw it, else fails with 40001 (as PostgreSQL's
    /// SERIALIZABLE does). Concurrent blocks run side by side and their commits share one
    /// fsync. Blocks that grow long, run DDL or COPY, or call random()/gen_random_uuid()
    /// switch to a locking transaction on the way.
    #[default]
    Optimistic,
    /// Every block holds its object's writer from its first statement to COMMIT: no 40001,
    /// but blocks on one database run one at a time.
    Locking,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            trust_loopback: true,
            scram_iterations: 4096,
            copy_batch_rows: 5000,
            transactions: TransactionMode::Optimistic,
            shard_count: 8,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid postgres configuration: {0}")]
    Config(String),
}

impl Config {
    pub fn validate(&self) -> Result<(), Error> {
        if self.copy_batch_rows == 0 {
            return Err(Error::Config("copy_batch_rows must be at least 1".into()));
        }
        if !(1..=64000).contains(&self.shard_count) {
            return Err(Error::Config(
                "shard_count must be between 1 and 64000".into(),
            ));
        }
        if self.scram_iterations == 0 {
            return Err(Error::Config("scram_iterations must be at least 1".into()));
        }
        Ok(())
    }
}

/// The PostgreSQL server: shared state for every connection.
pub struct Server {
    pub(crate) config: Config,
    pub(crate) backend: SharedBackend,
    pub(crate) databases: Databases,
    /// Connections by cancel key (gateway-local).
    pub(crate) cancels: Arc<cancel::Cancels>,
    /// LISTEN/NOTIFY listeners (gateway-local).
    pub(crate) notifier: Arc<notify::Notifier>,
    /// Backend pids and cancel secrets, shared by every startup path so pids are unique.
    pub(crate) pids: Arc<pgwire::api::RandomPidSecretKeyGenerator>,
    tracker: TaskTracker,
}

impl Server {
    pub fn new(config: Config, backend: SharedBackend) -> Result<Arc<Self>, Error> {
        config.validate()?;
        Ok(Arc::new(Self {
            databases: Databases::new(backend.clone()),
            config,
            backend,
            cancels: Arc::default(),
            notifier: Arc::default(),
            pids: Arc::default(),
            tracker: TaskTracker::new(),
        }))
    }

    /// Serve one client connection until it closes or `cancel` fires. SSLRequest is
    /// answered in-band with `tls` when given.
    pub async fn serve_connection(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        tls: Option<TlsAcceptor>,
        cancel: CancellationToken,
    ) {
        let _ = stream.set_nodelay(true);
        let handlers = handler::Handlers::new(self.clone(), peer);
        let inbox = handlers.inbox();
        let task = self
            .tracker
            .track_future(connection::process(stream, tls, handlers, inbox));
        tokio::select! {
            result = task => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "postgres connection ended with an error");
                }
            }
            () = cancel.cancelled() => {
                tracing::debug!(%peer, "postgres connection closed at shutdown");
            }
        }
    }

    /// Wait for connections to finish.
    pub async fn shutdown(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
