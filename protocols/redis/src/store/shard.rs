//! One shard object: its in-memory image, and the writer that makes changes durable in order.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dotdo_backend::{ObjectId, SharedBackend, Statement, StatementResult, Value as SqlValue};
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};

use super::sql;
use super::value::{Entry, KIND_LIST, KIND_ZSET, Value};
use crate::error::Error;

/// How far a shard's changes are durable.
#[derive(Clone, Debug, Default)]
pub struct Durable {
    pub seq: u64,
    /// Set when a write failed: the image is ahead of the object and the shard refuses work.
    pub failed: Option<String>,
}

/// Scheduler rounds without new work after which the writer stops gathering a batch.
const GATHER_ROUNDS: usize = 2;

/// The writer waits for the clients a durable batch released only if that batch took at least
/// `MIN_GATHER`, and for at most as long as it took, capped at `MAX_GATHER` (the timer's
/// granularity is a millisecond, so a client that does not come back costs about that).
const MIN_GATHER: Duration = Duration::from_micros(200);
const MAX_GATHER: Duration = Duration::from_millis(2);

/// The in-memory image of a shard, guarded by the shard's mutex.
pub struct ShardState {
    pub(super) map: HashMap<Bytes, Entry>,
    /// (expires_at, key) of every key with a TTL, for the active sweep.
    pub(super) expires: BTreeSet<(i64, Bytes)>,
    /// Statements of the command being applied, not yet handed to the writer.
    pub(super) pending: Vec<Statement>,
    /// Keys the command being applied modified (for empty collections and WATCH).
    pub(super) dirty: Vec<Bytes>,
    /// Statements of finished commands that the writer has not taken yet, in the order the
    /// commands applied to the image. The writer takes them all at once, under this lock, so
    /// the object sees the changes in the image's order and a command's statements always
    /// land in one batch.
    outbox: Vec<Statement>,
    /// The sequence number of the last command whose statements went to the outbox.
    pub(super) seq: u64,
    /// The writer stopped after a failed write: the outbox is no longer kept.
    stopped: bool,
    /// The writer is waiting for the command with this sequence number (`u64::MAX`: not).
    gather_target: u64,
    pub(super) watchers: HashMap<Bytes, Vec<Arc<AtomicBool>>>,
}

impl Default for ShardState {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            expires: BTreeSet::new(),
            pending: Vec::new(),
            dirty: Vec::new(),
            outbox: Vec::new(),
            seq: 0,
            stopped: false,
            gather_target: u64::MAX,
            watchers: HashMap::new(),
        }
    }
}

impl ShardState {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.map.iter()
    }

    pub fn watch(&mut self, key: Bytes, flag: Arc<AtomicBool>) {
        let list = self.watchers.entry(key).or_default();
        list.retain(|f| Arc::strong_count(f) > 1);
        list.push(flag);
    }

    pub(super) fn touch(&mut self, key: &Bytes) {
        self.dirty.push(key.clone());
    }

    pub(super) fn set_expiry_index(&mut self, key: &Bytes, old: Option<i64>, new: Option<i64>) {
        if old == new {
            return;
        }
        if let Some(o) = old {
            self.expires.remove(&(o, key.clone()));
        }
        if let Some(n) = new {
            self.expires.insert((n, key.clone()));
        }
    }

    /// Drop `key` from the image and record its deletion. Returns the old entry.
    pub(super) fn delete(&mut self, key: &Bytes) -> Option<Entry> {
        let old = self.map.remove(key)?;
        self.set_expiry_index(key, old.expires_at, None);
        self.pending.extend(sql::del_key(key));
        self.touch(key);
        Some(old)
    }

    /// Remove every key (FLUSHDB). Watchers of every key are told.
    pub fn flush(&mut self) {
        let keys: Vec<Bytes> = self.map.keys().cloned().collect();
        self.dirty.extend(keys);
        self.map.clear();
        self.expires.clear();
        self.pending.extend(sql::clear());
    }

    /// Keys whose TTL is over at `now`, at most `limit` of them.
    pub(super) fn expired(&self, now: i64, limit: usize) -> Vec<Bytes> {
        self.expires
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Finish the command being applied: delete collections it emptied, tell watchers, and
    /// hand its statements to the writer. Returns the sequence number to wait for.
    pub(super) fn commit(&mut self, shard: &Shard) -> u64 {
        if !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            for key in &dirty {
                if self
                    .map
                    .get(key)
                    .is_some_and(|e| e.value.is_empty_collection())
                {
                    self.delete(key);
                }
                if let Some(flags) = self.watchers.remove(key) {
                    flags.iter().for_each(|f| f.store(true, Ordering::Release));
                }
            }
            self.dirty.clear();
        }
        if !self.pending.is_empty() {
            self.seq += 1;
            if self.stopped {
                // The shard failed; `durable.failed` says why and no reply will be released.
                self.pending.clear();
            } else {
                let was_idle = self.outbox.is_empty();
                // `append` keeps `pending`'s buffer for the next command.
                self.outbox.append(&mut self.pending);
                if was_idle || self.seq == self.gather_target {
                    shard.wake.notify_one();
                }
            }
        }
        self.seq
    }
}

