//! ApiVersions: the version ranges this broker speaks.

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::{Ctx, SUPPORTED};
use crate::broker::Broker;
use crate::codec;
use crate::error::Result;
use crate::errors;

pub async fn handle(
    _b: &Broker,
    _req: ApiVersionsRequest,
    _ctx: &Ctx,
) -> Result<ApiVersionsResponse> {
    Ok(response(errors::NONE))
}

fn response(error_code: i16) -> ApiVersionsResponse {
    let api_keys = SUPPORTED
        .iter()
        .map(|&(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(api_keys)
}

/// The reply to a version this broker does not know: UNSUPPORTED_VERSION in v0 form, with
/// the ranges, so the client retries with a version both sides speak.
pub fn unsupported(correlation_id: i32) -> Bytes {
    let resp = response(errors::UNSUPPORTED_VERSION);
    codec::encode_response(correlation_id, 0, &resp, 0).unwrap_or_else(|_| {
        codec::encode_raw_response(
            correlation_id,
            &[0, errors::UNSUPPORTED_VERSION as u8, 0, 0, 0, 0],
        )
    })
}
