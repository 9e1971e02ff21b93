//! One shard object: its in-memory image, and the writer that makes changes durable in order.

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dotdo_backend::{ObjectId, SharedBackend, Statement, StatementResult, Value as SqlValue};
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};

use super::redo::{Plan, Redo};
use super::sql;
use super::value::{Entry, KIND_LIST, KIND_STRING, KIND_ZSET, List, Value};
use crate::error::Error;

/// How far a shard's changes are durable.
#[derive(Clone, Debug, Default)]
pub struct Durable {
    pub seq: u64,
    /// Set when a write failed: the image is ahead of the object and the shard refuses work.
    pub failed: Option<String>,
}

/// Changes queued to any shard, in the whole process (the gathering's measure of how the
/// released clients' next commands spread over shards).
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// Shard writers with work queued or in flight, in the whole process.
static BUSY_WRITERS: AtomicUsize = AtomicUsize::new(0);

/// Counts its writer in `BUSY_WRITERS` while set (and not after the writer ends).
struct BusyWriter(bool);

impl BusyWriter {
    fn set(&mut self, busy: bool) {
        if busy != self.0 {
            self.0 = busy;
            if busy {
                BUSY_WRITERS.fetch_add(1, Ordering::Relaxed);
            } else {
                BUSY_WRITERS.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for BusyWriter {
    fn drop(&mut self) {
        self.set(false);
    }
}

/// Batches a writer sends to the object's thread after one the backend would not run inline.
const INLINE_BACKOFF: u32 = 16;

/// Scheduler rounds without new work after which the writer stops gathering a batch.
const GATHER_ROUNDS: usize = 2;

/// The writer waits for the clients a durable batch released only if that batch took at least
/// `MIN_GATHER`, and for at most as long as it took, capped at `MAX_GATHER` (the timer's
/// granularity is a millisecond, so a client that does not come back costs about that).
const MIN_GATHER: Duration = Duration::from_micros(200);
const MAX_GATHER: Duration = Duration::from_millis(2);

/// How long a writer with nothing queued waits before it folds its redo log.
const IDLE_FOLD: Duration = Duration::from_millis(500);

/// An element row's `sub`: a member or field, or a list position (kept as a number, so
/// pushes and pops allocate nothing here).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Sub {
    Member(Bytes),
    Pos(i64),
}

/// Rows changed since the writer last took the shard's changes. The writer writes each as the
/// image then holds it (or deletes it), so a row changed by a thousand commands in one batch
/// costs one write, and a command costs a set insertion instead of a statement.
///
/// Invariant: every change to a `keys` row, and to an `elems` row of a hash, list, set or
/// sorted set, is recorded here; changes to a stream's rows and range deletes (a collection's
/// deletion, FLUSHDB) go to the statement log instead, which the writer runs first. A row
/// recorded here gets the image's state whatever the log did to it; a row not recorded here
/// changed only through the log, in order, so it also ends as the image holds it. A stream's
/// rows are never recorded here: a recorded row of a key that is now a stream was changed
/// before the key became a stream, i.e. before the deletion that the log also holds, so the
/// log decides it.
#[derive(Default)]
pub(super) struct Unsaved {
    keys: HashSet<Bytes>,
    elems: HashMap<Bytes, Subs>,
}

/// The changed element rows of one key: members and fields in a set; list positions in the
/// order recorded, repeats and all (a push records a new position each time, so a set would
/// only hash and grow; the writer sorts them and drops repeats).
#[derive(Default)]
struct Subs {
    members: HashSet<Bytes>,
    positions: Vec<i64>,
}

impl Subs {
    fn add(&mut self, sub: Sub) {
        match sub {
            Sub::Member(m) => {
                self.members.insert(m);
            }
            Sub::Pos(p) => self.positions.push(p),
        }
    }
}

fn record_elem(unsaved: &mut Unsaved, changed: &mut bool, key: &Bytes, sub: Sub) {
    *changed = true;
    match unsaved.elems.get_mut(key) {
        Some(subs) => subs.add(sub),
        None => {
            let mut subs = Subs::default();
            subs.add(sub);
            unsaved.elems.insert(key.clone(), subs);
        }
    }
}

/// Where a collection's writer records its changes while the shard's entry is borrowed.
pub(super) struct Recorder<'a> {
    unsaved: &'a mut Unsaved,
    changed: &'a mut bool,
    /// The statement log, for a stream's rows.
    pub(super) pending: &'a mut Vec<Statement>,
}

impl Recorder<'_> {
    pub(super) fn elem(&mut self, key: &Bytes, sub: Sub) {
        record_elem(self.unsaved, self.changed, key, sub);
    }

    /// Log the deletion of every element row of `key` (see `ShardState::drop_elems`).
    pub(super) fn drop_elems(&mut self, key: &Bytes) {
        self.unsaved.elems.remove(key);
        self.pending.push(sql::del_elems(key));
    }
}

/// A shard image's bookkeeping, borrowed beside its map (`ShardState::split`), so an entry
/// of the map can be held while changes are recorded.
struct Books<'a> {
    expires: &'a mut BTreeSet<(i64, Bytes)>,
    unsaved: &'a mut Unsaved,
    changed: &'a mut bool,
    pending: &'a mut Vec<Statement>,
    dirty: &'a mut Vec<Bytes>,
}

impl<'a> Books<'a> {
    /// Record that `key`'s row in `keys` changed.
    fn key_changed(&mut self, key: &Bytes) {
        *self.changed = true;
        if !self.unsaved.keys.contains(key) {
            self.unsaved.keys.insert(key.clone());
        }
    }

