//! The differential test: one corpus of command sequences (tests/redis/corpus.txt) run against
//! a real redis-server and against dotdo, every reply compared byte for byte (RESP3 too, after
//! a `!HELLO 3` line).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dotdo_e2e::{Dotdo, free_addr};

/// A redis-server on a free port in its own temp dir, without persistence.
struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// A redis-server on a free port. The port is picked by binding port 0 and letting it
    /// go, so another process may take it first: then redis-server exits at once (and the
    /// port answers for someone else), and the start is retried on a new port.
    fn start() -> RedisServer {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_addr().port();
            let mut child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server is installed by the test command");
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut up = false;
            while child.try_wait().unwrap().is_none() {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Still ours only if it did not exit after failing to bind.
                    std::thread::sleep(Duration::from_millis(50));
                    up = child.try_wait().unwrap().is_none();
                    break;
                }
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            if up {
                return RedisServer {
                    child,
                    port,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server could not get a free port in five tries");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Read one complete RESP reply; returns its raw bytes and, for aggregates, each element's.
fn read_reply(r: &mut impl BufRead) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    assert!(line.ends_with(b"\r\n"), "truncated reply line {line:?}");
    let body = std::str::from_utf8(&line[1..line.len() - 2])
        .unwrap()
        .to_owned();
    let mut raw = line.clone();
    let mut elems = Vec::new();
    match line[0] {
        b'$' | b'=' | b'!' => {
            let n: i64 = body.parse().unwrap();
            if n >= 0 {
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf).unwrap();
                raw.extend(buf);
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n: i64 = body.parse().unwrap();
            let count = if line[0] == b'%' { n * 2 } else { n };
            for _ in 0..count.max(0) {
                let (e, _) = read_reply(r);
                raw.extend(&e);
                elems.push(e);
            }
        }
        _ => {}
    }
    (raw, elems)
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).as_bytes());
        out.extend(a);
        out.extend(b"\r\n");
    }
    out
}

/// Split a corpus line like redis-cli does: spaces separate, double quotes group, and inside
/// them `\xHH` is one byte (other backslashes stay as written, for Lua's own escapes).
fn split(line: &str) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut cur = Vec::new();
    let (mut quoted, mut any) = (false, false);
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        if quoted && c == b'\\' && bytes.get(i) == Some(&b'x') {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                cur.push(b);
                i += 3;
                continue;
            }
        }
        match c {
            b'"' => {
                quoted = !quoted;
                any = true;
            }
            b' ' if !quoted => {
                if any {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        args.push(cur);
    }
    args
}

struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let w = TcpStream::connect(addr).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        Conn { w, r }
    }

    fn run(&mut self, args: &[Vec<u8>], sort: bool) -> Vec<u8> {
        self.w.write_all(&encode(args)).unwrap();
        let (raw, mut elems) = read_reply(&mut self.r);
        if !sort {
            return raw;
        }
        elems.sort();
        let header_end = raw.iter().position(|&b| b == b'\n').unwrap() + 1;
        let mut out = raw[..header_end].to_vec();
        elems.iter().for_each(|e| out.extend(e));
        out
    }
}

#[test]
fn replies_match_redis_server_byte_for_byte() {
    let corpus = include_str!("../redis/corpus.txt");
    let peer = RedisServer::start();
    let dotdo = Dotdo::start("");
    let peer_addr: SocketAddr = format!("127.0.0.1:{}", peer.port).parse().unwrap();
    let ours_addr = dotdo.addr("redis");
    let mut conns: Option<(Conn, Conn)> = None;
    let mut case = String::from("(start)");
    let mut compared = 0;
    let mut failures = Vec::new();
    for (lineno, line) in corpus.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("---") {
            case = name.trim().to_owned();
            let (mut a, mut b) = (Conn::open(peer_addr), Conn::open(ours_addr));
            let flush = [b"FLUSHALL".to_vec()];
            assert_eq!(a.run(&flush, false), b"+OK\r\n");
            assert_eq!(b.run(&flush, false), b"+OK\r\n");
            conns = Some((a, b));
            continue;
        }
        let (sort, text) = match line.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let (a, b) = conns.as_mut().expect("a case starts with ---");
        // `!` runs a line on both without comparing (HELLO 3: the servers' identities differ);
        // both must answer without an error.
        if let Some(rest) = text.strip_prefix('!') {
            let args = split(rest);
            for reply in [a.run(&args, false), b.run(&args, false)] {
                assert!(!reply.starts_with(b"-"), "line {}: {reply:?}", lineno + 1);
            }
            continue;
        }
        let args = split(text);
        let theirs = a.run(&args, sort);
        let ours = b.run(&args, sort);
        compared += 1;
        if theirs != ours {
            failures.push(format!(
                "line {} [{case}] {text}\n  redis: {:?}\n  dotdo: {:?}",
                lineno + 1,
                String::from_utf8_lossy(&theirs),
                String::from_utf8_lossy(&ours)
            ));
        }
    }
    assert!(compared > 300, "corpus too small: {compared}");
    assert!(
        failures.is_empty(),
        "{} of {compared} replies differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Keyspace notifications: the commands of tests/redis/events.txt run on one connection while
/// another, subscribed to every `__keyspace@*`/`__keyevent@*` channel, records what arrives;
/// the two servers' messages must be the same, in the same order. A final PUBLISH on `end`
/// marks the end of the stream, so nothing depends on timing (a key that expires is reported
/// `expired` by the sweep or by the next access alike).
#[test]
fn keyspace_events_match_redis_server() {
    let script = include_str!("../redis/events.txt");
    let peer = RedisServer::start();
    let dotdo = Dotdo::start("");
    let peer_addr: SocketAddr = format!("127.0.0.1:{}", peer.port).parse().unwrap();
    let mut streams = Vec::new();
    for addr in [peer_addr, dotdo.addr("redis")] {
        let mut cmd = Conn::open(addr);
        let mut sub = Conn::open(addr);
        assert_eq!(cmd.run(&[b"FLUSHALL".to_vec()], false), b"+OK\r\n");
        let on = split("CONFIG SET notify-keyspace-events KEA");
        assert_eq!(cmd.run(&on, false), b"+OK\r\n");
        sub.run(&split("PSUBSCRIBE __key*__:*"), false);
        sub.run(&split("SUBSCRIBE end"), false);
        for line in script.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(ms) = line.strip_prefix("SLEEP ") {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
                continue;
            }
            cmd.run(&split(line), false);
        }
        cmd.run(&split("PUBLISH end done"), false);
        let mut got = Vec::new();
        loop {
            let (raw, _) = read_reply(&mut sub.r);
            if raw.starts_with(b"*3\r\n$7\r\nmessage\r\n$3\r\nend\r\n") {
                break;
            }
            got.push(String::from_utf8_lossy(&raw).replace("\r\n", " "));
        }
        cmd.run(&split("CONFIG SET notify-keyspace-events \"\""), false);
        streams.push(got);
    }
    assert!(
        streams[0].len() > 100,
        "too few events: {}",
        streams[0].len()
    );
    for (i, (theirs, ours)) in streams[0].iter().zip(&streams[1]).enumerate() {
        assert_eq!(theirs, ours, "message {i} differs");
    }
    assert_eq!(streams[0].len(), streams[1].len());
}

