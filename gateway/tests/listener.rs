//! The listener framework over real TCP and TLS, with a line-echo front-end.
#![allow(clippy::unwrap_used)] // test helpers: a failed expectation should panic

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use dotdo::config::{Limits, ListenerPlan, TlsFiles};
use dotdo::frontends::{Accepted, Frontend};
use dotdo::listener;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Echo;

#[async_trait]
impl Frontend for Echo {
    async fn serve(self: Arc<Self>, conn: Accepted, cancel: CancellationToken) {
        let Ok((stream, _)) = conn.into_stream().await else {
            return;
        };
        let (r, mut w) = tokio::io::split(stream);
        let mut lines = BufReader::new(r).lines();
        loop {
            let line = tokio::select! {
                _ = cancel.cancelled() => break,
                line = lines.next_line() => line,
            };
            match line {
                Ok(Some(l)) => {
                    if w.write_all(format!("{l}\n").as_bytes()).await.is_err() {
                        break;
                    }
                }
                _ => break,
            }
        }
        let _ = w.shutdown().await;
    }

    async fn refuse(&self, mut stream: TcpStream) {
        let _ = stream.write_all(b"refused\n").await;
    }
}

struct Running {
    addr: SocketAddr,
    stop: CancellationToken,
    connections: CancellationToken,
    tracker: TaskTracker,
}

async fn start(max_connections: usize, tls: Option<TlsFiles>) -> Running {
    let plan = ListenerPlan {
        name: "echo",
        listen: "127.0.0.1:0".parse().unwrap(),
        tls,
        authenticated: false,
        auth_hint: "",
    };
    let bound = listener::bind(&plan, Arc::new(Echo)).await.unwrap();
    let addr = bound.local_addr;
    let limits = Limits {
        max_connections,
        ..Limits::default()
    };
    let (stop, connections, tracker) = (
        CancellationToken::new(),
        CancellationToken::new(),
        TaskTracker::new(),
    );
    listener::spawn_accept_loop(bound, &limits, &tracker, stop.clone(), connections.clone());
    Running {
        addr,
        stop,
        connections,
        tracker,
    }
}

async fn roundtrip<S: AsyncRead + AsyncWrite + Unpin>(s: &mut BufReader<S>, line: &str) -> String {
    s.get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_line(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_and_shutdown_drains() {
    let r = start(1, None).await;
    let mut first = BufReader::new(TcpStream::connect(r.addr).await.unwrap());
    assert_eq!(roundtrip(&mut first, "hello").await, "hello\n");
    let mut second = BufReader::new(TcpStream::connect(r.addr).await.unwrap());
    let mut line = String::new();
    second.read_line(&mut line).await.unwrap();
    assert_eq!(line, "refused\n");

    // Phase one stops accepting; phase two tells connections to finish, and they close.
    r.stop.cancel();
    r.connections.cancel();
    r.tracker.close();
    r.tracker.wait().await;
    let mut rest = String::new();
    assert_eq!(
        first.read_line(&mut rest).await.unwrap(),
        0,
        "connection closed"
    );
    assert!(
        TcpStream::connect(r.addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn tls_listeners_speak_tls_and_survive_plaintext_clients() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert.cert.pem()).unwrap();
    std::fs::write(&files.key, cert.signing_key.serialize_pem()).unwrap();
    let r = start(10, Some(files)).await;

    // A client that does not speak TLS gets nowhere, and the listener carries on.
    let mut plain = BufReader::new(TcpStream::connect(r.addr).await.unwrap());
    plain.get_mut().write_all(b"hello\n").await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut plain, &mut reply).await;
    assert!(
        !reply.windows(5).any(|w| w == b"hello"),
        "plaintext must not be served"
    );

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(r.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let mut tls = BufReader::new(tls);
    assert_eq!(roundtrip(&mut tls, "over tls").await, "over tls\n");
}
