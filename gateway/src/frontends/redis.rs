//! The Redis front-end behind the gateway's listener (implicit TLS when configured), with
//! its connections on dedicated event-loop threads (`redis.event_loops`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use dotdo_backend::SharedBackend;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::event_loop::EventLoop;
use super::{Accepted, Frontend};

pub struct Redis {
    server: Arc<dotdo_redis::Server>,
    loops: Vec<EventLoop>,
    next: AtomicUsize,
}

impl Redis {
    pub fn new(config: dotdo_redis::Config, backend: SharedBackend) -> anyhow::Result<Self> {
        let loops = EventLoop::start_many("redis", config.event_loops)?;
        let server = dotdo_redis::Server::new(config, backend)?;
        Ok(Self {
            server,
            loops,
            next: AtomicUsize::new(0),
        })
    }

    /// The event loop for the next plain-TCP connection, if there are loops.
    fn pick(&self) -> Option<&EventLoop> {
        let n = self.loops.len();
        (n > 0).then(|| &self.loops[self.next.fetch_add(1, Ordering::Relaxed) % n])
    }
}

#[async_trait]
impl Frontend for Redis {
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken) {
        if conn.tls.is_none()
            && let Some(event_loop) = self.pick()
        {
            let peer = conn.peer;
            let _ = conn.stream.set_nodelay(true);
            // Move the socket to the loop's own reactor; this task waits for it to end (so
            // the listener's connection count and shutdown see it).
            let std_stream = match conn.stream.into_std() {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "redis connection lost before RESP");
                    return;
                }
            };
            let server = self.server.clone();
            let task = event_loop.spawn(async move {
                match TcpStream::from_std(std_stream) {
                    Ok(stream) => server.serve_connection(stream, peer, cancel).await,
                    Err(e) => tracing::debug!(error = %e, "redis connection lost before RESP"),
                }
            });
            let _ = task.await;
            return;
        }
        match conn.into_stream().await {
            Ok((stream, peer)) => {
                self.server
                    .clone()
                    .serve_connection(stream, peer, cancel)
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
