//! CreatePartitions: grows a topic.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;

pub async fn handle(
    b: &Broker,
    req: CreatePartitionsRequest,
    _ctx: &Ctx,
) -> Result<CreatePartitionsResponse> {
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let code = b
            .create_partitions(&t.name.0, t.count, req.validate_only)
            .await?;
        results.push(
            CreatePartitionsTopicResult::default()
                .with_name(t.name)
                .with_error_code(code),
        );
    }
    Ok(CreatePartitionsResponse::default().with_results(results))
}
