//! The PostgreSQL front-end: TLS is negotiated in-band (SSLRequest), so the server takes the
//! raw socket and the acceptor. Connections run on dedicated event loops
//! (`postgres.event_loops`) when there are any.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use dotdo_backend::SharedBackend;
use dotdo_postgres::Server;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::event_loop::EventLoop;
use super::{Accepted, Frontend};
use crate::config::PostgresSection;

pub struct PostgresFrontend {
    server: Arc<Server>,
    loops: Vec<EventLoop>,
    next: AtomicUsize,
}

impl PostgresFrontend {
    pub fn new(config: &PostgresSection, backend: &SharedBackend) -> anyhow::Result<Arc<Self>> {
        let server = Server::new(config.protocol_config(), backend.clone())?;
        let loops = EventLoop::start_many("postgres", config.event_loops)?;
        Ok(Arc::new(Self {
            server,
            loops,
            next: AtomicUsize::new(0),
        }))
    }
}

#[async_trait]
impl Frontend for PostgresFrontend {
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken) {
        let n = self.loops.len();
        if n == 0 {
            return self
                .server
                .clone()
                .serve_connection(conn.stream, conn.peer, conn.tls, cancel)
                .await;
        }
        let event_loop = &self.loops[self.next.fetch_add(1, Ordering::Relaxed) % n];
        // Move the socket to the loop's own reactor; this task waits for it to end (so the
        // listener's connection count and shutdown see it).
        let std_stream = match conn.stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "postgres connection lost before startup");
                return;
            }
        };
        let (server, peer, tls) = (self.server.clone(), conn.peer, conn.tls);
        let task = event_loop.spawn(async move {
            match TcpStream::from_std(std_stream) {
                Ok(stream) => server.serve_connection(stream, peer, tls, cancel).await,
                Err(e) => tracing::debug!(error = %e, "postgres connection lost before startup"),
            }
        });
        let _ = task.await;
    }

    async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}
