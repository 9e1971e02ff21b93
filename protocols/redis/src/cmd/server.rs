//! Server commands: INFO, CONFIG, COMMAND, TIME, FLUSHALL, CLUSTER KEYSLOT and friends.

use std::sync::Arc;

use bytes::Bytes;

use super::args::{glob, is};
use super::table::{COMMANDS, Spec, lookup};
use crate::error::Error;
use crate::frame::Reply;
use crate::server::Server;
use crate::session::{Output, Session};
use crate::store::View;

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
                    a.get(1)
                        .map(|x| String::from_utf8_lossy(x).to_ascii_lowercase()),
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

/// The settings clients probe, as CONFIG GET reports them.
fn config_values(server: &Server) -> Vec<(&'static str, String)> {
    let c = &server.config;
    let mut v = vec![
        ("databases", c.databases.to_string()),
        ("save", String::new()),
        ("appendonly", "no".into()),
        ("appendfsync", "always".into()),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        ("timeout", "0".into()),
        ("tcp-keepalive", "300".into()),
        ("proto-max-bulk-len", c.proto_max_bulk_len.to_string()),
        ("maxclients", c.maxclients.to_string()),
        (
            "notify-keyspace-events",
            crate::notify::format(server.notify_flags()),
        ),
        ("cluster-enabled", "no".into()),
        ("lua-time-limit", "5000".into()),
        ("slowlog-log-slower-than", "10000".into()),
        ("slowlog-max-len", "128".into()),
        ("hash-max-listpack-entries", "128".into()),
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

fn config(server: &Server, a: &[Bytes]) -> Reply {
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
            // Every pair is checked before any applies, as in Redis.
            for pair in a[2..].chunks(2) {
                let key = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                let Some((name, _)) = known.iter().find(|(k, _)| *k == key) else {
                    return Reply::err(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{key}'"
                    ));
                };
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
            server.config_overrides.lock().extend(set);
            Reply::ok()
        }
        "resetstat" | "rewrite" if a.len() == 2 => Reply::ok(),
        _ => Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

fn info_of(spec: &Spec) -> Reply {
    let (f, l, s) = spec.key_positions();
    Reply::Array(vec![
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
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

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
    let named = || {
        a[2..]
            .iter()
            .map(|n| lookup(&String::from_utf8_lossy(n).to_ascii_lowercase()))
    };
    match sub.as_str() {
        "count" => Reply::Int(COMMANDS.len() as i64),
        "info" => Reply::Array(
            named()
                .map(|s| s.map_or(Reply::NilArray, info_of))
                .collect(),
        ),
        "docs" if a.len() == 2 => Reply::Map(
            COMMANDS
                .iter()
                .map(|s| (Reply::bulk(s.name), docs_of(s)))
                .collect(),
        ),
        "docs" => Reply::Map(
            named()
                .flatten()
                .map(|s| (Reply::bulk(s.name), docs_of(s)))
                .collect(),
        ),
        "list" => Reply::Array(COMMANDS.iter().map(|s| Reply::bulk(s.name)).collect()),
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
