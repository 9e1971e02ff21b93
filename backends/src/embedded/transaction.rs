//! The client side of an embedded interactive transaction: a channel to the object's actor,
//! which holds the writer until commit, rollback, drop or the idle timeout.

use async_trait::async_trait;
use crossbeam_channel::Sender;
use tokio::sync::oneshot;

use super::actor::{Reply, TxOp};
use crate::{Batch, Error, StatementResult, Transaction};

pub(crate) struct EmbeddedTransaction {
    ops: Option<Sender<TxOp>>,
}

impl EmbeddedTransaction {
    pub(crate) fn new(ops: Sender<TxOp>) -> Self {
        Self { ops: Some(ops) }
    }

    async fn call<T>(&mut self, make: impl FnOnce(Reply<T>) -> TxOp) -> Result<T, Error> {
        let closed = || Error::TransactionClosed("the transaction was rolled back".into());
        let ops = self.ops.as_ref().ok_or_else(closed)?;
        let (reply, rx) = oneshot::channel();
        if ops.send(make(reply)).is_err() {
            self.ops = None;
            return Err(closed());
        }
        rx.await.map_err(|_| closed())?
    }
}

#[async_trait]
impl Transaction for EmbeddedTransaction {
    async fn execute(&mut self, batch: Batch) -> Result<Vec<StatementResult>, Error> {
        super::check_batch(&batch)?;
        self.call(|r| TxOp::Execute(batch, r)).await
    }

    async fn savepoint(&mut self, name: &str) -> Result<(), Error> {
        let name = name.to_owned();
        self.call(|r| TxOp::Savepoint(name, r)).await
    }

    async fn release_savepoint(&mut self, name: &str) -> Result<(), Error> {
        let name = name.to_owned();
        self.call(|r| TxOp::Release(name, r)).await
    }

    async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), Error> {
        let name = name.to_owned();
        self.call(|r| TxOp::RollbackTo(name, r)).await
    }

    async fn commit(mut self: Box<Self>) -> Result<(), Error> {
        let result = self.call(TxOp::Commit).await;
        self.ops = None;
        result
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), Error> {
        let result = self.call(TxOp::Rollback).await;
        self.ops = None;
        result
    }
}
