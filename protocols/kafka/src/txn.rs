//! The transaction coordinator: transactional ids, their producer epochs, and the
//! two-phase end of a transaction (state made durable, COMMIT or ABORT markers written to
//! every partition, offsets committed to their groups, state completed).
//!
//! State lives in the `_transactions` object and is loaded once; each transactional id is
//! served under its own lock. A transaction open longer than its timeout is aborted with
//! the producer's epoch bumped, fencing it, as Kafka's coordinator does; that includes
//! transactions left open by a restart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::OnceCell;

use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::store::group::{self, Committed};
use crate::store::txn::{self, Change, State, Txn};
use crate::store::{cluster, now_ms};

/// Kafka's `transaction.max.timeout.ms` default.
pub const MAX_TIMEOUT_MS: i64 = 900_000;

type Entry = Arc<tokio::sync::Mutex<Option<Txn>>>;

#[derive(Default)]
pub struct Transactions {
    entries: Mutex<HashMap<String, Entry>>,
    /// Per producer id with an open transaction, the partitions added to it: a
    /// transactional batch for any other partition is refused, so no partition is left
    /// holding its last stable offset for a transaction that will write it no marker.
    open: Mutex<HashMap<i64, HashSet<(String, i32)>>>,
    /// The current epoch of every transactional producer id, so that a fenced producer's
    /// batches get INVALID_PRODUCER_EPOCH first, as Kafka answers them.
    epochs: Mutex<HashMap<i64, i16>>,
    /// Offsets held by unfinished transactions: `(group, topic, partition)` to the
    /// transactional ids holding them. OffsetFetch with `require_stable` answers
    /// UNSTABLE_OFFSET_COMMIT for these (KIP-447).
    pending: Mutex<HashMap<(String, String, i32), HashSet<String>>>,
    loaded: OnceCell<()>,
}

/// An error code, or what the caller asked for.
pub type Coded<T> = std::result::Result<T, i16>;

impl Transactions {
    async fn ensure_loaded(&self, b: &Broker) -> Result<()> {
        self.loaded
            .get_or_try_init(|| async {
                let all = txn::load(&b.store).await?;
                let mut entries = self.entries.lock();
                let mut open = self.open.lock();
                let mut epochs = self.epochs.lock();
                let mut pending = self.pending.lock();
                for (id, t) in all {
                    epochs.insert(t.producer_id, t.producer_epoch);
                    for (group, offsets) in &t.offsets {
                        for c in offsets {
                            pending
                                .entry((group.clone(), c.topic.clone(), c.partition))
                                .or_default()
                                .insert(id.clone());
                        }
                    }
                    if t.state == State::Ongoing {
                        open.insert(t.producer_id, t.partitions.iter().cloned().collect());
                    }
                    entries.insert(id, Arc::new(tokio::sync::Mutex::new(Some(t))));
                }
                Ok::<_, crate::Error>(())
            })
            .await?;
        Ok(())
    }

    /// Whether a producer may write transactional batches to the partition: its epoch is
    /// current (else INVALID_PRODUCER_EPOCH) and it added the partition to its open
    /// transaction (else INVALID_TXN_STATE). Before the coordinator has loaded (just after
    /// a start) nothing is refused here; the partition still checks epochs.
    pub fn verify(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        topic: &str,
        partition: i32,
    ) -> i16 {
        if !self.loaded.initialized() {
            return errors::NONE;
        }
        if self
            .epochs
            .lock()
            .get(&producer_id)
            .is_some_and(|&current| producer_epoch < current)
        {
            return errors::INVALID_PRODUCER_EPOCH;
        }
        let open = self.open.lock();
        if open
            .get(&producer_id)
            .is_some_and(|p| p.contains(&(topic.to_owned(), partition)))
        {
            errors::NONE
        } else {
            errors::INVALID_TXN_STATE
        }
    }

    async fn entry(&self, b: &Broker, id: &str) -> Result<Entry> {
        self.ensure_loaded(b).await?;
        Ok(self
            .entries
            .lock()
            .entry(id.to_owned())
            .or_default()
            .clone())
    }

