//! Server commands: INFO, CONFIG, COMMAND, TIME, FLUSHALL, CLUSTER KEYSLOT and friends.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{glob, is};
use super::table::{COMMANDS, Spec, lookup};
use crate::error::Error;
use crate::frame::Reply;
use crate::server::Server;
use crate::session::{Output, Session};
use crate::store::{View, value};

/// The Redis version this front-end answers as.
pub const VERSION: &str = "7.0.15";

pub async fn run(
    s: &mut Session,
    server: &Arc<Server>,
    name: &str,
    a: &[Bytes],
    out: &mut Output,
) -> Result<Option<Reply>, Error> {
    Ok(Some(match name {
        "info" => Reply::Verbatim(
            server
                .info(
                    &a[1..]
                        .iter()
                        .map(|x| String::from_utf8_lossy(x).to_ascii_lowercase())
                        .collect::<Vec<_>>(),
                    server.local_port(s.id),
                )
                .await,
        ),
        "config" => config(server, a),
        "command" => command(a),
        "time" => time(),
        "lastsave" => Reply::Int(server.started_unix()),
        "save" | "bgsave" => {
            // Every acknowledged write is durable already; there is nothing to save.
            if name == "save" {
                Reply::ok()
            } else {
                Reply::Simple("Background saving started".into())
            }
        }
        "cluster" => cluster(a),
        "slowlog" => server.slowlog.command(a),
        "latency" => server.stats.command(a),
        "role" => Reply::Array(vec![
            Reply::bulk("master"),
            Reply::Int(0),
            Reply::Array(Vec::new()),
        ]),
        "bgrewriteaof" => {
            // There is no append-only file to rewrite: the shard objects are the durable copy.
            Reply::Simple("Background append only file rewriting started".into())
        }
        // A standalone server's answer (CLUSTER INFO says cluster_enabled:0).
        "readonly" | "readwrite" | "asking" => {
            Reply::err("ERR This instance has cluster support disabled")
        }
        // redis-server's answer with its default `enable-debug-command no`.
        "debug" => Reply::err(not_allowed("DEBUG", "debug")),
        "module" => module(a),
        "shutdown" => Reply::err(
            "ERR SHUTDOWN is not supported by dotdo: the gateway serves other protocols too; stop its process (SIGTERM shuts every front-end down cleanly)",
        ),
        "wait" | "waitaof" => return Ok(Some(wait(name, a).await)),
        "flushall" => {
            if a.len() > 2 || a.get(1).is_some_and(|m| !(is(m, "sync") || is(m, "async"))) {
                return Ok(Some(super::args::syntax()));
            }
            for db in 0..server.keyspace.databases() {
                let Some(d) = server.keyspace.db(db) else {
                    continue;
                };
                let mut shards = Vec::new();
                for i in 0..d.shard_count() {
                    shards.push((i, d.shard(i).await?));
                }
                let mut view = View::lock(server.keyspace.slots, &shards, 0, s.resp3);
                view.shards_mut().for_each(|st| st.flush());
                out.add_tickets(view.finish()?);
            }
            Reply::ok()
        }
        other => Reply::err(format!("ERR unknown command '{other}'")),
    }))
}

/// The error redis-server gives for a command its configuration keeps off
/// (`enable-debug-command`, `enable-module-command`: `no` by default).
fn not_allowed(command: &str, option: &str) -> String {
    format!(
        "ERR {command} command not allowed. If the enable-{option}-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
    )
}