    /// The bookkeeping of `key`'s deletion, its entry `old` already out of the map: the
    /// expiry index, the row's deletion (and its element rows', but a string has none: they
    /// were deleted when it became a string), and the key marked as modified.
    fn forget(&mut self, key: &Bytes, old: &Entry) {
        if let Some(at) = old.expires_at {
            self.expires.remove(&(at, key.clone()));
        }
        self.key_changed(key);
        if old.value.kind() != KIND_STRING {
            self.unsaved.elems.remove(key);
            self.pending.push(sql::del_elems(key));
        }
        self.dirty.push(key.clone());
    }

    /// Where a collection's writer records its changes.
    fn recorder(self) -> Recorder<'a> {
        Recorder {
            unsaved: self.unsaved,
            changed: self.changed,
            pending: self.pending,
        }
    }
}

/// What `ShardState::collection_of` found.
pub(super) enum Collection<'a> {
    Found(&'a mut Value, Recorder<'a>),
    WrongType,
    Missing,
}

/// What happened to a key on the way to its collection.
#[derive(Default)]
pub(super) struct Touched {
    /// Its TTL was over: it was deleted.
    pub expired: bool,
    /// It was created empty.
    pub created: bool,
}

/// The in-memory image of a shard, guarded by the shard's mutex.
pub struct ShardState {
    pub(super) map: HashMap<Bytes, Entry>,
    /// (expires_at, key) of every key with a TTL, for the active sweep.
    pub(super) expires: BTreeSet<(i64, Bytes)>,
    /// Logged statements of the command being applied, not yet handed to the writer.
    pub(super) pending: Vec<Statement>,
    /// The command being applied recorded a change in `unsaved`.
    changed: bool,
    /// Keys the command being applied modified (for empty collections and WATCH).
    pub(super) dirty: Vec<Bytes>,
    /// Keys the command being applied wrote as a whole value or a new TTL, which cannot have
    /// left an empty collection behind (for WATCH and tracking only: the commit looks none
    /// of them up).
    touched: Vec<Bytes>,
    /// Logged statements of finished commands that the writer has not taken yet, in the order
    /// the commands applied to the image. The writer takes them and `unsaved` all at once,
    /// under this lock, so a batch leaves the object exactly as the image was at that moment
    /// and a command's changes always land in one batch.
    outbox: Vec<Statement>,
    unsaved: Unsaved,
    /// The sequence number of the last command that changed anything.
    pub(super) seq: u64,
    /// The sequence number of the last command whose changes the writer took.
    taken: u64,
    /// The writer stopped after a failed write: the outbox is no longer kept.
    stopped: bool,
    /// A sequence number this state has already seen durable (durability only grows), so a
    /// command that changed nothing since needs no look at the writer's report.
    durable_seen: u64,
    /// The writer is waiting for the command with this sequence number (`u64::MAX`: not).
    gather_target: u64,
    pub(super) watchers: HashMap<Bytes, Vec<Arc<AtomicBool>>>,
    /// The command being applied flushed the shard (FLUSHDB, FLUSHALL).
    flushed: bool,
    /// SCAN's order of the keys, as of `seq` (see `scan_page`).
    scan_order: Option<ScanOrder>,
    /// HSCAN / SSCAN / ZSCAN's order of the members of collections being scanned, by key
    /// (see `members_page`); at most `MAX_MEMBER_SCANS` of them.
    member_scans: HashMap<Bytes, ScanOrder>,
}

/// Collections whose scan order a shard keeps at once: more clears them (a scan under way
/// then takes a new order, which serves it as well).
const MAX_MEMBER_SCANS: usize = 16;

/// One member of a collection as HSCAN, SSCAN and ZSCAN give it: the member, and its value
/// (a hash's) or score (a sorted set's).
pub type ScannedMember = (Bytes, Option<Bytes>, Option<f64>);

/// The keys in SCAN's order (a stable hash of the key), as they were when `seq` was the last
/// change: taken once per scan at most instead of at every call.
struct ScanOrder {
    seq: u64,
    keys: Vec<(u64, Bytes)>,
}

impl ScanOrder {
    fn of<'a>(seq: u64, items: impl Iterator<Item = &'a Bytes>) -> Self {
        let mut keys: Vec<(u64, Bytes)> = items.map(|k| (scan_hash(k), k.clone())).collect();
        keys.sort_unstable_by_key(|(h, _)| *h);
        ScanOrder { seq, keys }
    }

    /// The positions of the page from `cursor` (see `page_end`), and the hash after it.
    fn page(&self, cursor: u64, count: usize) -> (std::ops::Range<usize>, Option<u64>) {
        let from = self.keys.partition_point(|(h, _)| *h < cursor);
        let end = page_end(self.keys.len(), from, count, |i| self.keys[i].0);
        (from..end, self.keys.get(end).map(|(h, _)| *h))
    }
}

/// Where a page of `count` items in hash order that starts at `from` ends: `count` on, and
/// past any more that share the last one's hash, so a page never splits equal hashes.
pub fn page_end(len: usize, from: usize, count: usize, hash: impl Fn(usize) -> u64) -> usize {
    let mut end = from.saturating_add(count).min(len);
    while end > from && end < len && hash(end) == hash(end - 1) {
        end += 1;
    }
    end
}

/// SCAN's position of a key.
pub fn scan_hash(key: &[u8]) -> u64 {
    dotdo_shard::stable_hash(key) >> 1
}

