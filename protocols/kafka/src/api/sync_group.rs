//! SyncGroup: the leader hands out assignments; followers wait for theirs.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::group::SyncResult;

pub async fn handle(b: &Broker, req: SyncGroupRequest, _ctx: &Ctx) -> Result<SyncGroupResponse> {
    let Some(group) = b.groups.get(&req.group_id.0) else {
        return Ok(SyncGroupResponse::default().with_error_code(errors::UNKNOWN_MEMBER_ID));
    };
    let assignments = req
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let pending = group.with(|g, now| g.sync(&req.member_id, req.generation_id, assignments, now));
    let r = pending
        .wait(|| SyncResult {
            error: errors::REBALANCE_IN_PROGRESS,
            ..Default::default()
        })
        .await;
    Ok(SyncGroupResponse::default()
        .with_error_code(r.error)
        .with_protocol_type(r.protocol_type.map(s))
        .with_protocol_name(r.protocol_name.map(s))
        .with_assignment(r.assignment))
}
