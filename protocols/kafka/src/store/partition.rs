//! A topic partition's object: its log of record batches and its producers' sequences.

use dotdo_backend::{ObjectId, Statement, StatementResult, Value};

use super::{Schema, Store, int_at};
use crate::error::Result;
use crate::records::BatchInfo;

pub const SCHEMA: Schema = Schema {
    kind: "partition",
    migrations: &[
        include_str!("../sql/partition_001.sql"),
        include_str!("../sql/partition_002.sql"),
        // An append's sequence verdict moves into the log row, so an append dirties one
        // page fewer (its table had a page of its own).
        include_str!("../sql/partition_003.sql"),
    ],
};

/// A log's offsets: the high watermark, the log start offset, and the last stable offset
/// (the first offset of the oldest open transaction, or the high watermark).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    pub high_watermark: i64,
    pub log_start: i64,
    pub last_stable: i64,
}

/// Statements that append one batch, after checking its producer's sequence. Returns the
/// index in `out` of the statement yielding `(code, base_offset)`.
pub fn append_statements(b: &BatchInfo, out: &mut Vec<Statement>) -> usize {
    let pid = Value::Integer(b.producer_id);
    let epoch = Value::Integer(b.producer_epoch.into());
    let base_seq = Value::Integer(b.base_sequence.into());
    let last_seq = Value::Integer(last_sequence(b).into());
    let count = Value::Integer(b.offset_count);
    out.push(Statement::with_params(
        include_str!("../sql/append_verdict.sql"),
        vec![
            pid.clone(),
            epoch.clone(),
            base_seq.clone(),
            last_seq.clone(),
        ],
    ));
    if b.transactional {
        // The transaction's first offset in this partition holds the last stable offset.
        out.push(Statement::with_params(
            "INSERT OR IGNORE INTO open_txns (producer_id, first_offset) SELECT ?1, next_offset FROM log WHERE verdict_code = 0",
            vec![pid.clone()],
        ));
    }
    out.push(Statement::with_params(
        include_str!("../sql/append_insert.sql"),
        vec![
            pid.clone(),
            epoch.clone(),
            base_seq,
            last_seq.clone(),
            count.clone(),
            Value::Integer(b.max_timestamp),
            Value::Blob(b.bytes.clone()),
        ],
    ));
    out.push(Statement::with_params(
        include_str!("../sql/append_producer.sql"),
        vec![pid, epoch, last_seq],
    ));
    out.push(Statement::with_params(
        include_str!("../sql/append_advance.sql"),
        vec![count.clone()],
    ));
    out.push(Statement::with_params(
        include_str!("../sql/append_result.sql"),
        vec![count],
    ));
    out.len() - 1
}

/// Statements that write a transaction's COMMIT or ABORT marker for `producer_id`; an abort
/// is remembered for read_committed fetches. Returns the index of the statement yielding
/// `(code, offset)`.
pub fn marker_statements(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    out: &mut Vec<Statement>,
) -> usize {
    let now = super::now_ms();
    let pid = Value::Integer(producer_id);
    let epoch = Value::Integer(producer_epoch.into());
    if !commit {
        out.push(Statement::with_params(
            "INSERT OR IGNORE INTO aborted_txns (producer_id, first_offset, last_offset) SELECT producer_id, first_offset, (SELECT next_offset FROM log) FROM open_txns WHERE producer_id = ?1",
            vec![pid.clone()],
        ));
    }
    out.push(Statement::with_params(
        "DELETE FROM open_txns WHERE producer_id = ?1",
        vec![pid.clone()],
    ));
    let batch = crate::records::control_batch(producer_id, producer_epoch, commit, now);
    out.push(Statement::with_params(
        include_str!("../sql/append_marker.sql"),
        vec![
            pid.clone(),
            epoch.clone(),
            Value::Integer(now),
            Value::Blob(batch),
        ],
    ));
    out.push(Statement::with_params(
        include_str!("../sql/marker_producer.sql"),
        vec![pid, epoch],
    ));
    out.push(Statement::new(
        "UPDATE log SET next_offset = next_offset + 1",
    ));
    out.push(Statement::new("SELECT 0, next_offset - 1 FROM log"));
    out.len() - 1
}

/// The sequence number of a batch's last record, wrapping as Kafka's do.
fn last_sequence(b: &BatchInfo) -> i32 {
    if b.base_sequence < 0 {
        return -1;
    }
    let last = i64::from(b.base_sequence) + b.offset_count - 1;
    (last % (i64::from(i32::MAX) + 1)) as i32
}

/// The statement that reads the log's [`Bounds`].
pub fn bounds_statement() -> Statement {
    Statement::new(
        "SELECT next_offset, start_offset, COALESCE((SELECT MIN(first_offset) FROM open_txns), next_offset) FROM log",
    )
}

/// The [`Bounds`] read by [`bounds_statement`] at `results[at]`.
pub fn bounds_at(results: &[StatementResult], at: usize) -> Result<Bounds> {
    Ok(Bounds {
        high_watermark: int_at(results, at, 0, 0)?,
        log_start: int_at(results, at, 0, 1)?,
        last_stable: int_at(results, at, 0, 2)?,
    })
}

