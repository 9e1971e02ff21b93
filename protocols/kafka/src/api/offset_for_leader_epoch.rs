//! OffsetForLeaderEpoch: where a leader epoch's log ends, so a consumer can check that the
//! log it read was not truncated (KIP-320; librdkafka asks when it seeks to a position that
//! carries an epoch, such as a committed offset, or sees a partition's leader epoch change).
//!
//! This broker is the only leader every partition has had, so every partition is in epoch
//! [`LEADER_EPOCH`] for good: it is what Metadata, ListOffsets and fetched batches say, and
//! its log ends at the high watermark (acknowledged data is never truncated). A later
//! epoch is unknown here (-1, -1, as Kafka answers an epoch it has not seen); a consumer
//! holding a position past the high watermark (a deleted and re-created topic) is told
//! where the log now ends, as after a truncation.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use std::sync::Arc;

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::partition::PartitionLog;

/// Every partition's leader epoch.
pub const LEADER_EPOCH: i32 = 0;

/// A partition's log for a request the client made in `current` epoch, or the partition's
/// error code: UNKNOWN_TOPIC_OR_PARTITION, or the epoch's (see [`check_current`]).
pub fn leader_log(
    b: &Broker,
    topic: &str,
    partition: i32,
    current: i32,
) -> std::result::Result<Arc<PartitionLog>, i16> {
    let log = b
        .log(topic, partition)
        .ok_or(errors::UNKNOWN_TOPIC_OR_PARTITION)?;
    match check_current(current) {
        errors::NONE => Ok(log),
        code => Err(code),
    }
}

/// The error for a request made in `current` epoch (-1: the client does not say):
/// FENCED_LEADER_EPOCH for an older one, UNKNOWN_LEADER_EPOCH for a newer one.
pub fn check_current(current: i32) -> i16 {
    match current {
        c if c < 0 || c == LEADER_EPOCH => errors::NONE,
        c if c < LEADER_EPOCH => errors::FENCED_LEADER_EPOCH,
        _ => errors::UNKNOWN_LEADER_EPOCH,
    }
}

pub async fn handle(
    b: &Broker,
    req: OffsetForLeaderEpochRequest,
    _ctx: &Ctx,
) -> Result<OffsetForLeaderEpochResponse> {
    b.ensure_loaded().await?;
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let r = EpochEndOffset::default()
                .with_partition(p.partition)
                .with_leader_epoch(-1)
                .with_end_offset(-1);
            let log = match leader_log(b, &t.topic.0, p.partition, p.current_leader_epoch) {
                Ok(log) => log,
                Err(code) => {
                    partitions.push(r.with_error_code(code));
                    continue;
                }
            };
            if p.leader_epoch != LEADER_EPOCH {
                partitions.push(r);
                continue;
            }
            let end = log.bounds().await?.high_watermark;
            partitions.push(r.with_leader_epoch(LEADER_EPOCH).with_end_offset(end));
        }
        topics.push(
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions),
        );
    }
    Ok(OffsetForLeaderEpochResponse::default().with_topics(topics))
}
