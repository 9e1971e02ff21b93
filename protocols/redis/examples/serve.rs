//! A standalone Redis front-end on the embedded backend, for benchmarks without the gateway:
//! `serve <data-dir> <port> [shards]`.

use std::sync::Arc;

use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_backend::{Backend, SharedBackend};
use dotdo_redis::{Config, Server};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "./data".into());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(6379);
    let shards: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(Config::default().shards);
    let backend = EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir))?;
    let shared: SharedBackend = backend.clone();
    let server: Arc<Server> = Server::new(
        Config {
            shards,
            ..Config::default()
        },
        shared,
    )?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let cancel = CancellationToken::new();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            accepted = listener.accept() => {
                let (stream, peer) = accepted?;
                stream.set_nodelay(true)?;
                tokio::spawn(server.clone().serve_connection(stream, peer, cancel.clone()));
            }
        }
    }
    cancel.cancel();
    server.shutdown().await;
    backend.shutdown().await;
    Ok(())
}
