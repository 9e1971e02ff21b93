//! DeleteTopics: drops the topic and every partition object.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;

pub async fn handle(
    b: &Broker,
    req: DeleteTopicsRequest,
    _ctx: &Ctx,
) -> Result<DeleteTopicsResponse> {
    let names: Vec<TopicName> = if req.topic_names.is_empty() {
        req.topics.into_iter().filter_map(|t| t.name).collect()
    } else {
        req.topic_names
    };
    let mut responses = Vec::with_capacity(names.len());
    for name in names {
        let code = b.delete_topic(&name.0).await?;
        responses.push(
            DeletableTopicResult::default()
                .with_name(Some(name))
                .with_error_code(code),
        );
    }
    Ok(DeleteTopicsResponse::default().with_responses(responses))
}
