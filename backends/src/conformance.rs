//! The contract's behaviour as scenarios any backend must pass (test support, feature
//! `conformance`): the same cases as the embedded backend's tests, run against remote nodes.
//!
//! Each scenario uses its own objects under `ns`, so scenarios may run against one node
//! set in any order. They panic on failure, like the tests that call them.

#![allow(clippy::unwrap_used)]

use crate::{Backend, ConstraintKind, Error, ObjectId, Statement, Value};

async fn setup(b: &dyn Backend, o: &ObjectId) {
    b.execute(
        o,
        vec![Statement::new(
            "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v ANY, u TEXT UNIQUE)",
        )],
    )
    .await
    .unwrap();
}

async fn count(b: &dyn Backend, o: &ObjectId) -> i64 {
    let r = b
        .execute(o, vec![Statement::new("SELECT count(*) FROM t")])
        .await
        .unwrap();
    r[0].rows[0][0].as_i64().unwrap()
}

/// Run every scenario that holds on all backends. (A remote backend also runs
/// [`a_concurrent_write_makes_commit_fail`]: only replayed transactions let another writer
/// in while they are open.)
pub async fn all(b: &dyn Backend, ns: &str) {
    values_round_trip_exactly(b, ns).await;
    a_failing_statement_rolls_back_its_whole_batch(b, ns).await;
    forbidden_statements_are_refused(b, ns).await;
    dry_run_answers_and_discards(b, ns).await;
    provisional_dry_runs_answer_discard_and_sync(b, ns).await;
    transactions_commit_roll_back_and_savepoints(b, ns).await;
    execute_checked_commits_only_unchanged_answers(b, ns).await;
    concurrent_writers_all_land(b, ns, 32, 10).await;
    objects_are_listed_and_deleted(b, ns).await;
}

