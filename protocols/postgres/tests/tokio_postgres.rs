//! The real tokio-postgres client against the server over TCP, on an embedded backend.

use std::sync::Arc;

use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_postgres::{Config, Server};
use tokio::net::TcpListener;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use tokio_util::sync::CancellationToken;

struct Harness {
    _dir: tempfile::TempDir,
    port: u16,
}

async fn start() -> Harness {
    start_with(Config::default()).await
}

async fn start_with(config: Config) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend =
        EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).expect("backend");
    let server = Server::new(config, backend).expect("server");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let server: Arc<Server> = server.clone();
            tokio::spawn(server.serve_connection(stream, peer, None, CancellationToken::new()));
        }
    });
    Harness { _dir: dir, port }
}

async fn connect(h: &Harness, db: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={} user=postgres dbname={db}", h.port),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    client
}

fn code(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn typed_tables_round_trip_in_text_and_binary() {
    let h = start().await;
    let c = connect(&h, "app").await;
    c.batch_execute(
        "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int4, big int8, \
         price numeric(10,2), ok boolean, score float8, data bytea, born date, note varchar(20) UNIQUE)",
    )
    .await
    .expect("create");
    let n = c
        .execute(
            "INSERT INTO items (name, qty, big, ok, score, data, note) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&"apple", &3i32, &(1i64 << 40), &true, &1.5f64, &vec![1u8, 2, 255], &"n1"],
        )
        .await
        .expect("insert");
    assert_eq!(n, 1);
    // Binary results through the extended protocol, typed by the catalog.
    let row = c
        .query_one(
            "SELECT id, name, qty, big, ok, score, data FROM items WHERE name = $1",
            &[&"apple"],
        )
        .await
        .expect("select");
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, String>(1), "apple");
    assert_eq!(row.get::<_, i32>(2), 3);
    assert_eq!(row.get::<_, i64>(3), 1 << 40);
    assert!(row.get::<_, bool>(4));
    assert_eq!(row.get::<_, f64>(5), 1.5);
    assert_eq!(row.get::<_, Vec<u8>>(6), vec![1u8, 2, 255]);
    // Text formats through the simple protocol.
    c.batch_execute(
        "INSERT INTO items (name, qty, price, ok, born) VALUES ('pear', 2, 4.5, 'f', '2024-02-29')",
    )
    .await
    .expect("insert text");
    let msgs = c
        .simple_query("SELECT ok, price, data, born FROM items ORDER BY id")
        .await
        .expect("simple");
    let rows: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get(0), Some("t"));
    assert_eq!(rows[0].get(2), Some("\\x0102ff"));
    assert_eq!(rows[1].get(0), Some("f"));
    assert_eq!(rows[1].get(1), Some("4.50"));
    assert_eq!(rows[1].get(3), Some("2024-02-29"));
    // RETURNING and ON CONFLICT.
    let row = c
        .query_one("INSERT INTO items (name, note) VALUES ('kiwi', 'n1') ON CONFLICT (note) DO UPDATE SET qty = 9 RETURNING id, qty", &[])
        .await
        .expect("upsert");
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, i32>(1), 9);
    let count: i64 = c
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 2);
}

