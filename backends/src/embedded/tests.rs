//! Behaviour of the embedded backend through the contract.

use std::sync::Arc;
use std::time::Duration;

use super::{EmbeddedBackend, EmbeddedConfig};
use crate::{Backend, Error, ObjectId, Statement, Value};

fn backend(dir: &tempfile::TempDir) -> Arc<EmbeddedBackend> {
    EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).unwrap()
}

#[tokio::test]
async fn the_contract_scenarios_hold() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    crate::conformance::all(b.as_ref(), "conformance").await;
    crate::conformance::replayed_transactions_validate(b.clone(), "conformance").await;
    b.shutdown().await;
}

fn obj(name: &str) -> ObjectId {
    ObjectId::new("test/ns", name)
}

async fn setup(b: &EmbeddedBackend, o: &ObjectId) {
    b.execute(
        o,
        vec![Statement::new(
            "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v ANY, u TEXT UNIQUE)",
        )],
    )
    .await
    .unwrap();
}

async fn insert(b: &EmbeddedBackend, o: &ObjectId, u: &str) {
    b.execute(
        o,
        vec![Statement::new("INSERT INTO t (u) VALUES (?1)").bind(u)],
    )
    .await
    .unwrap();
}

async fn count(b: &EmbeddedBackend, o: &ObjectId) -> i64 {
    let r = b
        .execute(o, vec![Statement::new("SELECT count(*) FROM t")])
        .await
        .unwrap();
    r[0].rows[0][0].as_i64().unwrap()
}

/// What the shared scenario (`conformance::a_failing_statement_rolls_back_its_whole_batch`)
/// cannot see: failures inside one commit group of the embedded backend.
#[tokio::test]
async fn failures_inside_a_commit_group_stay_with_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let o = obj("atomic");
    setup(&b, &o).await;
    for u in ["a", "c"] {
        b.execute(
            &o,
            vec![Statement::new("INSERT INTO t (u) VALUES (?1)").bind(u)],
        )
        .await
        .unwrap();
    }
    // A single statement that fails half-way leaves nothing behind.
    let (r1, r2) = tokio::join!(
        b.execute(
            &o,
            vec![Statement::new("INSERT INTO t (u) VALUES ('y'), ('a')")]
        ),
        b.execute(&o, vec![Statement::new("INSERT INTO t (u) VALUES ('z')")]),
    );
    assert!(r1.is_err() && r2.is_ok());
    assert_eq!(count(&b, &o).await, 3);
    // OR ROLLBACK ends the group's shared transaction: the error must not take other
    // batches' acknowledged work with it, nor acknowledge work that was rolled back.
    let results = futures_join_all(
        &b,
        &o,
        &[
            "INSERT INTO t (u) VALUES ('p')",
            "INSERT OR ROLLBACK INTO t (u) VALUES ('a')",
            "INSERT INTO t (u) VALUES ('q')",
        ],
    )
    .await;
    let acked = results.iter().filter(|r| r.is_ok()).count() as i64;
    assert!(results[1].is_err());
    assert_eq!(count(&b, &o).await, 3 + acked);
}