/// One shard's part of a SCAN page (`ShardState::scan_page`).
pub struct ScanPart {
    /// `(hash, key, shown)`: `shown` is false for a key gone, expired or of another TYPE.
    pub keys: Vec<(u64, Bytes, bool)>,
    /// The hash of the shard's first key after these (`None`: there is none).
    pub next: Option<u64>,
}

impl Default for ShardState {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            expires: BTreeSet::new(),
            pending: Vec::new(),
            changed: false,
            dirty: Vec::new(),
            touched: Vec::new(),
            outbox: Vec::new(),
            unsaved: Unsaved::default(),
            seq: 0,
            taken: 0,
            stopped: false,
            durable_seen: 0,
            gather_target: u64::MAX,
            watchers: HashMap::new(),
            flushed: false,
            scan_order: None,
            member_scans: HashMap::new(),
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

    /// Keys whose TTL is over at `now` but which the sweep has not deleted yet, found through
    /// the expiry index (ordered by time): as many steps as there are such keys.
    pub fn expired_count(&self, now: i64) -> usize {
        self.expiries().take_while(|at| *at <= now).count()
    }

    /// Keys alive at `now` that have a TTL, from the expiry index.
    pub fn expires_after(&self, now: i64) -> usize {
        self.expiries().skip_while(|at| *at <= now).count()
    }