#[tokio::test]
async fn errors_carry_sqlstate_and_the_connection_survives() {
    let h = start().await;
    let c = connect(&h, "errs").await;
    c.batch_execute("CREATE TABLE p (id int PRIMARY KEY, v text NOT NULL); CREATE TABLE ch (id int, pid int REFERENCES p(id))")
        .await
        .expect("create");
    c.batch_execute("INSERT INTO p VALUES (1, 'a')")
        .await
        .expect("insert");
    let dup = c
        .batch_execute("INSERT INTO p VALUES (1, 'b')")
        .await
        .expect_err("duplicate");
    assert_eq!(code(&dup), "23505");
    let nn = c
        .batch_execute("INSERT INTO p (id) VALUES (2)")
        .await
        .expect_err("not null");
    assert_eq!(code(&nn), "23502");
    let fk = c
        .batch_execute("INSERT INTO ch VALUES (1, 42)")
        .await
        .expect_err("fk");
    assert_eq!(code(&fk), "23503");
    let nt = c
        .batch_execute("SELECT * FROM nope")
        .await
        .expect_err("no table");
    assert_eq!(code(&nt), "42P01");
    let nc = c
        .batch_execute("SELECT nope FROM p")
        .await
        .expect_err("no column");
    assert_eq!(code(&nc), "42703");
    let syn = c.batch_execute("SELEC 1").await.expect_err("syntax");
    assert_eq!(code(&syn), "42601");
    let bad = c
        .batch_execute("INSERT INTO p VALUES ('x', 'b')")
        .await
        .expect_err("bad int");
    assert_eq!(code(&bad), "22P02");
    let v: String = c
        .query_one("SELECT v FROM p WHERE id = 1", &[])
        .await
        .expect("alive")
        .get(0);
    assert_eq!(v, "a");
}

#[tokio::test]
async fn transactions_savepoints_and_the_failed_state() {
    let h = start().await;
    let mut c = connect(&h, "tx").await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .expect("create");
    {
        let tx = c.transaction().await.expect("begin");
        tx.execute("INSERT INTO t VALUES (1)", &[])
            .await
            .expect("insert");
        tx.rollback().await.expect("rollback");
    }
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0);
    c.batch_execute("BEGIN; INSERT INTO t VALUES (1); SAVEPOINT s; INSERT INTO t VALUES (2); ROLLBACK TO SAVEPOINT s; COMMIT")
        .await
        .expect("savepoint");
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
    c.batch_execute("BEGIN").await.expect("begin");
    let e = c
        .batch_execute("INSERT INTO t VALUES (1)")
        .await
        .expect_err("dup");
    assert_eq!(code(&e), "23505");
    let e = c.batch_execute("SELECT 1").await.expect_err("aborted");
    assert_eq!(code(&e), "25P02");
    let msgs = c.simple_query("COMMIT").await.expect("commit");
    assert!(
        msgs.iter()
            .any(|m| matches!(m, SimpleQueryMessage::CommandComplete(_)))
    );
    let one: i32 = c.query_one("SELECT 1", &[]).await.expect("after").get(0);
    assert_eq!(one, 1);
}

#[tokio::test]
async fn copy_in_and_out_text_and_csv() {
    use futures::{SinkExt, StreamExt};
    let h = start().await;
    let c = connect(&h, "copy").await;
    c.batch_execute("CREATE TABLE c (id int, name text, ok boolean)")
        .await
        .expect("create");
    let sink = c.copy_in("COPY c FROM STDIN").await.expect("copy in");
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(b"1\ta\tt\n2\t\\N\tf\n"))
        .await
        .expect("send");
    let n = sink.finish().await.expect("finish");
    assert_eq!(n, 2);
    let sink = c
        .copy_in("COPY c (id, name) FROM STDIN WITH (FORMAT csv)")
        .await
        .expect("copy csv");
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(b"3,\"x,y\"\n"))
        .await
        .expect("send");
    assert_eq!(sink.finish().await.expect("finish"), 1);
    let out = c
        .copy_out("COPY (SELECT id, name, ok FROM c ORDER BY id) TO STDOUT WITH (FORMAT csv)")
        .await
        .expect("copy out");
    futures::pin_mut!(out);
    let mut text = Vec::new();
    while let Some(chunk) = out.next().await {
        text.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(
        String::from_utf8(text).expect("utf8"),
        "1,a,t\n2,,f\n3,\"x,y\",\n"
    );
}

