//! `dotdo serve`: bind everything, report the ports, serve, and shut down in two phases.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::{self, AdminState};
use crate::config::Config;
use crate::{backend, frontends, listener};

/// The line on stdout that tells tests and tools which ports were bound.
pub const LISTENING_PREFIX: &str = "DOTDO_LISTENING ";

pub async fn serve(config: Config, metrics: Option<PrometheusHandle>) -> anyhow::Result<()> {
    metrics::gauge!("dotdo_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Installed first, on this runtime, before any front-end starts runtimes of its own
    // (the Redis event loops): a client may signal as soon as the ports are announced.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (backend, nodes) = backend::open_with_nodes(&config.backend)?;
    let planned = frontends::build(&config, &backend)?;

    let mut bound = Vec::with_capacity(planned.len());
    for p in &planned {
        bound.push(listener::bind(&p.plan, p.frontend.clone()).await?);
    }
    let mut listening: Vec<(String, std::net::SocketAddr)> = bound
        .iter()
        .map(|b| (b.name.to_owned(), b.local_addr))
        .collect();
    let admin_listener = if config.admin.enabled {
        let l = admin::bind(config.admin.listen)
            .await
            .with_context(|| format!("admin: binding {}", config.admin.listen))?;
        listening.push(("admin".into(), l.local_addr()?));
        Some(l)
    } else {
        None
    };

    let state = Arc::new(AdminState {
        ready: false.into(),
        started: Instant::now(),
        metrics,
        token: config.admin.token.clone(),
        listening: listening.clone(),
        nodes,
    });
    let tracker = TaskTracker::new();
    let stop_accepting = CancellationToken::new();
    let connections = CancellationToken::new();
    let admin_stop = CancellationToken::new();
    if let Some(l) = admin_listener {
        let router = admin::router(state.clone());
        let stop = admin_stop.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "admin server failed");
            }
        });
    }
    for b in bound {
        tracing::info!(frontend = b.name, addr = %b.local_addr, "listening");
        listener::spawn_accept_loop(
            b,
            &config.limits,
            &tracker,
            stop_accepting.clone(),
            connections.clone(),
        );
    }
    state.ready.store(true, Ordering::Release);
    report_listening(&listening)?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }

    // Phase one: stop accepting and tell connections to finish what they are doing.
    state.ready.store(false, Ordering::Release);
    stop_accepting.cancel();
    connections.cancel();
    tracker.close();
    let deadline = Duration::from_millis(config.shutdown.drain_timeout_ms);
    tokio::select! {
        _ = tracker.wait() => tracing::info!("connections drained"),
        _ = tokio::time::sleep(deadline) => tracing::warn!(?deadline, "drain deadline passed; closing the rest"),
        _ = term.recv() => tracing::warn!("second signal: closing the rest now"),
        _ = int.recv() => tracing::warn!("second signal: closing the rest now"),
    }
    // Phase two: background work, then the objects, which syncs and closes every file.
    for p in &planned {
        p.frontend.shutdown().await;
        tracing::debug!(frontend = p.plan.name, "front-end shut down");
    }
    backend.shutdown().await;
    tracing::debug!("backend shut down");
    admin_stop.cancel();
    tracing::info!("shut down cleanly");
    Ok(())
}

fn report_listening(listening: &[(String, std::net::SocketAddr)]) -> anyhow::Result<()> {
    let map: BTreeMap<&str, String> = listening
        .iter()
        .map(|(name, addr)| (name.as_str(), addr.to_string()))
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{LISTENING_PREFIX}{}", serde_json::to_string(&map)?)?;
    out.flush()?;
    Ok(())
}
