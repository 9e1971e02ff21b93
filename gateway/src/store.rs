//! `dotdo store`: hold objects in the embedded backend and serve them to gateways over the
//! remote wire (`dotdo_backend::remote::server`).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, bail};
use dotdo_backend::SharedBackend;
use dotdo_backend::embedded::EmbeddedBackend;
use dotdo_backend::remote::server;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::server::LISTENING_PREFIX;

/// The runtime `dotdo store` runs on: `store.io_threads` workers (one per core for 0).
pub fn runtime(config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.store.io_threads > 0 {
        builder.worker_threads(config.store.io_threads);
    }
    builder.enable_all().build()
}

/// `GET /metrics`: the store's Prometheus metrics (requests by kind, errors, open sockets,
/// and the embedded backend's own), without the secret, like `/healthz`.
fn metrics_router() -> axum::Router {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| tracing::warn!(error = %e, "metrics disabled"))
        .ok();
    metrics::gauge!("dotdo_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let body = handle.as_ref().map(|h| h.render()).unwrap_or_default();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    )
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let Some(secret) = config.store.secret.clone().filter(|s| !s.is_empty()) else {
        bail!("dotdo store needs store.secret (DOTDO_STORE__SECRET), shared with the gateways");
    };
    let backend: SharedBackend = EmbeddedBackend::open(config.backend.embedded.clone())
        .map_err(|e| anyhow::anyhow!("opening the store's data: {e}"))?;
    let listener = tokio::net::TcpListener::bind(config.store.listen)
        .await
        .with_context(|| format!("store: binding {}", config.store.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.backend.embedded.data_dir.display(), "store listening");
    let map = BTreeMap::from([("store", addr.to_string())]);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{LISTENING_PREFIX}{}", serde_json::to_string(&map)?)?;
    out.flush()?;
    drop(out);

    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
        on_signal.cancel();
    });
    // Stops accepting, lets every socket finish its running batches, then closes the objects.
    server::serve_with(listener, backend, secret, cancel, metrics_router()).await?;
    tracing::info!("store shut down cleanly");
    Ok(())
}
