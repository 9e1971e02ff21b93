//! One backend node as the client sees it: a multiplexed WebSocket (or HTTP), timeouts and a
//! circuit breaker.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::config::{RemoteConfig, Transport};
use super::endpoint::Endpoint;
use super::wire::{self, Reply, Request};
use crate::Error;

pub(crate) struct Node {
    /// The node's base URL, `http(s)://host:port`; also its name for placement.
    pub(crate) url: String,
    endpoint: Result<Endpoint, String>,
    config: Arc<RemoteConfig>,
    /// The live WebSocket, if any; read on every call without waiting.
    conn: Mutex<Option<Arc<Conn>>>,
    /// Held while a WebSocket is being opened, so that callers wait for one connection
    /// instead of each opening their own.
    opening: tokio::sync::Mutex<()>,
    breaker: Mutex<Breaker>,
    next_id: AtomicU64,
    /// Set once the node (or a proxy before it) refused the WebSocket upgrade: from then on
    /// this node is reached by HTTP POST.
    http_only: AtomicBool,
    http_pool:
        Mutex<Vec<hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>>>,
}

/// Most times the writer yields to let a wave of requests gather before sending it.
const WAVE_ROUNDS: usize = 4;

/// Marks a WebSocket upgrade refused with a plain HTTP answer (not a refused secret).
const WS_REFUSED: &str = "WebSocket upgrade refused";

/// Why a call failed before a reply arrived.
enum Lost {
    /// The request never left: nothing was done.
    NotSent(String),
    /// The request was (or may have been) sent and its reply is lost.
    AfterSend(String),
}

impl Node {
    pub(crate) fn new(url: String, config: Arc<RemoteConfig>) -> Self {
        Self {
            endpoint: Endpoint::parse(&url),
            url,
            config,
            conn: Mutex::new(None),
            opening: tokio::sync::Mutex::new(()),
            breaker: Mutex::new(Breaker::default()),
            next_id: AtomicU64::new(1),
            http_only: AtomicBool::new(false),
            http_pool: Mutex::new(Vec::new()),
        }
    }

    /// Send `req` and wait for its reply. Requests whose outcome is known are retried once
    /// (not sent, or idempotent); a non-idempotent request whose reply was lost is
    /// `UnknownOutcome` and is never re-sent.
    pub(crate) async fn call(&self, mut req: Request) -> Result<Reply, Error> {
        let idempotent = req.kind.is_idempotent();
        let mut attempt = 0;
        // Set while this call is the half-open breaker's one probe; dropping the call (its
        // caller gave up) frees the probe slot for the next request.
        let mut probe = ProbeSlot(None);
        loop {
            attempt += 1;
            if self.breaker_admits()? {
                probe.0 = Some(&self.breaker);
            }
            req.id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let http =
                self.config.transport == Transport::Http || self.http_only.load(Ordering::Relaxed);
            let outcome = if http {
                self.call_http(&req).await
            } else {
                match self.call_ws(&req).await {
                    Err(Lost::NotSent(why)) if why.starts_with(WS_REFUSED) => {
                        tracing::warn!(node = %self.url, %why, "falling back to HTTP POST");
                        self.http_only.store(true, Ordering::Relaxed);
                        self.call_http(&req).await
                    }
                    outcome => outcome,
                }
            };
            match outcome {
                Ok(reply) => {
                    self.breaker.lock().success();
                    return Ok(reply);
                }
                Err(lost) => {
                    let (sent, why) = match lost {
                        Lost::NotSent(w) => (false, w),
                        Lost::AfterSend(w) => (true, w),
                    };
                    // A retry is part of the same call: the breaker counts failed calls, not
                    // attempts, and a failed probe reopens it at once.
                    if attempt < 2 && (!sent || idempotent) && probe.0.is_none() {
                        tracing::debug!(node = %self.url, %why, "retrying a request");
                        continue;
                    }
                    self.breaker.lock().failure(&self.config, &why);
                    let why = format!("backend node {}: {why}", self.url);
                    return Err(if sent && !idempotent {
                        Error::UnknownOutcome(why)
                    } else {
                        Error::Unavailable(why)
                    });
                }
            }
        }
    }

    /// Whether a request may go to the node now; true when it is the half-open probe.
    fn breaker_admits(&self) -> Result<bool, Error> {
        match self.breaker.lock().admit() {
            Admit::Closed => Ok(false),
            Admit::Probe => Ok(true),
            Admit::Open(left, why) => Err(Error::Unavailable(format!(
                "backend node {} is down (circuit open, next try in {} ms; last failure: {why})",
                self.url,
                left.as_millis()
            ))),
            Admit::Probing => Err(Error::Unavailable(format!(
                "backend node {} is down (circuit half-open, a probe request is in flight)",
                self.url
            ))),
        }
    }

