//! ListOffsets: earliest (-2), latest (-1) and by timestamp.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::Ctx;
use super::offset_for_leader_epoch::{LEADER_EPOCH, leader_log};
use crate::broker::Broker;
use crate::error::Result;
use crate::store::partition;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub async fn handle(b: &Broker, req: ListOffsetsRequest, ctx: &Ctx) -> Result<ListOffsetsResponse> {
    b.ensure_loaded().await?;
    let mut topics = Vec::with_capacity(req.topics.len());
    let isolation_level = req.isolation_level;
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let r = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_leader_epoch(-1);
            let log = match leader_log(b, &t.name.0, p.partition_index, p.current_leader_epoch) {
                Ok(log) => log,
                Err(code) => {
                    partitions.push(r.with_error_code(code));
                    continue;
                }
            };
            let bounds = log.bounds().await?;
            let (hw, start) = (bounds.high_watermark, bounds.log_start);
            // read_committed consumers see the log up to the last stable offset.
            let latest = if isolation_level == 1 {
                bounds.last_stable
            } else {
                hw
            };
            let (timestamp, offset) = match p.timestamp {
                LATEST | MAX_TIMESTAMP => (-1, latest),
                EARLIEST => (-1, start),
                ts => match partition::offset_for_timestamp(&b.store, &log.object, ts).await? {
                    Some(o) if o < latest => (ts, o.max(start)),
                    _ => (-1, -1),
                },
            };
            // The epoch of the batch holding the offset (v4+; earlier versions have no field).
            let epoch = if offset >= 0 && ctx.version >= 4 {
                LEADER_EPOCH
            } else {
                -1
            };
            partitions.push(
                r.with_timestamp(timestamp)
                    .with_offset(offset)
                    .with_leader_epoch(epoch),
            );
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    Ok(ListOffsetsResponse::default().with_topics(topics))
}
