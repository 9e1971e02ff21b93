//! Heartbeat: keeps a member's session alive and tells it about rebalances.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;

pub async fn handle(b: &Broker, req: HeartbeatRequest, _ctx: &Ctx) -> Result<HeartbeatResponse> {
    let code = match b.groups.get(&req.group_id.0) {
        Some(g) => g.with(|g, now| g.heartbeat(&req.member_id, req.generation_id, now)),
        None => errors::UNKNOWN_MEMBER_ID,
    };
    Ok(HeartbeatResponse::default().with_error_code(code))
}
