//! The statements that keep a shard object in step with its in-memory image.

use bytes::Bytes;
use dotdo_backend::{Statement, Value};

/// The schema, one statement per `;`, run (idempotently) whenever a shard is loaded.
pub const SCHEMA: &str = include_str!("schema.sql");
pub const SCHEMA_VERSION: i64 = 5;

pub const LOAD_KEYS: &str = "SELECT key, kind, expires_at, value FROM keys";
pub const LOAD_ELEMS: &str = "SELECT key, sub, value, score FROM elems ORDER BY key, sub";
pub const LOAD_VERSION: &str = "SELECT value FROM _meta WHERE name = 'schema_version'";
pub const LOAD_FUNCTIONS: &str = "SELECT name, code FROM functions ORDER BY name";

// Statics, not consts: `coalesce` recognises statements by the address of their SQL.
static PUT_KEY: &str = "INSERT INTO keys (key, kind, expires_at, value) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, expires_at = excluded.expires_at, \
     value = excluded.value";
static DEL_KEY: &str = "DELETE FROM keys WHERE key = ?1";
static DEL_ELEMS: &str = "DELETE FROM elems WHERE key = ?1";
static PUT_ELEM: &str = "INSERT INTO elems (key, sub, value, score) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (key, sub) DO UPDATE SET value = excluded.value, score = excluded.score";
static DEL_ELEM: &str = "DELETE FROM elems WHERE key = ?1 AND sub = ?2";
static DEL_POSITIONS: &str = "DELETE FROM elems WHERE key = ?1 AND sub BETWEEN ?2 AND ?3";
static CLEAR_KEYS: &str = "DELETE FROM keys";
static CLEAR_ELEMS: &str = "DELETE FROM elems";
static PUT_FUNCTION: &str = "INSERT INTO functions (name, code) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET code = excluded.code";
static DEL_FUNCTION: &str = "DELETE FROM functions WHERE name = ?1";
static CLEAR_FUNCTIONS: &str = "DELETE FROM functions";

pub fn schema_statements() -> Vec<Statement> {
    SCHEMA
        .split(';')
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
        .map(Statement::new)
        .collect()
}

fn blob(b: &[u8]) -> Value {
    Value::from(b)
}

pub fn put_key(
    key: &Bytes,
    kind: i64,
    expires_at: Option<i64>,
    value: Option<&Bytes>,
) -> Statement {
    Statement::with_params(
        PUT_KEY,
        vec![
            blob(key),
            Value::Integer(kind),
            expires_at.into(),
            value.map_or(Value::Null, |v| blob(v)),
        ],
    )
}

pub fn del_elems(key: &Bytes) -> Statement {
    Statement::with_params(DEL_ELEMS, vec![blob(key)])
}

pub fn put_elem(key: &Bytes, sub: &[u8], value: Option<&[u8]>, score: Option<f64>) -> Statement {
    Statement::with_params(
        PUT_ELEM,
        vec![
            blob(key),
            blob(sub),
            value.map_or(Value::Null, blob),
            score.into(),
        ],
    )
}

pub fn del_elem(key: &Bytes, sub: &[u8]) -> Statement {
    Statement::with_params(DEL_ELEM, vec![blob(key), blob(sub)])
}

pub fn clear() -> [Statement; 2] {
    [Statement::new(CLEAR_KEYS), Statement::new(CLEAR_ELEMS)]
}

/// Store a function library's code under its name (FUNCTION LOAD, RESTORE).
pub fn put_function(name: &str, code: &[u8]) -> Statement {
    Statement::with_params(PUT_FUNCTION, vec![Value::Text(name.into()), blob(code)])
}

/// Remove a function library (FUNCTION DELETE).
pub fn del_function(name: &str) -> Statement {
    Statement::with_params(DEL_FUNCTION, vec![Value::Text(name.into())])
}

/// Remove every function library (FUNCTION FLUSH, RESTORE FLUSH).
pub fn clear_functions() -> Statement {
    Statement::new(CLEAR_FUNCTIONS)
}

