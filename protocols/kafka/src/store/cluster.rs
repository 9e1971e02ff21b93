//! The cluster object: topics and the producer-id counter.

use dotdo_backend::{Statement, Value};

use super::{Schema, Store, int_at, now_ms};
use crate::error::{Error, Result};

pub const SCHEMA: Schema = Schema {
    kind: "cluster",
    migrations: &[include_str!("../sql/cluster_001.sql")],
};

/// A topic as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicRow {
    pub name: String,
    pub id: [u8; 16],
    pub partitions: i32,
    /// -1: keep forever.
    pub retention_ms: i64,
    /// -1: no size limit.
    pub retention_bytes: i64,
}

pub async fn load_topics(store: &Store) -> Result<Vec<TopicRow>> {
    let obj = store.names.cluster();
    let res = store
        .execute(
            &obj,
            &SCHEMA,
            vec![Statement::new(
                "SELECT name, id, partitions, retention_ms, retention_bytes FROM topics ORDER BY name",
            )],
        )
        .await?;
    let rows = res.into_iter().next().map(|r| r.rows).unwrap_or_default();
    rows.into_iter()
        .map(|row| {
            let mut it = row.into_iter();
            let name = it.next().and_then(|v| v.as_str().map(str::to_owned));
            let id = it
                .next()
                .and_then(|v| v.into_bytes())
                .and_then(|b| b.try_into().ok());
            let partitions = it
                .next()
                .and_then(|v| v.as_i64())
                .and_then(|p| i32::try_from(p).ok());
            let retention_ms = it.next().and_then(|v| v.as_i64());
            let retention_bytes = it.next().and_then(|v| v.as_i64());
            match (name, id, partitions, retention_ms, retention_bytes) {
                (
                    Some(name),
                    Some(id),
                    Some(partitions),
                    Some(retention_ms),
                    Some(retention_bytes),
                ) => Ok(TopicRow {
                    name,
                    id,
                    partitions,
                    retention_ms,
                    retention_bytes,
                }),
                _ => Err(Error::Corrupt("bad topics row".into())),
            }
        })
        .collect()
}

/// Insert a topic; `false` if it already exists.
pub async fn create_topic(store: &Store, topic: &TopicRow) -> Result<bool> {
    let obj = store.names.cluster();
    let res = store
        .execute(&obj, &SCHEMA, vec![Statement::with_params(
            "INSERT OR IGNORE INTO topics (name, id, partitions, created_ms, retention_ms, retention_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            vec![
                Value::Text(topic.name.clone()),
                Value::from(&topic.id[..]),
                Value::Integer(topic.partitions.into()),
                Value::Integer(now_ms()),
                Value::Integer(topic.retention_ms),
                Value::Integer(topic.retention_bytes),
            ],
        )])
        .await?;
    Ok(res.first().is_some_and(|r| r.rows_changed == 1))
}

pub async fn delete_topic(store: &Store, name: &str) -> Result<bool> {
    let obj = store.names.cluster();
    let res = store
        .execute(
            &obj,
            &SCHEMA,
            vec![Statement::with_params(
                "DELETE FROM topics WHERE name = ?1",
                vec![Value::Text(name.to_owned())],
            )],
        )
        .await?;
    Ok(res.first().is_some_and(|r| r.rows_changed == 1))
}

pub async fn set_partitions(store: &Store, name: &str, partitions: i32) -> Result<()> {
    let obj = store.names.cluster();
    store
        .execute(
            &obj,
            &SCHEMA,
            vec![Statement::with_params(
                "UPDATE topics SET partitions = ?2 WHERE name = ?1",
                vec![
                    Value::Text(name.to_owned()),
                    Value::Integer(partitions.into()),
                ],
            )],
        )
        .await?;
    Ok(())
}

pub async fn set_retention(store: &Store, name: &str, ms: i64, bytes: i64) -> Result<()> {
    let obj = store.names.cluster();
    store
        .execute(
            &obj,
            &SCHEMA,
            vec![Statement::with_params(
                "UPDATE topics SET retention_ms = ?2, retention_bytes = ?3 WHERE name = ?1",
                vec![
                    Value::Text(name.to_owned()),
                    Value::Integer(ms),
                    Value::Integer(bytes),
                ],
            )],
        )
        .await?;
    Ok(())
}

/// Allocate a fresh producer id.
pub async fn next_producer_id(store: &Store) -> Result<i64> {
    let obj = store.names.cluster();
    let res = store
        .execute(
            &obj,
            &SCHEMA,
            vec![
                Statement::new("UPDATE counters SET value = value + 1 WHERE name = 'producer_id'"),
                Statement::new("SELECT value - 1 FROM counters WHERE name = 'producer_id'"),
            ],
        )
        .await?;
    int_at(&res, 1, 0, 0)
}
