//! DeleteRecords: move partitions' log start offsets forward (-1: to the high watermark).

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;

pub async fn handle(
    b: &Broker,
    req: DeleteRecordsRequest,
    _ctx: &Ctx,
) -> Result<DeleteRecordsResponse> {
    b.ensure_loaded().await?;
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let r = DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
            let Some(log) = b.log(&t.name.0, p.partition_index) else {
                partitions.push(
                    r.with_error_code(errors::UNKNOWN_TOPIC_OR_PARTITION)
                        .with_low_watermark(-1),
                );
                continue;
            };
            let hw = log.bounds().await?.high_watermark;
            let offset = if p.offset == -1 { hw } else { p.offset };
            if offset < 0 || offset > hw {
                partitions.push(
                    r.with_error_code(errors::OFFSET_OUT_OF_RANGE)
                        .with_low_watermark(-1),
                );
                continue;
            }
            let start = log.delete_before(offset).await?;
            partitions.push(r.with_low_watermark(start));
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    Ok(DeleteRecordsResponse::default().with_topics(topics))
}
