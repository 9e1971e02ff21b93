//! Citus distributed and reference tables, differentially: the same tables and data in a real
//! PostgreSQL 15 (plain tables) and in dotdo (distributed and reference tables), the same
//! queries, identical answers; and the rows really spread over shard objects.

use dotdo_e2e::Dotdo;
use dotdo_e2e::pg15::Postgres;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

async fn connect(host: &str, port: u16, db: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host={host} port={port} user=postgres dbname={db}"),
        NoTls,
    )
    .await
    .unwrap_or_else(|e| panic!("connect to {host}:{port}/{db}: {e}"));
    tokio::spawn(conn);
    client
}

/// A statement's answer as text: its rows (cells, NULL as `NULL`) and its command tag.
async fn answer(c: &Client, sql: &str) -> Result<(Vec<Vec<String>>, u64), String> {
    let msgs = c.simple_query(sql).await.map_err(|e| {
        let code = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
        format!("{code}: {e}")
    })?;
    let mut rows = Vec::new();
    let mut count = 0;
    for m in msgs {
        match m {
            SimpleQueryMessage::Row(r) => rows.push(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_owned())
                    .collect(),
            ),
            SimpleQueryMessage::CommandComplete(n) => count = n,
            _ => {}
        }
    }
    Ok((rows, count))
}

async fn both(pg: &Client, dotdo: &Client, sql: &str) {
    let expected = answer(pg, sql).await;
    let got = answer(dotdo, sql).await;
    assert_eq!(
        got, expected,
        "dotdo (left) and PostgreSQL 15 (right) differ on: {sql}"
    );
    assert!(expected.is_ok(), "PostgreSQL refused: {sql}: {expected:?}");
}

async fn sqlstate(c: &Client, sql: &str) -> String {
    match c.simple_query(sql).await {
        Ok(_) => panic!("expected an error from: {sql}"),
        Err(e) => e.code().map(|c| c.code().to_owned()).unwrap_or_default(),
    }
}

const SCHEMA: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, region text NOT NULL);
CREATE TABLE orders (customer_id int NOT NULL, id int NOT NULL, amount int NOT NULL,
                     status text NOT NULL, PRIMARY KEY (customer_id, id));
CREATE TABLE statuses (status text PRIMARY KEY, label text NOT NULL);
INSERT INTO statuses VALUES ('new', 'Placed'), ('paid', 'Paid'), ('sent', 'Posted');
";

/// Rows loaded before the tables are distributed (they must move to the shards) and after.
fn customers(range: std::ops::Range<i32>) -> String {
    let rows: Vec<String> = range
        .map(|i| {
            format!(
                "({i}, 'c{i:02}', '{}')",
                ["north", "south", "east"][i as usize % 3]
            )
        })
        .collect();
    format!("INSERT INTO customers VALUES {}", rows.join(", "))
}

fn orders(customers: std::ops::Range<i32>) -> String {
    let mut rows = Vec::new();
    for c in customers {
        for o in 1..=(c % 4 + 1) {
            let status = ["new", "paid", "sent"][((c + o) % 3) as usize];
            rows.push(format!(
                "({c}, {o}, {}, '{status}')",
                (c * 7 + o * 13) % 100
            ));
        }
    }
    format!("INSERT INTO orders VALUES {}", rows.join(", "))
}

