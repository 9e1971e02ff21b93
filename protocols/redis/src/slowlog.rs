//! SLOWLOG: the commands that took longer than `slowlog-log-slower-than` microseconds, newest
//! first, at most `slowlog-max-len` of them, as Redis keeps them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::cmd::args::is;
use crate::frame::Reply;

/// Redis keeps at most 32 arguments of an entry, the last one saying how many were left out.
const MAX_ARGS: usize = 32;
/// ... and at most 128 bytes of each, saying how many were cut.
const MAX_STRING: usize = 128;

struct Entry {
    id: u64,
    unix_secs: i64,
    micros: i64,
    args: Vec<Bytes>,
    peer: String,
    name: String,
}

pub struct Slowlog {
    /// Microseconds; negative logs nothing, 0 logs every command.
    threshold: AtomicI64,
    max_len: AtomicUsize,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for Slowlog {
    fn default() -> Self {
        Self {
            threshold: AtomicI64::new(10_000),
            max_len: AtomicUsize::new(128),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl Slowlog {
    pub fn threshold(&self) -> i64 {
        self.threshold.load(Ordering::Relaxed)
    }

    pub fn max_len(&self) -> usize {
        self.max_len.load(Ordering::Relaxed)
    }

    pub fn set_threshold(&self, micros: i64) {
        self.threshold.store(micros, Ordering::Relaxed);
    }

    pub fn set_max_len(&self, len: usize) {
        self.max_len.store(len, Ordering::Relaxed);
        let mut entries = self.entries.lock();
        entries.truncate(len);
    }

    /// Whether a command that took `micros` is logged (one load on the common path).
    #[inline]
    pub fn wants(&self, micros: i64) -> bool {
        let t = self.threshold();
        t >= 0 && micros >= t
    }

    /// Log a command (its arguments as MONITOR would show them: secrets redacted).
    pub fn log(&self, args: &[Bytes], micros: i64, peer: String, name: String) {
        let max = self.max_len();
        if max == 0 {
            return;
        }
        let kept = args.len().min(MAX_ARGS);
        let mut logged = Vec::with_capacity(kept);
        for (i, a) in args.iter().take(kept).enumerate() {
            if i == MAX_ARGS - 1 && args.len() > MAX_ARGS {
                logged.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    args.len() - MAX_ARGS + 1
                )));
            } else if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                logged.push(Bytes::from(s));
            } else {
                logged.push(a.clone());
            }
        }
        let unix_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_secs,
            micros,
            args: logged,
            peer,
            name,
        };
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(max);
    }

    /// SLOWLOG GET [count] | LEN | RESET | HELP.
    pub fn command(&self, a: &[Bytes]) -> Reply {
        let sub = &a[1];
        if is(sub, "get") && a.len() <= 3 {
            let count = match a.get(2) {
                None => 10,
                Some(c) => match crate::cmd::args::strict_i64(c) {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => n as usize,
                    _ => return Reply::err("ERR count should be greater than or equal to -1"),
                },
            };
            let entries = self.entries.lock();
            return Reply::Array(
                entries
                    .iter()
                    .take(count)
                    .map(|e| {
                        Reply::Array(vec![
                            Reply::Int(e.id as i64),
                            Reply::Int(e.unix_secs),
                            Reply::Int(e.micros),
                            Reply::bulks(e.args.iter().cloned()),
                            Reply::bulk(e.peer.clone()),
                            Reply::bulk(e.name.clone()),
                        ])
                    })
                    .collect(),
            );
        }
        if is(sub, "len") && a.len() == 2 {
            return Reply::Int(self.entries.lock().len() as i64);
        }
        if is(sub, "reset") && a.len() == 2 {
            self.entries.lock().clear();
            return Reply::ok();
        }
        if is(sub, "help") && a.len() == 2 {
            return Reply::Array(
                [
                    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "GET [<count>]",
                    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                    "    Entries are made of:",
                    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                    "    client name",
                    "LEN",
                    "    Return the length of the slowlog.",
                    "RESET",
                    "    Reset the slowlog.",
                    "HELP",
                    "    Prints this help.",
                ]
                .into_iter()
                .map(|l| Reply::Simple(l.into()))
                .collect(),
            );
        }
        let name = String::from_utf8_lossy(sub).to_ascii_lowercase();
        if name == "get" {
            // GET reads its own arguments; the others have a fixed arity.
            return Reply::err(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                String::from_utf8_lossy(sub)
            ));
        }
        if ["len", "reset", "help"].contains(&name.as_str()) {
            return Reply::err(format!(
                "ERR wrong number of arguments for 'slowlog|{name}' command"
            ));
        }
        Reply::err(format!(
            "ERR unknown subcommand '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(sub)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn entries_are_newest_first_and_bounded() {
        let log = Slowlog::default();
        log.set_max_len(2);
        for i in 0..3 {
            log.log(
                &[b("set"), b(&format!("k{i}"))],
                20_000,
                "p".into(),
                String::new(),
            );
        }
        let Reply::Array(got) = log.command(&[b("slowlog"), b("get")]) else {
            panic!("not an array");
        };
        assert_eq!(got.len(), 2);
        let Reply::Array(first) = &got[0] else {
            panic!("not an entry");
        };
        assert!(matches!(first[0], Reply::Int(2)));
        assert!(matches!(
            log.command(&[b("slowlog"), b("len")]),
            Reply::Int(2)
        ));
    }

    #[test]
    fn long_arguments_are_cut_as_redis_cuts_them() {
        let log = Slowlog::default();
        let mut args = vec![b("rpush"), b(&"x".repeat(200))];
        args.extend((0..40).map(|i| b(&i.to_string())));
        log.log(&args, 1, String::new(), String::new());
        let e = log.entries.lock();
        let got = &e[0].args;
        assert_eq!(got.len(), 32);
        assert_eq!(got[1].len(), 128 + "... (72 more bytes)".len());
        assert_eq!(&got[31][..], b"... (11 more arguments)");
    }

    #[test]
    fn a_negative_threshold_logs_nothing() {
        let log = Slowlog::default();
        assert!(!log.wants(9_999));
        assert!(log.wants(10_000));
        log.set_threshold(-1);
        assert!(!log.wants(i64::MAX));
        log.set_threshold(0);
        assert!(log.wants(0));
    }
}
