//! A shard's redo log: a batch whose row writes are spread over many keys is made durable as
//! one appended row of the `redo` table, and the rows it changed are written into `keys` and
//! `elems` later, many batches at once (a fold).
//!
//! Why: SQLite writes every B-tree page a transaction changes into the WAL in full, so a batch
//! of 40 SETs of random keys wrote 40 pages (160 KiB) and their checksums and page-cache
//! copies, where redis-server appends 2 KiB to its AOF. Appended to `redo`, the batch is one
//! row on the table's last page. A fold writes each row changed since the last fold once, as
//! the last batch that changed it left it, in key order, so a page holding many changed rows is
//! written once for all of them.
//!
//! The object is always the tables with the `redo` rows applied over them in order: a fold and
//! the deletion of the rows it folded are one transaction, and `Shard::load` folds whatever a
//! stop left before it reads the tables. A batch with statements (a collection's deletion,
//! FLUSHDB, a stream's rows, ranges of list positions) does not go to the log: the fold runs
//! first in its transaction, so the statements see the tables as every earlier batch left them.

use std::collections::HashMap;

use bytes::Bytes;
use dotdo_backend::{Statement, Value};

use super::sql::{self, RowOp, Rows};

/// The rows, in the order they were appended.
pub const LOAD: &str = "SELECT rows FROM redo ORDER BY seq";
static APPEND: &str = "INSERT INTO redo (rows) VALUES (?1)";
static CLEAR: &str = "DELETE FROM redo";

/// Batches that write fewer rows (one hot key, one list's chunk) write them in place: each is
/// about a page already, and a fold would write it again.
const MIN_ROWS: usize = 4;
/// A fold runs once the rows changed since the last one reach `FOLD_ROWS`, or the log's
/// entries `FOLD_BYTES`; this bounds both what a restart replays and what the writer keeps.
/// Larger folds rewrite each row less often (65 536 rows took `-P 16` SETs of 100 000 random
/// keys from 262k to 322k requests/s in one run) but stall the shard's commits for longer
/// (the longest SET then took 92 ms); 32 768 rows took 16 ms at most in the same test.
const FOLD_ROWS: usize = 32_768;
const FOLD_BYTES: usize = 16 << 20;
/// A batch whose entry would be larger goes in place (a Durable Object's row is at most 2 MB).
const MAX_ENTRY: usize = 512 << 10;

/// A row of `keys` (no `sub`) or of `elems`; the derived order is the tables' key order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RowId {
    elem: bool,
    key: Bytes,
    sub: Bytes,
}

impl RowId {
    fn key(key: Bytes) -> Self {
        RowId {
            elem: false,
            key,
            sub: Bytes::new(),
        }
    }

    fn elem(key: Bytes, sub: Bytes) -> Self {
        RowId {
            elem: true,
            key,
            sub,
        }
    }
}

/// The log's state in the writer: each row changed since the last fold, with its last write
/// (`None`: deleted).
#[derive(Default)]
pub struct Redo {
    /// A write's values past the row's key: `kind, expires_at, value` of a `keys` row,
    /// `value, score` (and a null) of an `elems` row.
    rows: HashMap<RowId, Option<[Value; 3]>>,
    /// Bytes of the entries appended since the last fold (0: the log is empty).
    bytes: usize,
}

/// A batch to commit, and whether it folds the log (a large transaction: not worth trying on
/// the caller's thread).
pub struct Plan {
    pub batch: Vec<Statement>,
    pub folds: bool,
}

impl Redo {
    pub fn is_empty(&self) -> bool {
        self.bytes == 0 && self.rows.is_empty()
    }

    /// The statements that make one batch durable: its statements `log`, then its row writes.
    pub fn plan(&mut self, log: Vec<Statement>, rows: Rows) -> Plan {
        let mut batch = Vec::new();
        let only_rows = log.is_empty() && !rows.has_ranges() && !rows.is_empty();
        // While the log holds entries every plain batch joins it: a row written in place now
        // would be overwritten by an older write at the next fold.
        if only_rows && (!self.is_empty() || rows.len() >= MIN_ROWS) {
            let size = encoded_len(&rows);
            let entry = (size <= MAX_ENTRY).then(|| encode(&rows, size));
            self.absorb(rows);
            if let Some(entry) = entry
                && self.rows.len() <= FOLD_ROWS
                && self.bytes + entry.len() <= FOLD_BYTES
            {
                self.bytes += entry.len();
                batch.push(Statement::with_params(
                    APPEND,
                    vec![Value::Blob(entry.into())],
                ));
                return Plan {
                    batch,
                    folds: false,
                };
            }
            // Past the bounds: this batch's rows are in the fold with the rest.
            self.fold_into(&mut batch);
            return Plan { batch, folds: true };
        }
        let writes = !log.is_empty() || !rows.is_empty();
        let folds = writes && !self.is_empty();
        if folds {
            self.fold_into(&mut batch);
        }
        batch.extend(sql::merge_rows(sql::coalesce(log)));
        rows.append_to(&mut batch);
        Plan { batch, folds }
    }

