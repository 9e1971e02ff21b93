//! The transaction coordinator's object: every transactional id's producer id and epoch,
//! state, and the partitions and offsets of its open transaction.

use std::collections::{BTreeMap, BTreeSet};

use dotdo_backend::{ObjectId, Statement, StatementResult, Value};

use super::group::Committed;
use super::{Schema, Store};
use crate::error::{Error, Result};

pub const SCHEMA: Schema = Schema {
    kind: "transactions",
    migrations: &[include_str!("../sql/txn_001.sql")],
};

/// Where a transactional id's current transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Empty => "empty",
            State::Ongoing => "ongoing",
            State::PrepareCommit => "prepare_commit",
            State::PrepareAbort => "prepare_abort",
            State::CompleteCommit => "complete_commit",
            State::CompleteAbort => "complete_abort",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "empty" => State::Empty,
            "ongoing" => State::Ongoing,
            "prepare_commit" => State::PrepareCommit,
            "prepare_abort" => State::PrepareAbort,
            "complete_commit" => State::CompleteCommit,
            "complete_abort" => State::CompleteAbort,
            _ => return None,
        })
    }
}

/// One transactional id as the coordinator keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Txn {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub state: State,
    pub timeout_ms: i64,
    pub started_ms: i64,
    pub partitions: BTreeSet<(String, i32)>,
    /// Offsets committed in the transaction, per group, applied when it commits.
    pub offsets: BTreeMap<String, Vec<Committed>>,
}

fn object(store: &Store) -> ObjectId {
    ObjectId::new(store.names.namespace(), "_transactions")
}

/// Every transactional id the coordinator knows.
pub async fn load(store: &Store) -> Result<BTreeMap<String, Txn>> {
    let res = store
        .execute(
            &object(store),
            &SCHEMA,
            vec![
                Statement::new(
                    "SELECT transactional_id, producer_id, producer_epoch, state, timeout_ms, started_ms FROM transactions",
                ),
                Statement::new("SELECT transactional_id, topic, partition FROM txn_partitions"),
                Statement::new(
                    "SELECT transactional_id, group_id, topic, partition, committed_offset, leader_epoch, metadata FROM txn_offsets",
                ),
            ],
        )
        .await?;
    let rows = |i: usize| res.get(i).map(|r| r.rows.as_slice()).unwrap_or_default();
    let bad = || Error::Corrupt("bad transactions row".into());
    let mut out = BTreeMap::new();
    for row in rows(0) {
        let text = |i: usize| row.get(i).and_then(|v| v.as_str()).map(str::to_owned);
        let int = |i: usize| row.get(i).and_then(Value::as_i64);
        let id = text(0).ok_or_else(bad)?;
        let txn = Txn {
            producer_id: int(1).ok_or_else(bad)?,
            producer_epoch: int(2).and_then(|e| i16::try_from(e).ok()).ok_or_else(bad)?,
            state: text(3).as_deref().and_then(State::parse).ok_or_else(bad)?,
            timeout_ms: int(4).ok_or_else(bad)?,
            started_ms: int(5).ok_or_else(bad)?,
            partitions: BTreeSet::new(),
            offsets: BTreeMap::new(),
        };
        out.insert(id, txn);
    }
    for row in rows(1) {
        let (Some(id), Some(topic), Some(p)) = (
            row.first().and_then(|v| v.as_str()),
            row.get(1).and_then(|v| v.as_str()),
            row.get(2)
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok()),
        ) else {
            return Err(bad());
        };
        if let Some(t) = out.get_mut(id) {
            t.partitions.insert((topic.to_owned(), p));
        }
    }
    for row in rows(2) {
        let text = |i: usize| row.get(i).and_then(|v| v.as_str()).map(str::to_owned);
        let int = |i: usize| row.get(i).and_then(Value::as_i64);
        let (Some(id), Some(group), Some(topic), Some(p), Some(offset), Some(epoch)) =
            (text(0), text(1), text(2), int(3), int(4), int(5))
        else {
            return Err(bad());
        };
        if let Some(t) = out.get_mut(&id) {
            t.offsets.entry(group).or_default().push(Committed {
                topic,
                partition: i32::try_from(p).map_err(|_| bad())?,
                offset,
                leader_epoch: i32::try_from(epoch).map_err(|_| bad())?,
                metadata: text(6),
            });
        }
    }
    Ok(out)
}

/// What changes with one save besides the transaction's header.
#[derive(Default)]
pub struct Change<'a> {
    pub add_partitions: &'a [(String, i32)],
    pub add_offsets: Option<(&'a str, &'a [Committed])>,
    /// Forget the transaction's partitions and offsets (it completed).
    pub clear: bool,
}

/// Write `txn`'s header and `change` in one atomic batch.
pub async fn save(store: &Store, id: &str, txn: &Txn, change: Change<'_>) -> Result<()> {
    let tid = || Value::Text(id.to_owned());
    let mut batch = vec![Statement::with_params(
        "INSERT OR REPLACE INTO transactions (transactional_id, producer_id, producer_epoch, state, timeout_ms, started_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        vec![
            tid(),
            Value::Integer(txn.producer_id),
            Value::Integer(txn.producer_epoch.into()),
            Value::Text(txn.state.as_str().to_owned()),
            Value::Integer(txn.timeout_ms),
            Value::Integer(txn.started_ms),
        ],
    )];
    if change.clear {
        for table in ["txn_partitions", "txn_offsets"] {
            batch.push(Statement::with_params(
                format!("DELETE FROM {table} WHERE transactional_id = ?1"),
                vec![tid()],
            ));
        }
    }
    for (topic, p) in change.add_partitions {
        batch.push(Statement::with_params(
            "INSERT OR IGNORE INTO txn_partitions (transactional_id, topic, partition) VALUES (?1, ?2, ?3)",
            vec![tid(), Value::Text(topic.clone()), Value::Integer((*p).into())],
        ));
    }
    if let Some((group, offsets)) = change.add_offsets {
        for c in offsets {
            batch.push(Statement::with_params(
                "INSERT OR REPLACE INTO txn_offsets (transactional_id, group_id, topic, partition, committed_offset, leader_epoch, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                vec![
                    tid(),
                    Value::Text(group.to_owned()),
                    Value::Text(c.topic.clone()),
                    Value::Integer(c.partition.into()),
                    Value::Integer(c.offset),
                    Value::Integer(c.leader_epoch.into()),
                    c.metadata.clone().map_or(Value::Null, Value::Text),
                ],
            ));
        }
    }
    let _: Vec<StatementResult> = store.execute(&object(store), &SCHEMA, batch).await?;
    Ok(())
}
