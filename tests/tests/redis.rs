//! The Redis front-end through the real binary: the Rust `redis` crate and redis-cli.

use std::io::Write;
use std::process::{Command, Stdio};

use dotdo_e2e::Dotdo;
use redis::Commands;

fn client(d: &Dotdo) -> redis::Connection {
    redis::Client::open(format!("redis://{}/", d.addr("redis")))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn redis_cli(d: &Dotdo, args: &[&str], stdin: &str) -> String {
    let addr = d.addr("redis");
    let mut child = Command::new("redis-cli")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed by the test command");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "redis-cli failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn redis_cli_interactive_and_pipe_mode() {
    let d = Dotdo::start("");
    // Commands read from stdin one line at a time, as an interactive session sends them.
    let out = redis_cli(
        &d,
        &[],
        "SET greeting hello\nGET greeting\nINCR n\nLPUSH l a b\nLRANGE l 0 -1\nHSET h f v\nHGETALL h\nGET\n",
    );
    assert_eq!(
        out,
        "OK\nhello\n1\n2\nb\na\n1\nf\nv\nERR wrong number of arguments for 'get' command\n\n"
    );
    // Mass insertion with --pipe: raw RESP, many commands, one summary.
    let mut proto = String::new();
    for i in 0..10_000 {
        let (k, v) = (format!("key:{i}"), format!("value:{i}"));
        proto.push_str(&format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
            k.len(),
            v.len()
        ));
    }
    let out = redis_cli(&d, &["--pipe"], &proto);
    assert!(out.contains("errors: 0, replies: 10000"), "{out}");
    let mut c = client(&d);
    assert_eq!(c.get::<_, String>("key:9999").unwrap(), "value:9999");
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 10_000 + 4);
}

#[test]
fn restart_keeps_data_and_ttls_keep_counting() {
    let mut d = Dotdo::start("[redis]\nshards = 3\n");
    {
        let mut c = client(&d);
        let _: () = c.set_ex("session", "s", 500).unwrap();
        let _: () = redis::cmd("SET")
            .arg("short")
            .arg("x")
            .arg("PX")
            .arg(300)
            .query(&mut c)
            .unwrap();
        let _: i64 = c.rpush("queue", &["a", "b", "c"]).unwrap();
        let _: i64 = c.zadd("board", "alice", 10).unwrap();
        let _: () = c
            .hset_multiple("user:1", &[("name", "Ada"), ("lang", "en")])
            .unwrap();
    }
    d.restart();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let mut c = client(&d);
    let ttl: i64 = c.ttl("session").unwrap();
    assert!((1..=500).contains(&ttl), "{ttl}");
    // Its 300 ms ran out while the server was down and after.
    assert_eq!(c.get::<_, Option<String>>("short").unwrap(), None);
    assert_eq!(
        c.lrange::<_, Vec<String>>("queue", 0, -1).unwrap(),
        ["a", "b", "c"]
    );
    assert_eq!(c.zscore::<_, _, f64>("board", "alice").unwrap(), 10.0);
    assert_eq!(c.hget::<_, _, String>("user:1", "name").unwrap(), "Ada");
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let mut d = Dotdo::start("");
    {
        let mut c = client(&d);
        let mut p = redis::pipe();
        for i in 0..2000 {
            p.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
            p.cmd("RPUSH").arg("log").arg(i).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    d.kill_and_restart();
    let mut c = client(&d);
    assert_eq!(c.get::<_, i64>("k1999").unwrap(), 1999);
    assert_eq!(c.llen::<_, i64>("log").unwrap(), 2000);
}

/// A stream entry as the `redis` crate reads it: id and flat field/value list.
type Entry = (String, Vec<String>);

#[test]
fn streams_and_consumer_groups_survive_sigkill() {
    let mut d = Dotdo::start("[redis]\nshards = 2\n");
    let info_groups = |c: &mut redis::Connection| -> Vec<Vec<redis::Value>> {
        redis::cmd("XINFO")
            .arg("GROUPS")
            .arg("events")
            .query(c)
            .unwrap()
    };
    let before = {
        let mut c = client(&d);
        for i in 1..=5 {
            let _: String = redis::cmd("XADD")
                .arg("events")
                .arg(format!("{i}-0"))
                .arg("n")
                .arg(i)
                .query(&mut c)
                .unwrap();
        }
        let _: () = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg("events")
            .arg("workers")
            .arg("0")
            .query(&mut c)
            .unwrap();
        let _: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("workers")
            .arg("alice")
            .arg("COUNT")
            .arg(3)
            .arg("STREAMS")
            .arg("events")
            .arg(">")
            .query(&mut c)
            .unwrap();
        let acked: i64 = redis::cmd("XACK")
            .arg("events")
            .arg("workers")
            .arg("1-0")
            .query(&mut c)
            .unwrap();
        assert_eq!(acked, 1);
        let deleted: i64 = redis::cmd("XDEL")
            .arg("events")
            .arg("4-0")
            .query(&mut c)
            .unwrap();
        assert_eq!(deleted, 1);
        info_groups(&mut c)
    };
    d.kill_and_restart();
    let mut c = client(&d);
    let ids: Vec<Entry> = redis::cmd("XRANGE")
        .arg("events")
        .arg("-")
        .arg("+")
        .query(&mut c)
        .unwrap();
    let ids: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["1-0", "2-0", "3-0", "5-0"]);
    assert_eq!(info_groups(&mut c), before);
    // The pending entries, their owner and delivery counts came back too.
    let pending: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
        .arg("events")
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(10)
        .query(&mut c)
        .unwrap();
    let owners: Vec<(&str, &str, i64)> = pending
        .iter()
        .map(|(id, who, _, n)| (id.as_str(), who.as_str(), *n))
        .collect();
    assert_eq!(owners, [("2-0", "alice", 1), ("3-0", "alice", 1)]);
    // The counters survived: the next auto id follows the last one, deleted ids stay known.
    let info: std::collections::HashMap<String, redis::Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg("events")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        info["max-deleted-entry-id"],
        redis::Value::BulkString(b"4-0".to_vec())
    );
    assert_eq!(info["entries-added"], redis::Value::Int(5));
    let err = redis::cmd("XADD")
        .arg("events")
        .arg("5-0")
        .arg("n")
        .arg(6)
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("equal or smaller"), "{err}");
    let next: Vec<(String, Vec<Entry>)> = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("bob")
        .arg("STREAMS")
        .arg("events")
        .arg(">")
        .query(&mut c)
        .unwrap();
    assert_eq!(next[0].1[0].0, "5-0");
}