    /// The expiry index in time order, without entries a later write left behind.
    fn expiries(&self) -> impl Iterator<Item = i64> + '_ {
        self.expires
            .iter()
            .filter(|(at, k)| self.map.get(k).is_some_and(|e| e.expires_at == Some(*at)))
            .map(|(at, _)| *at)
    }

    /// Keys alive at `now`, without visiting them all.
    pub fn live_len(&self, now: i64) -> usize {
        self.map.len().saturating_sub(self.expired_count(now))
    }

    /// The keys from SCAN position `cursor` on: `count` of them, and any more that share the
    /// last one's hash (a page never splits equal hashes), from an order taken at or after the
    /// scan began. A scan begins at cursor 0, which takes a new order if anything changed
    /// since the last was taken; later calls reuse it, so a full scan costs one sort instead
    /// of one per call. Every key present for the whole scan is in that order, so it is
    /// returned; a key created since is not (Redis may or may not return those), and a key
    /// deleted or expired since is marked not shown.
    pub fn scan_page(
        &mut self,
        cursor: u64,
        count: usize,
        now: i64,
        kind: Option<&str>,
    ) -> ScanPart {
        let stale = self.scan_order.as_ref().is_none_or(|o| o.seq != self.seq);
        if cursor == 0 && stale || self.scan_order.is_none() {
            self.scan_order = Some(ScanOrder::of(self.seq, self.map.keys()));
        }
        let Some(order) = &self.scan_order else {
            return ScanPart {
                keys: Vec::new(),
                next: None,
            };
        };
        let (range, next) = order.page(cursor, count);
        let keys = order.keys[range]
            .iter()
            .map(|(h, k)| {
                let shown = self.map.get(k).is_some_and(|e| {
                    e.expires_at.is_none_or(|at| at > now)
                        && kind.is_none_or(|t| e.value.type_name().eq_ignore_ascii_case(t))
                });
                (*h, k.clone(), shown)
            })
            .collect();
        if next.is_none() {
            // A scan that reached the end lets the order go (a scan still under way takes a
            // newer one, which serves it as well).
            self.scan_order = None;
        }
        ScanPart { keys, next }
    }

    /// The members of the hash, set or sorted set at `key` from scan position `cursor` on, as
    /// `scan_page` pages keys: `count` of them (ties kept together) from an order of the
    /// members taken at or after the scan began, with the next cursor (0 at the end). Members
    /// gone since are left out. A collection that fits in one page is not kept.
    pub fn members_page(
        &mut self,
        key: &Bytes,
        cursor: u64,
        count: usize,
    ) -> (Vec<ScannedMember>, u64) {
        let stale = self.member_scans.get(key).is_none_or(|o| o.seq != self.seq);
        let taken;
        let order = match self.member_scans.get(key) {
            Some(o) if !(cursor == 0 && stale) => o,
            _ => {
                let members: Vec<&Bytes> = match self.map.get(key).map(|e| &e.value) {
                    Some(Value::Hash(h)) => h.keys().collect(),
                    Some(Value::Set(s)) => s.iter().collect(),
                    Some(Value::ZSet(z)) => z.iter().map(|(m, _)| m).collect(),
                    _ => Vec::new(),
                };
                let order = ScanOrder::of(self.seq, members.into_iter());
                if cursor == 0 && order.keys.len() <= count {
                    taken = order;
                    &taken
                } else {
                    if self.member_scans.len() >= MAX_MEMBER_SCANS {
                        self.member_scans.clear();
                    }
                    self.member_scans.insert(key.clone(), order);
                    &self.member_scans[key]
                }
            }
        };
        let (range, next) = order.page(cursor, count);
        let value = self.map.get(key).map(|e| &e.value);
        let page = order.keys[range]
            .iter()
            .filter_map(|(_, m)| match value {
                Some(Value::Hash(h)) => h.get(m).map(|x| (m.clone(), Some(x.clone()), None)),
                Some(Value::Set(s)) => s.contains(m).then(|| (m.clone(), None, None)),
                Some(Value::ZSet(z)) => z.score(m).map(|sc| (m.clone(), None, Some(sc))),
                _ => None,
            })
            .collect();
        if next.is_none() {
            self.member_scans.remove(key);
        }
        (page, next.unwrap_or(0))
    }

    /// The `n`th key of the map's order, if there are that many.
    pub fn nth_key(&self, n: usize) -> Option<(&Bytes, &Entry)> {
        self.map.iter().nth(n)
    }

    pub fn watch(&mut self, key: Bytes, flag: Arc<AtomicBool>) {
        let list = self.watchers.entry(key).or_default();
        list.retain(|f| Arc::strong_count(f) > 1);
        list.push(flag);
    }

    /// `key` was written whole (a string, a whole collection that is not empty) or given a
    /// new TTL.
    pub(super) fn touch(&mut self, key: &Bytes) {
        self.touched.push(key.clone());
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

    /// The map, and the bookkeeping beside it.
    fn split(&mut self) -> (&mut HashMap<Bytes, Entry>, Books<'_>) {
        let ShardState {
            map,
            expires,
            unsaved,
            changed,
            pending,
            dirty,
            ..
        } = self;
        let books = Books {
            expires,
            unsaved,
            changed,
            pending,
            dirty,
        };
        (map, books)
    }

    /// Record that `key`'s row in `keys` changed (the writer saves it as the image has it).
    pub(super) fn key_changed(&mut self, key: &Bytes) {
        self.split().1.key_changed(key);
    }

    /// Record that an element row of `key` changed.
    pub(super) fn elem_changed(&mut self, key: &Bytes, sub: Sub) {
        record_elem(&mut self.unsaved, &mut self.changed, key, sub);
    }

    /// Log the deletion of every element row of `key`; element changes recorded before it
    /// need no write of their own any more (the image holds none of them now).
    pub(super) fn drop_elems(&mut self, key: &Bytes) {
        self.unsaved.elems.remove(key);
        self.pending.push(sql::del_elems(key));
    }

    /// Drop `key` from the image and record its deletion. Returns the old entry.
    pub(super) fn delete(&mut self, key: &Bytes) -> Option<Entry> {
        let (map, mut books) = self.split();
        let old = map.remove(key)?;
        books.forget(key, &old);
        Some(old)
    }

    /// The entry of `key` unless it is missing or its TTL is over at `now` (an expired entry
    /// is deleted here, and `expired` set), found with one hash of the key.
    pub(super) fn live(&mut self, key: &Bytes, now: i64, expired: &mut bool) -> Option<&mut Entry> {
        let (map, mut books) = self.split();
        match map.entry(key.clone()) {
            Slot::Vacant(_) => None,
            Slot::Occupied(o) if o.get().expires_at.is_none_or(|at| at > now) => Some(o.into_mut()),
            Slot::Occupied(o) => {
                books.forget(key, &o.remove());
                *expired = true;
                crate::traffic::expired(1);
                None
            }
        }
    }

    /// Write access to the collection of kind `kind` at `key`, with one hash of the key (for
    /// a collection that exists): what `View::coll_mut` serves. A missing or expired key is
    /// created empty when `create` is set; `touched` records what happened on the way.
    pub(super) fn collection_of(
        &mut self,
        key: &Bytes,
        kind: i64,
        create: bool,
        now: i64,
        touched: &mut Touched,
    ) -> Collection<'_> {
        let (map, mut books) = self.split();
        let fresh = |value| Entry {
            value,
            expires_at: None,
            accessed: super::value::stamp(now),
        };
        let entry = match map.entry(key.clone()) {
            Slot::Occupied(mut o) => {
                let e = o.get_mut();
                if e.expires_at.is_some_and(|at| at <= now) {
                    touched.expired = true;
                    crate::traffic::expired(1);
                    if !create {
                        books.forget(key, &o.remove());
                        return Collection::Missing;
                    }
                    // Expired, then created again in the same slot.
                    let Some(value) = Value::empty_of(kind) else {
                        return Collection::WrongType;
                    };
                    books.forget(key, &o.insert(fresh(value)));
                    touched.created = true;
                    o.into_mut()
                } else {
                    super::value::touch(&mut e.accessed, now);
                    if e.value.kind() != kind {
                        return Collection::WrongType;
                    }
                    o.into_mut()
                }
            }
            Slot::Vacant(_) if !create => return Collection::Missing,
            Slot::Vacant(v) => {
                let Some(value) = Value::empty_of(kind) else {
                    return Collection::WrongType;
                };
                touched.created = true;
                v.insert(fresh(value))
            }
        };
        if touched.created {
            books.key_changed(key);
        }
        books.dirty.push(key.clone());
        Collection::Found(&mut entry.value, books.recorder())
    }

    /// Remove every key (FLUSHDB). Watchers of every key are told.
    pub fn flush(&mut self) {
        self.scan_order = None;
        self.member_scans.clear();
        let keys: Vec<Bytes> = self.map.keys().cloned().collect();
        self.dirty.extend(keys);
        self.flushed = true;
        self.map.clear();
        self.expires.clear();
        // The log empties both tables; nothing recorded before needs a write of its own.
        self.unsaved = Unsaved::default();
        self.changed = true;
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
        if !self.changed && self.pending.is_empty() {
            // Nothing changed (SADD of a member already there, LPOP of a missing key): no
            // collection was emptied and, as in Redis, no WATCH is broken.
            self.dirty.clear();
            self.touched.clear();
        }
        if !self.touched.is_empty() {
            if shard.tracking.active() && !self.flushed {
                shard.tracking.modified(&self.touched);
            }
            if !self.watchers.is_empty() {
                for key in &self.touched {
                    if let Some(flags) = self.watchers.remove(key) {
                        flags.iter().for_each(|f| f.store(true, Ordering::Release));
                    }
                }
            }
            self.touched.clear();
        }
        if !self.dirty.is_empty() {
            let mut dirty = std::mem::take(&mut self.dirty);
            // A flush tells tracking clients once, with a null key list (`Tracking::flushed`).
            if shard.tracking.active() && !self.flushed {
                shard.tracking.modified(&dirty);
            }
            for key in &dirty {
                if self
                    .map
                    .get(key)
                    .is_some_and(|e| e.value.is_empty_collection())
                {
                    self.delete(key);
                }
                if !self.watchers.is_empty()
                    && let Some(flags) = self.watchers.remove(key)
                {
                    flags.iter().for_each(|f| f.store(true, Ordering::Release));
                }
            }
            // What the deletions above added needs no visit; the buffer is kept for the next
            // command.
            dirty.clear();
            self.dirty = dirty;
        }
        self.flushed = false;
        if self.changed || !self.pending.is_empty() {
            self.changed = false;
            self.seq += 1;
            CHANGES.fetch_add(1, Ordering::Relaxed);
            if self.stopped {
                // The shard failed; `durable.failed` says why and no reply will be released.
                self.pending.clear();
                self.unsaved = Unsaved::default();
            } else {
                let was_idle = self.seq == self.taken + 1;
                // `append` keeps `pending`'s buffer for the next command.
                self.outbox.append(&mut self.pending);
                if was_idle || self.seq == self.gather_target {
                    shard.wake.notify_one();
                }
            }
        }
        self.seq
    }

    /// Whether everything up to `seq` is durable (an error once the shard's writer failed).
    /// The writer's report is read only past what this state saw durable already: a command
    /// that changed nothing then costs no lock of the report.
    pub(super) fn durable_through(&mut self, shard: &Shard, seq: u64) -> Result<bool, Error> {
        if seq <= self.durable_seen && !self.stopped {
            return Ok(true);
        }
        let durable = shard.durable_at(seq)?;
        if durable {
            self.durable_seen = seq;
        }
        Ok(durable)
    }

    /// Queue statements outside the key image (the function libraries of `cmd::function`,
    /// in shard 0 of database 0) behind every change queued so far, through the same writer;
    /// returns the sequence number they are durable at (a `Ticket`'s).
    pub fn log_statements(&mut self, shard: &Shard, stmts: Vec<Statement>) -> u64 {
        self.pending.extend(stmts);
        self.commit(shard)
    }

    /// Commands whose changes the writer has not taken yet.
    fn queued(&self) -> u64 {
        self.seq - self.taken
    }

    /// Take every change made so far, as the statements that repeat it on the object, and
    /// the sequence number they bring the object to.
    fn take(&mut self) -> (Vec<Statement>, sql::Rows, u64) {
        let log = std::mem::take(&mut self.outbox);
        let unsaved = std::mem::take(&mut self.unsaved);
        self.taken = self.seq;
        let mut rows = sql::Rows::default();
        for key in unsaved.keys {
            match self.map.get(&key) {
                Some(e) => {
                    let value = match &e.value {
                        Value::Str(s) => Some(s.clone()),
                        _ => None,
                    };
                    rows.put_key(key, e.value.kind(), e.expires_at, value);
                }
                None => rows.del_key(key),
            }
        }
        for (key, subs) in unsaved.elems {
            if let Some(Entry {
                value: Value::List(list),
                ..
            }) = self.map.get_mut(&key)
            {
                // A list records only positions (a type change drops what came before).
                write_list(&mut rows, &key, list, subs.positions);
                continue;
            }
            let entry = self.map.get(&key);
            // In row order, so SQLite walks each B-tree page once.
            let mut subs: Vec<SubRow> = subs
                .members
                .into_iter()
                .map(SubRow::Member)
                .chain(
                    subs.positions
                        .into_iter()
                        .map(|p| SubRow::Pos(p, sql::list_pos(p))),
                )
                .collect();
            subs.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
            // A position recorded twice is written once.
            subs.dedup_by(
                |a, b| matches!((a, b), (SubRow::Pos(x, _), SubRow::Pos(y, _)) if x == y),
            );
            let mut last_chunk = None;
            for sub in &subs {
                let bytes = sub.as_ref();
                if let SubRow::Pos(p, _) = sub {
                    // A position of a list that is gone: its chunk row goes too (once).
                    let chunk = p.div_euclid(sql::LIST_CHUNK);
                    if last_chunk != Some(chunk) {
                        rows.del_elem(&key, &sql::chunk_sub(chunk));
                        last_chunk = Some(chunk);
                    }
                }
                match entry.map(|e| elem_now(&e.value, bytes)) {
                    None | Some(ElemNow::Absent) => rows.del_elem(&key, bytes),
                    Some(ElemNow::Row(value, score)) => rows.put_elem(&key, bytes, value, score),
                    Some(ElemNow::Logged) => {}
                }
            }
        }
        (log, rows, self.taken)
    }
}

