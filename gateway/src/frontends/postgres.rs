//! The PostgreSQL front-end: TLS is negotiated in-band (SSLRequest), so the server takes the
//! raw socket and the acceptor.

use std::sync::Arc;

use async_trait::async_trait;
use dotdo_backend::SharedBackend;
use dotdo_postgres::Server;
use tokio_util::sync::CancellationToken;

use super::{Accepted, Frontend};
use crate::config::PostgresSection;

pub struct PostgresFrontend {
    server: Arc<Server>,
}

impl PostgresFrontend {
    pub fn new(config: &PostgresSection, backend: &SharedBackend) -> anyhow::Result<Arc<Self>> {
        let server = Server::new(config.protocol_config(), backend.clone())?;
        Ok(Arc::new(Self { server }))
    }
}

#[async_trait]
impl Frontend for PostgresFrontend {
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken) {
        self.server
            .clone()
            .serve_connection(conn.stream, conn.peer, conn.tls, cancel)
            .await;
    }

    async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}
