//! The Kafka front-end: `dotdo_kafka::Server` behind the listener framework.

use std::sync::Arc;

use async_trait::async_trait;
use dotdo_backend::SharedBackend;
use tokio_util::sync::CancellationToken;

use super::{Accepted, Frontend};
use crate::config::KafkaConfig;

pub struct Kafka {
    server: Arc<dotdo_kafka::Server>,
}

impl Kafka {
    pub fn new(config: &KafkaConfig, backend: SharedBackend) -> anyhow::Result<Arc<Self>> {
        let server = dotdo_kafka::Server::new(config.protocol.clone(), backend)?;
        Ok(Arc::new(Self { server }))
    }
}

#[async_trait]
impl Frontend for Kafka {
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken) {
        // Advertise the address clients actually reach, unless the config pins one.
        if let Ok(local) = conn.stream.local_addr() {
            self.server.listening_on(local);
        }
        match conn.into_stream().await {
            Ok((stream, peer)) => {
                self.server
                    .clone()
                    .serve_connection(stream, peer, cancel)
                    .await
            }
            Err(e) => tracing::debug!(error = %e, "kafka: TLS handshake failed"),
        }
    }

    async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}