/// The list element at position `p`, if the list reaches it.
fn list_at(list: &List, p: i64) -> Option<&Bytes> {
    let i = usize::try_from(p.checked_sub(list.head)?).ok()?;
    list.items.get(i)
}

/// The element at `p` if it is too long for a chunk row.
fn long_at(list: &List, p: i64) -> Option<&Bytes> {
    list_at(list, p).filter(|v| sql::own_row(v))
}

/// Write a list's changed positions: every chunk row holding one is rewritten from the image
/// (or deleted once the list no longer reaches it), and an element too long for a chunk row
/// gets a row of its own. Once a list may have such rows (`List::spilled`), every changed
/// position not holding a long element now loses its row, by runs of positions.
fn write_list(rows: &mut sql::Rows, key: &Bytes, list: &mut List, mut changed: Vec<i64>) {
    const N: i64 = sql::LIST_CHUNK;
    changed.sort_unstable();
    changed.dedup();
    let head = list.head;
    let tail = head.saturating_add(list.items.len() as i64);
    let mut last_chunk = None;
    for &p in &changed {
        let chunk = p.div_euclid(N);
        if last_chunk == Some(chunk) {
            continue;
        }
        last_chunk = Some(chunk);
        let sub = sql::chunk_sub(chunk);
        let lo = chunk.saturating_mul(N).max(head);
        let hi = chunk.saturating_mul(N).saturating_add(N).min(tail);
        if lo >= hi {
            rows.del_elem(key, &sub);
            continue;
        }
        // `head <= lo < hi <= tail`, so both ends index the items.
        let items = list.items.range((lo - head) as usize..(hi - head) as usize);
        rows.put_elem_owned(key, &sub, sql::encode_chunk(lo, items.map(|v| &v[..])));
    }
    if !list.spilled && !changed.iter().any(|&p| long_at(list, p).is_some()) {
        return;
    }
    list.spilled = true;
    let mut run: Option<(i64, i64)> = None;
    for &p in &changed {
        if let Some(v) = long_at(list, p) {
            rows.put_elem(key, &sql::list_pos(p), Some(v), None);
            continue;
        }
        run = match run {
            Some((lo, hi)) if hi.checked_add(1) == Some(p) => Some((lo, p)),
            other => {
                if let Some(range) = other {
                    rows.del_positions(key, range);
                }
                Some((p, p))
            }
        };
    }
    if let Some(range) = run {
        rows.del_positions(key, range);
    }
}

