//! InitProducerId: producer ids for idempotent producers (transactions are not supported).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;
use crate::store::cluster;

pub async fn handle(
    b: &Broker,
    req: InitProducerIdRequest,
    _ctx: &Ctx,
) -> Result<InitProducerIdResponse> {
    let resp = InitProducerIdResponse::default();
    if req.transactional_id.is_some() {
        return Ok(resp
            .with_error_code(errors::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1));
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