const QUERIES: &[&str] = &[
    // Pinned to one shard.
    "SELECT * FROM orders WHERE customer_id = 3 ORDER BY id",
    "SELECT id, amount FROM orders WHERE customer_id = 7 AND amount > 10 ORDER BY id",
    "SELECT count(*) FROM orders WHERE 11 = customer_id",
    // Fan-out: plain rows, ORDER BY merged, LIMIT/OFFSET after the merge.
    "SELECT * FROM orders ORDER BY customer_id, id",
    "SELECT customer_id, id, amount FROM orders ORDER BY amount DESC, customer_id, id LIMIT 5 OFFSET 3",
    "SELECT id FROM orders ORDER BY amount, customer_id, id LIMIT 7",
    "SELECT name FROM customers ORDER BY 1 DESC LIMIT 4",
    "SELECT count(*) FROM (SELECT 1) AS one",
    // Aggregates without and with GROUP BY.
    "SELECT count(*), sum(amount), min(amount), max(amount), avg(amount)::numeric(10,2) FROM orders",
    "SELECT count(*), sum(amount), max(status) FROM orders WHERE amount < 0",
    "SELECT status, count(*), sum(amount) AS total FROM orders GROUP BY status HAVING count(*) > 2 ORDER BY total DESC, status",
    "SELECT customer_id % 3 AS g, count(*), min(amount) FROM orders GROUP BY 1 ORDER BY 1",
    "SELECT status, avg(amount)::numeric(10,2), count(amount) FROM orders GROUP BY status ORDER BY status",
    "SELECT customer_id, sum(amount) FROM orders GROUP BY customer_id ORDER BY 2 DESC, 1 LIMIT 3 OFFSET 1",
    "SELECT region, count(*) * 2 AS twice FROM customers GROUP BY region HAVING sum(id) > 10 ORDER BY region",
    "SELECT DISTINCT status FROM orders ORDER BY status",
    "SELECT DISTINCT customer_id % 5 AS m FROM orders ORDER BY m DESC LIMIT 3",
    "SELECT DISTINCT count(*) FROM orders GROUP BY customer_id ORDER BY 1",
    // Joins with a reference table, and co-located joins.
    "SELECT o.customer_id, o.id, s.label FROM orders o JOIN statuses s ON s.status = o.status ORDER BY o.customer_id, o.id",
    "SELECT s.label, count(*) FROM orders o JOIN statuses s ON s.status = o.status GROUP BY s.label ORDER BY s.label",
    "SELECT c.name, count(*), sum(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name",
    "SELECT c.name, o.id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = 7 ORDER BY o.id",
    "SELECT c.region, max(o.amount) FROM customers c, orders o WHERE c.id = o.customer_id AND o.status = 'paid' GROUP BY c.region ORDER BY 1",
    "SELECT count(*) FROM orders WHERE status IN (SELECT status FROM statuses WHERE label LIKE 'P%')",
    "SELECT * FROM statuses ORDER BY status",
    // Subqueries and CTEs whose every SELECT pins the same shard.
    "WITH mine AS (SELECT * FROM orders WHERE customer_id = 3) SELECT count(*), sum(amount) FROM mine",
    "SELECT id FROM orders WHERE customer_id = 7 AND amount > (SELECT avg(amount) FROM orders WHERE customer_id = 7) ORDER BY id",
    "SELECT label FROM statuses WHERE status IN (SELECT status FROM orders WHERE customer_id = 9) ORDER BY 1",
];

