//! One shard object: its in-memory image, and the writer that makes changes durable in order.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use dotdo_backend::{ObjectId, SharedBackend, Statement, StatementResult, Value as SqlValue};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

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

/// Changes of one command (or one transaction) on one shard: applied atomically.
struct Unit {
    seq: u64,
    statements: Vec<Statement>,
}

/// Statements folded into one backend batch at most (more wait for the next batch).
const MAX_BATCH_STATEMENTS: usize = 20_000;

/// Scheduler rounds without new work after which the writer stops gathering a batch.
const GATHER_ROUNDS: usize = 2;

/// The in-memory image of a shard, guarded by the shard's mutex.
#[derive(Default)]
pub struct ShardState {
    pub(super) map: HashMap<Bytes, Entry>,
    /// (expires_at, key) of every key with a TTL, for the active sweep.
    pub(super) expires: BTreeSet<(i64, Bytes)>,
    /// Statements of the command being applied, not yet handed to the writer.
    pub(super) pending: Vec<Statement>,
    /// Keys the command being applied modified (for empty collections and WATCH).
    pub(super) dirty: Vec<Bytes>,
    /// The sequence number of the last unit handed to the writer.
    pub(super) seq: u64,
    pub(super) watchers: HashMap<Bytes, Vec<Arc<AtomicBool>>>,
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
            let unit = Unit {
                seq: self.seq,
                statements: std::mem::take(&mut self.pending),
            };
            // A closed writer means the shard failed; `durable.failed` already says why.
            let _ = shard.writer.send(unit);
        }
        self.seq
    }
}

/// A loaded shard object.
pub struct Shard {
    pub id: ObjectId,
    pub state: Mutex<ShardState>,
    writer: mpsc::UnboundedSender<Unit>,
    durable: watch::Receiver<Durable>,
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
        let (tx, rx) = mpsc::unbounded_channel();
        let (durable_tx, durable_rx) = watch::channel(Durable::default());
        tokio::spawn(write_loop(backend, id.clone(), rx, durable_tx));
        Ok(Arc::new(Shard {
            id,
            state: Mutex::new(state),
            writer: tx,
            durable: durable_rx,
        }))
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

/// Hand units to the backend in order; everything queued while one batch runs is folded
/// into the next, so one fsync covers many commands.
async fn write_loop(
    backend: SharedBackend,
    id: ObjectId,
    mut rx: mpsc::UnboundedReceiver<Unit>,
    durable: watch::Sender<Durable>,
) {
    while let Some(first) = rx.recv().await {
        let mut last = first.seq;
        let mut batch = first.statements;
        // When a batch becomes durable, every client it released sends its next commands
        // at about the same time. Yielding a few times lets those connection tasks run and
        // queue their work, so it joins this batch instead of waiting a whole fsync for the
        // next one (the convoy a writer that starts at once falls into).
        let mut idle_rounds = 0;
        while batch.len() < MAX_BATCH_STATEMENTS && idle_rounds < GATHER_ROUNDS {
            let before = last;
            while batch.len() < MAX_BATCH_STATEMENTS {
                match rx.try_recv() {
                    Ok(unit) => {
                        last = unit.seq;
                        batch.extend(unit.statements);
                    }
                    Err(_) => break,
                }
            }
            idle_rounds = if last == before { idle_rounds + 1 } else { 0 };
            tokio::task::yield_now().await;
        }
        match backend
            .execute(&id, sql::merge_rows(sql::coalesce(batch)))
            .await
        {
            Ok(_) => {
                durable.send_modify(|d| d.seq = last);
            }
            Err(e) => {
                tracing::error!(object = %id, error = %e, "durable write failed; shard stops");
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
