//! A command's view of the keyspace: the locked shards its keys live on, with typed access
//! that records every change as SQL for the shard's writer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use dotdo_shard::SlotMap;
use parking_lot::MutexGuard;
use smallvec::SmallVec;

use super::shard::{Collection, Recorder, Shard, ShardState, Sub, Touched};
use super::sql;
use super::stream::{Stream, StreamMut};
use super::value::{
    Entry, KIND_HASH, KIND_LIST, KIND_SET, KIND_STREAM, KIND_STRING, KIND_ZSET, List, Value, ZSet,
    stamp, touch,
};
use crate::error::Error;
use crate::frame::{Reply, errors};
use crate::notify::{self, Event};

/// A reply may leave only once `shard` is durable up to `seq`.
pub struct Ticket {
    pub shard: Arc<Shard>,
    pub seq: u64,
}

impl Ticket {
    pub async fn wait(&self) -> Result<(), Error> {
        self.shard.wait_durable(self.seq).await
    }
}

pub type CmdResult = Result<Reply, Reply>;

/// Record, in order, each event `(class, name, happened)` on `key` that happened and whose
/// class is in `wanted`.
fn raise<const N: usize>(
    events: &mut Vec<Event>,
    wanted: u32,
    key: &Bytes,
    each: [(u32, &'static str, bool); N],
) {
    for (class, name, happened) in each {
        if happened && wanted & class != 0 {
            events.push(Event {
                class,
                name,
                key: key.clone(),
            });
        }
    }
}

fn wrongtype() -> Reply {
    Reply::err(errors::WRONGTYPE)
}

/// A locked shard: its index, the shard and its state.
type Part<'a> = (u16, &'a Arc<Shard>, MutexGuard<'a, ShardState>);

/// Locked shards, in shard order (the lock order that rules out deadlock).
pub struct View<'a> {
    slots: SlotMap,
    /// Inline for one shard, the common case: no allocation per command.
    parts: SmallVec<[Part<'a>; 1]>,
    /// The command's clock: every expiry check in one command uses the same instant.
    pub now: i64,
    /// The client speaks RESP3 (a few replies change shape).
    pub resp3: bool,
    /// Keyspace-notification classes to record (`notify::active`); 0 records nothing, so
    /// commands pay one branch for notifications when they are off.
    pub notify: u32,
    /// Events raised so far, published by the session after the command.
    pub events: Vec<Event>,
    /// The command reads (Redis's `lookupKeyRead`): a missing key raises `keymiss`.
    pub read_miss: bool,
    /// Every key the command may touch lives on the one locked shard, so no access needs
    /// its key's slot. Set by the session for commands other than scripts (their keys are
    /// all declared, and all their shards locked); a script may reach any key.
    pub one_shard: bool,
}

impl<'a> View<'a> {
    /// Lock `shards`, which must be sorted by index and free of duplicates.
    pub fn lock(slots: SlotMap, shards: &'a [(u16, Arc<Shard>)], now: i64, resp3: bool) -> Self {
        let parts = shards
            .iter()
            .map(|(i, s)| (*i, s, s.state.lock()))
            .collect();
        Self::of_parts(slots, parts, now, resp3)
    }

    /// Lock one shard (the usual command, on one key).
    #[inline]
    pub fn lock_one(
        slots: SlotMap,
        index: u16,
        shard: &'a Arc<Shard>,
        now: i64,
        resp3: bool,
    ) -> Self {
        let parts = smallvec::smallvec![(index, shard, shard.state.lock())];
        Self::of_parts(slots, parts, now, resp3)
    }

    fn of_parts(slots: SlotMap, parts: SmallVec<[Part<'a>; 1]>, now: i64, resp3: bool) -> Self {
        Self {
            slots,
            parts,
            now,
            resp3,
            notify: 0,
            events: Vec::new(),
            read_miss: false,
            one_shard: false,
        }
    }

    /// How many shards are locked.
    pub fn shard_count(&self) -> usize {
        self.parts.len()
    }

    /// Record event `name` of `class` on `key`, when that class is wanted.
    #[inline]
    pub fn notify(&mut self, class: u32, name: &'static str, key: &Bytes) {
        if self.notify & class != 0 {
            self.events.push(Event {
                class,
                name,
                key: key.clone(),
            });
        }
    }

    /// Hand every change to the writers; the tickets say what the reply must wait for.
    pub fn finish(self) -> Result<Vec<Ticket>, Error> {
        Ok(self.finish_events()?.0)
    }

    /// `finish`, and the events the command raised (with a `del` for every collection it
    /// emptied, which commit deletes).
    pub fn finish_events(mut self) -> Result<(Vec<Ticket>, Vec<Event>), Error> {
        if self.notify & notify::GENERIC != 0 {
            let mut emptied = Vec::new();
            for (_, _, st) in &self.parts {
                for key in &st.dirty {
                    if st
                        .map
                        .get(key)
                        .is_some_and(|e| e.value.is_empty_collection())
                        && !emptied.contains(key)
                        && !self.events.iter().any(|e| e.name == "del" && e.key == *key)
                    {
                        emptied.push(key.clone());
                    }
                }
            }
            for key in &emptied {
                self.notify(notify::GENERIC, "del", key);
            }
        }
        let events = std::mem::take(&mut self.events);
        let mut tickets = Vec::new();
        for (_, shard, mut st) in self.parts {
            let seq = st.commit(shard);
            if !st.durable_through(shard, seq)? {
                tickets.push(Ticket {
                    shard: Arc::clone(shard),
                    seq,
                });
            }
        }
        Ok((tickets, events))
    }

    /// The locked shard states, for commands over the whole database.
    pub fn shards_mut(&mut self) -> impl Iterator<Item = &mut ShardState> {
        self.parts.iter_mut().map(|(_, _, st)| &mut **st)
    }

    /// The locked state of `key`'s shard. Only a script reaches a key outside the locked shards
    /// (every other command locks the shards of all its keys), and Redis Cluster's wording for
    /// that is the answer.
    pub fn st(&mut self, key: &[u8]) -> Result<&mut ShardState, Reply> {
        let at = self.part_of(key)?;
        Ok(&mut self.parts[at].2)
    }

    /// Where in `parts` the shard of `key` is.
    #[inline]
    fn part_of(&self, key: &[u8]) -> Result<usize, Reply> {
        if self.one_shard {
            debug_assert_eq!(self.parts[0].0, self.slots.shard_of_key(key));
            return Ok(0);
        }
        let want = self.slots.shard_of_key(key);
        self.parts
            .iter()
            .position(|(i, _, _)| *i == want)
            .ok_or_else(|| {
                Reply::err("ERR Script attempted to access a non local key in a cluster node")
            })
    }

    /// The entry of `key` unless missing or expired (an expired key is deleted here); counts
    /// as an access.
    pub fn live(&mut self, key: &Bytes) -> Result<Option<&mut Entry>, Reply> {
        let now = self.now;
        let entry = self.lookup(key)?;
        if let Some(e) = entry {
            touch(&mut e.accessed, now);
            return Ok(Some(e));
        }
        Ok(None)
    }

    /// The entry of `key` without counting an access (Redis's `LOOKUP_NOTOUCH`: OBJECT, TYPE,
    /// TTL, EXISTS).
    pub fn peek(&mut self, key: &Bytes) -> Result<Option<&Entry>, Reply> {
        Ok(self.lookup(key)?.map(|e| &*e))
    }

    /// `live` without counting an access, for commands that set the entry's stamp themselves
    /// (RESTORE, RENAME, MOVE) or have counted it already.
    pub fn lookup(&mut self, key: &Bytes) -> Result<Option<&mut Entry>, Reply> {
        let now = self.now;
        let at = self.part_of(key)?;
        // Borrowed field by field, so an expiry can record its event while the entry is held.
        let (parts, events) = (&mut self.parts, &mut self.events);
        let mut expired = false;
        let entry = parts[at].2.live(key, now, &mut expired);
        if self.read_miss {
            crate::traffic::lookup(entry.is_some());
        }
        if entry.is_none() {
            raise(
                events,
                self.notify,
                key,
                [
                    (notify::EXPIRED, "expired", expired),
                    (notify::KEY_MISS, "keymiss", self.read_miss),
                ],
            );
        }
        Ok(entry)
    }

    pub fn get(&mut self, key: &Bytes) -> Result<Option<&Entry>, Reply> {
        Ok(self.live(key)?.map(|e| &*e))
    }

    pub fn exists(&mut self, key: &Bytes) -> Result<bool, Reply> {
        Ok(self.live(key)?.is_some())
    }

    pub fn get_str(&mut self, key: &Bytes) -> Result<Option<Bytes>, Reply> {
        match self.get(key)? {
            None => Ok(None),
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => Ok(Some(s.clone())),
            Some(_) => Err(wrongtype()),
        }
    }

    /// The TTL of `key` if it is live; not counted as a use (the command's own lookup was).
    pub fn ttl_of(&mut self, key: &Bytes) -> Result<Option<Option<i64>>, Reply> {
        Ok(self.lookup(key)?.map(|e| e.expires_at))
    }

    /// Store a string, replacing whatever `key` held; `expires_at` becomes its TTL. Counts as
    /// one use of a key that was there (Redis's `setKey`, which looks the key up for writing).
    pub fn set_str(
        &mut self,
        key: &Bytes,
        value: Bytes,
        expires_at: Option<i64>,
    ) -> Result<(), Reply> {
        self.write_str(key, value, expires_at, true)
    }

    /// `set_str` for a command that has looked `key` up already (INCR, APPEND, ...): a key
    /// that was there keeps its use count as it is, as Redis's `dbOverwrite` keeps it.
    pub fn replace_str(
        &mut self,
        key: &Bytes,
        value: Bytes,
        expires_at: Option<i64>,
    ) -> Result<(), Reply> {
        self.write_str(key, value, expires_at, false)
    }

    fn write_str(
        &mut self,
        key: &Bytes,
        value: Bytes,
        expires_at: Option<i64>,
        counted: bool,
    ) -> Result<(), Reply> {
        if self.notify & notify::NEW != 0 && self.peek(key)?.is_none() {
            self.notify(notify::NEW, "new", key);
        }
        let now = self.now;
        let st = self.st(key)?;
        let (old_kind, old_exp) = match st.map.get_mut(key) {
            // Overwrite in place: no new map slot, no key clone.
            Some(e) if matches!(e.value, Value::Str(_)) => {
                e.accessed = kept_use(e, now, counted).unwrap_or_else(|| stamp(now));
                let old_exp = e.expires_at;
                e.value = Value::Str(value);
                e.expires_at = expires_at;
                (Some(KIND_STRING), old_exp)
            }
            other => {
                let prior = other.and_then(|e| kept_use(e, now, counted));
                let old = st.map.insert(
                    key.clone(),
                    Entry {
                        value: Value::Str(value),
                        expires_at,
                        accessed: prior.unwrap_or_else(|| stamp(now)),
                    },
                );
                (
                    old.as_ref().map(|e| e.value.kind()),
                    old.and_then(|e| e.expires_at),
                )
            }
        };
        if old_kind.is_some_and(|k| k != KIND_STRING) {
            st.drop_elems(key);
        }
        st.set_expiry_index(key, old_exp, expires_at);
        st.key_changed(key);
        st.touch(key);
        Ok(())
    }

    /// Replace whatever `key` held with `value`, writing every element.
    pub fn put_value(
        &mut self,
        key: &Bytes,
        value: Value,
        expires_at: Option<i64>,
    ) -> Result<(), Reply> {
        if let Value::Str(s) = value {
            return self.set_str(key, s, expires_at);
        }
        if value.is_empty_collection() {
            self.st(key)?.delete(key);
            return Ok(());
        }
        if self.notify & notify::NEW != 0 && self.peek(key)?.is_none() {
            self.notify(notify::NEW, "new", key);
        }
        let now = self.now;
        let st = self.st(key)?;
        let prior = st.map.get_mut(key).and_then(|e| kept_use(e, now, true));
        st.delete(key);
        st.key_changed(key);
        match &value {
            Value::Str(_) => {}
            Value::Hash(h) => h
                .keys()
                .for_each(|f| st.elem_changed(key, Sub::Member(f.clone()))),
            Value::Set(s) => s
                .iter()
                .for_each(|m| st.elem_changed(key, Sub::Member(m.clone()))),
            Value::ZSet(z) => z
                .iter()
                .for_each(|(m, _)| st.elem_changed(key, Sub::Member(m.clone()))),
            Value::List(l) => {
                (0..l.items.len() as i64).for_each(|i| st.elem_changed(key, Sub::Pos(l.head + i)))
            }
            // A stream's rows are always logged (see `Unsaved`).
            Value::Stream(s) => st.pending.extend(
                s.rows()
                    .iter()
                    .map(|(sub, v)| sql::put_elem(key, sub, Some(v), None)),
            ),
        }
        st.set_expiry_index(key, None, expires_at);
        st.map.insert(
            key.clone(),
            Entry {
                value,
                expires_at,
                accessed: prior.unwrap_or_else(|| stamp(now)),
            },
        );
        st.touch(key);
        Ok(())
    }

    pub fn remove(&mut self, key: &Bytes) -> Result<Option<Entry>, Reply> {
        if self.live(key)?.is_none() {
            return Ok(None);
        }
        Ok(self.st(key)?.delete(key))
    }

    /// Set or clear the TTL of an existing key. Returns false when the key is missing.
    pub fn set_expiry(&mut self, key: &Bytes, expires_at: Option<i64>) -> Result<bool, Reply> {
        let Some(entry) = self.live(key)? else {
            return Ok(false);
        };
        let old = entry.expires_at;
        entry.expires_at = expires_at;
        let st = self.st(key)?;
        st.set_expiry_index(key, old, expires_at);
        st.key_changed(key);
        st.touch(key);
        Ok(true)
    }

    /// Read access to a collection of one kind; `WRONGTYPE` for another kind.
    fn coll(&mut self, key: &Bytes, kind: i64) -> Result<Option<&Value>, Reply> {
        match self.get(key)? {
            None => Ok(None),
            Some(e) if e.value.kind() == kind => Ok(Some(&e.value)),
            Some(_) => Err(wrongtype()),
        }
    }

    /// Write access to a collection of one kind, created empty when `create` is set.
    fn coll_mut(
        &mut self,
        key: &Bytes,
        kind: i64,
        create: bool,
    ) -> Result<Option<(&mut Value, Recorder<'_>)>, Reply> {
        let now = self.now;
        let at = self.part_of(key)?;
        let mut touched = Touched::default();
        // Borrowed field by field, so the events are recorded while the collection is held.
        let (parts, events) = (&mut self.parts, &mut self.events);
        let found = parts[at]
            .2
            .collection_of(key, kind, create, now, &mut touched);
        let missed = touched.created || matches!(found, Collection::Missing);
        if self.read_miss {
            // A key of another type was found: a hit, as Redis counts it.
            crate::traffic::lookup(!missed);
        }
        raise(
            events,
            self.notify,
            key,
            [
                (notify::EXPIRED, "expired", touched.expired),
                (notify::KEY_MISS, "keymiss", missed && self.read_miss),
                (notify::NEW, "new", touched.created),
            ],
        );
        match found {
            Collection::Found(value, rec) => Ok(Some((value, rec))),
            Collection::WrongType => Err(wrongtype()),
            Collection::Missing => Ok(None),
        }
    }

    pub fn hash(&mut self, key: &Bytes) -> Result<Option<&HashMap<Bytes, Bytes>>, Reply> {
        Ok(match self.coll(key, KIND_HASH)? {
            Some(Value::Hash(h)) => Some(h),
            _ => None,
        })
    }

    pub fn set(&mut self, key: &Bytes) -> Result<Option<&HashSet<Bytes>>, Reply> {
        Ok(match self.coll(key, KIND_SET)? {
            Some(Value::Set(s)) => Some(s),
            _ => None,
        })
    }

    pub fn zset(&mut self, key: &Bytes) -> Result<Option<&ZSet>, Reply> {
        Ok(match self.coll(key, KIND_ZSET)? {
            Some(Value::ZSet(z)) => Some(z),
            _ => None,
        })
    }

    pub fn list(&mut self, key: &Bytes) -> Result<Option<&List>, Reply> {
        Ok(match self.coll(key, KIND_LIST)? {
            Some(Value::List(l)) => Some(l),
            _ => None,
        })
    }

    pub fn hash_mut(&mut self, key: &Bytes, create: bool) -> Result<Option<HashMut<'_>>, Reply> {
        Ok(match self.coll_mut(key, KIND_HASH, create)? {
            Some((Value::Hash(map), rec)) => Some(HashMut {
                key: key.clone(),
                map,
                rec,
            }),
            _ => None,
        })
    }

    pub fn set_mut(&mut self, key: &Bytes, create: bool) -> Result<Option<SetMut<'_>>, Reply> {
        Ok(match self.coll_mut(key, KIND_SET, create)? {
            Some((Value::Set(set), rec)) => Some(SetMut {
                key: key.clone(),
                set,
                rec,
            }),
            _ => None,
        })
    }

    pub fn zset_mut(&mut self, key: &Bytes, create: bool) -> Result<Option<ZSetMut<'_>>, Reply> {
        Ok(match self.coll_mut(key, KIND_ZSET, create)? {
            Some((Value::ZSet(z), rec)) => Some(ZSetMut {
                key: key.clone(),
                z,
                rec,
            }),
            _ => None,
        })
    }

    pub fn list_mut(&mut self, key: &Bytes, create: bool) -> Result<Option<ListMut<'_>>, Reply> {
        Ok(match self.coll_mut(key, KIND_LIST, create)? {
            Some((Value::List(list), rec)) => Some(ListMut {
                key: key.clone(),
                list,
                rec,
            }),
            _ => None,
        })
    }
}