const WRITES: &[&str] = &[
    "UPDATE orders SET amount = amount + 1 WHERE status = 'new'",
    "UPDATE orders SET status = 'paid' WHERE customer_id = 4 AND id = 1",
    "DELETE FROM orders WHERE amount > 90",
    "DELETE FROM orders WHERE customer_id = 2 AND id = 1",
    "DELETE FROM orders WHERE customer_id = 999",
    "INSERT INTO orders VALUES (1, 1, 5, 'new') ON CONFLICT (customer_id, id) DO UPDATE SET amount = orders.amount + excluded.amount RETURNING amount",
    "INSERT INTO orders VALUES (1, 1, 5, 'new') ON CONFLICT DO NOTHING",
    "INSERT INTO orders VALUES (30, 1, 1, 'new'), (31, 1, 2, 'sent'), (32, 1, 3, 'new'), (30, 2, 4, 'paid') RETURNING customer_id, amount",
    "INSERT INTO statuses VALUES ('void', 'Voided')",
    "UPDATE statuses SET label = 'Shipped' WHERE status = 'sent'",
    "UPDATE orders SET status = 'void' WHERE customer_id = 31",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_tables_answer_as_postgres_15() {
    let pg = Postgres::start();
    let mut d = Dotdo::start("[postgres]\nshard_count = 4\n");
    let admin = connect("127.0.0.1", pg.port, "postgres").await;
    admin.batch_execute("CREATE DATABASE citus").await.unwrap();
    let p = connect("127.0.0.1", pg.port, "citus").await;
    let addr = d.addr("postgres");
    let host = addr.ip().to_string();
    let c = connect(&host, addr.port(), "citus").await;

    for side in [&p, &c] {
        side.batch_execute(SCHEMA).await.unwrap();
        side.batch_execute(&customers(1..13)).await.unwrap();
        side.batch_execute(&orders(1..13)).await.unwrap();
    }
    // Citus's own errors for what does not exist.
    assert_eq!(
        sqlstate(&c, "SELECT create_distributed_table('nope', 'id')").await,
        "42P01"
    );
    assert_eq!(
        sqlstate(&c, "SELECT create_distributed_table('orders', 'nope')").await,
        "42703"
    );
    // A primary key without the distribution column cannot be enforced per shard.
    assert_eq!(
        sqlstate(&c, "SELECT create_distributed_table('customers', 'name')").await,
        "0A000"
    );
    let (rows, _) = answer(&c, "SELECT create_distributed_table('customers', 'id')")
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![String::new()]]);
    for sql in [
        "SELECT create_distributed_table('orders', 'customer_id')",
        "SELECT create_reference_table('statuses')",
    ] {
        answer(&c, sql).await.unwrap();
    }
    assert_eq!(
        sqlstate(&c, "SELECT create_reference_table('statuses')").await,
        "42P16"
    );
    let (meta, _) = answer(
        &c,
        "SELECT logicalrelid, partmethod, colocationid FROM pg_dist_partition ORDER BY 1",
    )
    .await
    .unwrap();
    assert_eq!(
        meta,
        vec![
            vec!["customers".to_owned(), "h".into(), "4".into()],
            vec!["orders".to_owned(), "h".into(), "4".into()],
            vec!["statuses".to_owned(), "n".into(), "0".into()],
        ]
    );

    // More rows after distribution: multi-row VALUES, parameters, COPY.
    for side in [&p, &c] {
        side.batch_execute(&customers(13..25)).await.unwrap();
        side.batch_execute(&orders(13..20)).await.unwrap();
        let insert = side
            .prepare("INSERT INTO orders (customer_id, id, amount, status) VALUES ($1, $2, $3, $4)")
            .await
            .unwrap();
        for i in 20..25 {
            side.execute(&insert, &[&i, &1i32, &(i * 3), &"sent"])
                .await
                .unwrap();
        }
    }
    let data: String = (20..25)
        .map(|i| format!("{i}\t2\t{}\tpaid\n", i * 2))
        .collect();
    for (host, port) in [
        ("127.0.0.1".to_owned(), pg.port),
        (host.clone(), addr.port()),
    ] {
        psql_copy(
            &host,
            port,
            "COPY orders (customer_id, id, amount, status) FROM STDIN",
            &data,
        );
    }
    for sql in QUERIES {
        both(&p, &c, sql).await;
    }
    // COPY TO of a distributed table: every row once, in COPY's text format.
    for copy in [
        "COPY (SELECT customer_id, id, amount FROM orders WHERE amount > 20 ORDER BY 3, 1, 2) TO STDOUT",
        "COPY orders (customer_id, id, status) TO STDOUT WITH (FORMAT csv)",
    ] {
        let sorted = |port: u16, host: &str| {
            let mut lines: Vec<String> = psql_out(host, port, copy)
                .lines()
                .map(str::to_owned)
                .collect();
            if !copy.contains("ORDER BY") {
                lines.sort();
            }
            lines
        };
        assert_eq!(
            sorted(addr.port(), &host),
            sorted(pg.port, "127.0.0.1"),
            "{copy}"
        );
    }
    // Prepared statements with parameters, pinned and fanned out.
    let pinned = "SELECT id, amount, status FROM orders WHERE customer_id = $1 ORDER BY id";
    let fanned = "SELECT customer_id, amount FROM orders WHERE amount > $1 ORDER BY amount DESC, customer_id LIMIT $2";
    for k in [1i32, 5, 9, 22] {
        assert_eq!(
            typed_rows(&c, pinned, &[&k]).await,
            typed_rows(&p, pinned, &[&k]).await,
            "{pinned} with {k}"
        );
    }
    assert_eq!(
        typed_rows(&c, fanned, &[&40i32, &6i64]).await,
        typed_rows(&p, fanned, &[&40i32, &6i64]).await
    );
    let counted = "SELECT status, count(*) FROM orders WHERE customer_id <> $1 GROUP BY status ORDER BY status";
    assert_eq!(
        typed_rows(&c, counted, &[&3i32]).await,
        typed_rows(&p, counted, &[&3i32]).await
    );

    for sql in WRITES {
        both(&p, &c, sql).await;
    }
    for sql in QUERIES {
        both(&p, &c, sql).await;
    }

    // DDL reaches every shard.
    for side in [&p, &c] {
        side.batch_execute("CREATE INDEX orders_status ON orders (status)")
            .await
            .unwrap();
        side.batch_execute("ALTER TABLE orders ADD COLUMN note text DEFAULT 'x'")
            .await
            .unwrap();
    }
    both(
        &p,
        &c,
        "SELECT customer_id, id, note FROM orders ORDER BY 1, 2",
    )
    .await;
    both(&p, &c, "UPDATE orders SET note = 'y' WHERE customer_id = 5").await;
    both(
        &p,
        &c,
        "SELECT note, count(*) FROM orders GROUP BY note ORDER BY note",
    )
    .await;
    // A form SQLite runs by rebuilding the table, on every shard.
    both(&p, &c, "ALTER TABLE orders ALTER COLUMN note SET NOT NULL").await;
    let null_note =
        "INSERT INTO orders (customer_id, id, amount, status, note) VALUES (50, 1, 1, 'new', NULL)";
    assert_eq!(sqlstate(&c, null_note).await, sqlstate(&p, null_note).await);

    // Transactions: a block on one shard commits; a second shard's write is refused and
    // the block rolls back whole.
    for side in [&p, &c] {
        side.batch_execute(
            "BEGIN; INSERT INTO orders (customer_id, id, amount, status) VALUES (40, 1, 10, 'new'); UPDATE orders SET amount = 11 WHERE customer_id = 40; COMMIT",
        )
        .await
        .unwrap();
    }
    both(&p, &c, "SELECT * FROM orders WHERE customer_id = 40").await;
    // The documented hash: jump_shard(stable_hash(decimal text), shards).
    let shard = |k: i32| dotdo_shard::shard_of(k.to_string().as_bytes(), 4);
    let other = (42..100).find(|&k| shard(k) != shard(41)).unwrap();
    c.batch_execute(
        "BEGIN; INSERT INTO orders (customer_id, id, amount, status) VALUES (41, 1, 1, 'new')",
    )
    .await
    .unwrap();
    let second = format!(
        "INSERT INTO orders (customer_id, id, amount, status) VALUES ({other}, 1, 1, 'new')"
    );
    assert_eq!(sqlstate(&c, &second).await, "0A000");
    c.batch_execute("ROLLBACK").await.unwrap();
    let (n, _) = answer(
        &c,
        &format!("SELECT count(*) FROM orders WHERE customer_id IN (41, {other})"),
    )
    .await
    .unwrap();
    assert_eq!(n, vec![vec!["0".to_owned()]]);

    // Refused rather than answered wrong.
    for sql in [
        "SELECT * FROM orders WHERE id IN (SELECT id FROM orders)",
        "SELECT customer_id, row_number() OVER () FROM orders",
        "SELECT c.id FROM customers c JOIN orders o ON o.id = c.id",
        "UPDATE orders SET customer_id = 1 WHERE id = 1",
        "SELECT DISTINCT ON (status) status FROM orders",
        "SELECT string_agg(status, ',') FROM orders",
        "SELECT * FROM orders WHERE customer_id = 1 AND id IN (SELECT id FROM orders WHERE customer_id = 4)",
        "SELECT * FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = 4)",
    ] {
        assert_eq!(sqlstate(&c, sql).await, "0A000", "{sql}");
    }
    // Pinned, the same forms run on their shard.
    both(
        &p,
        &c,
        "SELECT id, row_number() OVER (ORDER BY id) FROM orders WHERE customer_id = 3 ORDER BY id",
    )
    .await;
    let (total, _) = answer(&c, "SELECT count(*) FROM orders").await.unwrap();

    // The rows live in the shard objects, spread over several of them.
    drop(c);
    d.restart();
    let addr = d.addr("postgres");
    let c = connect(&addr.ip().to_string(), addr.port(), "citus").await;
    let (again, _) = answer(&c, "SELECT count(*) FROM orders").await.unwrap();
    assert_eq!(again, total, "distribution kept across a restart");
    both(
        &p,
        &c,
        "SELECT customer_id, id, amount, status, note FROM orders ORDER BY customer_id, id",
    )
    .await;
    if std::env::var("DOTDO_E2E_BACKEND").is_ok_and(|b| b != "embedded") {
        return;
    }
    drop(c);
    d.stop();
    spread_over_shards(&d.data_dir(), &total[0][0]).await;
}