    /// The fold on its own (the writer has been idle a while), if the log holds anything.
    pub fn fold(&mut self) -> Option<Vec<Statement>> {
        if self.is_empty() {
            return None;
        }
        let mut batch = Vec::new();
        self.fold_into(&mut batch);
        Some(batch)
    }

    /// Take in an entry read back from the object (`Shard::load`), in log order.
    pub fn replay(&mut self, entry: &[u8]) -> Result<(), String> {
        let rows = decode(entry)?;
        self.absorb(rows);
        self.bytes += entry.len().max(1);
        Ok(())
    }

    /// Record a batch's row writes, each over any earlier write of the same row.
    fn absorb(&mut self, rows: Rows) {
        rows.into_each(|op, [a, b, c, d]| {
            let bytes = |v: Value| match v {
                Value::Blob(b) => b,
                Value::Text(t) => Bytes::from(t),
                _ => Bytes::new(),
            };
            let (id, write) = match op {
                RowOp::PutKey => (RowId::key(bytes(a)), Some([b, c, d])),
                RowOp::DelKey => (RowId::key(bytes(a)), None),
                RowOp::PutElem => (RowId::elem(bytes(a), bytes(b)), Some([c, d, Value::Null])),
                RowOp::DelElem => (RowId::elem(bytes(a), bytes(b)), None),
            };
            self.rows.insert(id, write);
        });
    }

    /// Write every row changed since the last fold, as its last write left it, in key order,
    /// and empty the log.
    fn fold_into(&mut self, batch: &mut Vec<Statement>) {
        let mut all: Vec<(RowId, Option<[Value; 3]>)> = self.rows.drain().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut rows = Rows::default();
        for (id, write) in all {
            match (id.elem, write) {
                (false, Some([kind, expires, value])) => {
                    rows.push(RowOp::PutKey, [Value::Blob(id.key), kind, expires, value])
                }
                (false, None) => rows.push(RowOp::DelKey, [Value::Blob(id.key)]),
                (true, Some([value, score, _])) => rows.push(
                    RowOp::PutElem,
                    [Value::Blob(id.key), Value::Blob(id.sub), value, score],
                ),
                (true, None) => {
                    rows.push(RowOp::DelElem, [Value::Blob(id.key), Value::Blob(id.sub)])
                }
            }
        }
        rows.append_to(batch);
        batch.push(Statement::new(CLEAR));
        self.bytes = 0;
        if self.rows.capacity() > 4 * FOLD_ROWS {
            self.rows = HashMap::new();
        }
    }
}

// An entry: its row writes one after another, each a tag (`RowOp` in `ALL`'s order) and
// `op.width()` values; a value is a tag (0 null, 1 integer, 2 real, 3 blob, 4 text), then 8
// little-endian bytes for a number, or a 4-byte little-endian length and the bytes.

/// The length of `encode(rows)`, without building it.
fn encoded_len(rows: &Rows) -> usize {
    let mut n = 0;
    rows.for_each(|_, params| {
        n += 1 + params
            .iter()
            .map(|v| match v {
                Value::Null => 1,
                Value::Integer(_) | Value::Real(_) => 9,
                Value::Blob(b) => 5 + b.len(),
                Value::Text(t) => 5 + t.len(),
            })
            .sum::<usize>();
    });
    n
}

fn encode(rows: &Rows, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    rows.for_each(|op, params| {
        out.push(RowOp::ALL.iter().position(|o| *o == op).unwrap_or(0) as u8);
        for v in params {
            match v {
                Value::Null => out.push(0),
                Value::Integer(i) => {
                    out.push(1);
                    out.extend_from_slice(&i.to_le_bytes());
                }
                Value::Real(r) => {
                    out.push(2);
                    out.extend_from_slice(&r.to_le_bytes());
                }
                Value::Blob(b) => {
                    out.push(3);
                    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    out.extend_from_slice(b);
                }
                Value::Text(t) => {
                    out.push(4);
                    out.extend_from_slice(&(t.len() as u32).to_le_bytes());
                    out.extend_from_slice(t.as_bytes());
                }
            }
        }
    });
    out
}

