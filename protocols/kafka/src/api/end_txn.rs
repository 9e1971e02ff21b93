//! EndTxn: commit or abort the producer's open transaction.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;

pub async fn handle(b: &Broker, req: EndTxnRequest, _ctx: &Ctx) -> Result<EndTxnResponse> {
    b.ensure_loaded().await?;
    let code = b
        .txns
        .end(
            b,
            &req.transactional_id.0,
            req.producer_id.0,
            req.producer_epoch,
            req.committed,
        )
        .await?;
    Ok(EndTxnResponse::default()
        .with_error_code(code)
        .with_producer_id(req.producer_id)
        .with_producer_epoch(req.producer_epoch))
}
