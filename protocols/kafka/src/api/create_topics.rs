//! CreateTopics.

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;

pub async fn handle(
    b: &Broker,
    req: CreateTopicsRequest,
    _ctx: &Ctx,
) -> Result<CreateTopicsResponse> {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let code = if t.replication_factor != -1 && t.replication_factor != 1 {
            errors::INVALID_REPLICATION_FACTOR
        } else {
            let configs: Vec<(String, Option<String>)> = t
                .configs
                .iter()
                .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                .collect();
            b.create_topic(&t.name.0, t.num_partitions, req.validate_only, &configs)
                .await?
        };
        let mut r = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_error_code(code);
        if code == errors::NONE {
            let found = b.topic(&t.name.0);
            r = r
                .with_num_partitions(found.as_ref().map_or(t.num_partitions, |f| f.partitions))
                .with_replication_factor(1)
                .with_topic_id(found.map(|f| f.id).unwrap_or_default());
        }
        topics.push(r);
    }
    Ok(CreateTopicsResponse::default().with_topics(topics))
}
