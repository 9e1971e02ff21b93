//! FindCoordinator: this broker coordinates every group.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;

pub async fn handle(
    b: &Broker,
    req: FindCoordinatorRequest,
    ctx: &Ctx,
) -> Result<FindCoordinatorResponse> {
    let (host, port) = b.advertised();
    let node = BrokerId(b.node_id());
    let resp = FindCoordinatorResponse::default();
    if ctx.version >= 4 {
        let coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key)
                    .with_node_id(node)
                    .with_host(s(host.clone()))
                    .with_port(port)
            })
            .collect();
        return Ok(resp.with_coordinators(coordinators));
    }
    Ok(resp.with_node_id(node).with_host(s(host)).with_port(port))
}
