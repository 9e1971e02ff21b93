//! MEMORY USAGE | STATS | DOCTOR | MALLOC-STATS | PURGE | HELP.
//!
//! MEMORY USAGE answers what redis-server 7.0 (jemalloc) reports for the same value in the
//! encoding OBJECT ENCODING names: the object header, the key's sds string and dict entry,
//! and the encoding's own bytes (embstr, raw sds, intset, listpack, quicklist nodes, hash
//! tables), each rounded up to jemalloc's size class. It is the size the key would take in
//! Redis, so tools that rank keys by it (`redis-cli --memkeys`) rank them as they would there;
//! dotdo's own image keeps values in Rust collections of other sizes. Streams are estimated.
//! MEMORY STATS reports the process's resident memory where Redis reports its allocator's.

use bytes::Bytes;

use super::args::{self, is};
use super::{CmdResult, View};
use crate::frame::Reply;
use crate::server::Server;
use crate::store::Value;

/// jemalloc's size class for an allocation of `n` bytes (x86-64: 8, then 16-byte steps to
/// 128, then four classes per doubling).
pub fn size_class(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let power = usize::BITS - (n - 1).leading_zeros(); // 2^power >= n
    let step = 1usize << (power - 3);
    n.div_ceil(step) * step
}

/// An sds string's allocation: header (by length), bytes and terminator.
fn sds(len: usize) -> usize {
    let header = match len {
        0..32 => 1,
        32..256 => 3,
        256..65536 => 5,
        65536..4_294_967_296 => 9,
        _ => 17,
    };
    size_class(header + len + 1)
}

const ROBJ: usize = 16;
const DICT_ENTRY: usize = 24;
const DICT: usize = 56;
const QUICKLIST: usize = 40;
const QUICKLIST_NODE: usize = 40;
/// The largest listpack of a quicklist node (`list-max-listpack-size -2`).
const NODE_BYTES: usize = 8192;

/// A string's value object: shared integers and `int` encodings are the header alone.
fn string_object(s: &[u8]) -> usize {
    if s.len() <= 20 && args::strict_i64(s).is_some() {
        ROBJ
    } else if s.len() <= 44 {
        size_class(ROBJ + 3 + s.len() + 1)
    } else {
        ROBJ + sds(s.len())
    }
}

/// Bytes one listpack entry takes: encoding, data, and the back-length.
fn listpack_entry(s: &[u8]) -> usize {
    let body = match (s.len() <= 20).then(|| args::strict_i64(s)).flatten() {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..4096).contains(&v) => 2,
        Some(v) if i16::try_from(v).is_ok() => 3,
        Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None => {
            let header = match s.len() {
                0..64 => 1,
                64..4096 => 2,
                _ => 5,
            };
            header + s.len()
        }
    };
    let back = match body {
        0..128 => 1,
        128..16384 => 2,
        16384..2_097_152 => 3,
        2_097_152..268_435_456 => 4,
        _ => 5,
    };
    body + back
}

/// A listpack of these entries: header, entries, end byte.
fn listpack<'a>(entries: impl Iterator<Item = &'a [u8]>) -> usize {
    6 + entries.map(listpack_entry).sum::<usize>() + 1
}

/// A dict's table for `n` entries: 4 slots at least, doubling when full.
fn dict_table(n: usize) -> usize {
    DICT + 8 * n.next_power_of_two().max(4)
}

/// A zset score as Redis writes it into a listpack (`d2string`: integers plainly, others
/// with 17 significant digits).
fn score_text(score: f64) -> String {
    if score.fract() == 0.0 && score.abs() < 1e17 {
        format!("{}", score as i64)
    } else {
        crate::codec::format_double(score)
    }
}

/// Average element size of the first `samples` elements (all when 0), times `len`.
fn sampled(len: usize, samples: usize, sizes: impl Iterator<Item = usize>) -> usize {
    let take = if samples == 0 { len } else { samples.min(len) };
    if take == 0 {
        return 0;
    }
    let total: usize = sizes.take(take).sum();
    (total as f64 / take as f64 * len as f64) as usize
}

/// Redis 7.0 keeps a hash as a listpack up to 512 fields of at most 64 bytes (field and value).
pub fn hash_is_listpack(h: &std::collections::HashMap<Bytes, Bytes>) -> bool {
    h.len() <= 512 && h.iter().all(|(f, v)| f.len() <= 64 && v.len() <= 64)
}

/// ... and a sorted set up to 128 members of at most 64 bytes.
pub fn zset_is_listpack(z: &crate::store::value::ZSet) -> bool {
    z.len() <= 128 && z.iter().all(|(m, _)| m.len() <= 64)
}