#[tokio::test]
async fn queries_joins_groups_windows_and_settings() {
    let h = start().await;
    let c = connect(&h, "q").await;
    c.batch_execute(
        "CREATE TABLE a (id int PRIMARY KEY, g text); CREATE TABLE b (aid int, v int);
         INSERT INTO a VALUES (1, 'x'), (2, 'y'), (3, 'x');
         INSERT INTO b VALUES (1, 10), (1, 20), (2, 5), (3, 1)",
    )
    .await
    .expect("setup");
    let rows = c
        .query(
            "WITH s AS (SELECT a.g, sum(b.v) AS total FROM a JOIN b ON b.aid = a.id GROUP BY a.g HAVING sum(b.v) > 0)
             SELECT g, total, rank() OVER (ORDER BY total DESC) AS r FROM s ORDER BY g",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(0), "x");
    assert_eq!(rows[0].get::<_, i64>(1), 31);
    assert_eq!(rows[0].get::<_, i64>(2), 1);
    let v: String = c
        .query_one("SELECT version()", &[])
        .await
        .expect("version")
        .get(0);
    assert!(v.starts_with("PostgreSQL 15"));
    let db: String = c
        .query_one("SELECT current_database()", &[])
        .await
        .expect("db")
        .get(0);
    assert_eq!(db, "q");
    c.batch_execute("SET application_name = 'x'")
        .await
        .expect("set");
    let msgs = c.simple_query("SHOW application_name").await.expect("show");
    assert!(
        msgs.iter()
            .any(|m| matches!(m, SimpleQueryMessage::Row(r) if r.get(0) == Some("x")))
    );
    let n: i32 = c
        .query_one("SELECT $1::int + 1", &[&41i32])
        .await
        .expect("cast")
        .get(0);
    assert_eq!(n, 42);
}

#[tokio::test]
async fn scram_sha_256_users_from_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend =
        EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).expect("backend");
    let config = Config {
        users: vec![dotdo_postgres::User {
            name: "alice".into(),
            password: "s3cret".into(),
        }],
        trust_loopback: false,
        ..Config::default()
    };
    let server = Server::new(config, backend).expect("server");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            tokio::spawn(server.clone().serve_connection(
                stream,
                peer,
                None,
                CancellationToken::new(),
            ));
        }
    });
    let url = |pw: &str| format!("host=127.0.0.1 port={port} user=alice password={pw} dbname=app");
    let (client, conn) = tokio_postgres::connect(&url("s3cret"), NoTls)
        .await
        .expect("good password");
    tokio::spawn(conn);
    let one: i32 = client
        .query_one("SELECT 1", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(one, 1);
    let err = tokio_postgres::connect(&url("wrong"), NoTls)
        .await
        .err()
        .expect("bad password refused");
    assert_eq!(code(&err), "28P01");
}

#[tokio::test]
async fn prepared_queries_on_views_describe_their_columns() {
    let h = start().await;
    let c = connect(&h, "views").await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a'), (2, 'b');
         CREATE VIEW v AS SELECT id, name FROM t WHERE id > 1",
    )
    .await
    .expect("setup");
    let rows = c.query("SELECT * FROM v", &[]).await.expect("view");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>("name"), "b");
    let names: Vec<String> = c
        .query("SELECT tablename FROM pg_tables ORDER BY tablename", &[])
        .await
        .expect("pg_tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["t".to_owned()]);
}

#[tokio::test]
async fn a_multi_statement_query_is_one_implicit_transaction() {
    let h = start().await;
    let c = connect(&h, "implicit").await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .expect("create");
    let e = c
        .batch_execute(
            "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (1)",
        )
        .await
        .expect_err("duplicate");
    assert_eq!(code(&e), "23505");
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0, "the whole message rolled back");
    c.batch_execute("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
        .await
        .expect("both");
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 2);
}

#[tokio::test]
async fn a_dropped_connection_releases_its_transaction() {
    let h = start().await;
    let c1 = connect(&h, "drop").await;
    c1.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .expect("create");
    c1.batch_execute("BEGIN; INSERT INTO t VALUES (1)")
        .await
        .expect("open transaction");
    drop(c1);
    // The writer is free again: another connection writes, and the open insert never landed.
    let c2 = connect(&h, "drop").await;
    c2.batch_execute("INSERT INTO t VALUES (2)")
        .await
        .expect("insert after drop");
    let n: i64 = c2
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
}

