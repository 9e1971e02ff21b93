//! OffsetFetch: a group's committed offsets (-1 where none).

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::store::group::{self, Committed};

pub async fn handle(
    b: &Broker,
    req: OffsetFetchRequest,
    _ctx: &Ctx,
) -> Result<OffsetFetchResponse> {
    let committed = group::fetch(&b.store, &req.group_id.0).await?;
    // KIP-447: a read_committed consumer asks for stable offsets; one a transaction still
    // holds is answered UNSTABLE_OFFSET_COMMIT, and the client retries.
    let unstable = |topic: &str, partition: i32| {
        req.require_stable && b.txns.offset_pending(&req.group_id.0, topic, partition)
    };
    let mut by_topic: BTreeMap<String, Vec<Committed>> = BTreeMap::new();
    for c in committed {
        by_topic.entry(c.topic.clone()).or_default().push(c);
    }
    let entry = |c: Option<&Committed>, partition: i32| match c {
        Some(c) => OffsetFetchResponsePartition::default()
            .with_partition_index(partition)
            .with_committed_offset(c.offset)
            .with_committed_leader_epoch(c.leader_epoch)
            .with_metadata(Some(s(c.metadata.clone().unwrap_or_default()))),
        None => OffsetFetchResponsePartition::default()
            .with_partition_index(partition)
            .with_committed_offset(-1)
            .with_committed_leader_epoch(-1)
            .with_metadata(Some(s(""))),
    };
    let topics = match req.topics {
        Some(topics) => topics
            .into_iter()
            .map(|t| {
                let have = by_topic.get(t.name.0.as_str());
                let partitions = t
                    .partition_indexes
                    .iter()
                    .map(|&p| {
                        let e = entry(have.and_then(|h| h.iter().find(|c| c.partition == p)), p);
                        if unstable(&t.name.0, p) {
                            e.with_error_code(errors::UNSTABLE_OFFSET_COMMIT)
                        } else {
                            e
                        }
                    })
                    .collect();
                OffsetFetchResponseTopic::default()
                    .with_name(t.name)
                    .with_partitions(partitions)
            })
            .collect(),
        None => by_topic
            .into_iter()
            .map(|(name, cs)| {
                let partitions = cs.iter().map(|c| entry(Some(c), c.partition)).collect();
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(s(name)))
                    .with_partitions(partitions)
            })
            .collect(),
    };
    Ok(OffsetFetchResponse::default().with_topics(topics))
}
