//! Produce: check each partition's batches and queue them on the partition's log, in
//! request order, so pipelined requests keep their producers' sequences in order.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};
use tokio::sync::oneshot;

use super::{Ctx, Started};
use crate::broker::Broker;
use crate::codec::{self, Preamble};
use crate::error::Result;
use crate::errors;
use crate::partition::AppendReply;
use crate::records;

enum Outcome {
    Failed(i16),
    Queued(
        oneshot::Receiver<AppendReply>,
        Arc<crate::partition::PartitionLog>,
    ),
}

pub fn start(broker: Arc<Broker>, req: ProduceRequest, ctx: Ctx, pre: Preamble) -> Result<Started> {
    if broker.is_loaded() {
        let outcomes = enqueue(&broker, &req);
        return Ok(Started {
            reply: Box::pin(finish(req, outcomes, ctx, pre)),
            ordered: true,
        });
    }
    let reply = Box::pin(async move {
        broker.ensure_loaded().await?;
        let outcomes = enqueue(&broker, &req);
        finish(req, outcomes, ctx, pre).await
    });
    Ok(Started {
        reply,
        ordered: false,
    })
}

fn enqueue(broker: &Broker, req: &ProduceRequest) -> Vec<Vec<Outcome>> {
    let request_error = if !matches!(req.acks, -1..=1) {
        Some(errors::INVALID_REQUIRED_ACKS)
    } else {
        None
    };
    req.topic_data
        .iter()
        .map(|topic| {
            topic
                .partition_data
                .iter()
                .map(|p| {
                    if let Some(code) = request_error {
                        return Outcome::Failed(code);
                    }
                    let Some(log) = broker.log(&topic.name.0, p.index) else {
                        return Outcome::Failed(errors::UNKNOWN_TOPIC_OR_PARTITION);
                    };
                    let Some(data) = p.records.clone() else {
                        return Outcome::Failed(errors::INVALID_RECORD);
                    };
                    match records::split_batches(data) {
                        // Markers come only from the coordinator; transactional batches
                        // only with the producer's transactional id.
                        Ok(b)
                            if b.iter().any(|b| {
                                b.control || (b.transactional && req.transactional_id.is_none())
                            }) =>
                        {
                            Outcome::Failed(errors::INVALID_RECORD)
                        }
                        // A transactional batch must be for a partition its producer
                        // added to its open transaction (as KIP-890 verifies).
                        Ok(batches) => {
                            let refused = batches
                                .iter()
                                .filter(|b| b.transactional)
                                .map(|b| {
                                    broker.txns.verify(
                                        b.producer_id,
                                        b.producer_epoch,
                                        &topic.name.0,
                                        p.index,
                                    )
                                })
                                .find(|&code| code != errors::NONE);
                            match refused {
                                Some(code) => Outcome::Failed(code),
                                None => Outcome::Queued(log.enqueue(batches), log),
                            }
                        }
                        Err(code) => Outcome::Failed(code),
                    }
                })
                .collect()
        })
        .collect()
}

async fn finish(
    req: ProduceRequest,
    outcomes: Vec<Vec<Outcome>>,
    ctx: Ctx,
    pre: Preamble,
) -> super::Reply {
    if req.acks == 0 {
        // No reply, but the request stays in flight until its appends finish, so the
        // connection's in-flight cap bounds what an acks=0 producer can queue.
        for out in outcomes.into_iter().flatten() {
            if let Outcome::Queued(rx, _) = out {
                let _ = rx.await;
            }
        }
        return Ok(None);
    }
    let mut responses = Vec::with_capacity(req.topic_data.len());
    for (topic, outs) in req.topic_data.iter().zip(outcomes) {
        let mut partition_responses = Vec::with_capacity(outs.len());
        for (p, out) in topic.partition_data.iter().zip(outs) {
            let (error_code, base_offset, log_start) = match out {
                Outcome::Failed(code) => (code, -1, -1),
                Outcome::Queued(rx, log) => {
                    let start = log.subscribe().borrow().log_start;
                    match rx.await {
                        Ok(Ok(results)) => {
                            let error = results
                                .iter()
                                .map(|r| r.0)
                                .find(|&c| c != errors::NONE && c != 1);
                            let base = results.first().map_or(-1, |r| r.1);
                            match error {
                                Some(code) => (code, -1, start),
                                None => (errors::NONE, base, start),
                            }
                        }
                        Ok(Err(code)) => (code, -1, -1),
                        Err(_) => (errors::UNKNOWN_SERVER_ERROR, -1, -1),
                    }
                }
            };
            partition_responses.push(
                PartitionProduceResponse::default()
                    .with_index(p.index)
                    .with_error_code(error_code)
                    .with_base_offset(base_offset)
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(log_start),
            );
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name.clone())
                .with_partition_responses(partition_responses),
        );
    }
    let resp = ProduceResponse::default().with_responses(responses);
    let hv = ApiKey::Produce.response_header_version(ctx.version);
    Ok(Some(codec::encode_response(
        pre.correlation_id,
        hv,
        &resp,
        ctx.version,
    )?))
}

/// Produce v0–v2 carry pre-magic-2 message sets, which this broker does not store. They
/// are advertised (librdkafka needs minimum 0 to enable compression) and answered with
/// UNSUPPORTED_FOR_MESSAGE_FORMAT per partition, encoded by hand since the codec crate
/// starts at v3. A body that does not parse gets an empty topic list.
pub fn legacy(frame: &[u8], version: i16, correlation_id: i32) -> Bytes {
    let mut out = BytesMut::new();
    let topics = parse_legacy(frame).unwrap_or_default();
    out.put_i32(topics.len() as i32);
    for (name, partitions) in topics {
        out.put_i16(name.len() as i16);
        out.put_slice(&name);
        out.put_i32(partitions.len() as i32);
        for p in partitions {
            out.put_i32(p);
            out.put_i16(errors::UNSUPPORTED_FOR_MESSAGE_FORMAT);
            out.put_i64(-1);
            if version >= 2 {
                out.put_i64(-1);
            }
        }
    }
    if version >= 1 {
        out.put_i32(0);
    }
    codec::encode_raw_response(correlation_id, &out)
}

type LegacyTopics = Vec<(Bytes, Vec<i32>)>;

fn parse_legacy(frame: &[u8]) -> Option<LegacyTopics> {
    let mut b = Bytes::copy_from_slice(frame);
    let take = |b: &mut Bytes, n: usize| (b.remaining() >= n).then(|| b.split_to(n));
    take(&mut b, 8)?; // api key, version, correlation id
    let client_len = usize::try_from(take(&mut b, 2)?.get_i16()).unwrap_or(0);
    take(&mut b, client_len)?;
    take(&mut b, 6)?; // acks, timeout
    let n_topics = take(&mut b, 4)?.get_i32();
    let mut topics = Vec::new();
    for _ in 0..n_topics.clamp(0, 10_000) {
        let name_len = usize::try_from(take(&mut b, 2)?.get_i16()).ok()?;
        let name = take(&mut b, name_len)?;
        let n_parts = take(&mut b, 4)?.get_i32();
        let mut parts = Vec::new();
        for _ in 0..n_parts.clamp(0, 100_000) {
            parts.push(take(&mut b, 4)?.get_i32());
            let len = usize::try_from(take(&mut b, 4)?.get_i32()).unwrap_or(0);
            take(&mut b, len)?;
        }
        topics.push((name, parts));
    }
    Some(topics)
}
