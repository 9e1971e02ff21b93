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
use crate::store::{Store, partition};

pub use crate::store::partition::Bounds;

/// Per-batch outcome: `(error_code, base_offset)`.
pub type AppendReply = std::result::Result<Vec<(i16, i64)>, i16>;

/// What goes on the log: a producer's batches, or a transaction marker.
enum Work {
    Batches(Vec<BatchInfo>),
    Marker {
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    },
}

impl Work {
    fn len(&self) -> usize {
        match self {
            Work::Batches(b) => b.len(),
            Work::Marker { .. } => 1,
        }
    }
}

struct AppendJob {
    work: Work,
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
        let (bounds, _) = watch::channel(Bounds::default());
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
        self.push(Work::Batches(batches))
    }

    /// Queue a transaction's COMMIT or ABORT marker; the reply carries its offset.
    pub fn enqueue_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> oneshot::Receiver<AppendReply> {
        self.push(Work::Marker {
            producer_id,
            producer_epoch,
            commit,
        })
    }

    fn push(&self, work: Work) -> oneshot::Receiver<AppendReply> {
        let (tx, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) = self.queue.send(AppendJob { work, reply: tx }) {
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

    /// DeleteRecords: move the log start to `offset`; returns the new log start.
    pub async fn delete_before(&self, offset: i64) -> Result<i64> {
        let b = partition::delete_before(&self.store, &self.object, offset).await?;
        self.advance(b);
        Ok(b.log_start)
    }

    pub fn subscribe(&self) -> watch::Receiver<Bounds> {
        self.bounds.subscribe()
    }

    /// Raise the bounds; never lowers them, whatever order updates arrive in.
    fn advance(&self, b: Bounds) {
        self.bounds.send_if_modified(|cur| {
            let next = Bounds {
                high_watermark: cur.high_watermark.max(b.high_watermark),
                log_start: cur.log_start.max(b.log_start),
                last_stable: cur.last_stable.max(b.last_stable),
            };
            let changed = next != *cur;
            *cur = next;
            changed
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
        let mut count = jobs[0].work.len();
        while count < max_group {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.work.len();
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
    // Per job, the indexes of its appends' result statements.
    let mut at: Vec<Vec<usize>> = Vec::with_capacity(jobs.len());
    for job in &jobs {
        at.push(match &job.work {
            Work::Batches(batches) => batches
                .iter()
                .map(|b| partition::append_statements(b, &mut stmts))
                .collect(),
            Work::Marker {
                producer_id,
                producer_epoch,
                commit,
            } => vec![partition::marker_statements(
                *producer_id,
                *producer_epoch,
                *commit,
                &mut stmts,
            )],
        });
    }
    let bounds_at = stmts.len();
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
    if let Ok(b) = partition::bounds_at(&results, bounds_at) {
        log.advance(b);
    }
    for (job, at) in jobs.into_iter().zip(at) {
        let out = at
            .into_iter()
            .map(|i| {
                partition::append_result(&results, i).unwrap_or((errors::KAFKA_STORAGE_ERROR, -1))
            })
            .collect();
        let _ = job.reply.send(Ok(out));
    }
}
