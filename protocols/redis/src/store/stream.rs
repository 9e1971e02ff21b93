//! Streams: entries, consumer groups, consumers and pending entries, in memory and as rows.
//!
//! A stream is kind 5 in `keys`; everything it holds lives in `elems` under the stream's key,
//! told apart by the first byte of `sub`:
//!
//! | sub | value |
//! |---|---|
//! | `m` | last id, entries added, max deleted id, first id |
//! | `e` id | the entry's fields and values |
//! | `g` group | last delivered id, entries read (-1: unknown) |
//! | `c` len group consumer | seen time |
//! | `p` len group id | delivery time, delivery count, consumer |
//!
//! Ids are 16 big-endian bytes, so rows sort in id order. Every change writes the rows it
//! touches (the shard's writer folds a burst of XADDs into one batch, and the meta row,
//! rewritten by each, into one upsert).

use std::collections::BTreeMap;

use bytes::Bytes;
use dotdo_backend::Statement;

use super::sql;

/// A stream entry id: milliseconds and sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> Self {
        Self { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next id, or `None` after the last possible one.
    pub fn next(&self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous id, or `None` before 0-0.
    pub fn prev(&self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<StreamId> {
        let ms = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(b.get(8..16)?.try_into().ok()?);
        Some(StreamId::new(ms, seq))
    }

    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(self.to_string())
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A pending entry: delivered to a consumer of a group, not yet acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub consumer: Bytes,
    pub delivery_time: i64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    pub seen_time: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries read by the group (Redis's logical read counter); `None` when unknown.
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    /// Pending entries of one consumer.
    pub fn pending_of<'a>(
        &'a self,
        consumer: &'a [u8],
    ) -> impl Iterator<Item = (&'a StreamId, &'a Pending)> + 'a {
        self.pel.iter().filter(move |(_, p)| p.consumer == consumer)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stream {
    /// Field/value pairs, flattened, by id.
    pub entries: BTreeMap<StreamId, Vec<Bytes>>,
    pub last_id: StreamId,
    pub entries_added: u64,
    pub max_deleted: StreamId,
    /// Id of the first entry (0-0 when empty), as Redis records it.
    pub first_id: StreamId,
    pub groups: BTreeMap<Bytes, Group>,
}

/// Entries Redis keeps per radix-tree node (`stream-node-max-entries`); `~` trimming removes
/// only whole nodes, which dotdo models as runs of this many entries from the head.
pub const NODE_ENTRIES: usize = 100;

impl Stream {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Recompute `first_id` after entries at the head went away.
    pub fn refresh_first(&mut self) {
        self.first_id = self.entries.keys().next().copied().unwrap_or(StreamId::MIN);
    }

    /// Whether an XDEL tombstone may lie in `start..=end` (Redis's `streamRangeHasTombstones`).
    pub fn has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the read counter of `id`, if known.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.entries.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            let len = self.entries.len() as u64;
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added - len),
                std::cmp::Ordering::Equal => return Some(self.entries_added - len + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// The lag of a group, if it can be known (Redis's `streamReplyWithCGLag`).
    pub fn lag(&self, g: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = g.entries_read
            && !self.has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added.saturating_sub(read));
        }
        self.estimate_distance(g.last_id)
            .map(|read| self.entries_added.saturating_sub(read))
    }

    /// Every row that stores this stream, for writing it whole (COPY, RENAME).
    pub fn rows(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut rows = vec![(b"m".to_vec(), self.meta_value())];
        for (id, fields) in &self.entries {
            rows.push((entry_sub(*id), encode_fields(fields)));
        }
        for (name, g) in &self.groups {
            rows.push((group_sub(name), group_value(g)));
            for (c, cons) in &g.consumers {
                rows.push((consumer_sub(name, c), cons.seen_time.to_be_bytes().to_vec()));
            }
            for (id, p) in &g.pel {
                rows.push((pending_sub(name, *id), pending_value(p)));
            }
        }
        rows
    }

    fn meta_value(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(56);
        v.extend(self.last_id.encode());
        v.extend(self.entries_added.to_be_bytes());
        v.extend(self.max_deleted.encode());
        v.extend(self.first_id.encode());
        v
    }

    /// Rebuild from one `elems` row (rows may come in any order).
    pub fn load_row(&mut self, sub: &[u8], value: &[u8]) {
        let Some((&tag, rest)) = sub.split_first() else {
            return;
        };
        match tag {
            b'm' => {
                if let (Some(last), Some(added), Some(del), Some(first)) = (
                    StreamId::decode(value),
                    value
                        .get(16..24)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_be_bytes),
                    value.get(24..).and_then(StreamId::decode),
                    value.get(40..).and_then(StreamId::decode),
                ) {
                    self.last_id = last;
                    self.entries_added = added;
                    self.max_deleted = del;
                    self.first_id = first;
                }
            }
            b'e' => {
                if let (Some(id), Some(fields)) = (StreamId::decode(rest), decode_fields(value)) {
                    self.entries.insert(id, fields);
                }
            }
            b'g' => {
                let g = self.groups.entry(Bytes::copy_from_slice(rest)).or_default();
                if let Some(last) = StreamId::decode(value) {
                    g.last_id = last;
                }
                let read = value
                    .get(16..24)
                    .and_then(|b| b.try_into().ok())
                    .map(i64::from_be_bytes)
                    .unwrap_or(-1);
                g.entries_read = u64::try_from(read).ok();
            }
            b'c' => {
                if let Some((group, name)) = split_group(rest) {
                    let seen = value
                        .get(..8)
                        .and_then(|b| b.try_into().ok())
                        .map(i64::from_be_bytes)
                        .unwrap_or(0);
                    self.groups
                        .entry(Bytes::copy_from_slice(group))
                        .or_default()
                        .consumers
                        .insert(Bytes::copy_from_slice(name), Consumer { seen_time: seen });
                }
            }
            b'p' => {
                if let Some((group, id)) = split_group(rest)
                    && let Some(id) = StreamId::decode(id)
                    && value.len() >= 16
                {
                    let time = i64::from_be_bytes(value[..8].try_into().unwrap_or_default());
                    let count = u64::from_be_bytes(value[8..16].try_into().unwrap_or_default());
                    self.groups
                        .entry(Bytes::copy_from_slice(group))
                        .or_default()
                        .pel
                        .insert(
                            id,
                            Pending {
                                consumer: Bytes::copy_from_slice(&value[16..]),
                                delivery_time: time,
                                delivery_count: count,
                            },
                        );
                }
            }
            _ => {}
        }
    }
}

