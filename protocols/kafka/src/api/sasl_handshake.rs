//! SaslHandshake: picks the mechanism for the SaslAuthenticate exchanges that follow.

use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};

use super::s;
use crate::errors;
use crate::sasl::{MECHANISMS, Mechanism, Session};

/// UNSUPPORTED_SASL_MECHANISM
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

pub fn handle(session: &mut Session, req: SaslHandshakeRequest) -> SaslHandshakeResponse {
    let code = match Mechanism::parse(&req.mechanism) {
        Some(m) => {
            session.choose(m);
            errors::NONE
        }
        None => UNSUPPORTED_SASL_MECHANISM,
    };
    SaslHandshakeResponse::default()
        .with_error_code(code)
        .with_mechanisms(MECHANISMS.iter().map(|m| s(*m)).collect())
}