/// Optimistic blocks: two open at once on one database both commit (neither waits for the
/// other), and a block whose reads another commit changed fails at COMMIT with 40001,
/// leaving nothing behind.
#[tokio::test]
async fn concurrent_blocks_commit_side_by_side_and_conflicts_get_40001() {
    let h = start().await;
    let a = connect(&h, "app").await;
    let b = connect(&h, "app").await;
    a.batch_execute("CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL)")
        .await
        .expect("create");
    a.batch_execute("INSERT INTO acct VALUES (1, 100), (2, 100)")
        .await
        .expect("seed");

    a.batch_execute("BEGIN").await.expect("begin a");
    b.batch_execute("BEGIN").await.expect("begin b");
    a.execute("UPDATE acct SET bal = bal + $1 WHERE id = 1", &[&5i32])
        .await
        .expect("a writes");
    b.execute("UPDATE acct SET bal = bal + $1 WHERE id = 1", &[&7i32])
        .await
        .expect("b writes");
    b.batch_execute("COMMIT").await.expect("commit b");
    // a read nothing that b changed (its UPDATE still changes one row): it commits too.
    a.batch_execute("COMMIT").await.expect("commit a");
    let bal: i32 = a
        .query_one("SELECT bal FROM acct WHERE id = 1", &[])
        .await
        .expect("read")
        .get(0);
    assert_eq!(bal, 112);

    a.batch_execute("BEGIN").await.expect("begin a");
    let seen: i32 = a
        .query_one("SELECT bal FROM acct WHERE id = 2", &[])
        .await
        .expect("a reads")
        .get(0);
    a.execute("UPDATE acct SET bal = $1 WHERE id = 2", &[&(seen - 30)])
        .await
        .expect("a writes");
    b.execute("UPDATE acct SET bal = bal - 50 WHERE id = 2", &[])
        .await
        .expect("b commits meanwhile");
    let err = a
        .batch_execute("COMMIT")
        .await
        .expect_err("a lost the race");
    assert_eq!(code(&err), "40001");
    let bal: i32 = a
        .query_one("SELECT bal FROM acct WHERE id = 2", &[])
        .await
        .expect("connection lives, outside a block")
        .get(0);
    assert_eq!(bal, 50);
}

/// now() is the block's start time in every statement of it; a block that draws random
/// values or runs DDL still commits (it switches to a locking transaction).
#[tokio::test]
async fn blocks_with_clock_random_and_ddl_commit() {
    let h = start().await;
    let c = connect(&h, "app").await;
    c.batch_execute("CREATE TABLE ev (id serial PRIMARY KEY, at timestamptz, r float8)")
        .await
        .expect("create");
    c.batch_execute("BEGIN").await.expect("begin");
    let first: String = c
        .query_one("SELECT now()::text", &[])
        .await
        .expect("now")
        .get(0);
    c.batch_execute(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000) \
         INSERT INTO ev (at) SELECT now() FROM s",
    )
    .await
    .expect("insert");
    let second: String = c
        .query_one("SELECT now()::text", &[])
        .await
        .expect("now again")
        .get(0);
    assert_eq!(first, second);
    c.batch_execute("UPDATE ev SET r = random()")
        .await
        .expect("random");
    let r: f64 = c
        .query_one("SELECT r FROM ev WHERE id = 1", &[])
        .await
        .expect("read r")
        .get(0);
    c.batch_execute("CREATE TABLE side (x int)")
        .await
        .expect("ddl");
    c.batch_execute("COMMIT").await.expect("commit");
    let row = c
        .query_one(
            "SELECT count(*), count(DISTINCT at), min(at)::text FROM ev",
            &[],
        )
        .await
        .expect("count");
    assert_eq!(row.get::<_, i64>(0), 2000);
    assert_eq!(row.get::<_, i64>(1), 1);
    assert_eq!(row.get::<_, String>(2), first);
    let again: f64 = c
        .query_one("SELECT r FROM ev WHERE id = 1", &[])
        .await
        .expect("r kept")
        .get(0);
    assert_eq!(again, r);
    c.batch_execute("INSERT INTO side VALUES (1)")
        .await
        .expect("table committed");
}

