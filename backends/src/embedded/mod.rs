//! The embedded backend: one SQLite file per object, one actor thread per open object.
//!
//! Each actor drains its queue in groups. A group runs inside one SQLite transaction with a
//! savepoint per batch (so each batch stays atomic on its own), commits to the WAL without
//! waiting for the disk (`synchronous=NORMAL`), then one `fdatasync` of the WAL releases every
//! reply of the group: the output gate. Checkpoints still sync the WAL and the database file
//! themselves, so a crash leaves a consistent prefix that contains every acknowledged batch.

mod actor;
mod budget;
mod config;
mod exec;
mod files;
mod registry;
mod syncer;
mod transaction;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::oneshot;

pub use config::{Durability, EmbeddedConfig};

use crate::{
    Backend, Batch, Error, ObjectId, StatementResult, Transaction, check_limits, check_statement,
};
use actor::{Command, Mode, Request};
use registry::Registry;

/// The embedded SQLite backend. Cheap to share behind an `Arc`.
pub struct EmbeddedBackend {
    registry: Arc<Registry>,
}

impl EmbeddedBackend {
    /// Open the backend on `config.data_dir`, creating it if needed. Objects open lazily.
    pub fn open(config: EmbeddedConfig) -> Result<Arc<Self>, Error> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            Error::Io(format!(
                "creating data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let registry = Registry::new(config);
        Ok(Arc::new(Self { registry }))
    }

    pub fn config(&self) -> &EmbeddedConfig {
        self.registry.config()
    }

    /// Number of objects whose actor is running now.
    pub fn open_objects(&self) -> usize {
        self.registry.open_count()
    }

    async fn request<T>(
        &self,
        object: &ObjectId,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.registry
            .send(
                object,
                Request {
                    command: make(reply),
                    enqueued: Instant::now(),
                },
            )
            .await?;
        rx.await.map_err(|_| Error::ShuttingDown)?
    }
}

fn check_batch(batch: &Batch) -> Result<(), Error> {
    batch
        .iter()
        .enumerate()
        .try_for_each(|(i, s)| check_statement(i, &s.sql).and_then(|()| check_limits(i, s)))
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn execute(
        &self,
        object: &ObjectId,
        batch: Batch,
    ) -> Result<Vec<StatementResult>, Error> {
        check_batch(&batch)?;
        if let Some(result) = self.registry.try_read(object, &batch) {
            return result;
        }
        self.request(object, |reply| Command::Execute {
            batch,
            mode: Mode::Apply,
            reply,
        })
        .await
    }

    fn execute_inline(
        &self,
        object: &ObjectId,
        batch: &Batch,
    ) -> Option<Result<Vec<StatementResult>, Error>> {
        if let Err(e) = check_batch(batch) {
            return Some(Err(e));
        }
        self.registry.try_write(object, batch)
    }

    async fn dry_run(
        &self,
        object: &ObjectId,
        batch: Batch,
    ) -> Result<Vec<StatementResult>, Error> {
        check_batch(&batch)?;
        // Reads leave nothing to discard.
        if let Some(result) = self.registry.try_read(object, &batch) {
            return result;
        }
        self.request(object, |reply| Command::Execute {
            batch,
            mode: Mode::Discard,
            reply,
        })
        .await
    }

    /// On the calling thread when the object is idle, else by the actor ahead of its group's
    /// writes; either way the reply leaves at once, without waiting for the fsync of what
    /// earlier groups committed (see `Backend::sync`).
    async fn dry_run_provisional(
        &self,
        object: &ObjectId,
        batch: Batch,
    ) -> Result<Vec<StatementResult>, Error> {
        check_batch(&batch)?;
        if let Some(result) = self.registry.try_dry_run(object, &batch) {
            return result;
        }
        self.request(object, |reply| Command::Execute {
            batch,
            mode: Mode::Provisional,
            reply,
        })
        .await
    }

    /// An empty checked batch: its reply waits at the output gate like any other, behind
    /// every commit made before it. Direct when everything is durable already.
    async fn sync(&self, object: &ObjectId) -> Result<(), Error> {
        self.execute_checked(object, Vec::new(), Vec::new()).await
    }

    /// Runs inside the actor's group commit, so the commits of concurrent replayed
    /// transactions share one fsync.
    async fn execute_checked(
        &self,
        object: &ObjectId,
        batch: Batch,
        expected: Vec<StatementResult>,
    ) -> Result<(), Error> {
        check_batch(&batch)?;
        // A block that only read commits by reading the same again.
        if let Some(result) = self.registry.try_read(object, &batch) {
            let got = result.map_err(|e| crate::replay::replayed_failure(e, expected.len()))?;
            return match crate::replay::first_difference(&got, &expected) {
                Some(i) => Err(Error::SerializationFailure(format!(
                    "statement {i} of the transaction answers differently at commit"
                ))),
                None => Ok(()),
            };
        }
        self.request(object, |reply| Command::Execute {
            batch,
            mode: Mode::Checked(expected),
            reply,
        })
        .await
        .map(drop)
    }

    async fn begin(&self, object: &ObjectId) -> Result<Box<dyn Transaction>, Error> {
        let timeout = self.registry.config().lock_timeout();
        let (reply, rx) = oneshot::channel();
        self.registry
            .send(
                object,
                Request {
                    command: Command::Begin { reply },
                    enqueued: Instant::now(),
                },
            )
            .await?;
        // If the writer does not come free in time the receiver is dropped here, and the
        // actor, finding nobody to hand the transaction to, rolls it back at once.
        let channel = tokio::time::timeout(timeout, rx)
            .await
            .map_err(|_| Error::LockTimeout(object.to_string()))?
            .map_err(|_| Error::ShuttingDown)??;
        Ok(Box::new(transaction::EmbeddedTransaction::new(channel)))
    }

    async fn list_objects(&self, namespace: &str) -> Result<Vec<String>, Error> {
        files::list_objects(&self.registry.config().data_dir, namespace)
    }

    async fn delete_object(&self, object: &ObjectId) -> Result<(), Error> {
        self.request(object, |reply| Command::Delete { reply })
            .await
    }

    async fn shutdown(&self) {
        self.registry.shutdown().await;
    }
}

#[cfg(test)]
mod tests;