/// A RESP2 value, parsed all the way down (for replies compared field by field).
#[derive(Debug, PartialEq)]
enum Resp {
    Text(Vec<u8>),
    Int(i64),
    Nil,
    Array(Vec<Resp>),
}

fn parse_resp(r: &mut impl BufRead) -> Resp {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    let body = std::str::from_utf8(&line[1..line.len() - 2]).unwrap();
    match line[0] {
        b'+' | b'-' => Resp::Text(body.as_bytes().to_vec()),
        b':' => Resp::Int(body.parse().unwrap()),
        b'$' => {
            let n: i64 = body.parse().unwrap();
            if n < 0 {
                return Resp::Nil;
            }
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf).unwrap();
            buf.truncate(n as usize);
            Resp::Text(buf)
        }
        b'*' => {
            let n: i64 = body.parse().unwrap();
            if n < 0 {
                return Resp::Nil;
            }
            Resp::Array((0..n).map(|_| parse_resp(r)).collect())
        }
        other => panic!("unexpected reply type {other}"),
    }
}

/// COMMAND INFO's ACL categories (its 7th field) of every command dotdo has and redis-server
/// 7.0 knows, compared with redis-server's.
#[test]
fn command_categories_match_redis_server() {
    let peer = RedisServer::start();
    let dotdo = Dotdo::start("");
    let peer_addr: SocketAddr = format!("127.0.0.1:{}", peer.port).parse().unwrap();
    let mut theirs = Conn::open(peer_addr);
    let mut ours = Conn::open(dotdo.addr("redis"));
    let ask = |c: &mut Conn, args: &[&str]| {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        c.w.write_all(&encode(&args)).unwrap();
        parse_resp(&mut c.r)
    };
    let Resp::Array(names) = ask(&mut ours, &["COMMAND", "LIST"]) else {
        panic!("COMMAND LIST is not an array");
    };
    let mut compared = 0;
    let mut differ = Vec::new();
    for name in names {
        let Resp::Text(name) = name else { continue };
        let name = String::from_utf8(name).unwrap();
        if name.contains('|') {
            // A subcommand's full name: dotdo's COMMAND INFO does not describe subcommands
            // (README, "Known gaps").
            continue;
        }
        let (Resp::Array(t), Resp::Array(o)) = (
            ask(&mut theirs, &["COMMAND", "INFO", &name]),
            ask(&mut ours, &["COMMAND", "INFO", &name]),
        ) else {
            panic!("COMMAND INFO {name} is not an array");
        };
        match (t.first(), o.first()) {
            // A command redis-server 7.0 does not have (WAITAOF is 7.2's).
            (Some(Resp::Nil), _) => {}
            (Some(Resp::Array(t)), Some(Resp::Array(o))) => {
                compared += 1;
                if t.get(6) != o.get(6) {
                    differ.push(format!(
                        "{name}: redis {:?}, dotdo {:?}",
                        t.get(6),
                        o.get(6)
                    ));
                }
            }
            other => panic!("COMMAND INFO {name}: {other:?}"),
        }
    }
    assert!(compared > 150, "too few commands compared: {compared}");
    assert!(
        differ.is_empty(),
        "categories differ:\n{}",
        differ.join("\n")
    );
}