fn entry_sub(id: StreamId) -> Vec<u8> {
    let mut s = Vec::with_capacity(17);
    s.push(b'e');
    s.extend(id.encode());
    s
}

fn group_sub(name: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(1 + name.len());
    s.push(b'g');
    s.extend(name);
    s
}

fn group_prefixed(tag: u8, group: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(5 + group.len() + rest.len());
    s.push(tag);
    s.extend((group.len() as u32).to_be_bytes());
    s.extend(group);
    s.extend(rest);
    s
}

fn consumer_sub(group: &[u8], name: &[u8]) -> Vec<u8> {
    group_prefixed(b'c', group, name)
}

fn pending_sub(group: &[u8], id: StreamId) -> Vec<u8> {
    group_prefixed(b'p', group, &id.encode())
}

fn split_group(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let group = rest.get(4..4 + len)?;
    Some((group, &rest[4 + len..]))
}

fn group_value(g: &Group) -> Vec<u8> {
    let mut v = g.last_id.encode().to_vec();
    let read = g.entries_read.map_or(-1, |r| r as i64);
    v.extend(read.to_be_bytes());
    v
}

fn pending_value(p: &Pending) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + p.consumer.len());
    v.extend(p.delivery_time.to_be_bytes());
    v.extend(p.delivery_count.to_be_bytes());
    v.extend(&p.consumer);
    v
}

fn encode_fields(fields: &[Bytes]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + fields.iter().map(|f| f.len() + 4).sum::<usize>());
    v.extend((fields.len() as u32).to_be_bytes());
    for f in fields {
        v.extend((f.len() as u32).to_be_bytes());
        v.extend(f);
    }
    v
}

fn decode_fields(mut b: &[u8]) -> Option<Vec<Bytes>> {
    let n = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    b = &b[4..];
    // Bounded by what the row holds: every field takes at least 4 bytes.
    let mut out = Vec::with_capacity(n.min(b.len() / 4));
    for _ in 0..n {
        let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
        out.push(Bytes::copy_from_slice(b.get(4..4 + len)?));
        b = &b[4 + len..];
    }
    Some(out)
}

/// Write access to a stream that records the rows each change touches.
pub struct StreamMut<'v> {
    pub(super) key: Bytes,
    pub s: &'v mut Stream,
    pub(super) pending: &'v mut Vec<Statement>,
}

