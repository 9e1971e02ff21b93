//! Metadata: this broker leads every partition; topics may be auto-created.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::offset_for_leader_epoch::LEADER_EPOCH;
use super::{Ctx, s};
use crate::broker::{Broker, Topic};
use crate::error::Result;
use crate::errors;

pub async fn handle(b: &Broker, req: MetadataRequest, ctx: &Ctx) -> Result<MetadataResponse> {
    b.ensure_loaded().await?;
    let allow_create = ctx.version < 4 || req.allow_auto_topic_creation;
    let wanted: Option<Vec<String>> = match req.topics {
        None => None,
        Some(t) if t.is_empty() && ctx.version == 0 => None,
        Some(t) => Some(
            t.into_iter()
                .filter_map(|t| t.name.map(|n| n.0.to_string()))
                .collect(),
        ),
    };
    let mut topics = Vec::new();
    match wanted {
        None => {
            for (name, t) in b.topics() {
                topics.push(topic(b, &name, Ok(t)));
            }
        }
        Some(names) => {
            for name in names {
                let found = b.topic_or_create(&name, allow_create).await?;
                topics.push(topic(b, &name, found));
            }
        }
    }
    let (host, port) = b.advertised();
    let node = BrokerId(b.node_id());
    Ok(MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(node)
                .with_host(s(host))
                .with_port(port),
        ])
        .with_cluster_id(Some(s(b.config.cluster_id.clone())))
        .with_controller_id(node)
        .with_topics(topics))
}

fn topic(b: &Broker, name: &str, found: std::result::Result<Topic, i16>) -> MetadataResponseTopic {
    let t = MetadataResponseTopic::default()
        .with_name(Some(TopicName(s(name))))
        .with_topic_authorized_operations(i32::MIN);
    match found {
        Err(code) => t.with_error_code(code),
        Ok(topic) => {
            let node = BrokerId(b.node_id());
            let partitions = (0..topic.partitions)
                .map(|i| {
                    MetadataResponsePartition::default()
                        .with_error_code(errors::NONE)
                        .with_partition_index(i)
                        .with_leader_id(node)
                        .with_leader_epoch(LEADER_EPOCH)
                        .with_replica_nodes(vec![node])
                        .with_isr_nodes(vec![node])
                })
                .collect();
            t.with_topic_id(topic.id).with_partitions(partitions)
        }
    }
}