/// MODULE: no modules are loaded, and none can be (as redis-server with its default
/// `enable-module-command no` refuses LOAD, LOADEX and UNLOAD).
fn module(a: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("list", 2) => Reply::Array(Vec::new()),
        ("load" | "loadex", n) if n >= 3 => Reply::err(not_allowed("MODULE", "module")),
        ("unload", 3) => Reply::err(not_allowed("MODULE", "module")),
        ("help", 2) => super::args::help(
            "MODULE",
            &[
                "LIST",
                "    Return a list of loaded modules.",
                "LOAD <path> [<arg> ...]",
                "    Load a module library from <path>, passing to it any optional arguments.",
                "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
                "    Load a module library from <path>, while passing it module configurations and optional arguments.",
                "UNLOAD <name>",
                "    Unload a module.",
            ],
        ),
        ("list" | "load" | "loadex" | "unload" | "help", _) => Reply::err(format!(
            "ERR wrong number of arguments for 'module|{sub}' command"
        )),
        _ => Reply::err(format!(
            "ERR unknown subcommand '{}'. Try MODULE HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

/// WAIT numreplicas timeout / WAITAOF numlocal numreplicas timeout: there are no replicas, and
/// every acknowledged write is on local disk already (the reply leaves after the writes before
/// it are durable), so WAITAOF's local count is 1. Asking for replicas waits out the timeout
/// (0: forever), as redis-server without replicas does.
async fn wait(name: &str, a: &[Bytes]) -> Reply {
    let aof = name == "waitaof";
    let counts = &a[1..a.len() - 1];
    let mut nums = Vec::with_capacity(2);
    for c in counts {
        match super::args::strict_i64(c) {
            Some(n) => nums.push(n),
            None => return Reply::err(crate::frame::errors::NOT_INT),
        }
    }
    let ms = match timeout_ms(&a[a.len() - 1]) {
        Ok(ms) => ms,
        Err(e) => return e,
    };
    let replicas = nums.last().copied().unwrap_or(0);
    if replicas > 0 {
        match ms {
            0 => std::future::pending::<()>().await,
            ms => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
        }
    }
    if aof {
        Reply::Array(vec![Reply::Int(1), Reply::Int(0)])
    } else {
        Reply::Int(0)
    }
}

/// A timeout in milliseconds as Redis's `getTimeoutFromObjectOrReply` reads it.
pub fn timeout_ms(arg: &[u8]) -> Result<u64, Reply> {
    match super::args::strict_i64(arg) {
        None => Err(Reply::err("ERR timeout is not an integer or out of range")),
        Some(n) if n < 0 => Err(Reply::err("ERR timeout is negative")),
        Some(n) => Ok(n as u64),
    }
}

pub fn time() -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk(now.as_secs().to_string()),
        Reply::bulk(now.subsec_micros().to_string()),
    ])
}

fn cluster(a: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("keyslot", 3) => Reply::Int(i64::from(dotdo_shard::key_slot(&a[2]))),
        ("keyslot", _) => Reply::err("ERR wrong number of arguments for 'cluster|keyslot' command"),
        _ => Reply::err("ERR This instance has cluster support disabled"),
    }
}

