//! MONITOR: the clients that asked for every other client's commands, and each command's line
//! as Redis formats it (`+<sec>.<usec> [<db> <addr>] "arg" ...`).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::frame::Reply;
use crate::pubsub::Outbox;

#[derive(Default)]
pub struct Monitors {
    clients: Mutex<HashMap<u64, Outbox>>,
    /// How many clients monitor: commands check this one counter and do nothing more when 0.
    count: AtomicUsize,
}

impl Monitors {
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn add(&self, client: u64, out: Outbox) {
        let mut c = self.clients.lock();
        c.insert(client, out);
        self.count.store(c.len(), Ordering::Relaxed);
    }

    pub fn remove(&self, client: u64) {
        let mut c = self.clients.lock();
        if c.remove(&client).is_some() {
            self.count.store(c.len(), Ordering::Relaxed);
        }
    }

    /// Send the line of one command, run by a client at `origin` (an address, or `lua`) on
    /// database `db`, to every monitor but `skip` (a monitor's own commands go straight into its
    /// replies, so they keep their place among them); returns the line.
    pub fn feed(&self, db: usize, origin: &str, args: &[Bytes], skip: Option<u64>) -> Reply {
        let line = format_line(now_us(), db, origin, args);
        let reply = Reply::Simple(line);
        for (id, out) in self.clients.lock().iter() {
            if Some(*id) != skip {
                let _ = out.send(reply.clone());
            }
        }
        reply
    }
}

fn now_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Whether MONITOR shows a command: Redis leaves out admin commands (CONFIG, SAVE, MONITOR...).
pub fn shown(flags: &[&str], name: &str) -> bool {
    name == "script" || !flags.contains(&"admin")
}

/// The arguments as MONITOR and SLOWLOG show them: AUTH's, HELLO's AUTH user and password,
/// and ACL SETUSER's user and rules (passwords among them), redacted.
pub fn redacted(name: &str, args: &[Bytes]) -> Vec<Bytes> {
    const R: Bytes = Bytes::from_static(b"(redacted)");
    let mut out = args.to_vec();
    match name {
        "auth" => out.iter_mut().skip(1).for_each(|a| *a = R),
        "acl"
            if out
                .get(1)
                .is_some_and(|s| s.eq_ignore_ascii_case(b"setuser")) =>
        {
            out.iter_mut().skip(2).for_each(|a| *a = R);
        }
        "hello" => {
            let mut i = 2;
            while i < out.len() {
                if out[i].eq_ignore_ascii_case(b"auth") {
                    for a in out.iter_mut().skip(i + 1).take(2) {
                        *a = R;
                    }
                    i += 3;
                } else {
                    i += 1;
                }
            }
        }
        _ => {}
    }
    out
}

/// `<sec>.<usec> [<db> <origin>] "arg" ...`, each argument quoted as `sdscatrepr` quotes.
pub fn format_line(now_us: u128, db: usize, origin: &str, args: &[Bytes]) -> String {
    let mut s = format!(
        "{}.{:06} [{db} {origin}]",
        now_us / 1_000_000,
        now_us % 1_000_000
    );
    for a in args {
        s.push_str(" \"");
        for &b in a.iter() {
            match b {
                b'\\' | b'"' => {
                    s.push('\\');
                    s.push(b as char);
                }
                b'\n' => s.push_str("\\n"),
                b'\r' => s.push_str("\\r"),
                b'\t' => s.push_str("\\t"),
                7 => s.push_str("\\a"),
                8 => s.push_str("\\b"),
                0x20..=0x7e => s.push(b as char),
                _ => {
                    let _ = write!(s, "\\x{b:02x}");
                }
            }
        }
        s.push('"');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_as_redis_does() {
        let args = [
            Bytes::from_static(b"set"),
            Bytes::from_static(b"k"),
            Bytes::from_static(b"a b\"c\n\x01\\"),
        ];
        assert_eq!(
            format_line(1_700_000_000_123_456, 0, "127.0.0.1:5555", &args),
            r#"1700000000.123456 [0 127.0.0.1:5555] "set" "k" "a b\"c\n\x01\\""#
        );
        let hello: Vec<Bytes> = ["hello", "3", "auth", "default", "pw", "setname", "x"]
            .iter()
            .map(|s| Bytes::from(s.to_string()))
            .collect();
        let shown = redacted("hello", &hello);
        assert_eq!(&shown[3][..], b"(redacted)");
        assert_eq!(&shown[4][..], b"(redacted)");
        assert_eq!(&shown[6][..], b"x");
        let auth = redacted("auth", &hello[..3]);
        assert_eq!(&auth[0][..], b"hello");
        assert_eq!(&auth[2][..], b"(redacted)");
    }
}
