//! The node side of the wire (`dotdo store`): serves any [`Backend`] over WebSocket and HTTP.
//!
//! `GET /v1/ws` upgrades to a WebSocket on which each binary message is one request frame;
//! requests run concurrently and replies go back as they finish, matched by request id.
//! `POST /v1/batch` takes one request frame and answers with one reply frame. Both require
//! `Authorization: Bearer <secret>`. `/healthz` and `/readyz` answer without it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::wire::{self, Kind, Reply, Request};
use crate::{Error, SharedBackend};

/// Requests one WebSocket may have running at once; beyond that the socket is not read
/// (back-pressure). A bundle read in one go may overshoot it by up to `wire::MAX_BUNDLE`.
const IN_FLIGHT_PER_CONNECTION: usize = 4096;

struct Node {
    backend: SharedBackend,
    secret: String,
    /// Fires at shutdown: WebSockets stop reading, finish what they hold, and close.
    cancel: CancellationToken,
    /// Upgraded WebSockets, which axum's graceful shutdown no longer tracks.
    sockets: TaskTracker,
}

/// The router for a store node; serve it with `axum::serve`.
pub fn router(
    backend: SharedBackend,
    secret: impl Into<String>,
    cancel: CancellationToken,
) -> Router {
    router_for(Arc::new(Node {
        backend,
        secret: secret.into(),
        cancel,
        sockets: TaskTracker::new(),
    }))
}

fn router_for(node: Arc<Node>) -> Router {
    Router::new()
        .route("/v1/ws", get(upgrade))
        .route("/v1/batch", post(batch))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(wire::MAX_FRAME))
        .with_state(node)
}

/// Serve the node on `listener` until `cancel` fires, then drain and shut the backend down.
pub async fn serve(
    listener: tokio::net::TcpListener,
    backend: SharedBackend,
    secret: String,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    serve_with(listener, backend, secret, cancel, Router::new()).await
}

/// [`serve`], with `extra` routes beside the wire's (`dotdo store` adds `/metrics`).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    backend: SharedBackend,
    secret: String,
    cancel: CancellationToken,
    extra: Router,
) -> std::io::Result<()> {
    let sockets = TaskTracker::new();
    let app = router_for(Arc::new(Node {
        backend: backend.clone(),
        secret,
        cancel: cancel.clone(),
        sockets: sockets.clone(),
    }))
    .merge(extra);
    // Replies are small messages sent while earlier ones may be unacknowledged: without
    // TCP_NODELAY, Nagle would hold them back for the peer's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(cancel.clone().cancelled_owned())
    .await;
    sockets.close();
    sockets.wait().await;
    backend.shutdown().await;
    result
}