async fn futures_join_all(
    b: &Arc<EmbeddedBackend>,
    o: &ObjectId,
    sqls: &[&'static str],
) -> Vec<Result<Vec<crate::StatementResult>, Error>> {
    let tasks: Vec<_> = sqls
        .iter()
        .map(|sql| {
            let (b, o) = (b.clone(), o.clone());
            let sql = *sql;
            tokio::spawn(async move { b.execute(&o, vec![Statement::new(sql)]).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn data_survives_reopening_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let o = obj("reopen");
    {
        let b = backend(&dir);
        setup(&b, &o).await;
        insert(&b, &o, "kept").await;
        b.shutdown().await;
        let err = b
            .execute(&o, vec![Statement::new("SELECT 1")])
            .await
            .unwrap_err();
        assert_eq!(err, Error::ShuttingDown);
    }
    let b = backend(&dir);
    assert_eq!(count(&b, &o).await, 1);
    assert_eq!(
        b.list_objects("test/ns").await.unwrap(),
        vec!["reopen".to_string()]
    );
}

#[tokio::test]
async fn transactions_commit_roll_back_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let o = obj("tx");
    setup(&b, &o).await;

    let mut tx = b.begin(&o).await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
        .await
        .unwrap();
    let r = tx
        .execute(vec![Statement::new("SELECT count(*) FROM t")])
        .await
        .unwrap();
    assert_eq!(r[0].rows[0][0], Value::Integer(1));
    // A failed batch inside a transaction leaves the transaction as it was.
    assert!(
        tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
            .await
            .is_err()
    );
    tx.savepoint("s1").await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('b')")])
        .await
        .unwrap();
    tx.rollback_to_savepoint("s1").await.unwrap();
    tx.release_savepoint("s1").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&b, &o).await, 1);

    let mut tx = b.begin(&o).await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('c')")])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&b, &o).await, 1);

    let mut tx = b.begin(&o).await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('d')")])
        .await
        .unwrap();
    drop(tx);
    assert_eq!(count(&b, &o).await, 1);
}

#[tokio::test]
async fn a_held_writer_makes_begin_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig {
        lock_timeout_ms: 100,
        ..EmbeddedConfig::with_data_dir(dir.path())
    };
    let b = EmbeddedBackend::open(cfg).unwrap();
    let o = obj("locked");
    setup(&b, &o).await;
    let tx = b.begin(&o).await.unwrap();
    let err = b.begin(&o).await.err().unwrap();
    assert!(matches!(err, Error::LockTimeout(_)), "{err:?}");
    tx.commit().await.unwrap();
    let tx2 = b.begin(&o).await.unwrap();
    tx2.rollback().await.unwrap();
}

#[tokio::test]
async fn an_idle_transaction_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig {
        transaction_idle_timeout_ms: 50,
        ..EmbeddedConfig::with_data_dir(dir.path())
    };
    let b = EmbeddedBackend::open(cfg).unwrap();
    let o = obj("idle-tx");
    setup(&b, &o).await;
    let mut tx = b.begin(&o).await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TransactionClosed(_)), "{err:?}");
    assert_eq!(count(&b, &o).await, 0);
}

#[tokio::test]
async fn idle_objects_close_and_reopen_and_open_objects_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig {
        idle_timeout_ms: 100,
        max_open_objects: 3,
        ..EmbeddedConfig::with_data_dir(dir.path())
    };
    let b = EmbeddedBackend::open(cfg).unwrap();
    for i in 0..10 {
        let o = obj(&format!("o{i}"));
        setup(&b, &o).await;
        b.execute(
            &o,
            vec![Statement::new("INSERT INTO t (v) VALUES (?1)").bind(i)],
        )
        .await
        .unwrap();
        assert!(b.open_objects() <= 4, "open: {}", b.open_objects());
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(b.open_objects(), 0);
    for i in 0..10 {
        assert_eq!(count(&b, &obj(&format!("o{i}"))).await, 1);
    }
    assert_eq!(b.list_objects("test/ns").await.unwrap().len(), 10);
}

#[tokio::test]
async fn delete_object_removes_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let o = obj("doomed");
    setup(&b, &o).await;
    b.execute(&o, vec![Statement::new("INSERT INTO t (v) VALUES (1)")])
        .await
        .unwrap();
    b.delete_object(&o).await.unwrap();
    let err = b
        .execute(&o, vec![Statement::new("SELECT * FROM t")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such table"), "{err}");
}

#[tokio::test]
async fn relaxed_durability_answers_and_keeps_data_across_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let o = obj("relaxed");
    {
        let cfg = EmbeddedConfig {
            durability: super::Durability::Relaxed,
            relaxed_sync_ms: 20,
            ..EmbeddedConfig::with_data_dir(dir.path())
        };
        let b = EmbeddedBackend::open(cfg).unwrap();
        setup(&b, &o).await;
        for i in 0..50 {
            b.execute(
                &o,
                vec![Statement::new("INSERT INTO t (v) VALUES (?1)").bind(i)],
            )
            .await
            .unwrap();
        }
        let mut tx = b.begin(&o).await.unwrap();
        tx.execute(vec![Statement::new("INSERT INTO t (v) VALUES (-1)")])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.shutdown().await;
    }
    let b = backend(&dir);
    assert_eq!(count(&b, &o).await, 51);
}

