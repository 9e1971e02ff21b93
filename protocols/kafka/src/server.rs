//! The connection loop: frames in, responses out in request order.
//!
//! Requests are answered one at a time, as Kafka's network layer does, except Produce:
//! its batches are queued on the partition logs when the request is read, so pipelined
//! Produce requests run concurrently (sharing group commits) while their order, and so
//! their producers' sequences, is kept.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use dotdo_backend::SharedBackend;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::api::{self, ReplyFuture};
use crate::broker::Broker;
use crate::codec;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::sasl;

pub struct Server {
    broker: Arc<Broker>,
}

impl Server {
    pub fn new(config: Config, backend: SharedBackend) -> Result<Arc<Self>> {
        config.validate()?;
        let broker = Arc::new(Broker::new(config, backend));
        crate::broker::spawn_retention(&broker);
        crate::txn::spawn_expiry(&broker);
        Ok(Arc::new(Self { broker }))
    }

    /// Tell the server the address its listener bound, for what it advertises.
    pub fn listening_on(&self, addr: SocketAddr) {
        self.broker.listening_on(addr);
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Serve one client until it disconnects, sends a broken frame, or `cancel` fires
    /// (then the request in progress is finished and answered first).
    pub async fn serve_connection<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        cancel: CancellationToken,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        match self.run(stream, peer, cancel).await {
            Ok(()) => tracing::debug!(%peer, "kafka connection closed"),
            Err(e) => tracing::debug!(%peer, error = %e, "kafka connection ended"),
        }
    }

    async fn run<S>(&self, stream: S, peer: SocketAddr, cancel: CancellationToken) -> Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let host = format!("/{}", peer.ip());
        let max_frame = self.broker.config.max_frame_bytes;
        let max_in_flight = self.broker.config.max_in_flight;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let mut in_flight: FuturesOrdered<ReplyFuture> = FuturesOrdered::new();
        let mut session = sasl::Session::default();
        let auth_required = !self.broker.config.sasl_users.is_empty();
        loop {
            while in_flight.len() < max_in_flight {
                let Some(frame) = codec::take_frame(&mut buf, max_frame)? else {
                    break;
                };
                let key = codec::preamble(&frame)?.api_key;
                if api::is_sasl(key) {
                    while let Some(reply) = in_flight.next().await {
                        write_reply(&mut wr, reply).await?;
                    }
                    let (reply, failed) = api::sasl(&self.broker, &mut session, frame)?;
                    wr.write_all(&reply).await?;
                    if failed {
                        return Err(Error::Malformed("SASL authentication failed".into()));
                    }
                    continue;
                }
                if auth_required && !session.authenticated() && !api::allowed_before_auth(key) {
                    return Err(Error::Malformed(
                        "request before SASL authentication".into(),
                    ));
                }
                let started = api::start(&self.broker, frame, &host)?;
                if started.ordered {
                    in_flight.push_back(started.reply);
                    continue;
                }
                while let Some(reply) = in_flight.next().await {
                    write_reply(&mut wr, reply).await?;
                }
                write_reply(&mut wr, started.reply.await).await?;
            }
            tokio::select! {
                biased;
                Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                    write_reply(&mut wr, reply).await?;
                }
                _ = cancel.cancelled(), if in_flight.is_empty() => return Ok(()),
                n = rd.read_buf(&mut buf), if in_flight.len() < max_in_flight => {
                    if n? == 0 {
                        while let Some(reply) = in_flight.next().await {
                            write_reply(&mut wr, reply).await?;
                        }
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Nothing is buffered outside the backend, which the gateway shuts down itself.
    pub async fn shutdown(&self) {
        tracing::debug!("kafka front-end shut down");
    }
}

async fn write_reply<W: AsyncWrite + Unpin>(wr: &mut W, reply: api::Reply) -> Result<()> {
    match reply {
        Ok(Some(frame)) => Ok(wr.write_all(&frame).await?),
        Ok(None) => Ok(()),
        // A request that decoded but could not be answered in Kafka's terms: closing is
        // how Kafka reports it too, and the client reconnects.
        Err(e @ Error::Malformed(_)) => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "kafka request failed");
            Err(e)
        }
    }
}