/// A loaded shard object.
pub struct Shard {
    pub id: ObjectId,
    pub state: Mutex<ShardState>,
    /// Tells the writer the outbox has work (or, on drop, that the shard is gone).
    wake: Arc<Notify>,
    durable: watch::Receiver<Durable>,
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl Shard {
    /// Load the object's rows into an image and start its writer.
    pub async fn load(backend: SharedBackend, id: ObjectId) -> Result<Arc<Shard>, Error> {
        let mut batch = sql::schema_statements();
        let first_select = batch.len();
        batch.push(Statement::new(sql::LOAD_VERSION));
        batch.push(Statement::new(sql::LOAD_KEYS));
        batch.push(Statement::new(sql::LOAD_ELEMS));
        let mut results = backend.execute(&id, batch).await?;
        let elems = results.pop().unwrap_or_default();
        let keys = results.pop().unwrap_or_default();
        let version = results
            .get(first_select)
            .and_then(|r| r.rows.first())
            .and_then(|row| row.first())
            .and_then(SqlValue::as_i64);
        if version != Some(sql::SCHEMA_VERSION) {
            return Err(Error::Storage(format!(
                "object {id} has schema version {version:?}, this build reads {}",
                sql::SCHEMA_VERSION
            )));
        }
        let state = build_image(keys, elems);
        let wake = Arc::new(Notify::new());
        let (durable_tx, durable_rx) = watch::channel(Durable::default());
        let shard = Arc::new(Shard {
            id,
            state: Mutex::new(state),
            wake: wake.clone(),
            durable: durable_rx,
        });
        tokio::spawn(write_loop(
            backend,
            Arc::downgrade(&shard),
            wake,
            durable_tx,
        ));
        Ok(shard)
    }

    /// Whether everything up to `seq` is durable already (`Err` if the shard failed).
    pub fn durable_at(&self, seq: u64) -> Result<bool, Error> {
        let d = self.durable.borrow();
        match &d.failed {
            Some(f) => Err(Error::Storage(f.clone())),
            None => Ok(d.seq >= seq),
        }
    }

    /// Wait until everything up to `seq` is durable.
    pub async fn wait_durable(&self, seq: u64) -> Result<(), Error> {
        let mut rx = self.durable.clone();
        let d = rx
            .wait_for(|d| d.seq >= seq || d.failed.is_some())
            .await
            .map_err(|_| Error::Storage("shard writer stopped".into()))?;
        match &d.failed {
            Some(f) => Err(Error::Storage(f.clone())),
            None => Ok(()),
        }
    }
}

/// Hand the outbox to the backend in order; everything that queues while one batch runs goes
/// into the next, so one fsync covers many commands.
async fn write_loop(
    backend: SharedBackend,
    shard: Weak<Shard>,
    wake: Arc<Notify>,
    durable: watch::Sender<Durable>,
) {
    // The sequence number the gathering waits for (the commands queued while the last batch
    // ran, plus as many as it released), and how long the last batch took.
    let (mut taken, mut target, mut took) = (0u64, 0u64, Duration::ZERO);
    loop {
        let Some(s) = shard.upgrade() else { return };
        let mut queued = s.state.lock().outbox.len();
        if queued == 0 {
            drop(s);
            // A permit stored by `notify_one` since the check is not lost.
            wake.notified().await;
            continue;
        }
        // When a batch becomes durable, the clients it released send their next commands;
        // the writer waits for them (woken by the command that reaches `target`) for up to
        // about as long as the last batch took, so they join this batch instead of taking
        // turns with the clients already queued, each half of them paying for an fsync.
        // When fsyncs are cheap, a batch missed costs little and waiting is not worth it.
        if took >= MIN_GATHER {
            let deadline = tokio::time::Instant::now() + took.min(MAX_GATHER);
            loop {
                {
                    let mut st = s.state.lock();
                    if st.seq >= target {
                        break;
                    }
                    st.gather_target = target;
                }
                if tokio::time::timeout_at(deadline, wake.notified())
                    .await
                    .is_err()
                {
                    break;
                }
            }
            s.state.lock().gather_target = u64::MAX;
        }
        // Then yielding a few times lets connection tasks that are about to queue work do so
        // (each round also polls the sockets) before the batch leaves.
        let mut idle_rounds = 0;
        while idle_rounds < GATHER_ROUNDS {
            tokio::task::yield_now().await;
            let now = s.state.lock().outbox.len();
            idle_rounds = if now == queued { idle_rounds + 1 } else { 0 };
            queued = now;
        }
        let (batch, last) = {
            let mut st = s.state.lock();
            (std::mem::take(&mut st.outbox), st.seq)
        };
        let sent = Instant::now();
        match backend
            .execute(&s.id, sql::merge_rows(sql::coalesce(batch)))
            .await
        {
            Ok(_) => {
                took = sent.elapsed();
                // Read before the release, so no released client's next command is counted.
                target = s.state.lock().seq + (last - taken);
                taken = last;
                durable.send_modify(|d| d.seq = last);
            }
            Err(e) => {
                let id = &s.id;
                tracing::error!(object = %id, error = %e, "durable write failed; shard stops");
                let mut st = s.state.lock();
                st.stopped = true;
                st.outbox = Vec::new();
                durable.send_modify(|d| d.failed = Some(format!("write to {id} failed: {e}")));
                return;
            }
        }
    }
}

fn bytes_of(v: &SqlValue) -> Bytes {
    v.as_bytes().map(Bytes::copy_from_slice).unwrap_or_default()
}

fn build_image(keys: StatementResult, elems: StatementResult) -> ShardState {
    let mut state = ShardState::default();
    for row in keys.rows {
        let [key, kind, expires, value] = row.as_slice() else {
            continue;
        };
        let key = bytes_of(key);
        let Some(mut v) = kind.as_i64().and_then(Value::empty_of) else {
            continue;
        };
        if let Value::Str(s) = &mut v {
            *s = bytes_of(value);
        }
        let expires_at = expires.as_i64();
        if let Some(at) = expires_at {
            state.expires.insert((at, key.clone()));
        }
        state.map.insert(
            key,
            Entry {
                value: v,
                expires_at,
                accessed: super::value::access_clock(super::now_ms()),
            },
        );
    }
    for row in elems.rows {
        let [key, sub, value, score] = row.as_slice() else {
            continue;
        };
        let key = bytes_of(key);
        let Some(entry) = state.map.get_mut(&key) else {
            continue;
        };
        let sub = bytes_of(sub);
        match &mut entry.value {
            Value::Hash(h) => {
                h.insert(sub, bytes_of(value));
            }
            Value::Set(s) => {
                s.insert(sub);
            }
            Value::ZSet(z) => {
                z.insert(sub, score.as_f64().unwrap_or(0.0));
            }
            Value::List(l) => {
                // Rows come in position order.
                if l.items.is_empty()
                    && let Some(p) = sql::list_pos_decode(&sub)
                {
                    l.head = p;
                }
                l.items.push_back(bytes_of(value));
            }
            Value::Stream(st) => st.load_row(&sub, &bytes_of(value)),
            Value::Str(_) => {}
        }
    }
    // Keys whose elements are all gone never stay visible.
    state.map.retain(|_, e| {
        !e.value.is_empty_collection() || !matches!(e.value.kind(), KIND_LIST..=KIND_ZSET)
    });
    state
}