impl StreamMut<'_> {
    fn put(&mut self, sub: &[u8], value: &[u8]) {
        self.pending
            .push(sql::put_elem(&self.key, sub, Some(value), None));
    }

    fn del(&mut self, sub: &[u8]) {
        self.pending.push(sql::del_elem(&self.key, sub));
    }

    /// Write the stream's counters (after any change to them).
    pub fn save_meta(&mut self) {
        let v = self.s.meta_value();
        self.put(b"m", &v);
    }

    /// Append an entry (the id must be above `last_id`); counters are saved.
    pub fn append(&mut self, id: StreamId, fields: Vec<Bytes>) {
        let row = encode_fields(&fields);
        self.put(&entry_sub(id), &row);
        self.s.entries.insert(id, fields);
        self.s.last_id = id;
        self.s.entries_added += 1;
        if self.s.entries.len() == 1 {
            self.s.first_id = id;
        }
        self.save_meta();
    }

    /// Remove one entry; does not touch the counters.
    pub fn remove_entry(&mut self, id: StreamId) -> bool {
        if self.s.entries.remove(&id).is_none() {
            return false;
        }
        self.del(&entry_sub(id));
        true
    }

    pub fn save_group(&mut self, name: &[u8]) {
        if let Some(g) = self.s.groups.get(name) {
            let v = group_value(g);
            self.put(&group_sub(name), &v);
        }
    }

    /// Remove a group with its consumers and pending entries.
    pub fn remove_group(&mut self, name: &[u8]) -> bool {
        let Some(g) = self.s.groups.remove(name) else {
            return false;
        };
        self.del(&group_sub(name));
        for c in g.consumers.keys() {
            self.del(&consumer_sub(name, c));
        }
        for id in g.pel.keys() {
            self.del(&pending_sub(name, *id));
        }
        true
    }

    /// Write a consumer's row (creating the consumer when missing). Returns true if new.
    pub fn touch_consumer(&mut self, group: &[u8], name: &Bytes, now: i64) -> bool {
        let Some(g) = self.s.groups.get_mut(group) else {
            return false;
        };
        let created = !g.consumers.contains_key(name);
        g.consumers
            .insert(name.clone(), Consumer { seen_time: now });
        self.put(&consumer_sub(group, name), &now.to_be_bytes());
        created
    }

    /// Remove a consumer and its pending entries; returns how many were pending.
    pub fn remove_consumer(&mut self, group: &[u8], name: &[u8]) -> Option<usize> {
        let g = self.s.groups.get_mut(group)?;
        g.consumers.remove(name)?;
        let ids: Vec<StreamId> = g.pending_of(name).map(|(id, _)| *id).collect();
        for id in &ids {
            g.pel.remove(id);
        }
        self.del(&consumer_sub(group, name));
        for id in &ids {
            self.del(&pending_sub(group, *id));
        }
        Some(ids.len())
    }

    /// Write one pending entry as it now is in the group (or its deletion if gone).
    pub fn save_pending(&mut self, group: &[u8], id: StreamId) {
        let row = self
            .s
            .groups
            .get(group)
            .and_then(|g| g.pel.get(&id))
            .map(pending_value);
        match row {
            Some(v) => self.put(&pending_sub(group, id), &v),
            None => self.del(&pending_sub(group, id)),
        }
    }

    /// Remove a pending entry; true if it was there.
    pub fn ack(&mut self, group: &[u8], id: StreamId) -> bool {
        let removed = self
            .s
            .groups
            .get_mut(group)
            .is_some_and(|g| g.pel.remove(&id).is_some());
        if removed {
            self.del(&pending_sub(group, id));
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_rebuild_the_same_stream() {
        let mut s = Stream::default();
        let mut pending = Vec::new();
        {
            let mut m = StreamMut {
                key: Bytes::from_static(b"k"),
                s: &mut s,
                pending: &mut pending,
            };
            m.append(
                StreamId::new(1, 0),
                vec![Bytes::from("a"), Bytes::from("1")],
            );
            m.append(StreamId::new(2, 5), vec![Bytes::from(""), Bytes::from("x")]);
            m.s.groups.insert(Bytes::from("g\0x"), Group::default());
            m.touch_consumer(b"g\0x", &Bytes::from("alice"), 77);
            if let Some(g) = m.s.groups.get_mut(&b"g\0x"[..]) {
                g.entries_read = Some(1);
                g.pel.insert(
                    StreamId::new(1, 0),
                    Pending {
                        consumer: Bytes::from("alice"),
                        delivery_time: 5,
                        delivery_count: 2,
                    },
                );
            }
            m.s.max_deleted = StreamId::new(1, 9);
        }
        let mut back = Stream::default();
        for (sub, value) in s.rows().into_iter().rev() {
            back.load_row(&sub, &value);
        }
        assert_eq!(back, s);
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(3, 0).prev(), Some(StreamId::new(2, u64::MAX)));
    }
}
