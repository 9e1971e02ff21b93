//! SASL authentication state of one connection: PLAIN and SCRAM-SHA-256 (RFC 5802/7677).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::SaslUser;

pub const MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256"];
const ITERATIONS: u32 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
}

impl Mechanism {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "PLAIN" => Some(Self::Plain),
            "SCRAM-SHA-256" => Some(Self::ScramSha256),
            _ => None,
        }
    }
}

struct ScramPending {
    user: String,
    auth_prefix: String,
    nonce: String,
    salted: [u8; 32],
}

/// Where a connection is in authenticating.
#[derive(Default)]
pub struct Session {
    mechanism: Option<Mechanism>,
    scram: Option<ScramPending>,
    pub user: Option<String>,
}

/// The outcome of one SaslAuthenticate step.
pub enum Step {
    /// Send these bytes back and wait for the next step.
    Continue(Vec<u8>),
    /// Authenticated; send these bytes back.
    Done(Vec<u8>),
    Failed(&'static str),
}

impl Session {
    pub fn authenticated(&self) -> bool {
        self.user.is_some()
    }

    pub fn choose(&mut self, m: Mechanism) {
        self.mechanism = Some(m);
        self.scram = None;
    }

    pub fn step(&mut self, users: &[SaslUser], token: &[u8]) -> Step {
        match self.mechanism {
            None => Step::Failed("SaslHandshake must come first"),
            Some(Mechanism::Plain) => self.plain(users, token),
            Some(Mechanism::ScramSha256) => match self.scram.take() {
                None => self.scram_first(users, token),
                Some(p) => self.scram_final(p, token),
            },
        }
    }

    fn plain(&mut self, users: &[SaslUser], token: &[u8]) -> Step {
        let mut parts = token.split(|&b| b == 0);
        let (_authzid, user, pass) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(u), Some(p)) => (a, u, p),
            _ => return Step::Failed("malformed PLAIN token"),
        };
        let found = users.iter().find(|u| u.username.as_bytes() == user);
        match found {
            Some(u) if constant_eq(u.password.as_bytes(), pass) => {
                self.user = Some(u.username.clone());
                Step::Done(Vec::new())
            }
            _ => Step::Failed("Authentication failed: invalid username or password"),
        }
    }

    fn scram_first(&mut self, users: &[SaslUser], token: &[u8]) -> Step {
        let Ok(msg) = std::str::from_utf8(token) else {
            return Step::Failed("malformed SCRAM message");
        };
        // gs2 header "n,," (no channel binding), then the bare message.
        let Some(bare) = msg.strip_prefix("n,,").or_else(|| msg.strip_prefix("y,,")) else {
            return Step::Failed("unsupported SCRAM channel binding");
        };
        let (Some(name), Some(cnonce)) = (attr(bare, 'n'), attr(bare, 'r')) else {
            return Step::Failed("malformed SCRAM client-first message");
        };
        let name = name.replace("=2C", ",").replace("=3D", "=");
        let Some(user) = users.iter().find(|u| u.username == name) else {
            return Step::Failed("Authentication failed: invalid username or password");
        };
        let salt: [u8; 16] = rand::random();
        let nonce = format!("{cnonce}{}", B64.encode(rand::random::<[u8; 18]>()));
        let server_first = format!("r={nonce},s={},i={ITERATIONS}", B64.encode(salt));
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(user.password.as_bytes(), &salt, ITERATIONS, &mut salted);
        self.scram = Some(ScramPending {
            user: user.username.clone(),
            auth_prefix: format!("{bare},{server_first}"),
            nonce,
            salted,
        });
        Step::Continue(server_first.into_bytes())
    }

    fn scram_final(&mut self, p: ScramPending, token: &[u8]) -> Step {
        let Ok(msg) = std::str::from_utf8(token) else {
            return Step::Failed("malformed SCRAM message");
        };
        let Some((without_proof, proof)) = msg.rsplit_once(",p=") else {
            return Step::Failed("malformed SCRAM client-final message");
        };
        if attr(without_proof, 'r') != Some(p.nonce.as_str()) {
            return Step::Failed("SCRAM nonce mismatch");
        }
        let Ok(proof) = B64.decode(proof) else {
            return Step::Failed("malformed SCRAM proof");
        };
        let auth_message = format!("{},{without_proof}", p.auth_prefix);
        let client_key = hmac(&p.salted, b"Client Key");
        let stored_key = Sha256::digest(client_key);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        if proof.len() != 32 {
            return Step::Failed("Authentication failed: invalid username or password");
        }
        let recovered: Vec<u8> = proof
            .iter()
            .zip(signature.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        if !constant_eq(&Sha256::digest(&recovered), &stored_key) {
            return Step::Failed("Authentication failed: invalid username or password");
        }
        let server_key = hmac(&p.salted, b"Server Key");
        let server_signature = hmac(&server_key, auth_message.as_bytes());
        self.user = Some(p.user);
        Step::Done(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

fn attr(msg: &str, key: char) -> Option<&str> {
    msg.split(',')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<SaslUser> {
        vec![SaslUser {
            username: "alice".into(),
            password: "s3cret".into(),
        }]
    }

    #[test]
    fn plain_accepts_the_right_password_only() {
        let mut s = Session::default();
        s.choose(Mechanism::Plain);
        assert!(matches!(
            s.step(&users(), b"\0alice\0wrong"),
            Step::Failed(_)
        ));
        assert!(!s.authenticated());
        assert!(matches!(
            s.step(&users(), b"\0alice\0s3cret"),
            Step::Done(_)
        ));
        assert_eq!(s.user.as_deref(), Some("alice"));
    }

    /// A client computing RFC 5802 proofs by hand authenticates and checks the server.
    #[test]
    fn scram_sha256_round_trip() {
        let mut s = Session::default();
        s.choose(Mechanism::ScramSha256);
        let first = "n,,n=alice,r=clientnonce";
        let Step::Continue(server_first) = s.step(&users(), first.as_bytes()) else {
            panic!("first")
        };
        let server_first = String::from_utf8(server_first).expect("utf8");
        let nonce = attr(&server_first, 'r').expect("r");
        let salt = B64
            .decode(attr(&server_first, 's').expect("s"))
            .expect("b64");
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"s3cret", &salt, ITERATIONS, &mut salted);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("n=alice,r=clientnonce,{server_first},{without_proof}");
        let client_key = hmac(&salted, b"Client Key");
        let sig = hmac(&Sha256::digest(client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
        let fin = format!("{without_proof},p={}", B64.encode(proof));
        let Step::Done(server_final) = s.step(&users(), fin.as_bytes()) else {
            panic!("final")
        };
        let expected = hmac(&hmac(&salted, b"Server Key"), auth.as_bytes());
        assert_eq!(
            server_final,
            format!("v={}", B64.encode(expected)).into_bytes()
        );
        assert!(s.authenticated());
    }
}
