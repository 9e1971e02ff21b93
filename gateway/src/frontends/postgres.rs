//! The PostgreSQL front-end: TLS is negotiated in-band (SSLRequest), so the server takes the
//! raw socket and the acceptor. Connections run on dedicated event loops
//! (`postgres.event_loops`) when there are any.

use std::sync::Arc;

use async_trait::async_trait;
use dotdo_backend::SharedBackend;
use dotdo_postgres::Server;
use tokio_util::sync::CancellationToken;

use super::event_loop::EventLoops;
use super::{Accepted, Frontend};
use crate::config::PostgresSection;

pub struct PostgresFrontend {
    server: Arc<Server>,
    loops: EventLoops,
}

impl PostgresFrontend {
    pub fn new(config: &PostgresSection, backend: &SharedBackend) -> anyhow::Result<Arc<Self>> {
        let server = Server::new(config.protocol_config(), backend.clone())?;
        let loops = EventLoops::start("postgres", config.event_loops)?;
        Ok(Arc::new(Self { server, loops }))
    }
}

#[async_trait]
impl Frontend for PostgresFrontend {
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken) {
        let (server, peer, tls) = (self.server.clone(), conn.peer, conn.tls);
        self.loops
            .run(conn.stream, move |stream| {
                server.serve_connection(stream, peer, tls, cancel)
            })
            .await;
    }

    async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}