    async fn call_ws(&self, req: &Request) -> Result<Reply, Lost> {
        let conn = self.connection().await.map_err(Lost::NotSent)?;
        let (tx, rx) = oneshot::channel();
        conn.pending.lock().insert(req.id, tx);
        if conn.closed.load(Ordering::Acquire)
            || conn.out.send(wire::encode_request(req)).await.is_err()
        {
            conn.pending.lock().remove(&req.id);
            return Err(Lost::NotSent("connection closed".into()));
        }
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply.map_err(|e| Lost::AfterSend(e.to_string())),
            Ok(Err(_)) => Err(Lost::AfterSend("connection lost before the reply".into())),
            Err(_) => {
                conn.pending.lock().remove(&req.id);
                Err(Lost::AfterSend(format!(
                    "no reply within {} ms",
                    self.config.request_timeout_ms
                )))
            }
        }
    }

    /// The live connection, opening one if there is none.
    async fn connection(&self) -> Result<Arc<Conn>, String> {
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let _opening = self.opening.lock().await;
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let timeout = Duration::from_millis(self.config.connect_timeout_ms);
        let endpoint = self.endpoint.as_ref().map_err(Clone::clone)?;
        let conn = tokio::time::timeout(timeout, Conn::open(endpoint, &self.config))
            .await
            .map_err(|_| format!("connect timed out after {} ms", timeout.as_millis()))??;
        *self.conn.lock() = Some(conn.clone());
        Ok(conn)
    }

    fn live(&self) -> Option<Arc<Conn>> {
        let slot = self.conn.lock();
        slot.as_ref()
            .filter(|c| !c.closed.load(Ordering::Acquire))
            .cloned()
    }

    async fn call_http(&self, req: &Request) -> Result<Reply, Lost> {
        let pooled = self.http_pool.lock().pop();
        let mut sender = match pooled {
            Some(s) if s.is_ready() => s,
            _ => {
                let endpoint = self
                    .endpoint
                    .as_ref()
                    .map_err(|e| Lost::NotSent(e.clone()))?;
                let timeout = Duration::from_millis(self.config.connect_timeout_ms);
                tokio::time::timeout(timeout, http_connect(endpoint))
                    .await
                    .map_err(|_| Lost::NotSent("connect timed out".into()))?
                    .map_err(Lost::NotSent)?
            }
        };
        let authority = self
            .endpoint
            .as_ref()
            .map(Endpoint::authority)
            .unwrap_or_default();
        let request = hyper::Request::post("/v1/batch")
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", self.config.secret),
            )
            .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
            .body(http_body_util::Full::new(bytes::Bytes::from(
                wire::encode_request(req),
            )))
            .map_err(|e| Lost::NotSent(e.to_string()))?;
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let exchange = async {
            let resp = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = http_body_util::BodyExt::collect(http_body_util::Limited::new(
                resp.into_body(),
                self.config.max_frame_bytes,
            ))
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
            Ok::<_, String>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Lost::AfterSend("no reply in time".into()))?
            .map_err(Lost::AfterSend)?;
        if status == hyper::StatusCode::UNAUTHORIZED {
            return Ok(Reply::Error(Error::Unavailable(format!(
                "node {} refused the shared secret",
                self.url
            ))));
        }
        if !status.is_success() {
            return Err(Lost::AfterSend(format!("HTTP {status}")));
        }
        self.http_pool.lock().push(sender);
        decode(&body, req.id)
    }
}

fn decode(frame: &[u8], id: u64) -> Result<Reply, Lost> {
    match wire::decode_response(frame) {
        Ok(r) if r.id == id => Ok(r.reply),
        Ok(_) => Err(Lost::AfterSend("reply for another request".into())),
        Err(e) => Err(Lost::AfterSend(e.to_string())),
    }
}

type HttpSender = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