#[tokio::test]
async fn answers_depend_only_on_the_batch_and_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let o = obj("answers");
    setup(&b, &o).await;
    b.execute(&o, vec![Statement::new("INSERT INTO t (v) VALUES (1)")])
        .await
        .unwrap();
    let read = || vec![Statement::new("SELECT count(*) FROM t")];
    let first = b.dry_run(&o, read()).await.unwrap();
    // A rolled-back insert in between must not leak into the next answer.
    b.dry_run(&o, vec![Statement::new("INSERT INTO t (v) VALUES (2)")])
        .await
        .unwrap();
    let second = b.dry_run(&o, read()).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(second[0].last_insert_id, 0);
    let r = b
        .execute(
            &o,
            vec![
                Statement::new("UPDATE t SET v = 5"),
                Statement::new("INSERT INTO t (v) VALUES (3)"),
                Statement::new("SELECT 1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            r[0].last_insert_id,
            r[1].last_insert_id,
            r[2].last_insert_id
        ),
        (0, 2, 2)
    );
}

/// Kafka partition logs get larger pages (new databases only) and a larger WAL bound; other
/// objects keep SQLite's defaults. Data written under either survives a reopen.
#[tokio::test]
async fn kafka_partition_logs_get_their_own_storage_settings() {
    let dir = tempfile::tempdir().unwrap();
    let page_size = |b: Arc<EmbeddedBackend>, o: ObjectId| async move {
        let r = b
            .execute(&o, vec![Statement::new("PRAGMA page_size")])
            .await
            .unwrap();
        r[0].rows[0][0].as_i64().unwrap()
    };
    let log = ObjectId::new("kafka/default", "p/orders/3");
    let other = ObjectId::new("kafka/default", "g/readers");
    let cfg = EmbeddedConfig::with_data_dir(dir.path());
    assert_eq!(
        cfg.storage(&log).wal_autocheckpoint_pages,
        super::config::LOG_WAL_BYTES / super::config::LOG_PAGE_SIZE
    );
    assert_eq!(
        cfg.storage(&other).wal_autocheckpoint_pages,
        cfg.wal_autocheckpoint_pages
    );
    let redis = ObjectId::new("redis/0", "shard-00003");
    assert_eq!(
        cfg.storage(&redis).wal_autocheckpoint_pages,
        super::config::REDIS_SHARD_WAL_PAGES
    );
    assert_eq!(cfg.storage(&redis).page_size, None);
    for round in 0..2 {
        let b = backend(&dir);
        for o in [&log, &other] {
            setup(&b, o).await;
            b.execute(
                o,
                vec![Statement::new("INSERT INTO t (v) VALUES (?1)").bind(vec![7u8; 100_000])],
            )
            .await
            .unwrap();
            assert_eq!(count(&b, o).await, round + 1);
        }
        assert_eq!(page_size(b.clone(), log.clone()).await, 32 * 1024);
        assert_eq!(page_size(b.clone(), other.clone()).await, 4096);
        b.shutdown().await;
    }
}

