//! Admin HTTP: liveness, readiness, Prometheus metrics and a status page.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dotdo_backend::remote::RemoteBackend;
use metrics_exporter_prometheus::PrometheusHandle;

/// What the admin endpoints report.
pub struct AdminState {
    pub ready: AtomicBool,
    pub started: Instant,
    pub metrics: Option<PrometheusHandle>,
    pub token: Option<String>,
    /// Every listener's name and bound address.
    pub listening: Vec<(String, SocketAddr)>,
    /// With the remote backend: the client whose nodes `/readyz` pings.
    pub nodes: Option<Arc<RemoteBackend>>,
}

/// How long `/readyz` waits for the nodes' pings.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(status))
        .with_state(state)
}

pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    Ok(tokio::net::TcpListener::bind(listen).await?)
}

/// Ready once the listeners are up and, with the remote backend, at least one node answers
/// a ping: with some nodes down the gateway still serves the objects on the others, so it
/// stays ready and lists which nodes are down; with none it can serve nothing.
async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    if !state.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response();
    }
    let Some(remote) = &state.nodes else {
        return (StatusCode::OK, "ready\n").into_response();
    };
    let probed = tokio::time::timeout(PROBE_TIMEOUT, remote.probe())
        .await
        .unwrap_or_default();
    let up = probed.iter().filter(|(_, r)| r.is_ok()).count();
    let mut body = String::from(if up > 0 { "ready\n" } else { "not ready\n" });
    if probed.is_empty() {
        body.push_str("nodes: no answer in time\n");
    }
    for (url, outcome) in &probed {
        match outcome {
            Ok(()) => body.push_str(&format!("node {url}: up\n")),
            Err(e) => body.push_str(&format!("node {url}: down ({e})\n")),
        }
    }
    let status = if up > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

fn authorized(state: &AdminState, headers: &HeaderMap) -> bool {
    let Some(token) = &state.token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn metrics(State(state): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return (StatusCode::UNAUTHORIZED, "bearer token required\n").into_response();
    }
    let body = state
        .metrics
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn status(State(state): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return (StatusCode::UNAUTHORIZED, "bearer token required\n").into_response();
    }
    let mut page = format!(
        "dotdo {}\nuptime: {}s\nready: {}\n\nlisteners:\n",
        env!("CARGO_PKG_VERSION"),
        state.started.elapsed().as_secs(),
        state.ready.load(Ordering::Acquire)
    );
    for (name, addr) in &state.listening {
        page.push_str(&format!("  {name:<10} {addr}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], page).into_response()
}