impl View<'_> {
    pub fn stream(&mut self, key: &Bytes) -> Result<Option<&Stream>, Reply> {
        Ok(match self.coll(key, KIND_STREAM)? {
            Some(Value::Stream(s)) => Some(s),
            _ => None,
        })
    }

    pub fn stream_mut(
        &mut self,
        key: &Bytes,
        create: bool,
    ) -> Result<Option<StreamMut<'_>>, Reply> {
        Ok(match self.coll_mut(key, KIND_STREAM, create)? {
            Some((Value::Stream(s), rec)) => Some(StreamMut {
                key: key.clone(),
                s,
                pending: rec.pending,
            }),
            _ => None,
        })
    }
}

pub struct HashMut<'v> {
    key: Bytes,
    map: &'v mut HashMap<Bytes, Bytes>,
    rec: Recorder<'v>,
}

impl HashMut<'_> {
    pub fn map(&self) -> &HashMap<Bytes, Bytes> {
        self.map
    }

    /// Returns true when the field is new.
    pub fn insert(&mut self, field: Bytes, value: Bytes) -> bool {
        match self.map.get_mut(&field) {
            // The same value again changes no row.
            Some(old) if *old == value => false,
            Some(old) => {
                *old = value;
                self.rec.elem(&self.key, Sub::Member(field));
                false
            }
            None => {
                self.rec.elem(&self.key, Sub::Member(field.clone()));
                self.map.insert(field, value);
                true
            }
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> Option<Bytes> {
        let (field, old) = self.map.remove_entry(field)?;
        self.rec.elem(&self.key, Sub::Member(field));
        Some(old)
    }
}

pub struct SetMut<'v> {
    key: Bytes,
    set: &'v mut HashSet<Bytes>,
    rec: Recorder<'v>,
}