async fn http_connect(endpoint: &Endpoint) -> Result<HttpSender, String> {
    let stream = endpoint.connect().await?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// A reply as the connection's reader decoded it.
type Decoded = Result<Reply, wire::FrameError>;

/// One WebSocket to a node, shared by every request to it.
struct Conn {
    out: mpsc::Sender<Vec<u8>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Decoded>>>,
    closed: AtomicBool,
}

impl Conn {
    async fn open(endpoint: &Endpoint, config: &RemoteConfig) -> Result<Arc<Conn>, String> {
        let mut request = endpoint
            .ws_url()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let auth = format!("Bearer {}", config.secret)
            .parse()
            .map_err(|_| "the secret is not a valid header value".to_owned())?;
        request.headers_mut().insert("authorization", auth);
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(config.max_frame_bytes))
            .max_frame_size(Some(config.max_frame_bytes));
        let stream = endpoint.connect().await?;
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config))
            .await
            .map_err(|e| match e {
                // Something between us and the node answered the upgrade with plain HTTP: the
                // node may still be reachable by POST.
                WsError::Http(resp) if resp.status() != 401 => {
                    format!("{WS_REFUSED}: HTTP {}", resp.status())
                }
                e => e.to_string(),
            })?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::channel::<Vec<u8>>(4096);
        let conn = Arc::new(Conn {
            out,
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        });
        // Writer: everything queued leaves in one bundle, one message. Callers woken by one
        // bundle of replies queue their next requests within microseconds of each other
        // (on every worker thread), so the writer lets them run before it sends, as long as
        // more keep coming (a few rounds at most): one message for the wave, not one per
        // caller. A node that groups what arrives together (a store's group commit) then
        // runs the wave as one group instead of several.
        let writer_conn = conn.clone();
        tokio::spawn(async move {
            let mut frames = Vec::new();
            while rx.recv_many(&mut frames, wire::MAX_BUNDLE).await > 0 {
                for _ in 0..WAVE_ROUNDS {
                    if frames.len() >= wire::MAX_BUNDLE {
                        break;
                    }
                    tokio::task::yield_now().await;
                    let before = frames.len();
                    while frames.len() < wire::MAX_BUNDLE {
                        match rx.try_recv() {
                            Ok(f) => frames.push(f),
                            Err(_) => break,
                        }
                    }
                    if frames.len() == before {
                        break;
                    }
                }
                let message = wire::take_message(&mut frames);
                if sink.send(Message::Binary(message.into())).await.is_err() {
                    break;
                }
            }
            writer_conn.close();
        });
        let reader_conn = conn.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let frame = match msg {
                    Message::Binary(b) => b,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let Ok(frames) = wire::split_bundle(&frame) else {
                    break;
                };
                for frame in frames {
                    let Some(id) = frame
                        .get(1..9)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_le_bytes)
                    else {
                        continue;
                    };
                    let waiter = reader_conn.pending.lock().remove(&id);
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(wire::decode_response(frame).map(|r| r.reply));
                    }
                }
            }
            reader_conn.close();
        });
        Ok(conn)
    }

    /// Mark the connection dead and fail every waiter (their replies are lost).
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.pending.lock().clear();
    }
}

/// Opens after `breaker_failures` consecutive failures and stays open for
/// `breaker_cooldown_ms`; then half-open: exactly one request goes through as a probe while
/// the others keep failing fast. The probe's success closes the breaker; its failure opens it
/// for another cooldown.
#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    /// Half-open and the probe is in flight.
    probing: bool,
    /// Why the last failed call failed, for the fast-fail errors.
    last_failure: String,
}

#[derive(Debug, PartialEq)]
enum Admit {
    Closed,
    Probe,
    Probing,
    Open(Duration, String),
}

impl Breaker {
    fn admit(&mut self) -> Admit {
        let Some(until) = self.open_until else {
            return Admit::Closed;
        };
        if let Some(left) = until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        {
            Admit::Open(left, self.last_failure.clone())
        } else if self.probing {
            Admit::Probing
        } else {
            self.probing = true;
            Admit::Probe
        }
    }

    fn failure(&mut self, config: &RemoteConfig, why: &str) {
        self.failures += 1;
        self.last_failure = why.to_owned();
        self.probing = false;
        if self.failures >= config.breaker_failures {
            self.open_until =
                Some(Instant::now() + Duration::from_millis(config.breaker_cooldown_ms));
        }
    }

    fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
        self.probing = false;
    }
}

/// The breaker whose probe this call is, if it is one.
struct ProbeSlot<'a>(Option<&'a Mutex<Breaker>>);

impl Drop for ProbeSlot<'_> {
    fn drop(&mut self) {
        // After success or failure `probing` is already false; this matters only for a call
        // dropped mid-flight, which must not keep the breaker half-open for ever.
        if let Some(b) = self.0 {
            b.lock().probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_open_breaker_lets_one_probe_through() {
        let config = RemoteConfig {
            breaker_failures: 2,
            breaker_cooldown_ms: 0,
            ..RemoteConfig::default()
        };
        let mut b = Breaker::default();
        assert_eq!(b.admit(), Admit::Closed);
        b.failure(&config, "refused");
        assert_eq!(b.admit(), Admit::Closed);
        b.failure(&config, "refused");
        // The cooldown (zero here) is over: one probe, everyone else waits for it.
        assert_eq!(b.admit(), Admit::Probe);
        assert_eq!(b.admit(), Admit::Probing);
        b.failure(&config, "refused");
        assert_eq!(b.admit(), Admit::Probe);
        b.success();
        assert_eq!(b.admit(), Admit::Closed);

        let config = RemoteConfig {
            breaker_failures: 1,
            breaker_cooldown_ms: 60_000,
            ..RemoteConfig::default()
        };
        b.failure(&config, "refused");
        assert!(matches!(b.admit(), Admit::Open(left, _) if left > Duration::from_secs(50)));
    }

    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let config = RemoteConfig {
            breaker_failures: 1,
            breaker_cooldown_ms: 0,
            ..RemoteConfig::default()
        };
        let breaker = Mutex::new(Breaker::default());
        breaker.lock().failure(&config, "refused");
        assert_eq!(breaker.lock().admit(), Admit::Probe);
        drop(ProbeSlot(Some(&breaker)));
        assert_eq!(breaker.lock().admit(), Admit::Probe);
    }
}
