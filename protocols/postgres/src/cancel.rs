//! Cancel requests: the connections of this gateway by (pid, secret key), and the signal
//! that interrupts the statement a connection is running.
//!
//! The key is the one BackendKeyData carried at startup: a counter for the pid and a
//! random secret (32 bits from a CSPRNG, as PostgreSQL's) so a cancel cannot be guessed.
//! The registry is the gateway's own: a cancel reaches connections of the same gateway.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::sync::oneshot;

use dotdo_sql::{SqlError, code};

/// Every connection that has run a statement, by its cancel key.
#[derive(Default)]
pub struct Cancels {
    slots: Mutex<HashMap<(i32, Bytes), Arc<Slot>>>,
}

/// One connection's running statement, if any.
#[derive(Default)]
pub struct Slot {
    running: Mutex<Option<oneshot::Sender<()>>>,
}

impl Slot {
    /// Mark a statement as started: the receiver fires if a cancel request comes before
    /// the next `start`. A cancel that arrives between statements is lost, as in PostgreSQL.
    pub fn start(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        *self.running.lock() = Some(tx);
        rx
    }

    fn cancel(&self) {
        if let Some(tx) = self.running.lock().take() {
            let _ = tx.send(());
        }
    }
}

impl Cancels {
    /// Register a connection; it stays registered while the returned guard lives.
    pub fn register(self: &Arc<Self>, pid: i32, key: &SecretKey) -> Registration {
        let slot = Arc::new(Slot::default());
        let key = (pid, key.to_bytes());
        self.slots.lock().insert(key.clone(), slot.clone());
        Registration {
            cancels: self.clone(),
            key,
            slot,
        }
    }
}

#[async_trait]
impl CancelHandler for Cancels {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let key = (request.pid, request.secret_key.to_bytes());
        let slot = self.slots.lock().get(&key).cloned();
        match slot {
            Some(slot) => slot.cancel(),
            None => tracing::debug!(pid = request.pid, "cancel request for no connection"),
        }
    }
}

/// A connection's entry in the registry, removed on drop.
pub struct Registration {
    cancels: Arc<Cancels>,
    key: (i32, Bytes),
    pub slot: Arc<Slot>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.cancels.slots.lock().remove(&self.key);
    }
}

/// PostgreSQL's error for a statement a cancel request interrupted.
pub fn canceled() -> SqlError {
    SqlError::new(
        code::QUERY_CANCELED,
        "canceling statement due to user request",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancels_only_with_the_right_key_and_only_a_running_statement() {
        let cancels = Arc::new(Cancels::default());
        let reg = cancels.register(7, &SecretKey::I32(12345));
        let mut rx = reg.slot.start();
        cancels
            .on_cancel_request(CancelRequest::new(7, SecretKey::I32(999)))
            .await;
        assert!(rx.try_recv().is_err(), "a wrong secret must not cancel");
        cancels
            .on_cancel_request(CancelRequest::new(7, SecretKey::I32(12345)))
            .await;
        assert!(rx.try_recv().is_ok());
        // Between statements a cancel is lost: the next statement runs.
        cancels
            .on_cancel_request(CancelRequest::new(7, SecretKey::I32(12345)))
            .await;
        let mut next = reg.slot.start();
        assert!(next.try_recv().is_err());
        drop(reg);
        assert!(cancels.slots.lock().is_empty());
    }
}
