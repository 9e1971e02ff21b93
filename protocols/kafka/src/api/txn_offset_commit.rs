//! TxnOffsetCommit: a group's offsets held with a transaction, committed with it.

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::store::group::Committed;

pub async fn handle(
    b: &Broker,
    req: TxnOffsetCommitRequest,
    ctx: &Ctx,
) -> Result<TxnOffsetCommitResponse> {
    let mut code = if req.group_id.0.is_empty() {
        errors::INVALID_GROUP_ID
    } else {
        errors::NONE
    };
    // v3 carries the consumer's generation, checked as OffsetCommit checks it.
    if code == errors::NONE && ctx.version >= 3 && req.generation_id >= 0 {
        let g = b.groups.group(&req.group_id.0);
        code = g.with(|g, now| g.check_commit(&req.member_id, req.generation_id, now));
    }
    if code == errors::NONE {
        let offsets: Vec<Committed> = req
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| Committed {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                })
            })
            .collect();
        code = b
            .txns
            .commit_offsets(
                b,
                &req.transactional_id.0,
                req.producer_id.0,
                req.producer_epoch,
                &req.group_id.0,
                offsets,
            )
            .await?;
    }
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    Ok(TxnOffsetCommitResponse::default().with_topics(topics))
}