/// A `Sub` as the bytes of its row.
enum SubRow {
    Member(Bytes),
    Pos(i64, [u8; 8]),
}

impl AsRef<[u8]> for SubRow {
    fn as_ref(&self) -> &[u8] {
        match self {
            SubRow::Member(m) => m,
            SubRow::Pos(_, p) => p,
        }
    }
}

/// What an element row holds in the image.
enum ElemNow<'a> {
    Row(Option<&'a [u8]>, Option<f64>),
    Absent,
    /// A stream's row: its changes are in the statement log.
    Logged,
}

fn elem_now<'a>(value: &'a Value, sub: &[u8]) -> ElemNow<'a> {
    let row = match value {
        Value::Str(_) => None,
        Value::Hash(h) => h.get(sub).map(|v| (Some(&v[..]), None)),
        Value::Set(s) => s.contains(sub).then_some((None, None)),
        Value::ZSet(z) => z.score(sub).map(|s| (None, Some(s))),
        // A list's rows are written by `write_list`.
        Value::List(_) => None,
        Value::Stream(_) => return ElemNow::Logged,
    };
    match row {
        Some((v, s)) => ElemNow::Row(v, s),
        None => ElemNow::Absent,
    }
}

/// A loaded shard object.
pub struct Shard {
    pub id: ObjectId,
    pub state: Mutex<ShardState>,
    /// Tells the writer the outbox has work (or, on drop, that the shard is gone).
    wake: Arc<Notify>,
    durable: watch::Receiver<Durable>,
    /// The function libraries stored in the object as it was loaded, `(name, code)`, until
    /// `cmd::function` takes them (only shard 0 of database 0 holds any).
    pub functions: Mutex<Option<Vec<(String, Bytes)>>>,
    /// Told of every changed key while some client tracks keys (CLIENT TRACKING).
    tracking: Arc<crate::tracking::Tracking>,
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl Shard {
    /// Load the object's rows into an image and start its writer.
    pub async fn load(
        backend: SharedBackend,
        id: ObjectId,
        tracking: Arc<crate::tracking::Tracking>,
        writers: Option<&tokio::runtime::Handle>,
    ) -> Result<Arc<Shard>, Error> {
        // One round trip when the redo log is empty (nearly always: a writer folds it when
        // idle); a second, after the fold, when a stop left entries in it.
        let reads = [sql::LOAD_KEYS, sql::LOAD_ELEMS, sql::LOAD_FUNCTIONS];
        let mut batch = sql::schema_statements();
        batch.push(Statement::new(sql::LOAD_VERSION));
        batch.push(Statement::new(super::redo::LOAD));
        batch.extend(reads.map(Statement::new));
        let mut results = backend.execute(&id, batch).await?;
        let mut tables = results.split_off(results.len().saturating_sub(reads.len()));
        let log = results.pop().unwrap_or_default();
        let version = results
            .pop()
            .and_then(|r| r.rows.into_iter().next())
            .and_then(|row| row.into_iter().next())
            .and_then(|v| v.as_i64());
        if version != Some(sql::SCHEMA_VERSION) {
            return Err(Error::Storage(format!(
                "object {id} has schema version {version:?}, this build reads {}",
                sql::SCHEMA_VERSION
            )));
        }
        // What the redo log holds is folded into the tables, which are then read again.
        let mut replay = Redo::default();
        for row in &log.rows {
            let Some(SqlValue::Blob(entry)) = row.first() else {
                return Err(Error::Storage(format!(
                    "object {id}: a redo row is not a blob"
                )));
            };
            replay
                .replay(entry)
                .map_err(|e| Error::Storage(format!("object {id}: {e}")))?;
        }
        if let Some(mut fold) = replay.fold() {
            fold.extend(reads.map(Statement::new));
            let mut results = backend.execute(&id, fold).await?;
            tables = results.split_off(results.len().saturating_sub(reads.len()));
        }
        let functions = function_rows(tables.pop().unwrap_or_default());
        let elems = tables.pop().unwrap_or_default();
        let keys = tables.pop().unwrap_or_default();
        let state = build_image(keys, elems);
        let wake = Arc::new(Notify::new());
        let (durable_tx, durable_rx) = watch::channel(Durable::default());
        let shard = Arc::new(Shard {
            id,
            state: Mutex::new(state),
            wake: wake.clone(),
            durable: durable_rx,
            tracking,
            functions: Mutex::new(Some(functions)),
        });
        let writer = write_loop(backend, Arc::downgrade(&shard), wake, durable_tx);
        match writers {
            Some(handle) => drop(handle.spawn(writer)),
            None => drop(tokio::spawn(writer)),
        }
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
    // This shard's sequence number and `CHANGES` at the last release.
    let mut mark = (0u64, CHANGES.load(Ordering::Relaxed));
    // On an event loop's own thread (a single-threaded runtime) a batch may commit inline.
    let on_loop = tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::CurrentThread;
    let mut busy = BusyWriter(false);
    let mut skip_inline = 0u32;
    let mut redo = Redo::default();
    loop {
        let Some(s) = shard.upgrade() else { return };
        let mut queued = s.state.lock().queued();
        if queued == 0 {
            drop(s);
            busy.set(false);
            // A permit stored by `notify_one` since the check is not lost.
            if redo.is_empty() {
                wake.notified().await;
                continue;
            }
            // A writer idle for a while folds its redo log, so a restart has little to replay.
            if tokio::time::timeout(IDLE_FOLD, wake.notified())
                .await
                .is_ok()
            {
                continue;
            }
            let Some(s) = shard.upgrade() else { return };
            let Some(fold) = redo.fold() else { continue };
            busy.set(true);
            if let Err(e) = backend.execute(&s.id, fold).await {
                fail(&s, &durable, e);
                return;
            }
            continue;
        }
        busy.set(true);
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
            let now = s.state.lock().queued();
            idle_rounds = if now == queued { idle_rounds + 1 } else { 0 };
            queued = now;
        }
        let (log, rows, last) = s.state.lock().take();
        let Plan { batch, folds } = redo.plan(log, rows);
        let sent = Instant::now();
        // A writer alone with work, on an event loop, commits there: the loop waits for the
        // commit and its fsync, as redis-server's loop waits for its AOF's, and the batch
        // costs no hand-off to the object's thread and no wake-up back (at `-P 1` a commit
        // took 155 µs instead of 290, and SET went from 0.9x to 1.2x of redis-server). With
        // other shards' writers busy, each keeps its object's own thread, so their fsyncs
        // overlap instead of queueing on the loop.
        // A batch the backend would not run inline (its object not open yet, or busy, or its
        // statements past the backend's time budget for the caller's thread, which were then
        // rolled back) makes the next `INLINE_BACKOFF` batches skip the attempt, so a run of
        // heavy batches does not each pay for one.
        // A fold of the redo log is a large transaction: it goes to the object's thread.
        let try_inline =
            on_loop && !folds && skip_inline == 0 && BUSY_WRITERS.load(Ordering::Relaxed) == 1;
        skip_inline = skip_inline.saturating_sub(1);
        let inline = try_inline
            .then(|| backend.execute_inline(&s.id, &batch))
            .flatten();
        if try_inline && inline.is_none() {
            skip_inline = INLINE_BACKOFF;
        }
        let result = match inline {
            Some(r) => r,
            None => backend.execute(&s.id, batch).await,
        };
        match result {
            Ok(_) => {
                took = sent.elapsed();
                // Read before the release, so no released client's next command is counted.
                // The released clients' next commands reach this shard in the share its
                // changes had of all changes since the last release: all of them when one
                // key is hot, about a quarter over four shards with keys spread (waiting
                // for all would wait out the timer at every batch).
                let (seq, all) = (s.state.lock().seq, CHANGES.load(Ordering::Relaxed));
                let (mine, everyone) = (seq - mark.0, all - mark.1);
                let released = last - taken;
                let expected = if everyone <= mine {
                    released
                } else {
                    (released * mine).div_ceil(everyone)
                };
                target = seq + expected;
                mark = (seq, all);
                taken = last;
                durable.send_modify(|d| d.seq = last);
            }
            Err(e) => {
                fail(&s, &durable, e);
                return;
            }
        }
    }
}

/// A durable write failed: the shard stops taking work and no reply waiting on it is released.
fn fail(s: &Shard, durable: &watch::Sender<Durable>, e: dotdo_backend::Error) {
    let id = &s.id;
    tracing::error!(object = %id, error = %e, "durable write failed; shard stops");
    let mut st = s.state.lock();
    st.stopped = true;
    st.outbox = Vec::new();
    st.unsaved = Unsaved::default();
    durable.send_modify(|d| d.failed = Some(format!("write to {id} failed: {e}")));
}

/// The rows of `sql::LOAD_FUNCTIONS`.
fn function_rows(result: StatementResult) -> Vec<(String, Bytes)> {
    result
        .rows
        .iter()
        .filter_map(|row| match row.as_slice() {
            [name, code] => Some((name.as_str()?.to_owned(), bytes_of(code))),
            _ => None,
        })
        .collect()
}

fn bytes_of(v: &SqlValue) -> Bytes {
    v.as_bytes().map(Bytes::copy_from_slice).unwrap_or_default()
}

/// A list's rows as loaded: its chunk rows, and rows of single positions (long elements, and
/// lists written before chunks).
#[derive(Default)]
struct ListRows {
    chunks: Vec<(i64, Vec<Option<Bytes>>)>,
    own: std::collections::BTreeMap<i64, Bytes>,
}

impl ListRows {
    /// A chunk row decides the positions it holds; a position no chunk holds is the row of
    /// its own (a list written before chunks).
    fn into_list(self) -> List {
        let spilled = !self.own.is_empty();
        let mut at = self.own;
        for (first, items) in self.chunks {
            for (i, item) in items.into_iter().enumerate() {
                if let (Some(v), Some(p)) = (item, first.checked_add(i as i64)) {
                    at.insert(p, v);
                }
            }
        }
        List {
            head: at.keys().next().copied().unwrap_or(0),
            items: at.into_values().collect(),
            spilled,
        }
    }
}

fn build_image(keys: StatementResult, elems: StatementResult) -> ShardState {
    let mut state = ShardState::default();
    let mut lists: HashMap<Bytes, ListRows> = HashMap::new();
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
                accessed: super::value::stamp(super::now_ms()),
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
            Value::List(_) => {
                let rows = lists.entry(key).or_default();
                if sql::is_chunk_sub(&sub) {
                    if let Some(chunk) = sql::decode_chunk(&bytes_of(value)) {
                        rows.chunks.push(chunk);
                    }
                } else if let Some(p) = sql::list_pos_decode(&sub) {
                    rows.own.insert(p, bytes_of(value));
                }
            }
            Value::Stream(st) => st.load_row(&sub, &bytes_of(value)),
            Value::Str(_) => {}
        }
    }
    for (key, rows) in lists {
        if let Some(Entry {
            value: Value::List(list),
            ..
        }) = state.map.get_mut(&key)
        {
            *list = rows.into_list();
        }
    }
    // Keys whose elements are all gone never stay visible.
    state.map.retain(|_, e| {
        !e.value.is_empty_collection() || !matches!(e.value.kind(), KIND_LIST..=KIND_ZSET)
    });
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rows: Vec<Vec<SqlValue>>) -> StatementResult {
        StatementResult {
            rows,
            ..Default::default()
        }
    }

    fn blob(b: &[u8]) -> SqlValue {
        SqlValue::from(b)
    }

    fn list_of(state: &ShardState, key: &[u8]) -> (i64, Vec<Bytes>, bool) {
        match &state.map[key].value {
            Value::List(l) => (l.head, l.items.iter().cloned().collect(), l.spilled),
            other => panic!("not a list: {other:?}"),
        }
    }

    /// Objects written before chunk rows (schema version 2) hold a row per position; they
    /// load as they were, and a chunk row decides the positions it holds over such rows.
    #[test]
    fn lists_load_from_position_rows_and_chunk_rows() {
        let keys = result(vec![
            vec![
                blob(b"old"),
                SqlValue::Integer(KIND_LIST),
                SqlValue::Null,
                SqlValue::Null,
            ],
            vec![
                blob(b"mixed"),
                SqlValue::Integer(KIND_LIST),
                SqlValue::Null,
                SqlValue::Null,
            ],
        ]);
        let elem = |key: &[u8], sub: &[u8], value: &[u8]| {
            vec![blob(key), blob(sub), blob(value), SqlValue::Null]
        };
        let long = vec![b'x'; sql::LIST_INLINE_MAX + 1];
        let chunk = sql::encode_chunk(30, [&b"new30"[..], &long, b"c32"].into_iter());
        let elems = result(vec![
            elem(b"old", &sql::list_pos(-1), b"a"),
            elem(b"old", &sql::list_pos(0), b"b"),
            elem(b"old", &sql::list_pos(1), b"c"),
            // Positions 29..=31 were written one per row; chunk 0 (positions 0..32) was
            // rewritten since and holds 30 and 31 (31 too long, so still in its own row).
            elem(b"mixed", &sql::list_pos(29), b"p29"),
            elem(b"mixed", &sql::list_pos(30), b"stale"),
            elem(b"mixed", &sql::list_pos(31), &long),
            elem(b"mixed", &sql::chunk_sub(0), &chunk[..8 + 4 + 5 + 4]),
            elem(b"mixed", &sql::chunk_sub(1), &{
                let mut c = 32i64.to_be_bytes().to_vec();
                c.extend_from_slice(&chunk[8 + 4 + 5 + 4..]);
                c
            }),
        ]);
        let state = build_image(keys, elems);
        let bulks = |v: &[&[u8]]| {
            v.iter()
                .map(|b| Bytes::copy_from_slice(b))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            list_of(&state, b"old"),
            (-1, bulks(&[b"a", b"b", b"c"]), true)
        );
        assert_eq!(
            list_of(&state, b"mixed"),
            (29, bulks(&[b"p29", b"new30", &long, b"c32"]), true)
        );
    }

    #[test]
    fn chunks_round_trip() {
        let long = vec![7u8; sql::LIST_INLINE_MAX + 1];
        let items: [&[u8]; 4] = [b"", b"a", &long, b"bc"];
        let value = Bytes::from(sql::encode_chunk(-5, items.into_iter()));
        let (first, got) = sql::decode_chunk(&value).unwrap();
        assert_eq!(first, -5);
        assert_eq!(
            got,
            vec![
                Some(Bytes::new()),
                Some(Bytes::from_static(b"a")),
                None,
                Some(Bytes::from_static(b"bc"))
            ]
        );
        // A truncated value is not a chunk.
        assert_eq!(sql::decode_chunk(&value.slice(..value.len() - 1)), None);
        assert_eq!(sql::decode_chunk(&value.slice(..3)), None);
    }
}
