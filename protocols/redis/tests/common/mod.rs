//! A dotdo Redis server on an embedded backend in a temp dir, served on 127.0.0.1:0.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_backend::{Backend, SharedBackend};
use dotdo_redis::{Config, Server};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
    pub backend: Arc<EmbeddedBackend>,
    cancel: CancellationToken,
}

impl TestServer {
    pub async fn start(dir: &Path, config: Config) -> TestServer {
        let backend = EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir)).expect("backend");
        let shared: SharedBackend = backend.clone();
        let server = Server::new(config, shared).expect("server");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cancel = CancellationToken::new();
        let (srv, c) = (server.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = c.cancelled() => return,
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        tokio::spawn(srv.clone().serve_connection(stream, peer, c.clone()));
                    }
                }
            }
        });
        TestServer {
            addr,
            server,
            backend,
            cancel,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        self.server.shutdown().await;
        self.backend.shutdown().await;
    }
}
