//! A topic partition's object: its log of record batches and its producers' sequences.

use dotdo_backend::{ObjectId, Statement, StatementResult, Value};

use super::{Schema, Store, int_at};
use crate::error::Result;
use crate::records::BatchInfo;

pub const SCHEMA: Schema = Schema {
    kind: "partition",
    migrations: &[include_str!("../sql/partition_001.sql")],
};

/// Statements appended per batch; the last one yields `(code, base_offset)`.
pub const STATEMENTS_PER_APPEND: usize = 5;

/// Statements that append one batch, after checking its producer's sequence.
pub fn append_statements(b: &BatchInfo, out: &mut Vec<Statement>) {
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
    out.push(Statement::with_params(
        include_str!("../sql/append_insert.sql"),
        vec![
            pid.clone(),
            epoch.clone(),
            base_seq,
            last_seq.clone(),
            count.clone(),
            Value::Integer(b.max_timestamp),
            Value::Blob(b.bytes.to_vec()),
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
}

/// The sequence number of a batch's last record, wrapping as Kafka's do.
fn last_sequence(b: &BatchInfo) -> i32 {
    if b.base_sequence < 0 {
        return -1;
    }
    let last = i64::from(b.base_sequence) + b.offset_count - 1;
    (last % (i64::from(i32::MAX) + 1)) as i32
}

/// The statement that reads the log's bounds `(next_offset, start_offset)`.
pub fn bounds_statement() -> Statement {
    Statement::new("SELECT next_offset, start_offset FROM log")
}

/// Delete batches older than `older_than_ms` (if >= 0) and, if `max_bytes` >= 0, the
/// oldest batches beyond that many bytes; returns the new bounds.
pub async fn apply_retention(
    store: &Store,
    obj: &ObjectId,
    older_than_ms: i64,
    max_bytes: i64,
) -> Result<(i64, i64)> {
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
                    "UPDATE log SET start_offset = COALESCE((SELECT MIN(base_offset) FROM batches), next_offset)",
                ),
                bounds_statement(),
            ],
        )
        .await?;
    Ok((int_at(&res, 3, 0, 0)?, int_at(&res, 3, 0, 1)?))
}

/// `(code, base_offset)` of the `i`th append in `results`.
pub fn append_result(results: &[StatementResult], i: usize) -> Result<(i16, i64)> {
    let at = i * STATEMENTS_PER_APPEND + STATEMENTS_PER_APPEND - 1;
    let code = int_at(results, at, 0, 0)?;
    let offset = int_at(results, at, 0, 1).unwrap_or(-1);
    Ok((code as i16, offset))
}

/// The log's `(high_watermark, log_start_offset)`.
pub async fn bounds(store: &Store, obj: &ObjectId) -> Result<(i64, i64)> {
    let res = store
        .execute(obj, &SCHEMA, vec![bounds_statement()])
        .await?;
    Ok((int_at(&res, 0, 0, 0)?, int_at(&res, 0, 0, 1)?))
}

/// Whole batches that hold offsets at or after `offset` and start below `below`, in order:
/// at most `rows` of them and at most `max_bytes` in all, but always the first one.
pub async fn read(
    store: &Store,
    obj: &ObjectId,
    offset: i64,
    below: i64,
    rows: i64,
    max_bytes: i64,
) -> Result<Vec<(i64, Vec<u8>)>> {
    let res = store
        .execute(
            obj,
            &SCHEMA,
            vec![Statement::with_params(
                include_str!("../sql/fetch.sql"),
                vec![
                    Value::Integer(offset),
                    Value::Integer(below),
                    Value::Integer(rows),
                    Value::Integer(max_bytes),
                ],
            )],
        )
        .await?;
    let rows = res.into_iter().next().map(|r| r.rows).unwrap_or_default();
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let mut it = row.into_iter();
            let base = it.next()?.as_i64()?;
            let data = it.next()?.into_bytes()?;
            Some((base, data))
        })
        .collect())
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
