//! The remote backend: objects live on `dotdo store` processes or a workerd/Cloudflare worker.
//!
//! The client ([`RemoteBackend`]) places each object on one node by rendezvous hashing over
//! the configured node URLs and speaks the binary wire of [`wire`] to it (spec:
//! `deploy/WIRE.md`): one WebSocket per node carrying many requests at once, matched by
//! request id, or one HTTP POST per request. Nodes check a shared secret. The node side for
//! `dotdo store` is [`server`]; the worker is `deploy/cloudflare/`.
//!
//! Failure semantics: a request that never left (connect refused, breaker open) is
//! `Unavailable` and nothing happened; a batch whose reply was lost (connection dropped,
//! timeout) is `UnknownOutcome` and is never re-sent; requests without effects (dry runs,
//! listings, deletes) are retried once. After `breaker_failures` consecutive failures a node's
//! requests fail at once for `breaker_cooldown_ms`; then one request probes the node while the
//! rest keep failing fast, and its outcome closes the breaker or opens it again.

mod config;
mod endpoint;
mod node;
pub mod server;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

pub use config::{RemoteConfig, Transport};

use crate::{Backend, Batch, Error, ObjectId, StatementResult, Transaction, check_statement};
use node::Node;
use wire::{Kind, Reply, Request};

/// The remote backend client. Cheap to share behind an `Arc`.
pub struct RemoteBackend {
    nodes: Vec<Node>,
    me: std::sync::Weak<RemoteBackend>,
    shut: AtomicBool,
}

impl RemoteBackend {
    pub fn open(config: RemoteConfig) -> Result<Arc<Self>, Error> {
        config.validate()?;
        let config = Arc::new(config);
        Ok(Arc::new_cyclic(|me| Self {
            nodes: config
                .nodes
                .iter()
                .map(|url| Node::new(url.clone(), config.clone()))
                .collect(),
            me: me.clone(),
            shut: AtomicBool::new(false),
        }))
    }

    /// Ping every node at once: each node's URL and whether it answered. A node whose
    /// breaker is open counts as down without being contacted.
    pub async fn probe(&self) -> Vec<(String, Result<(), Error>)> {
        let pings = self.nodes.iter().map(|n| async move {
            let reply = n
                .call(Request {
                    id: 0,
                    kind: Kind::Ping,
                    object: ObjectId::new("", ""),
                    batch: Vec::new(),
                    expected: Vec::new(),
                })
                .await;
            let outcome = match reply {
                Ok(Reply::Done) => Ok(()),
                Ok(Reply::Error(e)) | Err(e) => Err(e),
                Ok(_) => Err(Error::Invalid("node answered a ping oddly".into())),
            };
            (n.url.clone(), outcome)
        });
        futures::future::join_all(pings).await
    }

    /// The URL of the node that holds `object`.
    pub fn node_of(&self, object: &ObjectId) -> &str {
        &self.node(object).url
    }

    fn node(&self, object: &ObjectId) -> &Node {
        let urls: Vec<&str> = self.nodes.iter().map(|n| n.url.as_str()).collect();
        // `open` refuses an empty node list, so there is always an owner.
        &self.nodes[crate::placement::rendezvous(object, &urls).unwrap_or(0)]
    }

    async fn request(
        &self,
        kind: Kind,
        object: &ObjectId,
        batch: Batch,
        expected: Vec<StatementResult>,
    ) -> Result<Reply, Error> {
        if self.shut.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        batch
            .iter()
            .enumerate()
            .try_for_each(|(i, s)| check_statement(i, &s.sql))?;
        let req = Request {
            id: 0,
            kind,
            object: object.clone(),
            batch,
            expected,
        };
        match self.node(object).call(req).await? {
            Reply::Error(e) => Err(e),
            reply => Ok(reply),
        }
    }

    async fn results(
        &self,
        kind: Kind,
        object: &ObjectId,
        batch: Batch,
    ) -> Result<Vec<StatementResult>, Error> {
        match self.request(kind, object, batch, Vec::new()).await? {
            Reply::Results(r) => Ok(r),
            _ => Err(Error::Invalid(
                "node answered a batch without results".into(),
            )),
        }
    }
}

#[async_trait]
impl Backend for RemoteBackend {
    async fn execute(
        &self,
        object: &ObjectId,
        batch: Batch,
    ) -> Result<Vec<StatementResult>, Error> {
        self.results(Kind::Execute, object, batch).await
    }

    async fn dry_run(
        &self,
        object: &ObjectId,
        batch: Batch,
    ) -> Result<Vec<StatementResult>, Error> {
        self.results(Kind::DryRun, object, batch).await
    }

    async fn begin(&self, object: &ObjectId) -> Result<Box<dyn Transaction>, Error> {
        if self.shut.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        // A node cannot hold a transaction across round trips: replay with validation.
        let me: crate::SharedBackend = self.me.upgrade().ok_or(Error::ShuttingDown)?;
        Ok(Box::new(crate::replay::ReplayTransaction::new(
            me,
            object.clone(),
        )))
    }

    async fn execute_checked(
        &self,
        object: &ObjectId,
        batch: Batch,
        expected: Vec<StatementResult>,
    ) -> Result<(), Error> {
        let checked = expected.len();
        // A node may report a checked statement that now fails as its own error.
        match self
            .request(Kind::ExecuteChecked, object, batch, expected)
            .await
            .map_err(|e| crate::replay::replayed_failure(e, checked))?
        {
            Reply::Done | Reply::Results(_) => Ok(()),
            _ => Err(Error::Invalid("node answered a checked batch oddly".into())),
        }
    }

    /// Asks every node; fails if one cannot answer, since the list would be incomplete.
    async fn list_objects(&self, namespace: &str) -> Result<Vec<String>, Error> {
        let probe = ObjectId::new(namespace, "");
        let calls = self.nodes.iter().map(|n| {
            n.call(Request {
                id: 0,
                kind: Kind::ListObjects,
                object: probe.clone(),
                batch: Vec::new(),
                expected: Vec::new(),
            })
        });
        let mut names = Vec::new();
        for reply in futures::future::join_all(calls).await {
            match reply? {
                Reply::Names(n) => names.extend(n),
                Reply::Error(e) => return Err(e),
                _ => return Err(Error::Invalid("node answered a listing oddly".into())),
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn delete_object(&self, object: &ObjectId) -> Result<(), Error> {
        self.request(Kind::DeleteObject, object, Vec::new(), Vec::new())
            .await
            .map(|_| ())
    }

    async fn shutdown(&self) {
        self.shut.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
