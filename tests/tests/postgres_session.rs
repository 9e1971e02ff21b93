//! PostgreSQL sessions talking to each other through the gateway: cancel requests and
//! LISTEN/NOTIFY, with tokio-postgres and psql.

use std::process::Command;
use std::time::Duration;

use dotdo_e2e::Dotdo;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_postgres::{AsyncMessage, Client, NoTls, Notification};

/// A client and the notifications its connection receives.
async fn connect(d: &Dotdo, db: &str) -> (Client, UnboundedReceiver<Notification>) {
    let addr = d.addr("postgres");
    let (client, mut conn) = tokio_postgres::connect(
        &format!(
            "host={} port={} user=postgres dbname={db}",
            addr.ip(),
            addr.port()
        ),
        NoTls,
    )
    .await
    .expect("connect");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(m)) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send(n);
            }
        }
    });
    (client, rx)
}

/// The next notification; none within a minute fails the test.
async fn next(rx: &mut UnboundedReceiver<Notification>) -> Notification {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("a notification within a minute")
        .expect("connection open")
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

/// Run `sql` (with one float8 parameter when given, through a prepared statement) and send
/// cancel requests until it ends: the first may come before the statement starts.
async fn cancel_while_running(
    client: &Client,
    sql: &str,
    param: Option<f64>,
) -> tokio_postgres::Error {
    let token = client.cancel_token();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let canceller = tokio::spawn(async move {
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            token
                .cancel_query(NoTls)
                .await
                .expect("cancel request sent");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let result = match param {
        None => client.simple_query(sql).await.map(|_| ()),
        Some(p) => client.query(sql, &[&p]).await.map(|_| ()),
    };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    canceller.await.unwrap();
    result.expect_err("the statement was canceled")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_token_interrupts_a_running_statement_and_the_connection_goes_on() {
    let d = Dotdo::start("");
    let (client, _) = connect(&d, "app").await;
    client
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .unwrap();
    let err = cancel_while_running(&client, "SELECT pg_sleep(30)", None).await;
    assert_eq!(sqlstate(&err), "57014", "{err:?}");
    assert!(
        err.as_db_error()
            .is_some_and(|e| e.message() == "canceling statement due to user request"),
        "{err:?}"
    );
    // The connection survives.
    let row = client.query_one("SELECT 1 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);

    // Inside a block the cancel fails the block, as in PostgreSQL; ROLLBACK ends it.
    client
        .batch_execute("BEGIN; INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let err = cancel_while_running(&client, "SELECT pg_sleep($1)", Some(30.0)).await;
    assert_eq!(sqlstate(&err), "57014", "{err:?}");
    let err = client.simple_query("SELECT 1").await.expect_err("aborted");
    assert_eq!(sqlstate(&err), "25P02", "{err:?}");
    client.batch_execute("ROLLBACK").await.unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the canceled block's insert is rolled back");

    // A cancel with a wrong key cancels nothing: send one by hand.
    let addr = d.addr("postgres");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut msg = Vec::new();
    msg.extend_from_slice(&16i32.to_be_bytes());
    msg.extend_from_slice(&80877102i32.to_be_bytes());
    msg.extend_from_slice(&100000i32.to_be_bytes());
    msg.extend_from_slice(&0x1234_5678i32.to_be_bytes());
    tokio::io::AsyncWriteExt::write_all(&mut s, &msg)
        .await
        .unwrap();
    let rows = client.simple_query("SELECT pg_sleep(0.2)").await.unwrap();
    assert!(!rows.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_listeners_of_the_same_database_at_commit() {
    let d = Dotdo::start("");
    let (listener, mut inbox) = connect(&d, "app").await;
    let (sender, _) = connect(&d, "app").await;
    let (elsewhere, _) = connect(&d, "other").await;
    listener.batch_execute("LISTEN jobs").await.unwrap();
    let sender_pid: i32 = sender
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);

    // Delivered to an idle listener, with the sender's pid.
    sender.batch_execute("NOTIFY jobs, 'one'").await.unwrap();
    let n = next(&mut inbox).await;
    assert_eq!(
        (n.channel(), n.payload(), n.process_id()),
        ("jobs", "one", sender_pid)
    );

    // pg_notify with parameters (extended protocol) and with an expression.
    sender
        .execute("SELECT pg_notify($1, $2)", &[&"jobs", &"two"])
        .await
        .unwrap();
    assert_eq!(next(&mut inbox).await.payload(), "two");
    sender
        .simple_query("SELECT pg_notify('jobs', 'th' || 'ree')")
        .await
        .unwrap();
    assert_eq!(next(&mut inbox).await.payload(), "three");

    // Another database's NOTIFY is not heard.
    elsewhere
        .batch_execute("NOTIFY jobs, 'other db'")
        .await
        .unwrap();

    // A block sends at COMMIT; a rolled-back block sends nothing.
    sender
        .batch_execute("BEGIN; NOTIFY jobs, 'rolled back'; ROLLBACK")
        .await
        .unwrap();
    sender.batch_execute("BEGIN").await.unwrap();
    sender.batch_execute("NOTIFY jobs, 'four'").await.unwrap();
    sender.batch_execute("NOTIFY jobs, 'four'").await.unwrap();
    sender.batch_execute("COMMIT").await.unwrap();
    assert_eq!(next(&mut inbox).await.payload(), "four");

    // A listener inside its own block hears nothing until the block ends.
    listener.batch_execute("BEGIN").await.unwrap();
    sender.batch_execute("NOTIFY jobs, 'five'").await.unwrap();
    listener.simple_query("SELECT 1").await.unwrap();
    assert!(
        inbox.try_recv().is_err(),
        "held while the listener is in a block"
    );
    listener.batch_execute("COMMIT").await.unwrap();
    assert_eq!(next(&mut inbox).await.payload(), "five");

    // Nothing else arrived: not 'other db', not 'rolled back', 'four' only once.
    listener.simple_query("SELECT 1").await.unwrap();
    assert!(inbox.try_recv().is_err());

    // The payload limit and PostgreSQL's error.
    let err = sender
        .execute("SELECT pg_notify('jobs', $1)", &[&"x".repeat(8000)])
        .await
        .expect_err("too long");
    assert_eq!(sqlstate(&err), "22023");
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "payload string too long"
    );

    // After UNLISTEN nothing more comes.
    listener.batch_execute("UNLISTEN jobs").await.unwrap();
    sender.batch_execute("NOTIFY jobs, 'six'").await.unwrap();
    listener.simple_query("SELECT 1").await.unwrap();
    assert!(inbox.try_recv().is_err());
}

#[test]
fn psql_prints_notifications_as_postgres_does() {
    let d = Dotdo::start("");
    let addr = d.addr("postgres");
    let out = Command::new("psql")
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(addr.ip().to_string())
        .args([
            "-p",
            &addr.port().to_string(),
            "-U",
            "postgres",
            "-d",
            "app",
        ])
        .args([
            "-c",
            "LISTEN news",
            "-c",
            "NOTIFY news, 'hello'",
            "-c",
            "SELECT pg_backend_pid()",
        ])
        .output()
        .expect("run psql (apt package postgresql-client)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let pid = stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        .expect("pid line")
        .to_owned();
    assert!(
        stdout.contains(&format!(
            "Asynchronous notification \"news\" with payload \"hello\" received from server process with PID {pid}."
        )),
        "{stdout}"
    );
}
