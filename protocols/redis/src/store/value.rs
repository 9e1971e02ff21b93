//! The in-memory image of keys: Redis values and their expiry.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU32};

use bytes::Bytes;

use super::stream::Stream;

/// Kinds as stored in the `keys.kind` column.
pub const KIND_STRING: i64 = 0;
pub const KIND_LIST: i64 = 1;
pub const KIND_HASH: i64 = 2;
pub const KIND_SET: i64 = 3;
pub const KIND_ZSET: i64 = 4;
pub const KIND_STREAM: i64 = 5;

#[derive(Clone, Debug)]
pub enum Value {
    Str(Bytes),
    List(List),
    Hash(HashMap<Bytes, Bytes>),
    Set(HashSet<Bytes>),
    ZSet(ZSet),
    Stream(Box<Stream>),
}

impl Value {
    pub fn kind(&self) -> i64 {
        match self {
            Value::Str(_) => KIND_STRING,
            Value::List(_) => KIND_LIST,
            Value::Hash(_) => KIND_HASH,
            Value::Set(_) => KIND_SET,
            Value::ZSet(_) => KIND_ZSET,
            Value::Stream(_) => KIND_STREAM,
        }
    }

    pub fn empty_of(kind: i64) -> Option<Self> {
        Some(match kind {
            KIND_STRING => Value::Str(Bytes::new()),
            KIND_LIST => Value::List(List::default()),
            KIND_HASH => Value::Hash(HashMap::new()),
            KIND_SET => Value::Set(HashSet::new()),
            KIND_ZSET => Value::ZSet(ZSet::default()),
            KIND_STREAM => Value::Stream(Box::default()),
            _ => return None,
        })
    }

    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// An empty collection is never visible: Redis deletes the key.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.items.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            // A stream stays when its last entry goes (XDEL, XTRIM), as in Redis.
            Value::Stream(_) => false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// Unix time in milliseconds; `None` never expires.
    pub expires_at: Option<i64>,
    /// How the key has been used, as Redis keeps it in an object's `lru` field: under an LRU
    /// policy (any but the LFU ones) the unix second of the last command that used the key
    /// (OBJECT IDLETIME); under an LFU policy the minute of its last decay (16 bits) above a
    /// logarithmic access counter (8 bits, OBJECT FREQ). See [`stamp`] and [`touch`].
    pub accessed: u32,
}

/// A time in unix milliseconds as an access clock (seconds; wraps in 2106, as Redis's wraps).
pub fn access_clock(ms: i64) -> u32 {
    (ms / 1000) as u32
}

/// The access counter a key starts with under an LFU policy (Redis's `LFU_INIT_VAL`).
const LFU_INIT: u32 = 5;

/// `maxmemory-policy` is one of the LFU policies, so `Entry::accessed` counts accesses.
/// Process-wide, like the keyspace counters: one Redis front-end per process.
static LFU_ON: AtomicBool = AtomicBool::new(false);
/// `maxmemory-policy` is one of the LRU policies (RDB files then keep each key's idle time).
static LRU_ON: AtomicBool = AtomicBool::new(false);
/// `lfu-log-factor` and `lfu-decay-time`, Redis's defaults.
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_MINUTES: AtomicU32 = AtomicU32::new(1);

/// Switch between LRU and LFU stamps (CONFIG SET maxmemory-policy). Stamps taken under the
/// other policy are read as this one's until keys are used again, as in Redis.
pub fn set_policy(policy: &str) {
    LFU_ON.store(policy.ends_with("-lfu"), Relaxed);
    LRU_ON.store(policy.ends_with("-lru"), Relaxed);
}

pub fn lfu() -> bool {
    LFU_ON.load(Relaxed)
}

pub fn lru() -> bool {
    LRU_ON.load(Relaxed)
}

pub fn set_lfu_log_factor(n: u32) {
    LFU_LOG_FACTOR.store(n, Relaxed);
}

pub fn set_lfu_decay_time(minutes: u32) {
    LFU_DECAY_MINUTES.store(minutes, Relaxed);
}

pub fn lfu_log_factor() -> u32 {
    LFU_LOG_FACTOR.load(Relaxed)
}

pub fn lfu_decay_time() -> u32 {
    LFU_DECAY_MINUTES.load(Relaxed)
}

/// Redis's `LFUGetTimeInMinutes`: unix minutes, 16 bits.
fn lfu_minutes(ms: i64) -> u32 {
    ((ms / 60_000) as u32) & 0xffff
}

/// The stamp of a key created at `ms`.
pub fn stamp(ms: i64) -> u32 {
    if lfu() {
        (lfu_minutes(ms) << 8) | LFU_INIT
    } else {
        access_clock(ms)
    }
}

