//! The Redis front-end behind the gateway's listener (implicit TLS when configured), with
//! its connections on dedicated event-loop threads (`redis.event_loops`).

use std::sync::Arc;

use async_trait::async_trait;
use dotdo_backend::SharedBackend;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::event_loop::EventLoops;
use super::{Accepted, Frontend};

pub struct Redis {
    server: Arc<dotdo_redis::Server>,
    loops: EventLoops,
}

impl Redis {
    pub fn new(config: dotdo_redis::Config, backend: SharedBackend) -> anyhow::Result<Self> {
        let loops = EventLoops::start("redis", config.event_loops)?;
        // The shard writers run on the first loop: a writer alone with work commits there.
        let server = dotdo_redis::Server::with_writers(config, backend, loops.handle(0))?;
        Ok(Self { server, loops })
    }
}

#[async_trait]
impl Frontend for Redis {
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken) {
        // Plain TCP goes to an event loop; TLS stays on the shared runtime. So does a
        // connection made while a script is busy (it may be running on the event loop, which
        // serves nothing until it ends): there it can send SCRIPT KILL, and is answered BUSY
        // otherwise, as redis-server answers.
        let unknown = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let local = conn.stream.local_addr().unwrap_or(unknown);
        if conn.tls.is_none() && !self.loops.is_empty() && !self.server.scripts.busy() {
            let (server, peer) = (self.server.clone(), conn.peer);
            let _ = conn.stream.set_nodelay(true);
            self.loops
                .run(conn.stream, move |stream| {
                    server.serve_connection_at(stream, peer, local, cancel)
                })
                .await;
            return;
        }
        match conn.into_stream().await {
            Ok((stream, peer)) => {
                self.server
                    .clone()
                    .serve_connection_at(stream, peer, local, cancel)
                    .await
            }
            Err(e) => tracing::debug!(error = %e, "redis connection failed before RESP"),
        }
    }

    async fn refuse(&self, mut stream: TcpStream) {
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
    }

    async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}