/// Delete batches older than `older_than_ms` (if >= 0) and, if `max_bytes` >= 0, the
/// oldest batches beyond that many bytes; returns the new bounds.
pub async fn apply_retention(
    store: &Store,
    obj: &ObjectId,
    older_than_ms: i64,
    max_bytes: i64,
) -> Result<Bounds> {
    let res = store
        .execute(
            obj,
            &SCHEMA,
            vec![
                Statement::with_params(
                    "DELETE FROM batches WHERE ?1 >= 0 AND max_timestamp < ?1",
                    vec![Value::Integer(older_than_ms)],
                ),
                Statement::with_params(include_str!("../sql/retention_bytes.sql"), vec![Value::Integer(max_bytes)]),
                Statement::new(
                    "UPDATE log SET start_offset = MAX(start_offset, COALESCE((SELECT MIN(base_offset) FROM batches), next_offset))",
                ),
                Statement::new(
                    "DELETE FROM aborted_txns WHERE last_offset < (SELECT start_offset FROM log)",
                ),
                bounds_statement(),
            ],
        )
        .await?;
    bounds_at(&res, 4)
}

/// DeleteRecords: the log starts at `offset` (at most the high watermark); batches wholly
/// below it are deleted. Returns the new bounds.
pub async fn delete_before(store: &Store, obj: &ObjectId, offset: i64) -> Result<Bounds> {
    let at = Value::Integer(offset);
    let res = store
        .execute(
            obj,
            &SCHEMA,
            vec![
                Statement::with_params(
                    "DELETE FROM batches WHERE last_offset < MIN(?1, (SELECT next_offset FROM log))",
                    vec![at.clone()],
                ),
                Statement::with_params(
                    "UPDATE log SET start_offset = MAX(start_offset, MIN(?1, next_offset))",
                    vec![at.clone()],
                ),
                Statement::new(
                    "DELETE FROM aborted_txns WHERE last_offset < (SELECT start_offset FROM log)",
                ),
                bounds_statement(),
            ],
        )
        .await?;
    bounds_at(&res, 3)
}

/// `(code, base_offset)` of the append whose result statement is `results[at]`.
pub fn append_result(results: &[StatementResult], at: usize) -> Result<(i16, i64)> {
    let code = int_at(results, at, 0, 0)?;
    let offset = int_at(results, at, 0, 1).unwrap_or(-1);
    Ok((code as i16, offset))
}

/// The log's [`Bounds`].
pub async fn bounds(store: &Store, obj: &ObjectId) -> Result<Bounds> {
    let res = store
        .execute(obj, &SCHEMA, vec![bounds_statement()])
        .await?;
    bounds_at(&res, 0)
}

/// Most aborted transactions listed in one fetch response partition.
const MAX_ABORTED: i64 = 10_000;

/// What one partition read returns: `(base_offset, batch)` rows and, when asked for, the
/// aborted transactions `(producer_id, first_offset)` overlapping `[offset, below)`.
pub type Read = (Vec<(i64, Vec<u8>)>, Option<Vec<(i64, i64)>>);

/// Whole batches that hold offsets at or after `offset` and start below `below`, in order:
/// at most `rows` of them and at most `max_bytes` in all, but always the first one.
pub async fn read(
    store: &Store,
    obj: &ObjectId,
    offset: i64,
    below: i64,
    rows: i64,
    max_bytes: i64,
    with_aborted: bool,
) -> Result<Read> {
    let mut batch = vec![Statement::with_params(
        include_str!("../sql/fetch.sql"),
        vec![
            Value::Integer(offset),
            Value::Integer(below),
            Value::Integer(rows),
            Value::Integer(max_bytes),
        ],
    )];
    if with_aborted {
        batch.push(Statement::with_params(
            "SELECT producer_id, first_offset FROM aborted_txns WHERE last_offset >= ?1 AND first_offset < ?2 ORDER BY first_offset LIMIT ?3",
            vec![Value::Integer(offset), Value::Integer(below), Value::Integer(MAX_ABORTED)],
        ));
    }
    let mut res = store.execute(obj, &SCHEMA, batch).await?.into_iter();
    let rows = res.next().map(|r| r.rows).unwrap_or_default();
    let aborted = res.next().map(|r| {
        r.rows
            .into_iter()
            .filter_map(|row| Some((row.first()?.as_i64()?, row.get(1)?.as_i64()?)))
            .collect()
    });
    let rows = rows
        .into_iter()
        .filter_map(|row| {
            let mut it = row.into_iter();
            let base = it.next()?.as_i64()?;
            let data = it.next()?.into_bytes()?;
            Some((base, data))
        })
        .collect();
    Ok((rows, aborted))
}

/// The first offset of the first batch whose max timestamp is at least `ts`.
pub async fn offset_for_timestamp(store: &Store, obj: &ObjectId, ts: i64) -> Result<Option<i64>> {
    let res = store
        .execute(obj, &SCHEMA, vec![Statement::with_params(
            "SELECT base_offset FROM batches WHERE max_timestamp >= ?1 ORDER BY base_offset LIMIT 1",
            vec![Value::Integer(ts)],
        )])
        .await?;
    Ok(int_at(&res, 0, 0, 0).ok())
}