/// Open the stopped gateway's data directory with the embedded backend and count each shard
/// object's rows.
async fn spread_over_shards(data: &std::path::Path, total: &str) {
    use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
    use dotdo_backend::{Backend, ObjectId, Statement};
    let backend = EmbeddedBackend::open(EmbeddedConfig::with_data_dir(data)).unwrap();
    let names = backend.list_objects("pg/citus").await.unwrap();
    let shards: Vec<&String> = names.iter().filter(|n| n.starts_with("shard-")).collect();
    assert_eq!(shards.len(), 4, "objects: {names:?}");
    let count = |name: &str| {
        let backend = backend.clone();
        let id = ObjectId::new("pg/citus", name);
        async move {
            let r = backend
                .execute(
                    &id,
                    vec![
                        Statement::new("SELECT count(*) FROM orders"),
                        Statement::new("SELECT count(*) FROM statuses"),
                    ],
                )
                .await
                .unwrap();
            (
                r[0].rows[0][0].as_i64().unwrap(),
                r[1].rows[0][0].as_i64().unwrap(),
            )
        }
    };
    let mut sum = 0;
    let mut used = 0;
    for s in &shards {
        let (orders, statuses) = count(s).await;
        assert_eq!(statuses, 4, "every shard holds the reference table");
        sum += orders;
        used += usize::from(orders > 0);
    }
    assert_eq!(sum.to_string(), total, "every row is in exactly one shard");
    assert!(used >= 3, "rows spread over {used} of 4 shards");
    let (coordinator, _) = count("main").await;
    assert_eq!(coordinator, 0, "the coordinator keeps no distributed rows");
    backend.shutdown().await;
}

