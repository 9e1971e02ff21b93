//! The Redis front-end behind the gateway's listener (implicit TLS when configured).

use std::sync::Arc;

use async_trait::async_trait;
use dotdo_backend::SharedBackend;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{Accepted, Frontend};

pub struct Redis {
    server: Arc<dotdo_redis::Server>,
}

impl Redis {
    pub fn new(config: dotdo_redis::Config, backend: SharedBackend) -> anyhow::Result<Self> {
        let server = dotdo_redis::Server::new(config, backend)?;
        Ok(Self { server })
    }
}

#[async_trait]
impl Frontend for Redis {
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken) {
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