/// `maxmemory-policy`'s values, in the order Redis lists them. dotdo evicts nothing (the data
/// lives in the shard objects), but the policy decides what OBJECT FREQ and IDLETIME track.
const POLICIES: [&str; 8] = [
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// The settings clients probe, as CONFIG GET reports them.
fn config_values(server: &Server) -> Vec<(&'static str, String)> {
    let c = &server.config;
    let mut v = vec![
        ("databases", c.databases.to_string()),
        ("save", String::new()),
        ("appendonly", "no".into()),
        ("appendfsync", "always".into()),
        ("enable-debug-command", "no".into()),
        ("io-threads", "1".into()),
        ("enable-module-command", "no".into()),
        ("enable-protected-configs", "no".into()),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        ("lfu-log-factor", value::lfu_log_factor().to_string()),
        ("lfu-decay-time", value::lfu_decay_time().to_string()),
        ("timeout", "0".into()),
        ("tcp-keepalive", "300".into()),
        ("proto-max-bulk-len", c.proto_max_bulk_len.to_string()),
        ("maxclients", c.maxclients.to_string()),
        (
            "notify-keyspace-events",
            crate::notify::format(server.notify_flags()),
        ),
        ("cluster-enabled", "no".into()),
        ("client-output-buffer-limit", output_limits(server)),
        ("lua-time-limit", server.scripts.busy_ms().to_string()),
        ("busy-reply-threshold", server.scripts.busy_ms().to_string()),
        (
            "slowlog-log-slower-than",
            server.slowlog.threshold().to_string(),
        ),
        ("slowlog-max-len", server.slowlog.max_len().to_string()),
        (
            "latency-monitor-threshold",
            server.stats.monitor_ms().to_string(),
        ),
        (
            "latency-tracking",
            if server.stats.tracking() { "yes" } else { "no" }.into(),
        ),
        (
            "latency-tracking-info-percentiles",
            server
                .stats
                .percentiles()
                .iter()
                .map(|p| format!("{p}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (
            "tracking-table-max-keys",
            server.tracking.max_keys().to_string(),
        ),
        ("hash-max-listpack-entries", "512".into()),
        ("hash-max-listpack-value", "64".into()),
        ("zset-max-listpack-value", "64".into()),
        ("list-max-listpack-size", "-2".into()),
        ("set-max-intset-entries", "512".into()),
        ("zset-max-listpack-entries", "128".into()),
    ];
    for (k, val) in server.config_overrides.lock().iter() {
        if let Some(e) = v.iter_mut().find(|(n, _)| n == k) {
            e.1.clone_from(val);
        }
    }
    v.sort_by_key(|(k, _)| *k);
    v
}

/// `client-output-buffer-limit` as Redis reports it, with the pub/sub class in force. The
/// normal and replica classes are reported as set but not enforced: a normal client's
/// replies are bounded by its own pipeline, and there are no replicas.
fn output_limits(server: &Server) -> String {
    let l = &server.pubsub_limits;
    let other = server.other_output_limits.lock();
    let [nh, ns, nt] = other.get("normal").copied().unwrap_or([0, 0, 0]);
    let [rh, rs, rt] = other
        .get("replica")
        .copied()
        .unwrap_or([256 << 20, 64 << 20, 60]);
    format!(
        "normal {nh} {ns} {nt} slave {rh} {rs} {rt} pubsub {} {} {}",
        l.hard.load(Ordering::Relaxed),
        l.soft.load(Ordering::Relaxed),
        l.soft_seconds.load(Ordering::Relaxed)
    )
}

/// `<class> <hard> <soft> <seconds>` groups, sizes with Redis's units (`32mb`, `8k`, ...).
fn parse_output_limits(v: &[u8]) -> Option<Vec<(&'static str, u64, u64, u64)>> {
    let text = std::str::from_utf8(v).ok()?.to_ascii_lowercase();
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return None;
    }
    let size = |w: &str| -> Option<u64> {
        let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit: u64 = match &w[digits.len()..] {
            "" | "b" => 1,
            "k" => 1000,
            "kb" => 1024,
            "m" => 1000 * 1000,
            "mb" => 1024 * 1024,
            "g" => 1000 * 1000 * 1000,
            "gb" => 1024 * 1024 * 1024,
            _ => return None,
        };
        digits.parse::<u64>().ok()?.checked_mul(unit)
    };
    words
        .chunks(4)
        .map(|g| {
            let class = match g[0] {
                "normal" => "normal",
                "slave" | "replica" => "replica",
                "pubsub" => "pubsub",
                _ => return None,
            };
            Some((class, size(g[1])?, size(g[2])?, g[3].parse().ok()?))
        })
        .collect()
}

pub(super) fn config(server: &Server, a: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" if a.len() >= 3 => {
            let values = config_values(server);
            let mut out = Vec::new();
            for (k, val) in &values {
                if a[2..]
                    .iter()
                    .any(|p| glob(&p.to_ascii_lowercase(), k.as_bytes()))
                {
                    out.push((Reply::bulk(*k), Reply::bulk(val.clone())));
                }
            }
            Reply::Map(out)
        }
        "set" if a.len() >= 4 && a.len().is_multiple_of(2) => {
            let known = config_values(server);
            let mut set = Vec::new();
            let mut notify = None;
            let mut limits = Vec::new();
            let mut slow = Vec::new();
            let (mut tracking, mut percentiles) = (None, None);
            // Every pair is checked before any applies, as in Redis.
            for pair in a[2..].chunks(2) {
                let key = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                let Some((name, _)) = known.iter().find(|(k, _)| *k == key) else {
                    return Reply::err(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{key}'"
                    ));
                };
                if *name == "client-output-buffer-limit" {
                    match parse_output_limits(&pair[1]) {
                        Some(l) => limits = l,
                        None => {
                            return Reply::err(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - Wrong number of arguments in buffer limit configuration."
                            ));
                        }
                    }
                    continue;
                }
                if *name == "latency-tracking" {
                    match String::from_utf8_lossy(&pair[1])
                        .to_ascii_lowercase()
                        .as_str()
                    {
                        "yes" => tracking = Some(true),
                        "no" => tracking = Some(false),
                        _ => {
                            return Reply::err(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be 'yes' or 'no'"
                            ));
                        }
                    }
                    continue;
                }
                if *name == "latency-tracking-info-percentiles" {
                    let text = String::from_utf8_lossy(&pair[1]).into_owned();
                    let parsed: Option<Vec<f64>> = text
                        .split_ascii_whitespace()
                        .map(|w| w.parse::<f64>().ok().filter(|p| (0.0..=100.0).contains(p)))
                        .collect();
                    match parsed {
                        Some(p) => percentiles = Some(p),
                        None => {
                            return Reply::err(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - Invalid latency-tracking-info-percentiles parameters"
                            ));
                        }
                    }
                    continue;
                }
                if matches!(
                    *name,
                    "slowlog-log-slower-than"
                        | "latency-monitor-threshold"
                        | "slowlog-max-len"
                        | "lua-time-limit"
                        | "busy-reply-threshold"
                        | "tracking-table-max-keys"
                        | "lfu-log-factor"
                        | "lfu-decay-time"
                ) {
                    let (min, max) = match *name {
                        "slowlog-log-slower-than" => (-1, i64::MAX),
                        "lfu-log-factor" | "lfu-decay-time" => (0, i64::from(i32::MAX)),
                        _ => (0, i64::MAX),
                    };
                    match super::args::strict_i64(&pair[1]) {
                        Some(n) if (min..=max).contains(&n) => slow.push((*name, n)),
                        Some(_) => {
                            return Reply::err(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be between {min} and {max} inclusive"
                            ));
                        }
                        None => {
                            return Reply::err(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer"
                            ));
                        }
                    }
                    continue;
                }
                if *name == "maxmemory-policy" {
                    let policy = String::from_utf8_lossy(&pair[1]).to_ascii_lowercase();
                    if !POLICIES.contains(&policy.as_str()) {
                        return Reply::err(format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - argument(s) must be one of the following: {}",
                            POLICIES.join(", ")
                        ));
                    }
                    set.push((*name, policy));
                    continue;
                }
                if *name == "notify-keyspace-events" {
                    match crate::notify::parse(&pair[1]) {
                        Some(f) => notify = Some(f),
                        None => {
                            return Reply::err(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                            ));
                        }
                    }
                    continue;
                }
                set.push((*name, String::from_utf8_lossy(&pair[1]).into_owned()));
            }
            if let Some(f) = notify {
                server.set_notify_flags(f);
            }
            if let Some((_, policy)) = set.iter().find(|(n, _)| *n == "maxmemory-policy") {
                value::set_policy(policy);
            }
            if let Some(on) = tracking {
                server.stats.set_tracking(on);
            }
            if let Some(p) = percentiles {
                server.stats.set_percentiles(p);
            }
            for (name, n) in slow {
                match name {
                    "slowlog-max-len" => {
                        server
                            .slowlog
                            .set_max_len(usize::try_from(n).unwrap_or(usize::MAX));
                    }
                    "slowlog-log-slower-than" => server.slowlog.set_threshold(n),
                    "latency-monitor-threshold" => server.stats.set_monitor_ms(n.unsigned_abs()),
                    "lfu-log-factor" => value::set_lfu_log_factor(n as u32),
                    "lfu-decay-time" => value::set_lfu_decay_time(n as u32),
                    "tracking-table-max-keys" => {
                        server
                            .tracking
                            .set_max_keys(usize::try_from(n).unwrap_or(usize::MAX));
                    }
                    _ => server.scripts.set_busy_ms(n.unsigned_abs()),
                }
            }
            for (class, hard, soft, secs) in limits {
                if class == "pubsub" {
                    let l = &server.pubsub_limits;
                    l.hard.store(hard, Ordering::Relaxed);
                    l.soft.store(soft, Ordering::Relaxed);
                    l.soft_seconds.store(secs, Ordering::Relaxed);
                } else {
                    server
                        .other_output_limits
                        .lock()
                        .insert(class, [hard, soft, secs]);
                }
            }
            server.config_overrides.lock().extend(set);
            Reply::ok()
        }
        "resetstat" if a.len() == 2 => {
            server.reset_stats();
            Reply::ok()
        }
        // There is no redis.conf to rewrite: dotdo's settings live in its own configuration.
        "rewrite" if a.len() == 2 => Reply::err("ERR The server is running without a config file"),
        _ => Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