/// Constant-time comparison of the presented bearer token with the secret.
fn authorized(node: &Node, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .as_bytes();
    let secret = node.secret.as_bytes();
    let mut diff = presented.len() ^ secret.len();
    for (i, s) in secret.iter().enumerate() {
        diff |= usize::from(s ^ presented.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

async fn upgrade(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !authorized(&node, &headers) {
        return (StatusCode::UNAUTHORIZED, "bad or missing secret").into_response();
    }
    ws.max_message_size(wire::MAX_FRAME)
        .on_upgrade(move |socket| {
            let sockets = node.sockets.clone();
            sockets.track_future(connection(node, socket))
        })
}

async fn batch(State(node): State<Arc<Node>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&node, &headers) {
        return (StatusCode::UNAUTHORIZED, "bad or missing secret").into_response();
    }
    let reply = handle_frame(&node, &body).await;
    (
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        reply,
    )
        .into_response()
}

/// One multiplexed WebSocket. Requests run concurrently inside this one task (no task per
/// request: the backend's replies wake this task once for however many finished), and the
/// replies ready at the same moment leave in one bundle, one message. Sending waits only if
/// the peer stops reading, which is back-pressure on it.
async fn connection(node: Arc<Node>, socket: WebSocket) {
    let sockets = metrics::gauge!("dotdo_store_sockets");
    sockets.increment(1.0);
    serve_socket(&node, socket).await;
    sockets.decrement(1.0);
}

async fn serve_socket(node: &Arc<Node>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let mut running = FuturesUnordered::new();
    let mut reading = true;
    while reading || !running.is_empty() {
        let ready = tokio::select! {
            biased;
            Some(reply) = running.next(), if !running.is_empty() => {
                // The backend releases a whole group of replies at once (one fsync covers
                // them): let the rest land before sending, so they share one message.
                tokio::task::yield_now().await;
                let mut ready = vec![reply];
                while ready.len() < wire::MAX_BUNDLE {
                    match running.next().now_or_never() {
                        Some(Some(reply)) => ready.push(reply),
                        _ => break,
                    }
                }
                ready
            }
            () = node.cancel.cancelled(), if reading => {
                reading = false;
                continue;
            }
            msg = stream.next(), if reading && running.len() < IN_FLIGHT_PER_CONNECTION => {
                let frame = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        reading = false;
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                match wire::split_bundle(&frame) {
                    Ok(frames) => {
                        running.extend(frames.into_iter().map(|f| handle_request(node, f)));
                        continue;
                    }
                    Err(e) => vec![wire::encode_response(&wire::Response {
                        id: 0,
                        reply: Reply::Error(Error::Invalid(e.to_string())),
                    })],
                }
            }
        };
        let mut ready = ready;
        let message = wire::take_message(&mut ready);
        if sink.send(Message::Binary(message.into())).await.is_err() {
            // The peer is gone: what still runs finishes, its replies have nowhere to go.
            break;
        }
    }
    let _ = sink.close().await;
}

/// Decode `frame` now (so the future borrows nothing from it) and run it.
fn handle_request(node: &Arc<Node>, frame: &[u8]) -> impl Future<Output = Vec<u8>> + use<> {
    let node = node.clone();
    let decoded = wire::decode_request(frame).map_err(|e| (wire::peek_request_id(frame), e));
    async move {
        let (id, reply) = match decoded {
            Ok(req) => (req.id, run(&node.backend, req).await),
            Err((id, e)) => (id.unwrap_or(0), Reply::Error(Error::Invalid(e.to_string()))),
        };
        wire::encode_response(&wire::Response { id, reply })
    }
}

async fn handle_frame(node: &Node, frame: &[u8]) -> Vec<u8> {
    let (id, reply) = match wire::decode_request(frame) {
        Ok(req) => (req.id, run(&node.backend, req).await),
        Err(e) => (
            wire::peek_request_id(frame).unwrap_or(0),
            Reply::Error(Error::Invalid(e.to_string())),
        ),
    };
    wire::encode_response(&wire::Response { id, reply })
}

/// Run one decoded request against the backend.
pub async fn run(backend: &SharedBackend, req: Request) -> Reply {
    let kind = kind_label(req.kind);
    metrics::counter!("dotdo_store_requests_total", "kind" => kind).increment(1);
    let reply = run_request(backend, req).await;
    if matches!(reply, Reply::Error(_)) {
        metrics::counter!("dotdo_store_request_errors_total", "kind" => kind).increment(1);
    }
    reply
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Execute => "execute",
        Kind::DryRun => "dry_run",
        Kind::ListObjects => "list_objects",
        Kind::DeleteObject => "delete_object",
        Kind::Ping => "ping",
        Kind::ExecuteChecked => "execute_checked",
    }
}

async fn run_request(backend: &SharedBackend, req: Request) -> Reply {
    let o = &req.object;
    let result = match req.kind {
        Kind::Execute => backend.execute(o, req.batch).await.map(Reply::Results),
        Kind::DryRun => backend.dry_run(o, req.batch).await.map(Reply::Results),
        Kind::ListObjects => backend.list_objects(&o.namespace).await.map(Reply::Names),
        Kind::DeleteObject => backend.delete_object(o).await.map(|()| Reply::Done),
        Kind::Ping => Ok(Reply::Done),
        Kind::ExecuteChecked => backend
            .execute_checked(o, req.batch, req.expected)
            .await
            .map(|()| Reply::Done),
    };
    result.unwrap_or_else(Reply::Error)
}