/// What psql prints for `sql`.
fn psql_out(host: &str, port: u16, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            host,
            "-p",
            &port.to_string(),
        ])
        .args(["-U", "postgres", "-d", "citus", "-c", sql])
        .output()
        .expect("run psql (apt package postgresql-client)");
    assert!(
        out.status.success(),
        "{sql} on port {port}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// COPY FROM STDIN through psql, the client most COPY users have.
fn psql_copy(host: &str, port: u16, copy: &str, data: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("psql")
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            host,
            "-p",
            &port.to_string(),
        ])
        .args(["-U", "postgres", "-d", "citus", "-c", copy])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run psql (apt package postgresql-client)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data.as_bytes())
        .expect("write COPY data");
    let out = child.wait_with_output().expect("psql");
    assert!(
        out.status.success(),
        "{copy} on port {port}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Rows of a prepared query as text, by the columns' types.
async fn typed_rows(
    c: &Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Vec<Vec<String>> {
    use tokio_postgres::types::Type;
    let rows = c
        .query(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    match *r.columns()[i].type_() {
                        Type::INT4 => r.get::<_, Option<i32>>(i).map(|v| v.to_string()),
                        Type::INT8 => r.get::<_, Option<i64>>(i).map(|v| v.to_string()),
                        _ => r.get::<_, Option<String>>(i),
                    }
                    .unwrap_or_else(|| "NULL".into())
                })
                .collect()
        })
        .collect()
}