/// COMMAND INFO of a command: its arity and ACL categories from the table (which the command
/// runs by, and tests compare with redis-server's); its flags, legacy key positions, tips, key
/// specifications and subcommands as redis-server 7.0 describes the command (`reference`),
/// since clients read those to route and hint, and the table keeps only the flags dotdo
/// acts on. A command Redis 7.0 lacks gets the table's flags and positions.
fn info_of(spec: &Spec) -> Reply {
    let (f, l, s) = spec.key_positions();
    let mut v = vec![
        Reply::bulk(spec.name),
        Reply::Int(spec.arity.into()),
        Reply::Set(
            spec.flags
                .iter()
                .map(|f| Reply::Simple((*f).into()))
                .collect(),
        ),
        Reply::Int(f),
        Reply::Int(l),
        Reply::Int(s),
        Reply::Set(
            crate::acl::shown_categories(spec)
                .into_iter()
                .map(|c| Reply::Simple(format!("@{c}")))
                .collect(),
        ),
    ];
    match super::reference::described(spec.name) {
        Some((flags_and_positions, tail)) => {
            v.splice(2..6, flags_and_positions);
            v.extend(tail);
        }
        None => v.extend([Reply::Set(vec![]), Reply::Set(vec![]), Reply::Set(vec![])]),
    }
    Reply::Array(v)
}

