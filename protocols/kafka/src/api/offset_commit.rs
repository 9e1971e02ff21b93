//! OffsetCommit: checks the member and generation, then stores offsets in the group object.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::store::group::{self, Committed};

pub async fn handle(
    b: &Broker,
    req: OffsetCommitRequest,
    _ctx: &Ctx,
) -> Result<OffsetCommitResponse> {
    let mut code = if req.group_id.0.is_empty() {
        errors::INVALID_GROUP_ID
    } else {
        errors::NONE
    };
    if code == errors::NONE {
        let g = b.groups.group(&req.group_id.0);
        code =
            g.with(|g, now| g.check_commit(&req.member_id, req.generation_id_or_member_epoch, now));
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
        if let Err(e) = group::commit(&b.store, &req.group_id.0, &offsets).await {
            tracing::warn!(error = %e, "offset commit failed");
            code = e.code();
        }
    }
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    Ok(OffsetCommitResponse::default().with_topics(topics))
}