/// A command used the key at `ms` (Redis's `lookupKey` without `LOOKUP_NOTOUCH`): the LRU
/// clock moves to now, or the LFU counter decays and then grows with probability
/// 1 / ((counter - 5) * lfu-log-factor + 1) (`updateLFU`).
pub fn touch(stamp: &mut u32, ms: i64) {
    if !lfu() {
        *stamp = access_clock(ms);
        return;
    }
    let mut counter = lfu_freq(*stamp, ms);
    if counter < 255 {
        let base = f64::from(counter.saturating_sub(LFU_INIT));
        let p = 1.0 / (base * f64::from(lfu_log_factor()) + 1.0);
        let r = (crate::cmd::random_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if r < p {
            counter += 1;
        }
    }
    *stamp = (lfu_minutes(ms) << 8) | counter;
}

/// The access counter of an LFU stamp at `ms`, less one for every `lfu-decay-time` minutes
/// since its last decay (Redis's `LFUDecrAndReturn`, what OBJECT FREQ shows).
pub fn lfu_freq(stamp: u32, ms: i64) -> u32 {
    // 16 bits of minutes, as in Redis's 24-bit field (an LRU stamp read as one after the
    // policy changed has more bits, which are dropped).
    let (then, counter) = ((stamp >> 8) & 0xffff, stamp & 0xff);
    let now = lfu_minutes(ms);
    let elapsed = if now >= then {
        now - then
    } else {
        65535 - then + now
    };
    let periods = match lfu_decay_time() {
        0 => 0,
        d => elapsed / d,
    };
    counter.saturating_sub(periods)
}

/// A stamp with access counter `freq` at `ms` (RESTORE … FREQ under an LFU policy).
pub fn lfu_stamp(freq: u32, ms: i64) -> u32 {
    (lfu_minutes(ms) << 8) | freq.min(255)
}

/// A list; element `i` is at position `head + i`, so pushes and pops at either end change
/// only the positions past that end. Positions are stored in chunk rows (`sql::LIST_CHUNK`
/// positions each), so a push or pop rewrites one chunk row, not one row per element.
#[derive(Clone, Debug, Default)]
pub struct List {
    pub items: VecDeque<Bytes>,
    pub head: i64,
    /// The object may hold rows of single positions for this list (elements too long for a
    /// chunk row, or rows written before chunks), so changed positions must clear theirs.
    pub spilled: bool,
}

/// A score with a total order (`-0.0` is normalised to `0.0` on the way in).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set: members by name and by (score, member).
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    scores: HashMap<Bytes, f64>,
    order: BTreeSet<(Score, Bytes)>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Insert or move `member`; returns the previous score.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        let score = if score == 0.0 { 0.0 } else { score };
        let old = self.scores.insert(member.clone(), score);
        if let Some(o) = old {
            self.order.remove(&(Score(o), member.clone()));
        }
        self.order.insert((Score(score), member));
        old
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (m, s) = self.scores.remove_entry(member)?;
        self.order.remove(&(Score(s), m));
        Some(s)
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.order.iter().map(|(s, m)| (m, s.0))
    }

    /// Members with a score of at least `min`, in (score, member) order.
    pub fn from_score(&self, min: f64) -> impl Iterator<Item = (&Bytes, f64)> {
        self.order
            .range((Score(min), Bytes::new())..)
            .map(|(s, m)| (m, s.0))
    }

    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let s = *self.scores.get(member)?;
        Some(
            self.order
                .range(..(Score(s), Bytes::copy_from_slice(member)))
                .count(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counters_decay_by_whole_periods_and_survive_any_stamp() {
        let minute = 60_000;
        let at = 1_000 * minute;
        // A counter of 30 stamped at minute 1000, read 7 minutes later, one period a minute.
        let s = lfu_stamp(30, at);
        assert_eq!(lfu_freq(s, at), 30);
        assert_eq!(lfu_freq(s, at + 7 * minute), 23);
        assert_eq!(lfu_freq(s, at + 100 * minute), 0);
        // The minute clock wraps at 16 bits, and across the wrap Redis's `LFUTimeElapsed`
        // counts one minute less (65535 - then + now).
        let late = 65_530 * minute;
        assert_eq!(lfu_freq(lfu_stamp(9, late), late + 10 * minute), 0);
        assert_eq!(lfu_freq(lfu_stamp(20, late), late + 10 * minute), 11);
        // An LRU stamp (unix seconds) read after the policy changed, whatever its bits.
        for stamp in [u32::MAX, access_clock(1_780_000_000_000), 0] {
            assert!(lfu_freq(stamp, at) <= 255);
        }
        assert_eq!(lfu_stamp(1_000, at) & 0xff, 255);
    }
}
