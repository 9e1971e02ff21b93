//! The listener framework: bind, accept, cap connections, one tracked task per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Limits, ListenerPlan};
use crate::frontends::{Accepted, Frontend};

pub struct Bound {
    pub name: &'static str,
    pub local_addr: SocketAddr,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    frontend: Arc<dyn Frontend>,
}

pub async fn bind(plan: &ListenerPlan, frontend: Arc<dyn Frontend>) -> anyhow::Result<Bound> {
    let tls = plan.tls.as_ref().map(crate::tls::acceptor).transpose()?;
    let listener = TcpListener::bind(plan.listen)
        .await
        .with_context(|| format!("{}: binding {}", plan.name, plan.listen))?;
    let local_addr = listener.local_addr()?;
    Ok(Bound {
        name: plan.name,
        local_addr,
        listener,
        tls,
        frontend,
    })
}

/// Accept until `stop_accepting` fires. Connections get `connections`, a separate token, so
/// that shutdown can stop accepting first and drain afterwards.
pub fn spawn_accept_loop(
    bound: Bound,
    limits: &Limits,
    tracker: &TaskTracker,
    stop_accepting: CancellationToken,
    connections: CancellationToken,
) {
    let cap = Arc::new(Semaphore::new(limits.max_connections));
    let handshake_timeout = Duration::from_millis(limits.handshake_timeout_ms);
    let conn_tracker = tracker.clone();
    tracker.spawn(async move {
        let Bound {
            name,
            listener,
            tls,
            frontend,
            ..
        } = bound;
        loop {
            let accepted = tokio::select! {
                _ = stop_accepting.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(frontend = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = cap.clone().try_acquire_owned() else {
                metrics::counter!("dotdo_connections_refused_total", "frontend" => name)
                    .increment(1);
                tracing::warn!(frontend = name, %peer, "connection limit reached; refusing");
                let frontend = frontend.clone();
                conn_tracker.spawn(async move { frontend.refuse(stream).await });
                continue;
            };
            metrics::counter!("dotdo_connections_total", "frontend" => name).increment(1);
            metrics::gauge!("dotdo_connections_active", "frontend" => name).increment(1.0);
            let conn = Accepted {
                stream,
                peer,
                tls: tls.clone(),
                handshake_timeout,
            };
            let frontend = frontend.clone();
            let cancel = connections.child_token();
            conn_tracker.spawn(async move {
                frontend.serve(conn, cancel).await;
                metrics::gauge!("dotdo_connections_active", "frontend" => name).decrement(1.0);
                drop(permit);
            });
        }
        tracing::info!(frontend = name, "stopped accepting");
    });
}
