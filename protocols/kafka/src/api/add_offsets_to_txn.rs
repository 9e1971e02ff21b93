//! AddOffsetsToTxn: the transaction will commit a group's offsets (TxnOffsetCommit).

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;

pub async fn handle(
    b: &Broker,
    req: AddOffsetsToTxnRequest,
    _ctx: &Ctx,
) -> Result<AddOffsetsToTxnResponse> {
    let code = if req.group_id.0.is_empty() {
        errors::INVALID_GROUP_ID
    } else {
        b.txns
            .add_offsets(
                b,
                &req.transactional_id.0,
                req.producer_id.0,
                req.producer_epoch,
            )
            .await?
    };
    Ok(AddOffsetsToTxnResponse::default().with_error_code(code))
}