/// COMMAND INFO of a name: a command, or a subcommand's full name (`config|get`).
fn info_of_name(name: &str) -> Reply {
    match lookup(name) {
        Some(spec) => info_of(spec),
        None => super::reference::subcommand_info(name).unwrap_or(Reply::NilArray),
    }
}

/// COMMAND DOCS of a command or a subcommand's full name, as redis-server 7.0 documents it
/// (`None`: not one dotdo serves).
fn docs_of_name(name: &str) -> Option<Reply> {
    match lookup(name) {
        Some(spec) => Some(super::reference::docs(name).unwrap_or_else(|| docs_of(spec))),
        None => super::reference::docs(name),
    }
}

/// A command Redis 7.0 does not document (WAITAOF is 7.2's): its name and group.
fn docs_of(spec: &Spec) -> Reply {
    Reply::Map(vec![
        (
            Reply::bulk("summary"),
            Reply::bulk(format!("{} command", spec.name.to_ascii_uppercase())),
        ),
        (Reply::bulk("since"), Reply::bulk("1.0.0")),
        (Reply::bulk("group"), Reply::bulk(spec.group)),
    ])
}

fn command(a: &[Bytes]) -> Reply {
    let Some(sub) = a.get(1) else {
        return Reply::Array(COMMANDS.iter().map(info_of).collect());
    };
    let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
    let names = || {
        a[2..]
            .iter()
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
    };
    match sub.as_str() {
        "count" => Reply::Int(COMMANDS.len() as i64),
        "info" if a.len() == 2 => Reply::Array(COMMANDS.iter().map(info_of).collect()),
        "info" => Reply::Array(names().map(|n| info_of_name(&n)).collect()),
        "docs" if a.len() == 2 => Reply::Map(
            COMMANDS
                .iter()
                .filter_map(|s| Some((Reply::bulk(s.name), docs_of_name(s.name)?)))
                .collect(),
        ),
        "docs" => Reply::Map(
            names()
                .filter_map(|n| {
                    let d = docs_of_name(&n)?;
                    Some((Reply::bulk(n), d))
                })
                .collect(),
        ),
        "list" => command_list(&a[2..]),
        "getkeys" if a.len() >= 3 => {
            let args = &a[2..];
            match lookup(&String::from_utf8_lossy(&args[0]).to_ascii_lowercase()) {
                Some(Spec {
                    keys: super::table::Keys::At(f, l, st),
                    ..
                }) => Reply::bulks(super::table::keys_at(args, *f, *l, *st).cloned()),
                Some(_) => Reply::err("ERR The command has no key arguments"),
                None => Reply::err("ERR Invalid command specified"),
            }
        }
        _ => Reply::err(format!("ERR unknown subcommand '{sub}'. Try COMMAND HELP.")),
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every command,
/// and each subcommand of a container command by its full name (`config|get`), as Redis 7.0
/// lists them, each in the ACL categories Redis gives it.
fn command_list(filter: &[Bytes]) -> Reply {
    let all = || {
        COMMANDS.iter().flat_map(|spec| {
            std::iter::once((spec, spec.name))
                .chain(crate::stats::subcommands_of(spec.name).map(move |full| (spec, full)))
        })
    };
    let names: Vec<&str> = match filter {
        [] => all().map(|(_, n)| n).collect(),
        [by, kind, value] if is(by, "filterby") => {
            let value = String::from_utf8_lossy(value).to_ascii_lowercase();
            if is(kind, "module") {
                Vec::new()
            } else if is(kind, "aclcat") {
                all()
                    .filter(|(spec, n)| {
                        super::reference::categories(n)
                            .unwrap_or_else(|| crate::acl::categories(spec))
                            .contains(&value.as_str())
                    })
                    .map(|(_, n)| n)
                    .collect()
            } else if is(kind, "pattern") {
                all()
                    .map(|(_, n)| n)
                    .filter(|n| glob(value.as_bytes(), n.as_bytes()))
                    .collect()
            } else {
                return super::args::syntax();
            }
        }
        _ => return super::args::syntax(),
    };
    Reply::Array(names.into_iter().map(Reply::bulk).collect())
}

#[cfg(test)]
mod tests {
    use super::parse_output_limits;

    #[test]
    fn output_limits_parse_as_redis_reads_them() {
        assert_eq!(
            parse_output_limits(b"pubsub 32mb 8mb 60"),
            Some(vec![("pubsub", 32 << 20, 8 << 20, 60)])
        );
        assert_eq!(
            parse_output_limits(b"normal 0 0 0 SLAVE 1gb 64k 30 pubsub 100 2kb 1"),
            Some(vec![
                ("normal", 0, 0, 0),
                ("replica", 1 << 30, 64_000, 30),
                ("pubsub", 100, 2048, 1),
            ])
        );
        for bad in [
            &b""[..],
            b"pubsub 1mb 1mb",
            b"pubsub 1xb 0 0",
            b"other 0 0 0",
            b"pubsub -1 0 0",
        ] {
            assert_eq!(
                parse_output_limits(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