fn decode(mut entry: &[u8]) -> Result<Rows, String> {
    fn take<'a>(entry: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if entry.len() < n {
            return Err("redo entry ends early".into());
        }
        let (head, rest) = entry.split_at(n);
        *entry = rest;
        Ok(head)
    }
    fn word(entry: &mut &[u8]) -> Result<[u8; 8], String> {
        let mut w = [0; 8];
        w.copy_from_slice(take(entry, 8)?);
        Ok(w)
    }
    fn bytes<'a>(entry: &mut &'a [u8]) -> Result<&'a [u8], String> {
        let mut n = [0; 4];
        n.copy_from_slice(take(entry, 4)?);
        take(entry, u32::from_le_bytes(n) as usize)
    }
    let mut rows = Rows::default();
    while let Some((&tag, rest)) = entry.split_first() {
        entry = rest;
        let op = *RowOp::ALL
            .get(tag as usize)
            .ok_or_else(|| format!("redo entry has row tag {tag}"))?;
        let mut params = Vec::with_capacity(op.width());
        for _ in 0..op.width() {
            let kind = take(&mut entry, 1)?[0];
            params.push(match kind {
                0 => Value::Null,
                1 => Value::Integer(i64::from_le_bytes(word(&mut entry)?)),
                2 => Value::Real(f64::from_le_bytes(word(&mut entry)?)),
                3 => Value::Blob(Bytes::copy_from_slice(bytes(&mut entry)?)),
                4 => Value::Text(
                    String::from_utf8(bytes(&mut entry)?.to_vec())
                        .map_err(|_| "redo entry has text that is not UTF-8".to_string())?,
                ),
                k => return Err(format!("redo entry has value tag {k}")),
            });
        }
        rows.push(op, params);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(b: &[u8]) -> Value {
        Value::Blob(Bytes::copy_from_slice(b))
    }

    fn spread(n: usize, value: &[u8]) -> Rows {
        let mut rows = Rows::default();
        for i in 0..n {
            rows.put_key(
                Bytes::from(format!("k{i}")),
                0,
                Some(i as i64),
                Some(Bytes::copy_from_slice(value)),
            );
        }
        rows
    }

    /// The row writes of a batch, as `(op, params)` in order.
    fn writes(batch: &[Statement]) -> Vec<(String, Vec<Value>)> {
        batch
            .iter()
            .map(|s| (s.sql.to_string(), s.params.clone()))
            .collect()
    }

    #[test]
    fn entries_round_trip_every_value_kind() {
        let mut rows = Rows::default();
        rows.put_key(
            Bytes::from_static(b"a"),
            0,
            None,
            Some(Bytes::from_static(b"v")),
        );
        rows.del_key(Bytes::from_static(b"b"));
        rows.put_elem(b"z", b"m", None, Some(-1.5));
        rows.push(
            RowOp::PutElem,
            [
                blob(b"h"),
                Value::Text("f".into()),
                blob(b""),
                Value::Integer(i64::MIN),
            ],
        );
        rows.del_elem(b"s", b"x");
        let entry = encode(&rows, encoded_len(&rows));
        assert_eq!(entry.len(), encoded_len(&rows));
        let back = decode(&entry).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        rows.for_each(|op, p| a.push((op, p.to_vec())));
        back.for_each(|op, p| b.push((op, p.to_vec())));
        assert_eq!(a, b);
        assert_eq!(a.len(), 5);
    }

    #[test]
    fn damaged_entries_are_refused_not_misread() {
        let rows = spread(3, b"value");
        let entry = encode(&rows, encoded_len(&rows));
        for cut in 0..entry.len() {
            // Every strict prefix that ends inside a row write is refused.
            let r = decode(&entry[..cut]);
            if let Ok(rows) = r {
                assert!(rows.len() < 3, "prefix {cut} read as whole");
            }
        }
        assert!(decode(&[9]).is_err());
        assert!(decode(&[0, 7]).is_err());
        assert!(decode(&[1, 3, 255, 255, 255, 255]).is_err());
    }

    #[test]
    fn small_batches_write_in_place_until_the_log_holds_something() {
        let mut redo = Redo::default();
        let plan = redo.plan(Vec::new(), spread(1, b"v"));
        assert!(!plan.folds);
        assert!(redo.is_empty());
        assert!(plan.batch[0].sql.starts_with("INSERT INTO keys"));
        // A spread batch is appended to the log...
        let plan = redo.plan(Vec::new(), spread(10, b"v"));
        assert_eq!(writes(&plan.batch).len(), 1);
        assert_eq!(&*plan.batch[0].sql, APPEND);
        assert!(!redo.is_empty());
        // ... and from then on a small one too, so that no older write lands after it.
        let plan = redo.plan(Vec::new(), spread(1, b"w"));
        assert_eq!(&*plan.batch[0].sql, APPEND);
    }

    #[test]
    fn statements_fold_the_log_first_in_their_transaction() {
        let mut redo = Redo::default();
        redo.plan(Vec::new(), spread(10, b"old"));
        let mut later = Rows::default();
        later.del_key(Bytes::from_static(b"k3"));
        later.put_key(
            Bytes::from_static(b"k4"),
            0,
            None,
            Some(Bytes::from_static(b"new")),
        );
        later.put_key(
            Bytes::from_static(b"k5"),
            0,
            None,
            Some(Bytes::from_static(b"new")),
        );
        later.put_key(
            Bytes::from_static(b"k6"),
            0,
            None,
            Some(Bytes::from_static(b"new")),
        );
        redo.plan(Vec::new(), later);
        let stmt = sql::del_elems(&Bytes::from_static(b"zz"));
        let plan = redo.plan(vec![stmt], Rows::default());
        assert!(plan.folds);
        assert!(redo.is_empty());
        let batch = writes(&plan.batch);
        let clear = batch.iter().position(|(s, _)| s == CLEAR).unwrap();
        let del = batch
            .iter()
            .position(|(s, _)| s.starts_with("DELETE FROM elems WHERE key = ?1"))
            .unwrap();
        assert!(clear < del, "the fold comes before the batch's statements");
        // Each row once, as its last write left it: k3 deleted, k4 rewritten, the rest old.
        let puts: Vec<Value> = batch[..clear]
            .iter()
            .filter(|(s, _)| s.starts_with("INSERT INTO keys"))
            .flat_map(|(_, p)| p.clone())
            .collect();
        let keys: Vec<&Value> = puts.iter().step_by(4).collect();
        assert_eq!(keys.len(), 9);
        assert!(!keys.contains(&&blob(b"k3")));
        let k4 = puts.chunks(4).find(|p| p[0] == blob(b"k4")).unwrap();
        assert_eq!(k4[3], blob(b"new"));
        let k0 = puts.chunks(4).find(|p| p[0] == blob(b"k0")).unwrap();
        assert_eq!(k0[3], blob(b"old"));
        assert!(
            batch[..clear]
                .iter()
                .any(|(s, p)| s.starts_with("DELETE FROM keys") && p.contains(&blob(b"k3")))
        );
    }

    #[test]
    fn a_batch_too_large_for_one_entry_is_written_in_place_with_the_fold() {
        let mut redo = Redo::default();
        redo.plan(Vec::new(), spread(10, b"v"));
        let plan = redo.plan(Vec::new(), spread(4, &vec![7u8; MAX_ENTRY / 2]));
        assert!(plan.folds);
        assert!(redo.is_empty());
        assert!(plan.batch.iter().all(|s| &*s.sql != APPEND));
        assert_eq!(plan.batch.last().map(|s| &*s.sql), Some(CLEAR));
    }

    #[test]
    fn the_log_folds_when_it_grows_past_its_bounds() {
        let mut redo = Redo::default();
        let mut appended = 0;
        let mut folded = false;
        for round in 0..(FOLD_ROWS / 200 + 2) {
            let mut rows = Rows::default();
            for i in 0..200 {
                rows.put_key(
                    Bytes::from(format!("k{round}:{i}")),
                    0,
                    None,
                    Some(Bytes::from_static(b"v")),
                );
            }
            let plan = redo.plan(Vec::new(), rows);
            if plan.folds {
                folded = true;
                break;
            }
            appended += 1;
        }
        assert!(folded);
        assert!(appended >= 1);
        assert!(redo.is_empty());
        // A replayed log folds to the same rows.
        let mut redo = Redo::default();
        let rows = spread(5, b"r");
        redo.replay(&encode(&rows, 0)).unwrap();
        let batch = redo.fold().unwrap();
        assert_eq!(batch.last().map(|s| &*s.sql), Some(CLEAR));
        assert!(redo.fold().is_none());
    }
}
