//! Settings of the remote backend, with their defaults.

use crate::Error;

/// How requests travel to a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One WebSocket per node, many requests in flight on it. Default.
    #[default]
    Websocket,
    /// One HTTP POST per request (for networks that do not pass WebSockets).
    Http,
}

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteConfig {
    /// Base URLs of the nodes (`http://host:port`, or `https://host` for TLS): `dotdo store` processes, or one
    /// workerd/Cloudflare worker. Objects are placed on them by rendezvous hashing over these
    /// strings, so keep them stable (StatefulSet DNS names, not pod IPs). Default: none.
    pub nodes: Vec<String>,
    /// The shared secret every node requires (`Authorization: Bearer`). Never printed.
    /// Default empty.
    #[serde(skip_serializing)]
    pub secret: String,
    /// Default `websocket`.
    pub transport: Transport,
    /// How long opening a connection to a node may take. Default 2 000 ms.
    pub connect_timeout_ms: u64,
    /// How long a request waits for its reply; after that a write's outcome is unknown.
    /// Default 30 000 ms.
    pub request_timeout_ms: u64,
    /// Consecutive failures that open a node's circuit breaker. Default 3.
    pub breaker_failures: u32,
    /// How long an open breaker fails requests at once before trying the node again.
    /// Default 1 000 ms.
    pub breaker_cooldown_ms: u64,
    /// Largest frame sent or accepted. Default 64 MiB.
    pub max_frame_bytes: usize,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            secret: String::new(),
            transport: Transport::Websocket,
            connect_timeout_ms: 2_000,
            request_timeout_ms: 30_000,
            breaker_failures: 3,
            breaker_cooldown_ms: 1_000,
            max_frame_bytes: super::wire::MAX_FRAME,
        }
    }
}

impl RemoteConfig {
    pub fn new(nodes: Vec<String>, secret: impl Into<String>) -> Self {
        Self {
            nodes,
            secret: secret.into(),
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        if self.nodes.is_empty() {
            return Err(Error::Invalid("remote backend: no nodes configured".into()));
        }
        for node in &self.nodes {
            super::endpoint::Endpoint::parse(node)
                .map_err(|e| Error::Invalid(format!("remote backend: {e}")))?;
        }
        if self.connect_timeout_ms == 0
            || self.request_timeout_ms == 0
            || self.breaker_failures == 0
        {
            return Err(Error::Invalid(
                "remote backend: timeouts and breaker_failures must be positive".into(),
            ));
        }
        Ok(())
    }
}
