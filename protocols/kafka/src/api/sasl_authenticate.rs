//! SaslAuthenticate: one step of the chosen mechanism's exchange.

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};

use super::s;
use crate::config::SaslUser;
use crate::sasl::{Session, Step};

/// SASL_AUTHENTICATION_FAILED
pub const SASL_AUTHENTICATION_FAILED: i16 = 58;

pub fn handle(
    session: &mut Session,
    users: &[SaslUser],
    req: SaslAuthenticateRequest,
) -> SaslAuthenticateResponse {
    let resp = SaslAuthenticateResponse::default();
    match session.step(users, &req.auth_bytes) {
        Step::Continue(bytes) | Step::Done(bytes) => resp.with_auth_bytes(Bytes::from(bytes)),
        Step::Failed(why) => resp
            .with_error_code(SASL_AUTHENTICATION_FAILED)
            .with_error_message(Some(s(why))),
    }
}
