//! The remote backend against in-process store nodes (real TCP, real WebSockets).

use std::sync::Arc;

use axum::response::IntoResponse;
use tokio_util::sync::CancellationToken;

use super::{RemoteBackend, RemoteConfig, Transport, server};
use crate::conformance;
use crate::embedded::{EmbeddedBackend, EmbeddedConfig};
use crate::{Backend, Error, ObjectId, SharedBackend, Statement};

const SECRET: &str = "s3cret";

struct Store {
    url: String,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn store() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let backend: SharedBackend =
        EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    tokio::spawn(server::serve(
        listener,
        backend,
        SECRET.into(),
        cancel.clone(),
    ));
    Store {
        url,
        cancel,
        _dir: dir,
    }
}

fn client(stores: &[&Store], transport: Transport) -> Arc<RemoteBackend> {
    RemoteBackend::open(RemoteConfig {
        transport,
        ..RemoteConfig::new(stores.iter().map(|s| s.url.clone()).collect(), SECRET)
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_over_websocket_on_two_stores() {
    let (a, b) = (store().await, store().await);
    let remote = client(&[&a, &b], Transport::Websocket);
    conformance::all(remote.as_ref(), "conf/ws").await;
    conformance::a_concurrent_write_makes_commit_fail(remote.as_ref(), "conf/ws").await;
    conformance::replayed_transactions_validate(remote.clone(), "conf/ws").await;
    // Both stores hold objects.
    let owners: std::collections::HashSet<&str> = (0..32)
        .map(|i| remote.node_of(&ObjectId::new("x", format!("{i}"))))
        .collect();
    assert_eq!(owners.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_over_http() {
    let (a, b) = (store().await, store().await);
    let remote = client(&[&a, &b], Transport::Http);
    conformance::all(remote.as_ref(), "conf/http").await;
    conformance::a_concurrent_write_makes_commit_fail(remote.as_ref(), "conf/http").await;
    conformance::replayed_transactions_validate(remote.clone(), "conf/http").await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let a = store().await;
    for transport in [Transport::Websocket, Transport::Http] {
        let remote = RemoteBackend::open(RemoteConfig {
            transport,
            ..RemoteConfig::new(vec![a.url.clone()], "wrong")
        })
        .unwrap();
        let err = remote
            .execute(&ObjectId::new("n", "o"), vec![Statement::new("SELECT 1")])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_node_that_is_down_fails_fast_and_recovers() {
    let a = store().await;
    let url = a.url.clone();
    let remote = RemoteBackend::open(RemoteConfig {
        breaker_cooldown_ms: 200,
        ..RemoteConfig::new(vec![url.clone()], SECRET)
    })
    .unwrap();
    let o = ObjectId::new("n", "o");
    remote
        .execute(&o, vec![Statement::new("CREATE TABLE t (a)")])
        .await
        .unwrap();
    a.cancel.cancel();
    // Wait until the store has released its port.
    let addr = url.trim_start_matches("http://").to_owned();
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for _ in 0..5 {
        let err = remote
            .execute(&o, vec![Statement::new("INSERT INTO t VALUES (1)")])
            .await
            .unwrap_err();
        // The batch either never left or its reply was lost; it is never retried blindly.
        assert!(
            matches!(err, Error::Unavailable(_) | Error::UnknownOutcome(_)),
            "{err:?}"
        );
        assert!(err.to_string().contains(&url), "{err}");
    }
    let err = remote
        .execute(&o, vec![Statement::new("SELECT 1")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("circuit open"), "{err}");

    // A new store on the same address: requests succeed again after the cooldown.
    let dir = tempfile::tempdir().unwrap();
    let backend: SharedBackend =
        EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).unwrap();
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    tokio::spawn(server::serve(
        listener,
        backend,
        SECRET.into(),
        CancellationToken::new(),
    ));
    let mut tries = 0;
    loop {
        tries += 1;
        match remote.execute(&o, vec![Statement::new("SELECT 1")]).await {
            Ok(_) => break,
            Err(e) => {
                assert!(tries < 100, "never recovered: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn garbage_frames_get_an_error_reply_and_the_connection_survives() {
    let a = store().await;
    let http = |body: Vec<u8>| {
        let url = a.url.clone();
        async move {
            let addr = url.trim_start_matches("http://").to_owned();
            let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let req = hyper::Request::post("/v1/batch")
                .header("host", addr)
                .header("authorization", format!("Bearer {SECRET}"))
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap();
            let resp = sender.send_request(req).await.unwrap();
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            super::wire::decode_response(&body).unwrap()
        }
    };
    let resp = http(vec![1, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0xff]).await;
    assert_eq!(resp.id, 7);
    assert!(matches!(
        resp.reply,
        super::wire::Reply::Error(Error::Invalid(_))
    ));
}

#[tokio::test]
async fn a_node_behind_a_proxy_without_websockets_is_reached_by_http() {
    let dir = tempfile::tempdir().unwrap();
    let backend: SharedBackend =
        EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).unwrap();
    // A "proxy" that refuses every WebSocket upgrade with a plain HTTP answer.
    let app =
        server::router(backend, SECRET, CancellationToken::new()).layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                if req.uri().path() == "/v1/ws" {
                    return axum::http::StatusCode::BAD_GATEWAY.into_response();
                }
                next.run(req).await
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let remote = RemoteBackend::open(RemoteConfig::new(vec![url], SECRET)).unwrap();
    let o = ObjectId::new("n", "proxied");
    for i in 0..3 {
        let r = remote
            .execute(&o, vec![Statement::new("SELECT ?1").bind(i)])
            .await
            .unwrap();
        assert_eq!(r[0].rows[0][0], crate::Value::Integer(i));
    }
}