/// `transactions = "locking"`: blocks hold the writer; savepoints, rollback and DDL work.
#[tokio::test]
async fn locking_blocks_commit_and_roll_back() {
    let h = start_with(Config {
        transactions: dotdo_postgres::TransactionMode::Locking,
        ..Config::default()
    })
    .await;
    let c = connect(&h, "app").await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .expect("create");
    c.batch_execute(
        "BEGIN; INSERT INTO t VALUES (1); SAVEPOINT s; INSERT INTO t VALUES (2); \
         ROLLBACK TO SAVEPOINT s; CREATE TABLE u (x int); COMMIT",
    )
    .await
    .expect("block");
    c.batch_execute("BEGIN; INSERT INTO t VALUES (3); ROLLBACK")
        .await
        .expect("rolled back");
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
    c.batch_execute("INSERT INTO u VALUES (1)")
        .await
        .expect("u committed");
}

/// Every catalog view must stay valid SQL for SQLite: one that is not breaks each later
/// ALTER TABLE RENAME (SQLite re-checks all views then), whatever table it touches.
#[tokio::test]
async fn catalog_views_read_and_renames_still_work() {
    let h = start().await;
    let c = connect(&h, "app").await;
    c.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY, name text UNIQUE);
         CREATE TABLE k (id serial PRIMARY KEY, p_id int CONSTRAINT k_p REFERENCES p(id), n int CHECK (n > 0));
         CREATE INDEX k_n ON k (n);
         CREATE VIEW kv AS SELECT id, n FROM k;
         CREATE SEQUENCE s;",
    )
    .await
    .expect("schema");
    for view in [
        "pg_class",
        "pg_index",
        "pg_constraint",
        "pg_attribute",
        "pg_roles",
        "pg_sequence",
        "pg_sequences",
        "pg_namespace",
        "information_schema.sequences",
        "information_schema.columns",
    ] {
        let rows = c
            .simple_query(&format!("SELECT * FROM {view}"))
            .await
            .unwrap_or_else(|e| panic!("{view}: {e:?}"));
        assert!(
            rows.iter().any(|m| matches!(m, SimpleQueryMessage::Row(_))),
            "{view} has rows"
        );
    }
    let defs = c
        .simple_query("SELECT pg_get_constraintdef(oid, true) FROM pg_constraint ORDER BY 1")
        .await
        .expect("constraint definitions");
    let defs: Vec<String> = defs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(
        defs,
        [
            "CHECK (n > 0)",
            "FOREIGN KEY (p_id) REFERENCES p(id)",
            "PRIMARY KEY (id)",
            "PRIMARY KEY (id)",
            "UNIQUE (name)"
        ]
    );
    c.batch_execute("ALTER TABLE p RENAME COLUMN name TO title; ALTER TABLE k RENAME TO k2")
        .await
        .expect("renames");
}

