//! DescribeConfigs: the topic and broker settings this broker has. A topic's retention
//! settings can be altered (AlterConfigs); the rest are read-only.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// `DEFAULT_CONFIG` and `DYNAMIC_TOPIC_CONFIG` in Kafka's ConfigSource.
const SOURCE_DEFAULT: i8 = 5;
const SOURCE_TOPIC: i8 = 1;

pub async fn handle(
    b: &Broker,
    req: DescribeConfigsRequest,
    _ctx: &Ctx,
) -> Result<DescribeConfigsResponse> {
    b.ensure_loaded().await?;
    let mut results = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let mut out = DescribeConfigsResult::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        let topic = b.topic(&r.resource_name);
        let mut altered = Vec::new();
        if let Some(t) = &topic {
            if t.retention_ms != b.config.retention_ms {
                altered.push("retention.ms");
            }
            if t.retention_bytes != b.config.retention_bytes {
                altered.push("retention.bytes");
            }
        }
        let entries: Vec<(&str, String)> = match (r.resource_type, topic) {
            (TOPIC, Some(t)) => {
                vec![
                    ("cleanup.policy", "delete".into()),
                    ("compression.type", "producer".into()),
                    ("retention.ms", t.retention_ms.to_string()),
                    ("retention.bytes", t.retention_bytes.to_string()),
                    ("max.message.bytes", b.config.max_frame_bytes.to_string()),
                    ("message.timestamp.type", "CreateTime".into()),
                    ("min.insync.replicas", "1".into()),
                ]
            }
            (TOPIC, None) => {
                results.push(out.with_error_code(errors::UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            }
            (BROKER, _) => vec![
                (
                    "auto.create.topics.enable",
                    b.config.auto_create_topics.to_string(),
                ),
                ("num.partitions", b.config.default_partitions.to_string()),
                ("default.replication.factor", "1".into()),
                ("message.max.bytes", b.config.max_frame_bytes.to_string()),
                (
                    "group.initial.rebalance.delay.ms",
                    b.config.group_initial_rebalance_delay_ms.to_string(),
                ),
            ],
            _ => {
                results.push(out.with_error_code(errors::INVALID_REQUEST));
                continue;
            }
        };
        let keys = r
            .configuration_keys
            .map(|k| k.into_iter().map(|k| k.to_string()).collect::<Vec<_>>());
        let configs = entries
            .into_iter()
            .filter(|(name, _)| keys.as_ref().is_none_or(|k| k.iter().any(|k| k == name)))
            .map(|(name, value)| {
                let alterable = r.resource_type == TOPIC && name.starts_with("retention.");
                let source = if altered.contains(&name) {
                    SOURCE_TOPIC
                } else {
                    SOURCE_DEFAULT
                };
                DescribeConfigsResourceResult::default()
                    .with_name(s(name))
                    .with_value(Some(s(value)))
                    .with_read_only(!alterable)
                    .with_config_source(source)
            })
            .collect();
        out = out.with_configs(configs);
        results.push(out);
    }
    Ok(DescribeConfigsResponse::default().with_results(results))
}
