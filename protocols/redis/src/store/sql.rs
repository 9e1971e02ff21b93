//! The statements that keep a shard object in step with its in-memory image.

use bytes::Bytes;
use dotdo_backend::{Statement, Value};

/// The schema, one statement per `;`, run (idempotently) whenever a shard is loaded.
pub const SCHEMA: &str = include_str!("schema.sql");
pub const SCHEMA_VERSION: i64 = 1;

pub const LOAD_KEYS: &str = "SELECT key, kind, expires_at, value FROM keys";
pub const LOAD_ELEMS: &str = "SELECT key, sub, value, score FROM elems ORDER BY key, sub";
pub const LOAD_VERSION: &str = "SELECT value FROM _meta WHERE name = 'schema_version'";

// Statics, not consts: `coalesce` recognises statements by the address of their SQL.
static PUT_KEY: &str = "INSERT INTO keys (key, kind, expires_at, value) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, expires_at = excluded.expires_at, \
     value = excluded.value";
static DEL_KEY: &str = "DELETE FROM keys WHERE key = ?1";
static DEL_ELEMS: &str = "DELETE FROM elems WHERE key = ?1";
static SET_EXPIRY: &str = "UPDATE keys SET expires_at = ?2 WHERE key = ?1";
static PUT_ELEM: &str = "INSERT INTO elems (key, sub, value, score) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (key, sub) DO UPDATE SET value = excluded.value, score = excluded.score";
static DEL_ELEM: &str = "DELETE FROM elems WHERE key = ?1 AND sub = ?2";
static CLEAR_KEYS: &str = "DELETE FROM keys";
static CLEAR_ELEMS: &str = "DELETE FROM elems";

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
    Value::Blob(b.to_vec())
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

pub fn del_key(key: &Bytes) -> [Statement; 2] {
    [
        Statement::with_params(DEL_KEY, vec![blob(key)]),
        Statement::with_params(DEL_ELEMS, vec![blob(key)]),
    ]
}

pub fn del_elems(key: &Bytes) -> Statement {
    Statement::with_params(DEL_ELEMS, vec![blob(key)])
}

pub fn set_expiry(key: &Bytes, expires_at: Option<i64>) -> Statement {
    Statement::with_params(SET_EXPIRY, vec![blob(key), expires_at.into()])
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
    for (i, s) in batch.iter().enumerate().rev() {
        if let Some(row) = full_row_write(s)
            && !seen.insert(row)
        {
            keep[i] = false;
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
        assert_eq!(schema_statements().len(), 4);
    }

    #[test]
    fn coalescing_keeps_the_last_full_write_of_each_row() {
        let k = Bytes::from_static(b"k");
        let batch = vec![
            put_key(&k, 0, None, Some(&Bytes::from_static(b"1"))),
            set_expiry(&k, Some(5)),
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
