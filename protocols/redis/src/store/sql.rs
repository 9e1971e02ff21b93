//! The statements that keep a shard object in step with its in-memory image.

use bytes::Bytes;
use dotdo_backend::{Statement, Value};

/// The schema, one statement per `;`, run (idempotently) whenever a shard is loaded.
pub const SCHEMA: &str = include_str!("schema.sql");
pub const SCHEMA_VERSION: i64 = 1;

pub const LOAD_KEYS: &str = "SELECT key, kind, expires_at, value FROM keys";
pub const LOAD_ELEMS: &str = "SELECT key, sub, value, score FROM elems ORDER BY key, sub";
pub const LOAD_VERSION: &str = "SELECT value FROM _meta WHERE name = 'schema_version'";

const PUT_KEY: &str = "INSERT INTO keys (key, kind, expires_at, value) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, expires_at = excluded.expires_at, \
     value = excluded.value";
const DEL_KEY: &str = "DELETE FROM keys WHERE key = ?1";
const DEL_ELEMS: &str = "DELETE FROM elems WHERE key = ?1";
const SET_EXPIRY: &str = "UPDATE keys SET expires_at = ?2 WHERE key = ?1";
const PUT_ELEM: &str = "INSERT INTO elems (key, sub, value, score) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (key, sub) DO UPDATE SET value = excluded.value, score = excluded.score";
const DEL_ELEM: &str = "DELETE FROM elems WHERE key = ?1 AND sub = ?2";
const CLEAR_KEYS: &str = "DELETE FROM keys";
const CLEAR_ELEMS: &str = "DELETE FROM elems";

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

pub fn put_key(key: &Bytes, kind: i64, expires_at: Option<i64>, value: Option<&Bytes>) -> Statement {
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
}
