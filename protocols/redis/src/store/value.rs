//! The in-memory image of keys: Redis values and their expiry.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

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
    /// Unix time in seconds of the last command that used the key (OBJECT IDLETIME).
    pub accessed: u32,
}

/// A time in unix milliseconds as an access clock (seconds; wraps in 2106, as Redis's wraps).
pub fn access_clock(ms: i64) -> u32 {
    (ms / 1000) as u32
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
