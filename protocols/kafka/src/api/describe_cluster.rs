//! DescribeCluster: one broker, which is also the controller.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;

pub async fn handle(
    b: &Broker,
    _req: DescribeClusterRequest,
    _ctx: &Ctx,
) -> Result<DescribeClusterResponse> {
    let (host, port) = b.advertised();
    let node = BrokerId(b.node_id());
    Ok(DescribeClusterResponse::default()
        .with_cluster_id(s(b.config.cluster_id.clone()))
        .with_controller_id(node)
        .with_cluster_authorized_operations(i32::MIN)
        .with_brokers(vec![
            DescribeClusterBroker::default()
                .with_broker_id(node)
                .with_host(s(host))
                .with_port(port),
        ]))
}
