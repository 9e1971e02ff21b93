//! Keyspace notifications: `notify-keyspace-events` flags as Redis parses and prints them,
//! and the `__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>` messages a command's events
//! become.

use bytes::{Bytes, BytesMut};

use crate::pubsub::PubSub;

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 13;
pub const NEW: u32 = 1 << 14;
/// `A`: every class but key misses and new keys, as in Redis.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// One event a command raised: its class, Redis's event name, the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub class: u32,
    pub name: &'static str,
    pub key: Bytes,
}

/// Parse the flag letters (`keyspaceEventsStringToFlags`); `None` for an unknown letter.
pub fn parse(s: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for c in s {
        flags |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The flags as CONFIG GET prints them (`keyspaceEventsFlagsToString`; redis-server 7.0
/// prints `n` among the classes, so not at all after `A`).
pub fn format(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The classes commands must record under `flags`: none unless K or E is set (without either,
/// Redis publishes nothing).
pub fn active(flags: u32) -> u32 {
    if flags & (KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        flags
    }
}

/// Publish `events` of database `db` as Redis does, keyspace message first.
pub fn publish(pubsub: &PubSub, flags: u32, db: usize, events: &[Event]) {
    for e in events {
        if flags & e.class == 0 {
            continue;
        }
        if flags & KEYSPACE != 0 {
            let mut ch = BytesMut::with_capacity(20 + e.key.len());
            ch.extend_from_slice(format!("__keyspace@{db}__:").as_bytes());
            ch.extend_from_slice(&e.key);
            pubsub.publish(&ch.freeze(), &Bytes::from_static(e.name.as_bytes()));
        }
        if flags & KEYEVENT != 0 {
            let ch = Bytes::from(format!("__keyevent@{db}__:{}", e.name));
            pubsub.publish(&ch, &e.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("KEA", "AKE"),
            ("Ex", "xE"),
            ("K$lg", "g$lK"),
            ("AKEmn", "AKEm"),
            ("Kdn", "dnK"),
            ("g$lshzxetdKE", "AKE"),
            ("nK", "nK"),
        ];
        for (given, printed) in cases {
            let f = parse(given.as_bytes()).expect("valid flags");
            assert_eq!(format(f), *printed, "{given}");
        }
        assert_eq!(parse(b"KEq"), None);
        assert_eq!(active(parse(b"g$").unwrap_or(0)), 0);
    }
}
