//! JoinGroup: waits until the rebalance completes, then answers with the generation.

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::group::{JoinArgs, JoinResult};

pub async fn handle(b: &Broker, req: JoinGroupRequest, ctx: &Ctx) -> Result<JoinGroupResponse> {
    if req.group_id.0.is_empty() {
        return Ok(JoinGroupResponse::default()
            .with_error_code(errors::INVALID_GROUP_ID)
            .with_generation_id(-1));
    }
    let args = JoinArgs {
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.map(|s| s.to_string()),
        client_id: ctx.client_id.clone(),
        client_host: ctx.client_host.clone(),
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if ctx.version == 0 {
            req.session_timeout_ms
        } else {
            req.rebalance_timeout_ms
        },
        require_known_member_id: ctx.version >= 4,
    };
    let group = b.groups.group(&req.group_id.0);
    let pending = group.with(|g, now| g.join(args, now));
    let r = pending
        .wait(|| JoinResult {
            error: errors::UNKNOWN_MEMBER_ID,
            ..Default::default()
        })
        .await;
    let generation = if r.error == errors::NONE {
        r.generation
    } else {
        -1
    };
    Ok(JoinGroupResponse::default()
        .with_error_code(r.error)
        .with_generation_id(generation)
        .with_protocol_type(r.protocol_type.map(s))
        .with_protocol_name(r.protocol_name.map(s))
        .with_leader(s(r.leader))
        .with_member_id(s(r.member_id))
        .with_members(
            r.members
                .into_iter()
                .map(|(id, inst, meta)| {
                    JoinGroupResponseMember::default()
                        .with_member_id(s(id))
                        .with_group_instance_id(inst.map(s))
                        .with_metadata(meta)
                })
                .collect(),
        ))
}