pub async fn values_round_trip_exactly(b: &dyn Backend, ns: &str) {
    let o = ObjectId::new(ns, "values");
    setup(b, &o).await;
    let values = [
        Value::Integer(i64::MAX),
        Value::Integer(i64::MIN),
        Value::Integer(-(1 << 53) - 1),
        Value::Integer(0),
        Value::Real(1.5e300),
        Value::Real(2.5),
        Value::Real(-0.25),
        Value::Text("héllo\0x".into()),
        Value::Blob(vec![0, 255, 1].into()),
        Value::Blob(bytes::Bytes::new()),
        Value::Null,
    ];
    let inserts = values
        .iter()
        .map(|v| Statement::new("INSERT INTO t (v) VALUES (?1)").bind(v.clone()))
        .collect();
    let r = b.execute(&o, inserts).await.unwrap();
    assert_eq!(r.len(), values.len());
    assert!(r.iter().all(|s| s.rows_changed == 1));
    assert_eq!(r[values.len() - 1].last_insert_id, values.len() as i64);
    let r = b
        .execute(
            &o,
            vec![Statement::new("SELECT id, v, typeof(v) FROM t ORDER BY id")],
        )
        .await
        .unwrap();
    assert_eq!(r[0].columns, vec!["id", "v", "typeof(v)"]);
    let got: Vec<Value> = r[0].rows.iter().map(|row| row[1].clone()).collect();
    assert_eq!(got, values);
    let types: Vec<&str> = r[0].rows.iter().filter_map(|row| row[2].as_str()).collect();
    assert_eq!(types[..3], ["integer"; 3]);
    assert_eq!(types[4..7], ["real"; 3]);
    // Arithmetic on the node stays exact too.
    let r = b
        .execute(
            &o,
            vec![
                Statement::new("SELECT ?1 - 1, ?2 + 1")
                    .bind(i64::MAX)
                    .bind(i64::MIN),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        r[0].rows[0],
        vec![Value::Integer(i64::MAX - 1), Value::Integer(i64::MIN + 1)]
    );
    // Parameters keep their own type, whatever the value.
    let params = [
        Value::Integer(5),
        Value::Real(5.0),
        Value::Real(1e300),
        Value::Real(-0.0),
        Value::Integer(1 << 53),
        Value::Text("5".into()),
        Value::Blob(bytes::Bytes::from_static(b"5")),
    ];
    for p in params {
        let r = b
            .execute(
                &o,
                vec![Statement::new("SELECT ?1, typeof(?1)").bind(p.clone())],
            )
            .await
            .unwrap();
        let expected_type = match p {
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
            Value::Null => "null",
        };
        assert_eq!(r[0].rows[0], vec![p, Value::Text(expected_type.into())]);
    }
}

pub async fn a_failing_statement_rolls_back_its_whole_batch(b: &dyn Backend, ns: &str) {
    let o = ObjectId::new(ns, "atomic");
    setup(b, &o).await;
    b.execute(&o, vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
        .await
        .unwrap();
    let err = b
        .execute(
            &o,
            vec![
                Statement::new("INSERT INTO t (u) VALUES ('b')"),
                Statement::new("INSERT INTO t (u) VALUES ('a')"),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(err.constraint(), Some(ConstraintKind::Unique), "{err:?}");
    assert!(matches!(err, Error::Sqlite { index: 1, .. }), "{err:?}");
    assert_eq!(count(b, &o).await, 1);
    let (r1, r2) = tokio::join!(
        b.execute(&o, vec![Statement::new("INSERT INTO t (u) VALUES ('a')")]),
        b.execute(&o, vec![Statement::new("INSERT INTO t (u) VALUES ('c')")]),
    );
    assert!(r1.is_err() && r2.is_ok());
    assert_eq!(count(b, &o).await, 2);
    let err = b
        .execute(&o, vec![Statement::new("SELECT nope FROM t")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such column"), "{err}");
}

pub async fn forbidden_statements_are_refused(b: &dyn Backend, ns: &str) {
    let o = ObjectId::new(ns, "forbidden");
    setup(b, &o).await;
    let err = b
        .execute(
            &o,
            vec![
                Statement::new("INSERT INTO t (u) VALUES ('x')"),
                Statement::new("BEGIN"),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { index: 1, .. }), "{err:?}");
    assert_eq!(count(b, &o).await, 0);
    let err = b
        .execute(&o, vec![Statement::new("SELECT 1; SELECT 2")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

pub async fn dry_run_answers_and_discards(b: &dyn Backend, ns: &str) {
    let o = ObjectId::new(ns, "dry");
    setup(b, &o).await;
    let r = b
        .dry_run(
            &o,
            vec![
                Statement::new("INSERT INTO t (u) VALUES ('x')"),
                Statement::new("SELECT count(*) FROM t"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r[1].rows[0][0], Value::Integer(1));
    assert_eq!(count(b, &o).await, 0);
}

/// A provisional dry run answers as a dry run does (its reply may only leave earlier), and
/// `sync` then returns once what it saw is durable.
pub async fn provisional_dry_runs_answer_discard_and_sync(b: &dyn Backend, ns: &str) {
    let o = ObjectId::new(ns, "provisional");
    setup(b, &o).await;
    b.execute(&o, vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
        .await
        .unwrap();
    let r = b
        .dry_run_provisional(
            &o,
            vec![
                Statement::new("UPDATE t SET v = 5 WHERE u = 'a'"),
                Statement::new("SELECT v FROM t WHERE u = 'a'"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r[0].rows_changed, 1);
    assert_eq!(r[1].rows[0][0], Value::Integer(5));
    let err = b
        .dry_run_provisional(&o, vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Sqlite {
                kind: crate::SqliteErrorKind::Constraint(ConstraintKind::Unique),
                ..
            }
        ),
        "{err:?}"
    );
    b.sync(&o).await.unwrap();
    let r = b
        .execute(&o, vec![Statement::new("SELECT v FROM t WHERE u = 'a'")])
        .await
        .unwrap();
    assert_eq!(r[0].rows[0][0], Value::Null);
    assert_eq!(count(b, &o).await, 1);
}

pub async fn transactions_commit_roll_back_and_savepoints(b: &dyn Backend, ns: &str) {
    let o = ObjectId::new(ns, "tx");
    setup(b, &o).await;
    let mut tx = b.begin(&o).await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
        .await
        .unwrap();
    let r = tx
        .execute(vec![Statement::new("SELECT count(*) FROM t")])
        .await
        .unwrap();
    assert_eq!(r[0].rows[0][0], Value::Integer(1));
    let err = tx
        .execute(vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
        .await
        .unwrap_err();
    assert_eq!(err.constraint(), Some(ConstraintKind::Unique), "{err:?}");
    tx.savepoint("s1").await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('b')")])
        .await
        .unwrap();
    tx.rollback_to_savepoint("s1").await.unwrap();
    tx.release_savepoint("s1").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(b, &o).await, 1);

    let mut tx = b.begin(&o).await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('c')")])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(b, &o).await, 1);
}

/// The commit of a replayed transaction: applied when every statement answers as the
/// client saw it, refused with a serialization failure (and nothing applied) when one
/// answers differently or now fails.
pub async fn execute_checked_commits_only_unchanged_answers(b: &dyn Backend, ns: &str) {
    let o = ObjectId::new(ns, "checked");
    setup(b, &o).await;
    let batch = |u: &str| {
        vec![
            Statement::new("SELECT count(*) FROM t"),
            Statement::with_params("INSERT INTO t (u) VALUES (?1)", vec![Value::from(u)]),
        ]
    };
    let seen = b.dry_run(&o, batch("a")).await.unwrap();
    assert_eq!(seen[0].rows[0][0], Value::Integer(0));
    b.execute_checked(&o, batch("a"), seen.clone())
        .await
        .unwrap();
    assert_eq!(count(b, &o).await, 1);

    // The count the client saw (0) is no longer what the batch answers.
    let err = b.execute_checked(&o, batch("b"), seen).await.unwrap_err();
    assert!(matches!(err, Error::SerializationFailure(_)), "{err:?}");
    assert_eq!(count(b, &o).await, 1);

    // A statement that answered before and now fails: a serialization failure too.
    let insert = vec![Statement::new("INSERT INTO t (u) VALUES ('c')")];
    let seen = b.dry_run(&o, insert.clone()).await.unwrap();
    b.execute(&o, vec![Statement::new("INSERT INTO t (u) VALUES ('c')")])
        .await
        .unwrap();
    let err = b.execute_checked(&o, insert, seen).await.unwrap_err();
    assert!(matches!(err, Error::SerializationFailure(_)), "{err:?}");
    assert_eq!(count(b, &o).await, 2);

    // Statements past the checked ones answer freely; their own errors stay theirs.
    let err = b
        .execute_checked(
            &o,
            vec![Statement::new("INSERT INTO t (u) VALUES ('a')")],
            vec![],
        )
        .await
        .unwrap_err();
    assert_eq!(err.constraint(), Some(ConstraintKind::Unique), "{err:?}");
}

/// Replay with validation on any backend: each statement answered by a dry run, the
/// commit checked, a racing write turning the commit into a serialization failure.
pub async fn replayed_transactions_validate(b: crate::SharedBackend, ns: &str) {
    use crate::Transaction;
    let o = ObjectId::new(ns, "replayed");
    setup(b.as_ref(), &o).await;
    let mut tx = crate::replay::ReplayTransaction::new(b.clone(), o.clone());
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('a')")])
        .await
        .unwrap();
    tx.savepoint("s").await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('b')")])
        .await
        .unwrap();
    tx.rollback_to_savepoint("s").await.unwrap();
    let r = tx
        .execute(vec![Statement::new("SELECT count(*) FROM t")])
        .await
        .unwrap();
    assert_eq!(r[0].rows[0][0], Value::Integer(1));
    Box::new(tx).commit().await.unwrap();
    assert_eq!(count(b.as_ref(), &o).await, 1);

    let mut tx = crate::replay::ReplayTransaction::new(b.clone(), o.clone());
    tx.execute(vec![Statement::new("SELECT count(*) FROM t")])
        .await
        .unwrap();
    b.execute(&o, vec![Statement::new("INSERT INTO t (u) VALUES ('x')")])
        .await
        .unwrap();
    let err = Box::new(tx).commit().await.unwrap_err();
    assert!(matches!(err, Error::SerializationFailure(_)), "{err:?}");

    // Switching to a locking transaction replays the prefix and keeps its savepoints.
    let mut tx = crate::replay::ReplayTransaction::new(b.clone(), o.clone());
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('y')")])
        .await
        .unwrap();
    tx.savepoint("s").await.unwrap();
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('z')")])
        .await
        .unwrap();
    let mut locked = tx.into_locking().await.unwrap();
    locked.rollback_to_savepoint("s").await.unwrap();
    locked.commit().await.unwrap();
    assert_eq!(count(b.as_ref(), &o).await, 3);
}

/// Replay with validation: a write that lands between a transaction's read and its commit
/// makes the commit fail with a serialization failure, and nothing of it is applied.
pub async fn a_concurrent_write_makes_commit_fail(b: &dyn Backend, ns: &str) {
    let o = ObjectId::new(ns, "tx-race");
    setup(b, &o).await;
    let mut tx = b.begin(&o).await.unwrap();
    let r = tx
        .execute(vec![Statement::new("SELECT count(*) FROM t")])
        .await
        .unwrap();
    assert_eq!(r[0].rows[0][0], Value::Integer(0));
    tx.execute(vec![Statement::new("INSERT INTO t (u) VALUES ('from-tx')")])
        .await
        .unwrap();
    // Nothing of the open transaction is visible outside it.
    assert_eq!(count(b, &o).await, 0);
    b.execute(
        &o,
        vec![Statement::new("INSERT INTO t (u) VALUES ('other')")],
    )
    .await
    .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::SerializationFailure(_)), "{err:?}");
    assert_eq!(count(b, &o).await, 1);
}

pub async fn concurrent_writers_all_land(b: &dyn Backend, ns: &str, writers: i64, each: i64) {
    let o = ObjectId::new(ns, "concurrent");
    setup(b, &o).await;
    let tasks = (0..writers).map(|w| {
        let o = o.clone();
        async move {
            for i in 0..each {
                b.execute(
                    &o,
                    vec![Statement::new("INSERT INTO t (v) VALUES (?1)").bind(w * 1000 + i)],
                )
                .await
                .unwrap();
            }
        }
    });
    futures::future::join_all(tasks).await;
    assert_eq!(count(b, &o).await, writers * each);
}

pub async fn objects_are_listed_and_deleted(b: &dyn Backend, ns: &str) {
    let list_ns = format!("{ns}/list");
    for name in ["b", "a", "c/d"] {
        setup(b, &ObjectId::new(&list_ns, name)).await;
    }
    assert_eq!(b.list_objects(&list_ns).await.unwrap(), ["a", "b", "c/d"]);
    let o = ObjectId::new(&list_ns, "a");
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