/// The row a statement overwrites in full (every column), if it does: `(table, key, sub)`.
/// Partial updates and range deletes are not full writes.
fn full_row_write(s: &Statement) -> Option<(u8, &[u8], &[u8])> {
    let blob = |i: usize| match s.params.get(i) {
        Some(Value::Blob(b)) => Some(&b[..]),
        _ => None,
    };
    let sql: &str = &s.sql;
    if std::ptr::eq(sql, PUT_KEY) || std::ptr::eq(sql, DEL_KEY) {
        Some((0, blob(0)?, &[]))
    } else if std::ptr::eq(sql, PUT_ELEM) || std::ptr::eq(sql, DEL_ELEM) {
        Some((1, blob(0)?, blob(1)?))
    } else {
        None
    }
}

/// Drop every full row write that a later full write of the same row in `batch` overwrites.
///
/// Every statement here is a blind write (none reads what another wrote), so a row's final
/// state is its last full write plus the partial writes after it; an earlier full write of
/// the row changes nothing in the outcome of the batch, which runs as one transaction.
/// This is what lets a thousand INCRs of one counter in one batch cost one upsert.
pub fn coalesce(batch: Vec<Statement>) -> Vec<Statement> {
    let mut seen = std::collections::HashSet::new();
    let mut keep = vec![true; batch.len()];
    // Runs of writes to one row (a pipeline of SETs or INCRs of one key) skip the hashing.
    let mut previous = None;
    for (i, s) in batch.iter().enumerate().rev() {
        if let Some(row) = full_row_write(s) {
            if previous == Some(row) || !seen.insert(row) {
                keep[i] = false;
            }
            previous = Some(row);
        }
    }
    if keep.iter().all(|k| *k) {
        return batch;
    }
    batch
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}

/// Rows per merged statement: 25 rows of 4 parameters stay within a Durable Object's 100
/// bound parameters per statement (`dotdo_backend::MAX_PARAMS`).
const MERGE_SIZES: [usize; 4] = [25, 16, 4, 1];

