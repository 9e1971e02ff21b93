//! The Durable Object contract against a real workerd running the dotdo worker.

mod remote_support;

use dotdo_backend::conformance;
use remote_support::{Workerd, client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_workerd() {
    let w = Workerd::start();
    let remote = client(vec![w.url()]);
    conformance::all(remote.as_ref(), "e2e/workerd").await;
    conformance::a_concurrent_write_makes_commit_fail(remote.as_ref(), "e2e/workerd").await;
    conformance::replayed_transactions_validate(remote.clone(), "e2e/workerd").await;
}

/// Writers on 8 objects while workerd is SIGKILLed and restarted on the same storage: every
/// acknowledged write is there at the end, and requests fail cleanly while it is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_workerd_loses_no_acknowledged_write() {
    use std::collections::HashSet;
    use std::time::Duration;

    use dotdo_backend::{Backend, Error, ObjectId, Statement};

    let mut w = Workerd::start();
    let remote = client(vec![w.url()]);
    let objects: Vec<ObjectId> = (0..8)
        .map(|i| ObjectId::new("e2e/wcrash", format!("o{i}")))
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
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..16i64)
        .map(|wr| {
            let (remote, objects, stop) = (remote.clone(), objects.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut acked, mut unknown) = (Vec::new(), 0);
                let mut seq = 0i64;
                while !stop.load(std::sync::atomic::Ordering::Acquire) {
                    let o = &objects[((wr + seq) % 8) as usize];
                    let stmt = Statement::new("INSERT INTO acked VALUES (?1, ?2)")
                        .bind(wr)
                        .bind(seq);
                    match remote.execute(o, vec![stmt]).await {
                        Ok(_) => acked.push((wr, seq)),
                        Err(Error::UnknownOutcome(_)) => unknown += 1,
                        Err(Error::Unavailable(_)) => {
                            tokio::time::sleep(Duration::from_millis(20)).await
                        }
                        Err(e) => panic!("unexpected error: {e:?}"),
                    }
                    seq += 1;
                }
                (acked, unknown)
            })
        })
        .collect();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        w.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        w.restart();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    let mut acked = HashSet::new();
    for t in writers {
        acked.extend(t.await.unwrap().0);
    }
    let mut stored = HashSet::new();
    for o in &objects {
        let r = loop {
            match remote
                .execute(o, vec![Statement::new("SELECT writer, seq FROM acked")])
                .await
            {
                Ok(r) => break r,
                Err(e) if e.is_transient() => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("{e:?}; workerd log:\n{}", w.log()),
            }
        };
        stored.extend(
            r[0].rows
                .iter()
                .map(|row| (row[0].as_i64().unwrap(), row[1].as_i64().unwrap())),
        );
    }
    let lost = acked.difference(&stored).count();
    assert_eq!(lost, 0, "{lost} acknowledged writes lost");
    assert!(
        acked.len() > 100,
        "only {} writes acknowledged",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_transport_and_wrong_secret_on_workerd() {
    use dotdo_backend::remote::{RemoteBackend, RemoteConfig, Transport};
    use dotdo_backend::{Backend, Error, ObjectId, Statement, Value};

    let w = Workerd::start();
    let http = RemoteBackend::open(RemoteConfig {
        transport: Transport::Http,
        ..RemoteConfig::new(vec![w.url()], remote_support::SECRET)
    })
    .unwrap();
    let o = ObjectId::new("e2e/http", "o");
    let r = http
        .execute(&o, vec![Statement::new("SELECT ?1").bind(i64::MIN)])
        .await
        .unwrap();
    assert_eq!(r[0].rows[0][0], Value::Integer(i64::MIN));
    let wrong = RemoteBackend::open(RemoteConfig::new(vec![w.url()], "wrong")).unwrap();
    let err = wrong
        .execute(&o, vec![Statement::new("SELECT 1")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
}