/// What the value costs in Redis, by its encoding.
fn value_size(value: &Value, samples: usize) -> usize {
    match value {
        Value::Str(s) => string_object(s),
        Value::List(l) => {
            // Listpacks of up to 8 KiB each, filled in order.
            let mut nodes = Vec::new();
            let mut current = 7;
            for item in &l.items {
                let e = listpack_entry(item);
                if current + e > NODE_BYTES && current > 7 {
                    nodes.push(current);
                    current = 7;
                }
                current += e;
            }
            nodes.push(current);
            let count = nodes.len();
            ROBJ + QUICKLIST
                + sampled(
                    count,
                    samples,
                    nodes.into_iter().map(|n| QUICKLIST_NODE + size_class(n)),
                )
        }
        Value::Hash(h) => {
            if hash_is_listpack(h) {
                let bytes = listpack(h.iter().flat_map(|(f, v)| [&f[..], &v[..]]));
                ROBJ + size_class(bytes)
            } else {
                ROBJ + dict_table(h.len())
                    + sampled(
                        h.len(),
                        samples,
                        h.iter()
                            .map(|(f, v)| DICT_ENTRY + sds(f.len()) + sds(v.len())),
                    )
            }
        }
        Value::Set(s) => {
            let ints: Option<Vec<i64>> = s
                .iter()
                .map(|m| (m.len() <= 20).then(|| args::strict_i64(m)).flatten())
                .collect();
            match ints {
                Some(ints) if ints.len() <= 512 => {
                    let width = if ints.iter().all(|v| i16::try_from(*v).is_ok()) {
                        2
                    } else if ints.iter().all(|v| i32::try_from(*v).is_ok()) {
                        4
                    } else {
                        8
                    };
                    ROBJ + size_class(8 + width * ints.len())
                }
                _ => {
                    ROBJ + dict_table(s.len())
                        + sampled(
                            s.len(),
                            samples,
                            s.iter().map(|m| DICT_ENTRY + sds(m.len())),
                        )
                }
            }
        }
        Value::ZSet(z) => {
            if zset_is_listpack(z) {
                let texts: Vec<(Bytes, String)> =
                    z.iter().map(|(m, s)| (m.clone(), score_text(s))).collect();
                let bytes = listpack(texts.iter().flat_map(|(m, s)| [&m[..], s.as_bytes()]));
                ROBJ + size_class(bytes)
            } else {
                // zset, skiplist, dict, and the skiplist's 32-level header node; each element
                // a dict entry, its sds, and a node of the average level (4/3 levels).
                ROBJ + 16
                    + 32
                    + dict_table(z.len())
                    + size_class(24 + 32 * 16)
                    + sampled(
                        z.len(),
                        samples,
                        z.iter()
                            .map(|(m, _)| DICT_ENTRY + sds(m.len()) + size_class(24 + 16 * 4 / 3)),
                    )
            }
        }
        Value::Stream(s) => {
            // An estimate: the stream and its radix tree, and a listpack of at least 4 KiB
            // (Redis preallocates them) per 100 entries.
            let mut nodes = Vec::new();
            let mut current = 0;
            for (i, (_, fields)) in s.entries.iter().enumerate() {
                if i > 0 && i % crate::store::stream::NODE_ENTRIES == 0 {
                    nodes.push(current);
                    current = 0;
                }
                current += 3 + fields.iter().map(|f| listpack_entry(f)).sum::<usize>();
            }
            nodes.push(current);
            let lists: usize = nodes.iter().map(|n| size_class((*n + 7).max(4096))).sum();
            ROBJ + 552 + lists + s.groups.len() * 200
        }
    }
}

/// MEMORY USAGE key [SAMPLES count], under the key's shard lock.
pub fn usage(v: &mut View, a: &[Bytes]) -> CmdResult {
    let mut samples = 5usize;
    let mut rest = a[3..].iter();
    while let Some(opt) = rest.next() {
        if !is(opt, "samples") {
            return Err(args::syntax());
        }
        let Some(n) = rest.next() else {
            return Err(args::syntax());
        };
        match args::strict_i64(n) {
            Some(n) if n >= 0 => samples = usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => return Err(args::syntax()),
            None => return Err(Reply::err("ERR value is not an integer or out of range")),
        }
    }
    let key = &a[2];
    let Some(entry) = v.peek(key)? else {
        return Ok(Reply::Nil);
    };
    let size = value_size(&entry.value, samples) + sds(key.len()) + DICT_ENTRY;
    Ok(Reply::Int(size as i64))
}

