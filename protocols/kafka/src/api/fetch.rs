//! Fetch: whole stored batches from the fetch offset on, long-polling on `min_bytes`.
//! read_committed fetches stop at the last stable offset and list the aborted
//! transactions in what they return.

use std::time::Duration;

use bytes::BytesMut;
use futures::future::select_all;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use tokio::sync::watch;
use tokio::time::Instant;

use super::Ctx;
use super::offset_for_leader_epoch::{LEADER_EPOCH, leader_log};
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::partition::Bounds;
use crate::records;
use crate::store::partition;

/// The longest a fetch waits, whatever the client asks for.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Most batches read from one partition per pass.
const MAX_ROWS: i64 = 512;

pub async fn handle(b: &Broker, req: FetchRequest, _ctx: &Ctx) -> Result<FetchResponse> {
    b.ensure_loaded().await?;
    // KIP-227: this broker creates no fetch sessions (it answers session id 0, so clients
    // keep sending full fetches); an incremental fetch naming a session is refused.
    if req.session_id != 0 {
        return Ok(FetchResponse::default()
            .with_error_code(errors::FETCH_SESSION_ID_NOT_FOUND)
            .with_session_id(0));
    }
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    loop {
        let (responses, bytes, watches, errors_seen) = gather(b, &req).await?;
        let enough = bytes >= i64::from(req.min_bytes.max(1)) || errors_seen;
        if enough || Instant::now() >= deadline || watches.is_empty() {
            return Ok(FetchResponse::default()
                .with_responses(responses)
                .with_session_id(0));
        }
        wait_for_data(watches, deadline).await;
    }
}

async fn wait_for_data(mut watches: Vec<watch::Receiver<Bounds>>, deadline: Instant) {
    let changes = select_all(watches.iter_mut().map(|w| Box::pin(w.changed())));
    let _ = tokio::time::timeout_at(deadline, changes).await;
}

type Gathered = (
    Vec<FetchableTopicResponse>,
    i64,
    Vec<watch::Receiver<Bounds>>,
    bool,
);

async fn gather(b: &Broker, req: &FetchRequest) -> Result<Gathered> {
    let read_committed = req.isolation_level == 1;
    let mut budget = i64::from(req.max_bytes.max(0));
    let mut total = 0i64;
    let mut watches = Vec::new();
    let mut errors_seen = false;
    let mut responses = Vec::with_capacity(req.topics.len());
    for topic in &req.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let mut data = PartitionData::default().with_partition_index(p.partition);
            let log = match leader_log(b, &topic.topic.0, p.partition, p.current_leader_epoch) {
                Ok(log) => log,
                Err(code) => {
                    errors_seen = true;
                    partitions.push(data.with_error_code(code));
                    continue;
                }
            };
            watches.push(log.subscribe());
            let bounds = log.bounds().await?;
            let (hw, start) = (bounds.high_watermark, bounds.log_start);
            let visible = if read_committed {
                bounds.last_stable
            } else {
                hw
            };
            data = data
                .with_high_watermark(hw)
                .with_last_stable_offset(bounds.last_stable)
                .with_log_start_offset(start);
            if p.fetch_offset > hw || p.fetch_offset < start {
                errors_seen = true;
                partitions.push(data.with_error_code(errors::OFFSET_OUT_OF_RANGE));
                continue;
            }
            if p.fetch_offset >= visible || (budget <= 0 && total > 0) {
                if read_committed {
                    data = data.with_aborted_transactions(Some(Vec::new()));
                }
                partitions.push(data);
                continue;
            }
            let limit = i64::from(p.partition_max_bytes.max(0));
            let max = limit.min(budget);
            let (rows, aborted) = partition::read(
                &b.store,
                &log.object,
                p.fetch_offset,
                visible,
                MAX_ROWS,
                max,
                read_committed,
            )
            .await?;
            if let Some(aborted) = aborted {
                data = data.with_aborted_transactions(Some(
                    aborted
                        .into_iter()
                        .map(|(pid, first)| {
                            AbortedTransaction::default()
                                .with_producer_id(ProducerId(pid))
                                .with_first_offset(first)
                        })
                        .collect(),
                ));
            }
            let mut out = BytesMut::with_capacity(rows.iter().map(|(_, b)| b.len()).sum());
            for (base, batch) in rows {
                let len = batch.len() as i64;
                let first = total == 0 && out.is_empty();
                if !first && (out.len() as i64 + len > limit || len > budget) {
                    break;
                }
                let at = out.len();
                out.extend_from_slice(&batch);
                records::patch_served(&mut out[at..], base, LEADER_EPOCH);
                budget -= len;
            }
            total += out.len() as i64;
            partitions.push(data.with_records(Some(out.freeze())));
        }
        responses.push(
            FetchableTopicResponse::default()
                .with_topic(topic.topic.clone())
                .with_partitions(partitions),
        );
    }
    Ok((responses, total, watches, errors_seen))
}