fn multi_sql(kind: &str, rows: usize) -> String {
    let tuple = |i: usize, n: usize| {
        let p: Vec<String> = (1..=n).map(|j| format!("?{}", i * n + j)).collect();
        format!("({})", p.join(", "))
    };
    match kind {
        "put_elem" => format!(
            "INSERT INTO elems (key, sub, value, score) VALUES {} ON CONFLICT (key, sub) DO UPDATE \
             SET value = excluded.value, score = excluded.score",
            (0..rows)
                .map(|i| tuple(i, 4))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "put_key" => format!(
            "INSERT INTO keys (key, kind, expires_at, value) VALUES {} ON CONFLICT (key) DO UPDATE \
             SET kind = excluded.kind, expires_at = excluded.expires_at, value = excluded.value",
            (0..rows)
                .map(|i| tuple(i, 4))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "del_key" => format!(
            "DELETE FROM keys WHERE key IN ({})",
            (1..=rows)
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!(
            "DELETE FROM elems WHERE (key, sub) IN (VALUES {})",
            (0..rows)
                .map(|i| tuple(i, 2))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The merged statements' SQL, built once: (kind, rows) -> SQL.
static MULTI_SQL: std::sync::LazyLock<Vec<(&'static str, usize, &'static str)>> =
    std::sync::LazyLock::new(|| {
        let mut v = Vec::new();
        for kind in ["put_elem", "put_key", "del_elem", "del_key"] {
            for n in MERGE_SIZES.into_iter().filter(|&n| n > 1) {
                v.push((kind, n, &*Box::leak(multi_sql(kind, n).into_boxed_str())));
            }
        }
        v
    });

fn multi(kind: &str, rows: usize) -> Option<&'static str> {
    MULTI_SQL
        .iter()
        .find(|(k, n, _)| *k == kind && *n == rows)
        .map(|(_, _, sql)| *sql)
}

/// A row write of `Rows`: upsert or delete a `keys` row or an `elems` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOp {
    PutKey,
    DelKey,
    PutElem,
    DelElem,
}

impl RowOp {
    /// In the order `Rows::append_to` applies them.
    pub const ALL: [RowOp; 4] = [RowOp::PutKey, RowOp::DelKey, RowOp::PutElem, RowOp::DelElem];

    /// Its parameters: `key, kind, expires_at, value`; `key`; `key, sub, value, score`;
    /// `key, sub`.
    pub fn width(self) -> usize {
        match self {
            RowOp::PutKey | RowOp::PutElem => 4,
            RowOp::DelKey => 1,
            RowOp::DelElem => 2,
        }
    }
}

/// Rows to write as the image holds them, by kind, their parameters laid end to end; they
/// become multi-row statements (every row of a kind is a distinct row, so their order does
/// not matter).
#[derive(Default)]
pub struct Rows {
    put_keys: Vec<Value>,
    del_keys: Vec<Value>,
    put_elems: Vec<Value>,
    del_elems: Vec<Value>,
    /// Ranges of list positions, one statement each.
    del_ranges: Vec<Statement>,
}

impl Rows {
    /// A `keys` row, of bytes the image holds (shared, not copied).
    pub fn put_key(
        &mut self,
        key: Bytes,
        kind: i64,
        expires_at: Option<i64>,
        value: Option<Bytes>,
    ) {
        self.put_keys.extend([
            Value::Blob(key),
            Value::Integer(kind),
            expires_at.into(),
            value.map_or(Value::Null, Value::Blob),
        ]);
    }

    pub fn del_key(&mut self, key: Bytes) {
        self.del_keys.push(Value::Blob(key));
    }

    pub fn put_elem(&mut self, key: &[u8], sub: &[u8], value: Option<&[u8]>, score: Option<f64>) {
        self.put_elems.extend([
            blob(key),
            blob(sub),
            value.map_or(Value::Null, blob),
            score.into(),
        ]);
    }

    pub fn del_elem(&mut self, key: &[u8], sub: &[u8]) {
        self.del_elems.extend([blob(key), blob(sub)]);
    }

    /// `put_elem` of a value built for the row (no copy).
    pub fn put_elem_owned(&mut self, key: &[u8], sub: &[u8], value: Vec<u8>) {
        self.put_elems
            .extend([blob(key), blob(sub), Value::Blob(value.into()), Value::Null]);
    }

    /// Delete list positions `lo..=hi` of `key`.
    pub fn del_positions(&mut self, key: &[u8], (lo, hi): (i64, i64)) {
        if lo == hi {
            self.del_elem(key, &list_pos(lo));
        } else {
            self.del_ranges.push(Statement::with_params(
                DEL_POSITIONS,
                vec![blob(key), blob(&list_pos(lo)), blob(&list_pos(hi))],
            ));
        }
    }

    /// Row writes held (range deletes aside).
    pub fn len(&self) -> usize {
        RowOp::ALL
            .into_iter()
            .map(|op| self.params(op).len() / op.width())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.del_ranges.is_empty()
    }

    /// Whether list position ranges are deleted (statements, not row writes).
    pub fn has_ranges(&self) -> bool {
        !self.del_ranges.is_empty()
    }

    /// Every row write with its parameters, in the order `append_to` applies them.
    pub fn for_each(&self, mut f: impl FnMut(RowOp, &[Value])) {
        for op in RowOp::ALL {
            self.params(op)
                .chunks_exact(op.width())
                .for_each(|p| f(op, p));
        }
    }

    /// `for_each`, handing over each write's parameters (`op.width()` of them, then nulls).
    pub fn into_each(self, mut f: impl FnMut(RowOp, [Value; 4])) {
        for (op, params) in RowOp::ALL.into_iter().zip([
            self.put_keys,
            self.del_keys,
            self.put_elems,
            self.del_elems,
        ]) {
            let mut it = params.into_iter();
            while it.len() >= op.width() {
                let mut p = [Value::Null, Value::Null, Value::Null, Value::Null];
                for slot in p.iter_mut().take(op.width()) {
                    *slot = it.next().unwrap_or(Value::Null);
                }
                f(op, p);
            }
        }
    }

    fn params(&self, op: RowOp) -> &Vec<Value> {
        match op {
            RowOp::PutKey => &self.put_keys,
            RowOp::DelKey => &self.del_keys,
            RowOp::PutElem => &self.put_elems,
            RowOp::DelElem => &self.del_elems,
        }
    }

    fn params_mut(&mut self, op: RowOp) -> &mut Vec<Value> {
        match op {
            RowOp::PutKey => &mut self.put_keys,
            RowOp::DelKey => &mut self.del_keys,
            RowOp::PutElem => &mut self.put_elems,
            RowOp::DelElem => &mut self.del_elems,
        }
    }

    /// Add one row write; `params` are as `for_each` gives them (`op.width()` of them).
    pub fn push(&mut self, op: RowOp, params: impl IntoIterator<Item = Value>) {
        self.params_mut(op)
            .extend(params.into_iter().take(op.width()));
    }

    /// Append the statements that write every row.
    pub fn append_to(self, out: &mut Vec<Statement>) {
        out.extend(self.del_ranges);
        for (kind, single, width, params) in [
            ("put_key", PUT_KEY, 4, self.put_keys),
            ("del_key", DEL_KEY, 1, self.del_keys),
            ("put_elem", PUT_ELEM, 4, self.put_elems),
            ("del_elem", DEL_ELEM, 2, self.del_elems),
        ] {
            let mut rest = params.into_iter();
            let mut left = rest.len() / width;
            while left > 0 {
                let n = MERGE_SIZES.into_iter().find(|&n| n <= left).unwrap_or(1);
                let sql = if n == 1 { Some(single) } else { multi(kind, n) };
                let params: Vec<Value> = rest.by_ref().take(n * width).collect();
                match sql {
                    Some(sql) => out.push(Statement::with_params(sql, params)),
                    // Every merged size is built: unreachable, but never drop a row.
                    None => out.extend(
                        params
                            .chunks(width)
                            .map(|p| Statement::with_params(single, p.to_vec())),
                    ),
                }
                left -= n;
            }
        }
    }
}

fn merge_kind(s: &Statement) -> Option<&'static str> {
    let sql: &str = &s.sql;
    if std::ptr::eq(sql, PUT_ELEM) {
        Some("put_elem")
    } else if std::ptr::eq(sql, PUT_KEY) {
        Some("put_key")
    } else if std::ptr::eq(sql, DEL_ELEM) {
        Some("del_elem")
    } else {
        None
    }
}

/// Fold runs of consecutive row writes of one kind into multi-row statements. Rows in one
/// statement apply in order, exactly as the single statements would, and no two rows of a
/// run touch the same row after `coalesce`, so the outcome is unchanged; SQLite does far less
/// work per row.
pub fn merge_rows(batch: Vec<Statement>) -> Vec<Statement> {
    let mut out = Vec::with_capacity(batch.len());
    let mut run: Vec<Statement> = Vec::new();
    let mut run_kind = None;
    let flush = |run: &mut Vec<Statement>, kind: Option<&'static str>, out: &mut Vec<Statement>| {
        let Some(kind) = kind else {
            out.append(run);
            return;
        };
        let mut rest = std::mem::take(run).into_iter().peekable();
        let mut left = rest.len();
        while left > 0 {
            let n = MERGE_SIZES.into_iter().find(|&n| n <= left).unwrap_or(1);
            if n == 1 {
                out.extend(rest.next());
            } else {
                let sql = multi(kind, n);
                let group: Vec<Statement> = rest.by_ref().take(n).collect();
                match sql {
                    Some(sql) => out.push(Statement::with_params(
                        sql,
                        group.into_iter().flat_map(|s| s.params).collect(),
                    )),
                    None => out.extend(group),
                }
            }
            left -= n;
        }
    };
    for s in batch {
        let kind = merge_kind(&s);
        if kind != run_kind || kind.is_none() {
            flush(&mut run, run_kind, &mut out);
            run_kind = kind;
        }
        run.push(s);
    }
    flush(&mut run, run_kind, &mut out);
    out
}

/// Positions per list chunk row: chunk `c` holds the list's elements at positions
/// `c * LIST_CHUNK .. (c + 1) * LIST_CHUNK`.
pub const LIST_CHUNK: i64 = 32;

/// The longest list element kept inside its chunk row (so a chunk row stays under 33 KiB); a
/// longer one has a row of its own, at its 8-byte position, and a mark in the chunk.
pub const LIST_INLINE_MAX: usize = 1024;

/// A list element too long for a chunk row: it has a row of its own.
pub fn own_row(item: &[u8]) -> bool {
    item.len() > LIST_INLINE_MAX
}

/// A chunk element's length that marks an element kept in a row of its own.
const CHUNK_OWN_ROW: u32 = u32::MAX;

/// The `sub` of list chunk `chunk`: 9 bytes, so it never equals a position's 8, and sorting
/// after every position a list can reach (`0xff` leads only positions past 2^62).
pub fn chunk_sub(chunk: i64) -> [u8; 9] {
    let mut sub = [0xff; 9];
    sub[1..].copy_from_slice(&list_pos(chunk));
    sub
}

pub fn is_chunk_sub(sub: &[u8]) -> bool {
    sub.len() == 9 && sub[0] == 0xff
}

/// A chunk row's value: the position of its first element (8 bytes, big-endian), then each
/// element as a 4-byte little-endian length and its bytes (`CHUNK_OWN_ROW` and no bytes for
/// an element longer than `LIST_INLINE_MAX`).
pub fn encode_chunk<'a>(first: i64, items: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&first.to_be_bytes());
    for item in items {
        if own_row(item) {
            out.extend_from_slice(&CHUNK_OWN_ROW.to_le_bytes());
        } else {
            out.extend_from_slice(&(item.len() as u32).to_le_bytes());
            out.extend_from_slice(item);
        }
    }
    out
}

/// A chunk row's first position and elements (`None`: the element has a row of its own).
/// `None` for a value that is not a chunk.
pub fn decode_chunk(value: &Bytes) -> Option<(i64, Vec<Option<Bytes>>)> {
    let first = i64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let mut items = Vec::new();
    let mut at = 8;
    while at < value.len() {
        let len = u32::from_le_bytes(value.get(at..at + 4)?.try_into().ok()?);
        at += 4;
        if len == CHUNK_OWN_ROW {
            items.push(None);
            continue;
        }
        let end = at.checked_add(len as usize).filter(|&e| e <= value.len())?;
        items.push(Some(value.slice(at..end)));
        at = end;
    }
    Some((first, items))
}

/// A list position as an order-preserving 8-byte key.
pub fn list_pos(pos: i64) -> [u8; 8] {
    ((pos as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn list_pos_decode(sub: &[u8]) -> Option<i64> {
    let arr: [u8; 8] = sub.try_into().ok()?;
    Some((u64::from_be_bytes(arr) ^ (1 << 63)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_positions_sort_as_bytes() {
        let ps = [-5i64, -1, 0, 1, 7, i64::MIN / 2, i64::MAX / 2];
        for a in ps {
            assert_eq!(list_pos_decode(&list_pos(a)), Some(a));
            for b in ps {
                assert_eq!(a.cmp(&b), list_pos(a).cmp(&list_pos(b)));
            }
        }
        assert_eq!(schema_statements().len(), 7);
    }

    #[test]
    fn schema_comments_hold_no_statement_separator() {
        // The schema is split on `;` before comments are dropped: one in a comment would cut a
        // statement in two.
        for line in SCHEMA.lines().filter(|l| l.trim_start().starts_with("--")) {
            assert!(!line.contains(';'), "{line}");
        }
        for st in schema_statements() {
            let sql = st.sql.trim_start().to_ascii_uppercase();
            assert!(
                ["CREATE", "INSERT", "UPDATE"]
                    .iter()
                    .any(|w| sql.starts_with(w)),
                "{sql}"
            );
        }
    }

    #[test]
    fn merged_rows_keep_every_parameter_in_order() {
        let k = Bytes::from_static(b"k");
        let mut batch: Vec<Statement> = (0..70u8)
            .map(|i| put_elem(&k, &[i], Some(b"v"), None))
            .collect();
        batch.push(del_elems(&k));
        batch.extend((0..5u8).map(|i| del_elem(&k, &[i])));
        let params: Vec<Value> = batch.iter().flat_map(|s| s.params.clone()).collect();
        let merged = merge_rows(batch);
        // 70 = 64 + 4 + 1 + 1; then the expiry; then 5 = 4 + 1.
        assert_eq!(merged.len(), 4 + 1 + 2);
        let after: Vec<Value> = merged.iter().flat_map(|s| s.params.clone()).collect();
        assert_eq!(params, after);
    }

    #[test]
    fn coalescing_keeps_the_last_full_write_of_each_row() {
        let k = Bytes::from_static(b"k");
        let batch = vec![
            put_key(&k, 0, None, Some(&Bytes::from_static(b"1"))),
            del_elems(&k),
            put_elem(&k, b"f", Some(b"a"), None),
            put_key(&k, 0, None, Some(&Bytes::from_static(b"2"))),
            del_elems(&k),
            put_elem(&k, b"f", Some(b"b"), None),
            del_elem(&k, b"g"),
        ];
        let out = coalesce(batch.clone());
        assert_eq!(
            out,
            vec![
                batch[1].clone(),
                batch[3].clone(),
                batch[4].clone(),
                batch[5].clone(),
                batch[6].clone()
            ]
        );
    }
}