#[tokio::test]
async fn arrays_as_rust_vectors_in_binary_and_text() {
    use tokio_postgres::types::Type;
    let h = start().await;
    let c = connect(&h, "app").await;
    c.batch_execute(
        "CREATE TABLE arr (id int PRIMARY KEY, nums int4[] NOT NULL DEFAULT '{}', names text[], big int8[])",
    )
    .await
    .expect("create");
    let names = vec![
        "a".to_owned(),
        "b c".to_owned(),
        String::new(),
        "\"q\"".to_owned(),
    ];
    let big = vec![Some(1i64), None, Some(1i64 << 40)];
    c.execute(
        "INSERT INTO arr (id, nums, names, big) VALUES ($1, $2, $3, $4)",
        &[&1i32, &vec![1i32, 2, 3], &names, &big],
    )
    .await
    .expect("insert");
    c.execute("INSERT INTO arr (id) VALUES ($1)", &[&2i32])
        .await
        .expect("insert defaults");

    // The statement describes array parameters and columns with their array types.
    let st = c
        .prepare("SELECT nums, names, big FROM arr WHERE id = ANY($1) ORDER BY id")
        .await
        .expect("prepare");
    assert_eq!(st.params(), &[Type::INT4_ARRAY]);
    let types: Vec<&Type> = st.columns().iter().map(|c| c.type_()).collect();
    assert_eq!(
        types,
        [&Type::INT4_ARRAY, &Type::TEXT_ARRAY, &Type::INT8_ARRAY]
    );

    // Binary results and parameters.
    let rows = c.query(&st, &[&vec![1i32, 2]]).await.expect("select");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, Vec<i32>>(0), vec![1, 2, 3]);
    assert_eq!(rows[0].get::<_, Vec<String>>(1), names);
    assert_eq!(rows[0].get::<_, Vec<Option<i64>>>(2), big);
    assert_eq!(rows[1].get::<_, Vec<i32>>(0), Vec::<i32>::new());
    assert_eq!(rows[1].get::<_, Option<Vec<String>>>(1), None);

    // Parameters that arrays meet: ANY, @>, ||, subscripts, functions.
    let n: i64 = c
        .query_one("SELECT count(*) FROM arr WHERE nums @> $1", &[&vec![2i32]])
        .await
        .expect("contains")
        .get(0);
    assert_eq!(n, 1);
    let row = c
        .query_one(
            "UPDATE arr SET nums = nums || $1, names = array_append(names, $2) WHERE id = 1 RETURNING nums, names[$3]",
            &[&vec![4i32, 5], &"d", &5i32],
        )
        .await
        .expect("update");
    assert_eq!(row.get::<_, Vec<i32>>(0), vec![1, 2, 3, 4, 5]);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("d"));
    let agg: Vec<i32> = c
        .query_one("SELECT array_agg(id ORDER BY id DESC) FROM arr", &[])
        .await
        .expect("array_agg")
        .get(0);
    assert_eq!(agg, vec![2, 1]);
    let elems: Vec<i64> = c
        .query("SELECT x FROM unnest($1::int8[]) AS x", &[&vec![7i64, 8]])
        .await
        .expect("unnest")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(elems, vec![7, 8]);

    // Text format: the simple protocol prints arrays as PostgreSQL does.
    let msgs = c
        .simple_query("SELECT names, big FROM arr WHERE id = 1")
        .await
        .expect("simple");
    let row = msgs
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .expect("a row");
    assert_eq!(row.get(0), Some(r#"{a,"b c","","\"q\"",d}"#));
    assert_eq!(row.get(1), Some("{1,NULL,1099511627776}"));

    // Malformed literals are 22P02; multidimensional arrays 0A000; the connection lives.
    let e = c
        .simple_query("SELECT '{1,2'::int[]")
        .await
        .expect_err("malformed");
    assert_eq!(code(&e), "22P02");
    let e = c
        .simple_query("SELECT ARRAY[ARRAY[1,2],ARRAY[3,4]]")
        .await
        .expect_err("2-D");
    assert_eq!(code(&e), "0A000");
    let e = c
        .simple_query("INSERT INTO arr (id, nums) VALUES (3, '{1,x}')")
        .await
        .expect_err("not an integer");
    assert_eq!(code(&e), "22P02");
    let n: i64 = c
        .query_one("SELECT count(*) FROM arr", &[])
        .await
        .expect("still connected")
        .get(0);
    assert_eq!(n, 2);
}