    /// InitProducerId with a transactional id: a producer id and a new epoch, aborting
    /// (and so fencing) whatever the previous epoch left open.
    pub async fn init_producer(
        &self,
        b: &Broker,
        id: &str,
        timeout_ms: i32,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<Coded<(i64, i16)>> {
        let timeout_ms = i64::from(timeout_ms);
        if timeout_ms <= 0 || timeout_ms > MAX_TIMEOUT_MS {
            return Ok(Err(errors::INVALID_TRANSACTION_TIMEOUT));
        }
        let entry = self.entry(b, id).await?;
        let mut slot = entry.lock().await;
        let next = match slot.as_mut() {
            None => Txn {
                producer_id: cluster::next_producer_id(&b.store).await?,
                producer_epoch: 0,
                state: State::Empty,
                timeout_ms,
                started_ms: 0,
                partitions: Default::default(),
                offsets: Default::default(),
            },
            Some(t) => {
                // KIP-360: a producer naming its id and epoch must name the current ones.
                if producer_id >= 0
                    && (producer_id != t.producer_id || producer_epoch != t.producer_epoch)
                {
                    return Ok(Err(errors::INVALID_PRODUCER_EPOCH));
                }
                let bumped = t.producer_epoch.saturating_add(1);
                self.open.lock().remove(&t.producer_id);
                match t.state {
                    State::Ongoing | State::PrepareAbort => {
                        if let Err(code) = complete(self, b, id, t, false, bumped).await? {
                            return Ok(Err(code));
                        }
                    }
                    State::PrepareCommit => {
                        if let Err(code) = complete(self, b, id, t, true, t.producer_epoch).await? {
                            return Ok(Err(code));
                        }
                    }
                    _ => {}
                }
                let mut next = t.clone();
                next.timeout_ms = timeout_ms;
                next.state = State::Empty;
                if t.producer_epoch >= i16::MAX - 1 {
                    next.producer_id = cluster::next_producer_id(&b.store).await?;
                    next.producer_epoch = 0;
                } else {
                    next.producer_epoch = t.producer_epoch.max(bumped);
                }
                next
            }
        };
        txn::save(&b.store, id, &next, Change::default()).await?;
        self.epochs
            .lock()
            .insert(next.producer_id, next.producer_epoch);
        let out = (next.producer_id, next.producer_epoch);
        *slot = Some(next);
        Ok(Ok(out))
    }

    /// AddPartitionsToTxn: per partition, its error code.
    pub async fn add_partitions(
        &self,
        b: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<i16>> {
        let entry = self.entry(b, id).await?;
        let mut slot = entry.lock().await;
        let t = match check(slot.as_mut(), producer_id, producer_epoch) {
            Ok(t) => t,
            Err(code) => return Ok(vec![code; partitions.len()]),
        };
        let unknown: Vec<bool> = partitions
            .iter()
            .map(|(topic, p)| b.log(topic, *p).is_none())
            .collect();
        if unknown.iter().any(|&u| u) {
            return Ok(unknown
                .into_iter()
                .map(|u| {
                    if u {
                        errors::UNKNOWN_TOPIC_OR_PARTITION
                    } else {
                        errors::OPERATION_NOT_ATTEMPTED
                    }
                })
                .collect());
        }
        let mut next = begin(t);
        let new: Vec<(String, i32)> = partitions
            .iter()
            .filter(|p| !next.partitions.contains(*p))
            .cloned()
            .collect();
        next.partitions.extend(new.iter().cloned());
        let open_now: HashSet<(String, i32)> = next.partitions.iter().cloned().collect();
        txn::save(
            &b.store,
            id,
            &next,
            Change {
                add_partitions: &new,
                ..Change::default()
            },
        )
        .await?;
        self.open.lock().insert(next.producer_id, open_now);
        *t = next;
        Ok(vec![errors::NONE; partitions.len()])
    }

    /// AddOffsetsToTxn: the transaction will commit offsets of a group.
    pub async fn add_offsets(
        &self,
        b: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<i16> {
        let entry = self.entry(b, id).await?;
        let mut slot = entry.lock().await;
        let t = match check(slot.as_mut(), producer_id, producer_epoch) {
            Ok(t) => t,
            Err(code) => return Ok(code),
        };
        let next = begin(t);
        if next != *t {
            txn::save(&b.store, id, &next, Change::default()).await?;
            *t = next;
        }
        Ok(errors::NONE)
    }

    /// TxnOffsetCommit: offsets held with the transaction until it commits.
    pub async fn commit_offsets(
        &self,
        b: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
        offsets: Vec<Committed>,
    ) -> Result<i16> {
        let entry = self.entry(b, id).await?;
        let mut slot = entry.lock().await;
        let t = match check(slot.as_mut(), producer_id, producer_epoch) {
            Ok(t) => t,
            Err(code) => return Ok(code),
        };
        let mut next = begin(t);
        let held = next.offsets.entry(group_id.to_owned()).or_default();
        for c in &offsets {
            held.retain(|h| (h.topic.as_str(), h.partition) != (c.topic.as_str(), c.partition));
            held.push(c.clone());
        }
        txn::save(
            &b.store,
            id,
            &next,
            Change {
                add_offsets: Some((group_id, &offsets)),
                ..Change::default()
            },
        )
        .await?;
        let mut pending = self.pending.lock();
        for c in &offsets {
            pending
                .entry((group_id.to_owned(), c.topic.clone(), c.partition))
                .or_default()
                .insert(id.to_owned());
        }
        drop(pending);
        *t = next;
        Ok(errors::NONE)
    }

    /// Whether a transaction holds an uncommitted offset for the group's partition.
    pub fn offset_pending(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.pending
            .lock()
            .contains_key(&(group.to_owned(), topic.to_owned(), partition))
    }

    /// EndTxn: commit or abort the open transaction.
    pub async fn end(
        &self,
        b: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<i16> {
        let entry = self.entry(b, id).await?;
        let mut slot = entry.lock().await;
        let Some(t) = slot.as_mut() else {
            return Ok(errors::INVALID_PRODUCER_ID_MAPPING);
        };
        if let Err(code) = identify(t, producer_id, producer_epoch) {
            return Ok(code);
        }
        match (t.state, commit) {
            (State::Ongoing, _) | (State::PrepareCommit, true) | (State::PrepareAbort, false) => {
                let epoch = t.producer_epoch;
                self.open.lock().remove(&t.producer_id);
                Ok(complete(self, b, id, t, commit, epoch)
                    .await?
                    .err()
                    .unwrap_or(errors::NONE))
            }
            // A retried EndTxn whose first attempt completed.
            (State::CompleteCommit, true) | (State::CompleteAbort, false) => Ok(errors::NONE),
            _ => Ok(errors::INVALID_TXN_STATE),
        }
    }

    /// Abort transactions open past their timeout (bumping the epoch, which fences the
    /// producer) and finish ones a failure left half-ended.
    pub async fn expire(&self, b: &Broker) -> Result<()> {
        self.ensure_loaded(b).await?;
        let entries: Vec<(String, Entry)> = self
            .entries
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let now = now_ms();
        for (id, entry) in entries {
            let mut slot = entry.lock().await;
            let Some(t) = slot.as_mut() else { continue };
            let outcome = match t.state {
                State::Ongoing if now - t.started_ms > t.timeout_ms => {
                    tracing::info!(transactional_id = %id, "aborting a timed-out transaction");
                    self.open.lock().remove(&t.producer_id);
                    let bumped = t.producer_epoch.saturating_add(1);
                    complete(self, b, &id, t, false, bumped).await?
                }
                State::PrepareCommit => {
                    let epoch = t.producer_epoch;
                    complete(self, b, &id, t, true, epoch).await?
                }
                State::PrepareAbort => {
                    let epoch = t.producer_epoch;
                    complete(self, b, &id, t, false, epoch).await?
                }
                _ => Ok(()),
            };
            self.epochs.lock().insert(t.producer_id, t.producer_epoch);
            if let Err(code) = outcome {
                tracing::warn!(transactional_id = %id, code, "ending a transaction failed; will retry");
            }
        }
        Ok(())
    }
}

/// The transaction, if `producer_id` and `producer_epoch` are its current ones and it is
/// not half-ended.
fn check(t: Option<&mut Txn>, producer_id: i64, producer_epoch: i16) -> Coded<&mut Txn> {
    let t = t.ok_or(errors::INVALID_PRODUCER_ID_MAPPING)?;
    identify(t, producer_id, producer_epoch)?;
    if matches!(t.state, State::PrepareCommit | State::PrepareAbort) {
        return Err(errors::CONCURRENT_TRANSACTIONS);
    }
    Ok(t)
}

fn identify(t: &Txn, producer_id: i64, producer_epoch: i16) -> Coded<()> {
    if producer_id != t.producer_id {
        Err(errors::INVALID_PRODUCER_ID_MAPPING)
    } else if producer_epoch < t.producer_epoch {
        Err(errors::PRODUCER_FENCED)
    } else if producer_epoch > t.producer_epoch {
        Err(errors::INVALID_PRODUCER_EPOCH)
    } else {
        Ok(())
    }
}

/// The transaction, opened if it was not.
fn begin(t: &Txn) -> Txn {
    let mut next = t.clone();
    if next.state != State::Ongoing {
        next.state = State::Ongoing;
        next.started_ms = now_ms();
        next.partitions.clear();
        next.offsets.clear();
    }
    next
}

/// End `t`: record the decision, write markers with `epoch` to every partition, apply its
/// offsets on commit, then record completion. `Err(code)` leaves the decision recorded,
/// to be finished by a retry or by [`Transactions::expire`].
async fn complete(
    txns: &Transactions,
    b: &Broker,
    id: &str,
    t: &mut Txn,
    commit: bool,
    epoch: i16,
) -> Result<Coded<()>> {
    let mut next = t.clone();
    next.producer_epoch = epoch;
    next.state = if commit {
        State::PrepareCommit
    } else {
        State::PrepareAbort
    };
    if next != *t {
        txn::save(&b.store, id, &next, Change::default()).await?;
        *t = next.clone();
    }
    let mut waits = Vec::new();
    for (topic, p) in &t.partitions {
        // A deleted topic's partitions need no marker.
        if let Some(log) = b.log(topic, *p) {
            waits.push(log.enqueue_marker(t.producer_id, epoch, commit));
        }
    }
    for w in waits {
        match w.await {
            Ok(Ok(results)) => {
                if let Some(&(code, _)) = results.iter().find(|r| r.0 != errors::NONE) {
                    return Ok(Err(code));
                }
            }
            Ok(Err(code)) => return Ok(Err(code)),
            Err(_) => return Ok(Err(errors::UNKNOWN_SERVER_ERROR)),
        }
    }
    if commit {
        let offsets: BTreeMap<String, Vec<Committed>> = t.offsets.clone();
        for (group_id, offsets) in offsets {
            group::commit(&b.store, &group_id, &offsets).await?;
        }
    }
    next.state = if commit {
        State::CompleteCommit
    } else {
        State::CompleteAbort
    };
    next.partitions.clear();
    next.offsets.clear();
    txn::save(
        &b.store,
        id,
        &next,
        Change {
            clear: true,
            ..Change::default()
        },
    )
    .await?;
    txns.pending.lock().retain(|_, holders| {
        holders.remove(id);
        !holders.is_empty()
    });
    *t = next;
    Ok(Ok(()))
}

/// Check transaction timeouts every second while the broker lives.
pub fn spawn_expiry(broker: &Arc<Broker>) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(broker);
    rt.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(b) = weak.upgrade() else { return };
            if let Err(e) = b.txns.expire(&b).await {
                tracing::warn!(error = %e, "transaction expiry failed");
            }
        }
    });
}
