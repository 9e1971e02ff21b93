//! A consumer group's object: its committed offsets.

use dotdo_backend::{Statement, Value};

use super::{Schema, Store, now_ms};
use crate::error::Result;

pub const SCHEMA: Schema = Schema {
    kind: "group",
    migrations: &[include_str!("../sql/group_001.sql")],
};

/// One committed offset.
#[derive(Clone, Debug, PartialEq)]
pub struct Committed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

pub async fn commit(store: &Store, group: &str, offsets: &[Committed]) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let batch = offsets
        .iter()
        .map(|c| {
            Statement::with_params(
                "INSERT OR REPLACE INTO offsets (topic, partition, committed_offset, leader_epoch, metadata, commit_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                vec![
                    Value::Text(c.topic.clone()),
                    Value::Integer(c.partition.into()),
                    Value::Integer(c.offset),
                    Value::Integer(c.leader_epoch.into()),
                    c.metadata.clone().map_or(Value::Null, Value::Text),
                    Value::Integer(now),
                ],
            )
        })
        .collect();
    store
        .execute(&store.names.group(group), &SCHEMA, batch)
        .await?;
    Ok(())
}

pub async fn fetch(store: &Store, group: &str) -> Result<Vec<Committed>> {
    let res = store
        .execute(&store.names.group(group), &SCHEMA, vec![Statement::new(
            "SELECT topic, partition, committed_offset, leader_epoch, metadata FROM offsets ORDER BY topic, partition",
        )])
        .await?;
    let rows = res.into_iter().next().map(|r| r.rows).unwrap_or_default();
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(Committed {
                topic: row.first()?.as_str()?.to_owned(),
                partition: i32::try_from(row.get(1)?.as_i64()?).ok()?,
                offset: row.get(2)?.as_i64()?,
                leader_epoch: i32::try_from(row.get(3)?.as_i64()?).ok()?,
                metadata: row.get(4)?.as_str().map(str::to_owned),
            })
        })
        .collect())
}