/// A read too long to answer on the caller's thread goes to the actor part way through, so
/// a single-threaded event loop goes on serving its other connections meanwhile, and the
/// long read still answers in full.
#[tokio::test(flavor = "current_thread")]
async fn a_long_read_leaves_the_callers_thread_to_others() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let (long_obj, short_obj) = (obj("long-read"), obj("short-read"));
    setup(&b, &long_obj).await;
    setup(&b, &short_obj).await;
    let finished = std::sync::Mutex::new(Vec::new());
    let long = async {
        let r = b
            .execute(
                &long_obj,
                vec![Statement::new(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                     WHERE i < 3000000) SELECT count(*), sum(i) FROM n",
                )],
            )
            .await
            .unwrap();
        finished.lock().unwrap().push("long");
        r
    };
    let short = async {
        let n = count(&b, &short_obj).await;
        finished.lock().unwrap().push("short");
        n
    };
    // The long read is polled first: were it to run to the end inline, it would finish first.
    let (long_rows, short_count) = tokio::join!(long, short);
    assert_eq!(short_count, 0);
    assert_eq!(long_rows[0].rows[0][0].as_i64(), Some(3_000_000));
    assert_eq!(long_rows[0].rows[0][1].as_i64(), Some(4_500_001_500_000));
    assert_eq!(*finished.lock().unwrap(), ["short", "long"]);
    // The connection it left is clean: later direct reads and writes work.
    setup(&b, &long_obj).await;
    insert(&b, &long_obj, "x").await;
    assert_eq!(count(&b, &long_obj).await, 1);
    b.shutdown().await;
}

/// A batch run inline (`execute_inline`) commits on the caller's thread when the object is
/// open, idle and durable; a failing one changes nothing; one the backend cannot run there
/// (object not open, relaxed durability, statements past the direct budget) is refused with
/// nothing done, and `execute` then runs it as usual.
#[tokio::test(flavor = "current_thread")]
async fn inline_writes_commit_on_the_callers_thread_or_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let o = obj("inline");
    let insert_u = |u: &str| vec![Statement::new("INSERT INTO t (u) VALUES (?1)").bind(u)];
    // Not open yet: the actor must create it.
    assert!(b.execute_inline(&o, &insert_u("a")).is_none());
    setup(&b, &o).await;
    let r = b.execute_inline(&o, &insert_u("a")).expect("run inline");
    assert_eq!(r.unwrap()[0].rows_changed, 1);
    let r = b.execute_inline(&o, &insert_u("b")).expect("run inline");
    assert_eq!(r.unwrap()[0].rows_changed, 1);
    assert_eq!(count(&b, &o).await, 2);
    // A batch whose second statement fails leaves nothing of its first.
    let failing = vec![
        Statement::new("INSERT INTO t (u) VALUES ('c')"),
        Statement::new("INSERT INTO t (u) VALUES ('a')"),
    ];
    let r = b.execute_inline(&o, &failing).expect("run inline");
    assert!(r.as_ref().is_err_and(|e| e.constraint().is_some()), "{r:?}");
    assert_eq!(count(&b, &o).await, 2);
    // Past the direct budget: rolled back and refused; `execute` then runs it in full.
    let long = vec![Statement::new(
        "INSERT INTO t (v) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
         WHERE i < 300000) SELECT i FROM n",
    )];
    assert!(b.execute_inline(&o, &long).is_none());
    assert_eq!(count(&b, &o).await, 2);
    b.execute(&o, long).await.unwrap();
    assert_eq!(count(&b, &o).await, 300_002);
    // Later inline writes still work on the connection it left.
    assert!(
        b.execute_inline(&o, &insert_u("d"))
            .expect("run inline")
            .is_ok()
    );
    b.shutdown().await;
    // Everything is there after a reopen.
    let b = backend(&dir);
    assert_eq!(count(&b, &o).await, 300_003);
    b.shutdown().await;

    // Relaxed durability leaves every write to the actor (its syncs are timed).
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedConfig::with_data_dir(dir.path());
    cfg.durability = super::config::Durability::Relaxed;
    let b = EmbeddedBackend::open(cfg).unwrap();
    setup(&b, &o).await;
    assert!(b.execute_inline(&o, &insert_u("a")).is_none());
    b.shutdown().await;
}
