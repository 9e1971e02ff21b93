//! LeaveGroup: removes members (one in v0–v2, a list from v3) and starts a rebalance.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;

pub async fn handle(b: &Broker, req: LeaveGroupRequest, ctx: &Ctx) -> Result<LeaveGroupResponse> {
    let group = b.groups.get(&req.group_id.0);
    let leave = |id: &str| match &group {
        Some(g) => g.with(|g, now| g.leave(id, now)),
        None => errors::UNKNOWN_MEMBER_ID,
    };
    if ctx.version < 3 {
        return Ok(LeaveGroupResponse::default().with_error_code(leave(&req.member_id)));
    }
    let members = req
        .members
        .into_iter()
        .map(|m| {
            let code = leave(&m.member_id);
            MemberResponse::default()
                .with_member_id(m.member_id)
                .with_group_instance_id(m.group_instance_id)
                .with_error_code(code)
        })
        .collect();
    Ok(LeaveGroupResponse::default().with_members(members))
}