/// The process's resident and peak resident bytes (`/proc/self/status`), 0 where unknown.
pub fn resident() -> (u64, u64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (0, 0);
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Every subcommand but USAGE, which needs the key's shard (`Session::dispatch`).
pub fn command(server: &Server, a: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    let arity = match sub.as_str() {
        "usage" => 3,
        "stats" | "doctor" | "malloc-stats" | "purge" | "help" => 2,
        _ => {
            return Reply::err(format!(
                "ERR unknown subcommand '{}'. Try MEMORY HELP.",
                String::from_utf8_lossy(&a[1])
            ));
        }
    };
    if a.len() < arity || (sub != "usage" && a.len() > arity) {
        return Reply::err(format!(
            "ERR wrong number of arguments for 'memory|{sub}' command"
        ));
    }
    match sub.as_str() {
        "stats" => stats(server),
        "doctor" => Reply::Verbatim(doctor(server)),
        "malloc-stats" => Reply::Verbatim("Stats not supported for the current allocator".into()),
        "purge" => Reply::ok(),
        "help" => args::help(
            "MEMORY",
            &[
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
            ],
        ),
        // USAGE with its key is served under the key's shard lock.
        _ => Reply::err("ERR syntax error"),
    }
}

fn doctor(server: &Server) -> String {
    let (rss, _) = resident();
    let keys: usize = server.keyspace.key_counts().iter().map(|(k, _, _)| k).sum();
    // Redis's answer for an instance with less than 5 MB of data.
    if rss.saturating_sub(server.startup_rss()) < 5 << 20 || keys == 0 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into()
}

fn stats(server: &Server) -> Reply {
    let (rss, peak) = resident();
    let startup = server.startup_rss();
    let counts = server.keyspace.key_counts();
    let int = |n: u64| Reply::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let mut fields = vec![
        ("peak.allocated", int(peak)),
        ("total.allocated", int(rss)),
        ("startup.allocated", int(startup)),
        ("replication.backlog", int(0)),
        ("clients.slaves", int(0)),
        ("clients.normal", int(0)),
        ("cluster.links", int(0)),
        ("aof.buffer", int(0)),
        ("lua.caches", int(0)),
        ("functions.caches", int(0)),
    ];
    let mut overhead = startup;
    let mut dbs = Vec::new();
    let mut total_keys = 0u64;
    for (i, (keys, expires, _)) in counts.iter().enumerate() {
        if *keys == 0 {
            continue;
        }
        let main = (dict_table(*keys) + keys * DICT_ENTRY) as u64;
        let exp = if *expires > 0 {
            (dict_table(*expires) + expires * DICT_ENTRY) as u64
        } else {
            0
        };
        overhead += main + exp;
        total_keys += *keys as u64;
        dbs.push((
            format!("db.{i}"),
            Reply::Map(vec![
                (Reply::bulk("overhead.hashtable.main"), int(main)),
                (Reply::bulk("overhead.hashtable.expires"), int(exp)),
                (Reply::bulk("overhead.hashtable.slot-to-keys"), int(0)),
            ]),
        ));
    }
    let dataset = rss.saturating_sub(overhead);
    let net = rss.saturating_sub(startup);
    let pct = |a: u64, b: u64| {
        Reply::Double(if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        })
    };
    let mut reply: Vec<(Reply, Reply)> =
        fields.drain(..).map(|(k, v)| (Reply::bulk(k), v)).collect();
    reply.extend(dbs.into_iter().map(|(k, v)| (Reply::bulk(k), v)));
    let rest = [
        ("overhead.total", int(overhead)),
        ("keys.count", int(total_keys)),
        (
            "keys.bytes-per-key",
            int(net.checked_div(total_keys).unwrap_or(0)),
        ),
        ("dataset.bytes", int(dataset)),
        ("dataset.percentage", pct(dataset, net)),
        ("peak.percentage", pct(rss, peak)),
        ("allocator.allocated", int(rss)),
        ("allocator.active", int(rss)),
        ("allocator.resident", int(rss)),
        ("allocator-fragmentation.ratio", Reply::Double(1.0)),
        ("allocator-fragmentation.bytes", int(0)),
        ("allocator-rss.ratio", Reply::Double(1.0)),
        ("allocator-rss.bytes", int(0)),
        ("rss-overhead.ratio", Reply::Double(1.0)),
        ("rss-overhead.bytes", int(0)),
        ("fragmentation", Reply::Double(1.0)),
        ("fragmentation.bytes", int(0)),
    ];
    reply.extend(rest.into_iter().map(|(k, v)| (Reply::bulk(k), v)));
    Reply::Map(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_jemallocs() {
        let classes: Vec<usize> = [1, 8, 9, 17, 23, 48, 49, 129, 160, 161, 306, 4097, 20000]
            .iter()
            .map(|n| size_class(*n))
            .collect();
        assert_eq!(
            classes,
            vec![8, 8, 16, 32, 32, 48, 64, 160, 160, 192, 320, 5120, 20480]
        );
    }

    #[test]
    fn strings_cost_what_redis_server_reports() {
        // redis-server 7.0.15's MEMORY USAGE of these keys, minus key and dict entry.
        assert_eq!(string_object(b"bar") + sds(3) + DICT_ENTRY, 64);
        assert_eq!(string_object(b"123") + sds(3) + DICT_ENTRY, 48);
        assert_eq!(string_object(&[b'x'; 44]) + sds(3) + DICT_ENTRY, 96);
        assert_eq!(string_object(&[b'x'; 45]) + sds(3) + DICT_ENTRY, 112);
        assert_eq!(string_object(&[b'x'; 300]) + sds(3) + DICT_ENTRY, 368);
        assert_eq!(string_object(b"v") + sds(40) + DICT_ENTRY, 104);
    }
}
