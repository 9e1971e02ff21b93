//! The front-ends the gateway serves, behind one trait the listener framework drives.
//!
//! Each protocol gets a file here that adapts its crate's server to [`Frontend`], and one
//! line in [`build`]. Implicit-TLS protocols use [`Accepted::into_stream`]; protocols that
//! negotiate TLS in-band (PostgreSQL) take the raw socket and the acceptor.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dotdo_backend::SharedBackend;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ListenerPlan};

mod event_loop;
pub mod kafka;
mod postgres;
pub mod redis;

/// A connection the listener accepted, with what the front-end needs to serve it.
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// Set when the listener is configured for TLS.
    pub tls: Option<TlsAcceptor>,
    pub handshake_timeout: Duration,
}

/// A stream that may or may not be wrapped in TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

impl Accepted {
    /// For protocols whose TLS starts with the connection: finish the handshake (bounded by
    /// the handshake timeout) and return the stream to speak the protocol on.
    pub async fn into_stream(self) -> std::io::Result<(Box<dyn Stream>, SocketAddr)> {
        let Some(tls) = self.tls else {
            let _ = self.stream.set_nodelay(true);
            return Ok((Box::new(self.stream), self.peer));
        };
        let _ = self.stream.set_nodelay(true);
        let stream = tokio::time::timeout(self.handshake_timeout, tls.accept(self.stream))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
            })??;
        Ok((Box::new(stream), self.peer))
    }
}

#[async_trait]
pub trait Frontend: Send + Sync + 'static {
    /// Serve one connection until the client leaves or `cancel` fires (at shutdown: finish
    /// the command in hand, then close).
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken);

    /// Answer a connection refused because the connection cap is reached, in the
    /// protocol's own words where it has them. Default: close it.
    async fn refuse(&self, stream: TcpStream) {
        drop(stream);
    }

    /// Stop background work; called after connections have drained.
    async fn shutdown(&self) {}
}

/// A front-end ready to be bound.
pub struct Planned {
    pub plan: ListenerPlan,
    pub frontend: Arc<dyn Frontend>,
}

/// Build every enabled front-end over `backend`.
pub fn build(config: &Config, backend: &SharedBackend) -> anyhow::Result<Vec<Planned>> {
    let mut planned = Vec::new();
    for plan in config.listeners() {
        let frontend: Arc<dyn Frontend> = match plan.name {
            "redis" => Arc::new(redis::Redis::new(
                config.redis.protocol.clone(),
                backend.clone(),
            )?),
            "kafka" => kafka::Kafka::new(&config.kafka, backend.clone())?,
            "postgres" => postgres::PostgresFrontend::new(&config.postgres, backend)?,
            other => anyhow::bail!("no front-end named {other}"),
        };
        planned.push(Planned { plan, frontend });
    }
    Ok(planned)
}
