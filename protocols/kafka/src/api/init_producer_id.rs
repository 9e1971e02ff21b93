//! InitProducerId: producer ids for idempotent producers, and for transactional ones a
//! new epoch from the transaction coordinator.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::store::cluster;

pub async fn handle(
    b: &Broker,
    req: InitProducerIdRequest,
    _ctx: &Ctx,
) -> Result<InitProducerIdResponse> {
    let resp = InitProducerIdResponse::default();
    if let Some(id) = &req.transactional_id {
        b.ensure_loaded().await?;
        return Ok(
            match b
                .txns
                .init_producer(
                    b,
                    id,
                    req.transaction_timeout_ms,
                    req.producer_id.0,
                    req.producer_epoch,
                )
                .await?
            {
                Ok((pid, epoch)) => resp
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch),
                Err(code) => resp
                    .with_error_code(code)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
            },
        );
    }
    // KIP-360: a producer that lost track of its sequences bumps its epoch.
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX {
        return Ok(resp
            .with_producer_id(req.producer_id)
            .with_producer_epoch(req.producer_epoch + 1));
    }
    let id = cluster::next_producer_id(&b.store).await?;
    Ok(resp.with_producer_id(ProducerId(id)).with_producer_epoch(0))
}
