//! The remote backend against two real `dotdo store` processes: the contract, SIGKILL under
//! write load, and a store that goes away and comes back.

mod remote_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dotdo_backend::conformance;
use dotdo_backend::remote::RemoteBackend;
use dotdo_backend::{Backend, Error, ObjectId, Statement};
use remote_support::{Store, client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_two_store_processes() {
    let (a, b) = (Store::start(), Store::start());
    let remote = client(vec![a.url(), b.url()]);
    conformance::all(remote.as_ref(), "e2e/stores").await;
    conformance::a_concurrent_write_makes_commit_fail(remote.as_ref(), "e2e/stores").await;
    conformance::replayed_transactions_validate(remote.clone(), "e2e/stores").await;
    let owners: HashSet<&str> = (0..16)
        .map(|i| remote.node_of(&ObjectId::new("e2e/stores", format!("o{i}"))))
        .collect();
    assert_eq!(owners.len(), 2, "objects spread over both stores");
}

/// Writers on objects spread over both stores; one store is SIGKILLed and restarted again
/// and again. Every write that was acknowledged is there at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_store_loses_no_acknowledged_write() {
    const OBJECTS: usize = 8;
    const WRITERS: i64 = 16;
    let (mut a, b) = (Store::start(), Store::start());
    let remote = client(vec![a.url(), b.url()]);
    let objects: Vec<ObjectId> = (0..OBJECTS)
        .map(|i| ObjectId::new("e2e/crash", format!("o{i}")))
        .collect();
    for o in &objects {
        remote
            .execute(
                o,
                vec![Statement::new(
                    "CREATE TABLE acked (writer INTEGER, seq INTEGER, PRIMARY KEY (writer, seq))",
                )],
            )
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (remote, objects, stop) = (remote.clone(), objects.clone(), stop.clone());
            tokio::spawn(async move { write_until(remote, objects, stop, w).await })
        })
        .collect();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.restart();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Release);
    let mut acked = HashSet::new();
    let mut unknown = 0;
    for w in writers {
        let (a, u) = w.await.unwrap();
        acked.extend(a);
        unknown += u;
    }
    let mut stored = HashSet::new();
    for o in &objects {
        let r = remote
            .execute(o, vec![Statement::new("SELECT writer, seq FROM acked")])
            .await
            .unwrap();
        stored.extend(
            r[0].rows
                .iter()
                .map(|row| (row[0].as_i64().unwrap(), row[1].as_i64().unwrap())),
        );
    }
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost", lost.len());
    assert!(
        acked.len() > 100,
        "only {} writes acknowledged",
        acked.len()
    );
    // Writes whose reply was lost may or may not be there; they were reported as such.
    eprintln!(
        "acked {}, stored {}, unknown outcome {unknown}",
        acked.len(),
        stored.len()
    );
}

/// Each writer inserts (w, seq) rows; returns what was acknowledged and how many outcomes
/// were unknown. Failed writes move on to the next sequence number.
async fn write_until(
    remote: Arc<RemoteBackend>,
    objects: Vec<ObjectId>,
    stop: Arc<AtomicBool>,
    w: i64,
) -> (Vec<(i64, i64)>, usize) {
    let (mut acked, mut unknown) = (Vec::new(), 0);
    let mut seq = 0i64;
    while !stop.load(Ordering::Acquire) {
        let o = &objects[(w + seq) as usize % objects.len()];
        let stmt = Statement::new("INSERT INTO acked VALUES (?1, ?2)")
            .bind(w)
            .bind(seq);
        match remote.execute(o, vec![stmt]).await {
            Ok(_) => acked.push((w, seq)),
            Err(Error::UnknownOutcome(_)) => unknown += 1,
            Err(Error::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
        seq += 1;
    }
    (acked, unknown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_goes_away_fails_fast_and_recovers() {
    let (mut a, b) = (Store::start(), Store::start());
    let remote = client(vec![a.url(), b.url()]);
    let (on_a, on_b) = owned_pair(&remote, &a.url());
    for o in [&on_a, &on_b] {
        remote
            .execute(o, vec![Statement::new("CREATE TABLE t (v)")])
            .await
            .unwrap();
    }
    a.kill();
    for _ in 0..10 {
        let err = remote
            .execute(&on_a, vec![Statement::new("INSERT INTO t VALUES (1)")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Unavailable(_) | Error::UnknownOutcome(_)),
            "{err:?}"
        );
        assert!(err.to_string().contains(&a.url()), "names the node: {err}");
        // Objects on the other store are unaffected.
        remote
            .execute(&on_b, vec![Statement::new("INSERT INTO t VALUES (1)")])
            .await
            .unwrap();
    }
    let err = remote
        .execute(&on_a, vec![Statement::new("SELECT 1")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("circuit open"), "{err}");
    a.restart();
    let mut tries = 0;
    loop {
        match remote
            .execute(&on_a, vec![Statement::new("SELECT count(*) FROM t")])
            .await
        {
            Ok(_) => break,
            Err(e) => {
                tries += 1;
                assert!(tries < 200, "store never came back: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // The table created before the kill survived it.
    remote
        .execute(&on_a, vec![Statement::new("INSERT INTO t VALUES (2)")])
        .await
        .unwrap();
    drop(b);
}

/// One object placed on the node `url` and one placed elsewhere.
fn owned_pair(remote: &RemoteBackend, url: &str) -> (ObjectId, ObjectId) {
    let ids = (0..).map(|i| ObjectId::new("e2e/down", format!("o{i}")));
    let mut on = None;
    let mut off = None;
    for id in ids {
        if remote.node_of(&id) == url {
            on.get_or_insert(id);
        } else {
            off.get_or_insert(id);
        }
        if on.is_some() && off.is_some() {
            break;
        }
    }
    (on.unwrap(), off.unwrap())
}

/// `GET /metrics` on a store (with curl, as Prometheus would scrape it) counts the requests
/// it served, by kind, and the sockets open to it; it needs no secret, like `/healthz`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_serves_prometheus_metrics() {
    let store = Store::start();
    let remote = client(vec![store.url()]);
    let o = ObjectId::new("e2e/metrics", "o");
    remote
        .execute(&o, vec![Statement::new("CREATE TABLE t (a)")])
        .await
        .unwrap();
    remote
        .dry_run(&o, vec![Statement::new("SELECT 1")])
        .await
        .unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail", &format!("{}/metrics", store.url())])
        .output()
        .expect("curl is installed by the test command");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = String::from_utf8(out.stdout).unwrap();
    let value = |prefix: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit_once(' '))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in:\n{body}"))
    };
    assert_eq!(value("dotdo_store_requests_total{kind=\"execute\"}"), 1.0);
    assert_eq!(value("dotdo_store_requests_total{kind=\"dry_run\"}"), 1.0);
    assert_eq!(value("dotdo_store_sockets"), 1.0);
}
