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
use futures::{SinkExt, StreamExt};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::wire::{self, Kind, Reply, Request};
use crate::{Error, SharedBackend};

/// Requests one WebSocket may have running at once; more wait (back-pressure on the socket).
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

/// Serve `router` on `listener` until `cancel` fires, then drain and shut the backend down.
pub async fn serve(
    listener: tokio::net::TcpListener,
    backend: SharedBackend,
    secret: String,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let sockets = TaskTracker::new();
    let app = router_for(Arc::new(Node {
        backend: backend.clone(),
        secret,
        cancel: cancel.clone(),
        sockets: sockets.clone(),
    }));
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

/// One multiplexed WebSocket: a reader that spawns a task per request, and a writer that
/// sends replies in the order they finish.
async fn connection(node: Arc<Node>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(1024);
    // Replies that finish together leave in one bundle, one message.
    let writer = tokio::spawn(async move {
        let mut frames = Vec::new();
        while rx.recv_many(&mut frames, wire::MAX_BUNDLE).await > 0 {
            let message = wire::take_message(&mut frames);
            if sink.send(Message::Binary(message.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let permits = Arc::new(Semaphore::new(IN_FLIGHT_PER_CONNECTION));
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            () = node.cancel.cancelled() => break,
        };
        let Some(Ok(msg)) = msg else { break };
        let frame = match msg {
            Message::Binary(b) => b,
            Message::Close(_) => break,
            _ => continue,
        };
        let frames = match wire::split_bundle(&frame) {
            Ok(f) => f.into_iter().map(<[u8]>::to_vec).collect::<Vec<_>>(),
            Err(e) => {
                let reply = wire::encode_response(&wire::Response {
                    id: 0,
                    reply: Reply::Error(Error::Invalid(e.to_string())),
                });
                let _ = tx.send(reply).await;
                continue;
            }
        };
        for frame in frames {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let (node, tx) = (node.clone(), tx.clone());
            tokio::spawn(async move {
                let reply = handle_frame(&node, &frame).await;
                let _ = tx.send(reply).await;
                drop(permit);
            });
        }
    }
    drop(tx);
    // The writer ends once every running request has sent its reply.
    let _ = writer.await;
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
