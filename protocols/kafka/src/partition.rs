//! One partition's in-process handle: an ordered append queue with its writer task, and
//! the high watermark that wakes long-polling fetches.
//!
//! Appends are queued in arrival order and the writer folds everything queued into one
//! object batch, so concurrent producers share one transaction and one fsync, and
//! per-producer sequence order is kept without holding a lock across the write.

use std::sync::Arc;

use dotdo_backend::ObjectId;
use tokio::sync::{OnceCell, mpsc, oneshot, watch};

use crate::error::Result;
use crate::errors;
use crate::records::BatchInfo;
use crate::store::{Store, int_at, partition};

/// `(high_watermark, log_start_offset)`.
pub type Bounds = (i64, i64);

/// Per-batch outcome: `(error_code, base_offset)`.
pub type AppendReply = std::result::Result<Vec<(i16, i64)>, i16>;

struct AppendJob {
    batches: Vec<BatchInfo>,
    reply: oneshot::Sender<AppendReply>,
}

pub struct PartitionLog {
    pub object: ObjectId,
    queue: mpsc::UnboundedSender<AppendJob>,
    bounds: watch::Sender<Bounds>,
    loaded: OnceCell<()>,
    store: Arc<Store>,
}

impl PartitionLog {
    /// Create the handle and start its writer task.
    pub fn start(store: Arc<Store>, object: ObjectId, max_group: usize) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (bounds, _) = watch::channel((0, 0));
        let log = Arc::new(Self {
            object,
            queue: tx,
            bounds,
            loaded: OnceCell::new(),
            store,
        });
        tokio::spawn(writer(Arc::downgrade(&log), rx, max_group));
        log
    }

    /// Queue `batches` for appending. Queue order is append order, so callers that
    /// enqueue in request order keep producers' sequences in order.
    pub fn enqueue(&self, batches: Vec<BatchInfo>) -> oneshot::Receiver<AppendReply> {
        let (tx, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) = self.queue.send(AppendJob { batches, reply: tx })
        {
            let _ = job.reply.send(Err(errors::UNKNOWN_TOPIC_OR_PARTITION));
        }
        rx
    }

    /// The current bounds, loading them from the object the first time.
    pub async fn bounds(&self) -> Result<Bounds> {
        self.loaded
            .get_or_try_init(|| async {
                let b = partition::bounds(&self.store, &self.object).await?;
                self.advance(b);
                Ok::<_, crate::Error>(())
            })
            .await?;
        Ok(*self.bounds.borrow())
    }

    /// Enforce retention on this partition.
    pub async fn apply_retention(&self, retention_ms: i64, retention_bytes: i64) -> Result<()> {
        if retention_ms < 0 && retention_bytes < 0 {
            return Ok(());
        }
        let older_than = if retention_ms < 0 {
            -1
        } else {
            crate::store::now_ms() - retention_ms
        };
        let b = partition::apply_retention(&self.store, &self.object, older_than, retention_bytes)
            .await?;
        self.advance(b);
        Ok(())
    }

    pub fn subscribe(&self) -> watch::Receiver<Bounds> {
        self.bounds.subscribe()
    }

    /// Raise the bounds; never lowers them, whatever order updates arrive in.
    fn advance(&self, b: Bounds) {
        self.bounds.send_if_modified(|cur| {
            if b.0 > cur.0 || b.1 > cur.1 {
                *cur = (cur.0.max(b.0), cur.1.max(b.1));
                true
            } else {
                false
            }
        });
    }
}

async fn writer(
    log: std::sync::Weak<PartitionLog>,
    mut rx: mpsc::UnboundedReceiver<AppendJob>,
    max_group: usize,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs[0].batches.len();
        while count < max_group {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.batches.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let Some(log) = log.upgrade() else {
            for job in jobs {
                let _ = job.reply.send(Err(errors::UNKNOWN_TOPIC_OR_PARTITION));
            }
            return;
        };
        append_group(&log, jobs).await;
    }
}

async fn append_group(log: &PartitionLog, jobs: Vec<AppendJob>) {
    let mut stmts = Vec::new();
    for b in jobs.iter().flat_map(|j| &j.batches) {
        partition::append_statements(b, &mut stmts);
    }
    let total = stmts.len() / partition::STATEMENTS_PER_APPEND;
    stmts.push(partition::bounds_statement());
    let res = log
        .store
        .execute(&log.object, &partition::SCHEMA, stmts)
        .await;
    let results = match res {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(object = %log.object, error = %e, "append failed");
            for job in jobs {
                let _ = job.reply.send(Err(e.code()));
            }
            return;
        }
    };
    // `bounds()` may not have loaded yet; these are newer than anything it could read.
    if let (Ok(hw), Ok(start)) = (
        int_at(&results, total * partition::STATEMENTS_PER_APPEND, 0, 0),
        int_at(&results, total * partition::STATEMENTS_PER_APPEND, 0, 1),
    ) {
        log.advance((hw, start));
    }
    let mut i = 0;
    for job in jobs {
        let mut out = Vec::with_capacity(job.batches.len());
        for _ in &job.batches {
            out.push(
                partition::append_result(&results, i).unwrap_or((errors::KAFKA_STORAGE_ERROR, -1)),
            );
            i += 1;
        }
        let _ = job.reply.send(Ok(out));
    }
}