impl SetMut<'_> {
    pub fn set(&self) -> &HashSet<Bytes> {
        self.set
    }

    /// Add `member`, copying it only when it is new.
    pub fn insert(&mut self, member: &Bytes) -> bool {
        if self.set.contains(member) {
            return false;
        }
        self.rec.elem(&self.key, Sub::Member(member.clone()));
        self.set.insert(member.clone())
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some(member) = self.set.take(member) else {
            return false;
        };
        self.rec.elem(&self.key, Sub::Member(member));
        true
    }
}

pub struct ZSetMut<'v> {
    key: Bytes,
    z: &'v mut ZSet,
    rec: Recorder<'v>,
}

impl ZSetMut<'_> {
    pub fn zset(&self) -> &ZSet {
        self.z
    }

    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        let old = self.z.insert(member.clone(), score);
        // The same score again changes no row.
        if old != Some(score) {
            self.rec.elem(&self.key, Sub::Member(member));
        }
        old
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let old = self.z.remove(member)?;
        self.rec
            .elem(&self.key, Sub::Member(Bytes::copy_from_slice(member)));
        Some(old)
    }
}

pub struct ListMut<'v> {
    key: Bytes,
    list: &'v mut List,
    rec: Recorder<'v>,
}

impl ListMut<'_> {
    pub fn list(&self) -> &List {
        self.list
    }

    pub fn len(&self) -> usize {
        self.list.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.items.is_empty()
    }

    fn changed(&mut self, pos: i64) {
        self.rec.elem(&self.key, Sub::Pos(pos));
    }

    pub fn push_front(&mut self, value: Bytes) {
        self.list.head -= 1;
        self.changed(self.list.head);
        self.list.items.push_front(value);
    }

    pub fn push_back(&mut self, value: Bytes) {
        let pos = self.list.head + self.list.items.len() as i64;
        self.changed(pos);
        self.list.items.push_back(value);
    }

    pub fn pop_front(&mut self) -> Option<Bytes> {
        let v = self.list.items.pop_front()?;
        self.changed(self.list.head);
        self.list.head += 1;
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Bytes> {
        let v = self.list.items.pop_back()?;
        let pos = self.list.head + self.list.items.len() as i64;
        self.changed(pos);
        Some(v)
    }

    /// Overwrite element `index` (which must be in range).
    pub fn set(&mut self, index: usize, value: Bytes) {
        if index < self.list.items.len() {
            self.changed(self.list.head + index as i64);
            self.list.items[index] = value;
        }
    }

    /// Replace every element (for edits in the middle: LINSERT, LREM).
    pub fn replace_all(&mut self, items: VecDeque<Bytes>) {
        self.rec.drop_elems(&self.key);
        self.list.items = items;
        self.list.head = 0;
        for i in 0..self.list.items.len() as i64 {
            self.changed(i);
        }
    }
}

/// The stamp an overwritten key keeps: its use, counted once more when `counted` (Redis's
/// `lookupKeyWrite`, then `dbOverwrite`). `None` for an expired key, which is gone first, so
/// the new value starts afresh.
fn kept_use(e: &mut Entry, now: i64, counted: bool) -> Option<u32> {
    if e.expires_at.is_some_and(|at| at <= now) {
        return None;
    }
    if counted {
        touch(&mut e.accessed, now);
    }
    Some(e.accessed)
}
