//! Connection commands (PING, ECHO, SELECT, AUTH, HELLO, CLIENT, QUIT, RESET) and pub/sub;
//! the single dispatch for commands without keys.

use std::sync::Arc;

use bytes::Bytes;

use super::args::{int, is};
use super::server as srv;
use crate::error::Error;
use crate::frame::{Reply, errors};
use crate::server::Server;
use crate::session::{Output, Session};

/// Run a command that has no keys. `None` means the replies were written to `out` already.
pub async fn run(
    s: &mut Session,
    server: &Arc<Server>,
    name: &str,
    a: &[Bytes],
    out: &mut Output,
) -> Result<Option<Reply>, Error> {
    Ok(Some(match name {
        "ping" => ping(s, a),
        "echo" => Reply::Bulk(a[1].clone()),
        "select" => select(s, server, a),
        "auth" => auth(s, server, a),
        "hello" => hello(s, server, a),
        "client" => client(s, server, a),
        "quit" => {
            s.closing = true;
            Reply::ok()
        }
        "reset" => reset(s, server),
        "monitor" => {
            s.monitoring = true;
            server.monitors.add(s.id, s.outbox.clone());
            Reply::ok()
        }
        "subscribe" | "psubscribe" => {
            subscribe(s, server, a, name == "psubscribe", out);
            return Ok(None);
        }
        "unsubscribe" | "punsubscribe" => {
            unsubscribe(s, server, a, name == "punsubscribe", out);
            return Ok(None);
        }
        "ssubscribe" => {
            ssubscribe(s, server, a, out);
            return Ok(None);
        }
        "sunsubscribe" => {
            sunsubscribe(s, server, a, out);
            return Ok(None);
        }
        "publish" => Reply::Int(server.pubsub.publish(&a[1], &a[2])),
        "spublish" => Reply::Int(server.pubsub.spublish(&a[1], &a[2])),
        "pubsub" => pubsub(server, a),
        "script" => super::script::script(&server.scripts, a),
        "function" => return super::function::command(server, a, out).await.map(Some),
        "acl" => super::acl::acl(s, server, a),
        "swapdb" => super::db::swapdb(server, a),
        "replconf" => return Ok(super::sync::replconf(s, a)),
        "sync" | "psync" => return super::sync::sync(s, server, name, out).await,
        _ => return srv::run(s, server, name, a, out).await,
    }))
}

/// Commands without keys that may run inside EXEC (under the transaction's shard locks: none
/// of these waits or takes a shard lock).
pub fn in_transaction(s: &mut Session, server: &Server, name: &str, a: &[Bytes]) -> Reply {
    match name {
        "ping" => ping(s, a),
        "publish" => Reply::Int(server.pubsub.publish(&a[1], &a[2])),
        "spublish" => Reply::Int(server.pubsub.spublish(&a[1], &a[2])),
        "ssubscribe" => Reply::err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client"),
        "pubsub" => pubsub(server, a),
        "client" => client(s, server, a),
        "config" => srv::config(server, a),
        "echo" => Reply::Bulk(a[1].clone()),
        "time" => srv::time(),
        "monitor" => Reply::err("ERR MONITOR isn't allowed for DENY BLOCKING client"),
        // A transaction never blocks: WAIT answers at once.
        "wait" => Reply::Int(0),
        _ => Reply::err(format!(
            "ERR '{name}' inside MULTI is not supported by this server"
        )),
    }
}

fn ping(s: &Session, a: &[Bytes]) -> Reply {
    if a.len() > 2 {
        return Reply::wrong_args("ping");
    }
    if s.subscriptions() > 0 && !s.resp3 {
        return Reply::Array(vec![
            Reply::bulk("pong"),
            Reply::Bulk(a.get(1).cloned().unwrap_or_default()),
        ]);
    }
    match a.get(1) {
        Some(m) => Reply::Bulk(m.clone()),
        None => Reply::Simple("PONG".into()),
    }
}

fn select(s: &mut Session, server: &Server, a: &[Bytes]) -> Reply {
    match super::args::strict_i64(&a[1]) {
        None => Reply::err(errors::NOT_INT),
        Some(n) if n < 0 || n as usize >= server.keyspace.databases() => {
            Reply::err(errors::DB_RANGE)
        }
        Some(n) => {
            s.db = n as usize;
            server.update_client(s);
            Reply::ok()
        }
    }
}

fn check_auth(s: &mut Session, server: &Server, user: &[u8], pass: &[u8]) -> Result<(), Reply> {
    if server.acl.authenticate(user, pass) {
        s.authenticated = true;
        s.user = String::from_utf8_lossy(user).into_owned();
        // Its permissions are read before the next command.
        s.acl_gen = u64::MAX;
        server.update_client(s);
        Ok(())
    } else {
        Err(Reply::err(errors::WRONGPASS))
    }
}

fn auth(s: &mut Session, server: &Server, a: &[Bytes]) -> Reply {
    let result = match a.len() {
        2 if server.acl.get("default").is_some_and(|u| u.nopass) => {
            return Reply::err(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
        }
        2 => check_auth(s, server, b"default", &a[1]),
        3 => check_auth(s, server, &a[1], &a[2]),
        _ => return super::args::syntax(),
    };
    result.map_or_else(|e| e, |()| Reply::ok())
}

fn hello(s: &mut Session, server: &Server, a: &[Bytes]) -> Reply {
    let mut proto = None;
    let mut i = 1;
    if let Some(v) = a.get(1) {
        match super::args::strict_i64(v) {
            Some(p @ 2..=3) => proto = Some(p),
            Some(_) => return Reply::err("NOPROTO unsupported protocol version"),
            None => return Reply::err("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    let mut name = None;
    while i < a.len() {
        if is(&a[i], "auth") && i + 2 < a.len() {
            if let Err(e) = check_auth(s, server, &a[i + 1], &a[i + 2]) {
                return e;
            }
            i += 3;
        } else if is(&a[i], "setname") && i + 1 < a.len() {
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return Reply::err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&a[i])
            ));
        }
    }
    if !s.authenticated {
        return Reply::err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(p) = proto {
        s.resp3 = p == 3;
        if s.tracking.is_some() {
            server.tracking.set_resp3(s.id, s.resp3);
        }
    }
    if name.is_some() {
        s.name = name;
        server.update_client(s);
    }
    Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(srv::VERSION)),
        (
            Reply::bulk("proto"),
            Reply::Int(if s.resp3 { 3 } else { 2 }),
        ),
        (Reply::bulk("id"), Reply::Int(s.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(vec![])),
    ])
}

fn reset(s: &mut Session, server: &Server) -> Reply {
    server.monitors.remove(s.id);
    s.monitoring = false;
    for ch in s.channels.drain() {
        server.pubsub.unsubscribe(false, &ch, s.id);
    }
    for p in s.patterns.drain() {
        server.pubsub.unsubscribe(true, &p, s.id);
    }
    for ch in s.shard_channels.drain() {
        server.pubsub.sunsubscribe(&ch, s.id);
    }
    s.multi = None;
    s.watch = None;
    s.db = 0;
    s.resp3 = false;
    if s.tracking.take().is_some() {
        server.tracking.disable(s.id);
    }
    s.caching = None;
    s.name = None;
    s.authenticated = server.acl.default_open();
    s.user = "default".into();
    s.acl_gen = u64::MAX;
    server.update_client(s);
    Reply::Simple("RESET".into())
}

fn client(s: &mut Session, server: &Server, a: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    let wrong = || {
        Reply::err(format!(
            "ERR wrong number of arguments for 'client|{sub}' command"
        ))
    };
    match sub.as_str() {
        "setname" => {
            let Some(n) = a.get(2).filter(|_| a.len() == 3) else {
                return wrong();
            };
            if n.iter().any(|&b| b <= b' ' || b > b'~') {
                return Reply::err(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            s.name = (!n.is_empty()).then(|| n.clone());
            server.update_client(s);
            Reply::ok()
        }
        "getname" => Reply::opt_bulk(s.name.clone()),
        "tracking" if a.len() >= 3 => tracking(s, server, a),
        "caching" if a.len() == 3 => caching(s, &a[2]),
        "getredir" if a.len() == 2 => Reply::Int(match &s.tracking {
            None => -1,
            Some(t) => t.redirect.map_or(0, |r| r as i64),
        }),
        "trackinginfo" if a.len() == 2 => tracking_info(s, server),
        "tracking" | "caching" | "getredir" | "trackinginfo" => wrong(),
        "id" => Reply::Int(s.id as i64),
        "info" => Reply::Verbatim(server.client_line(s)),
        "list" => Reply::Verbatim(server.client_list(s)),
        "kill" => client_kill(server, a),
        "pause" if a.len() == 3 || a.len() == 4 => {
            let all = match a.get(3) {
                None => true,
                Some(m) if is(m, "all") => true,
                Some(m) if is(m, "write") => false,
                Some(_) => return Reply::err("ERR CLIENT PAUSE mode must be WRITE or ALL"),
            };
            let ms = match srv::timeout_ms(&a[2]) {
                Ok(ms) => ms,
                Err(e) => return e,
            };
            let until =
                tokio::time::Instant::now() + std::time::Duration::from_millis(ms.min(1 << 44));
            server.pause.pause(until, all);
            Reply::ok()
        }
        "pause" if a.len() < 3 => wrong(),
        "pause" => Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&a[1])
        )),
        "unpause" if a.len() == 2 => {
            server.pause.unpause();
            Reply::ok()
        }
        // dotdo never evicts clients or keys, and keeps no LRU clock a client could spare.
        "no-evict" | "no-touch" if a.len() == 3 => {
            if is(&a[2], "on") || is(&a[2], "off") {
                Reply::ok()
            } else {
                super::args::syntax()
            }
        }
        "unpause" | "no-evict" | "no-touch" => wrong(),
        "setinfo" => Reply::ok(),
        // The reply itself is dropped or sent by `Session::execute`, as the mode says.
        "reply" if a.len() == 3 => {
            let off = s.reply == crate::session::ReplyMode::Off;
            if is(&a[2], "on") {
                s.reply = crate::session::ReplyMode::On;
            } else if is(&a[2], "off") {
                s.reply = crate::session::ReplyMode::Off;
            } else if is(&a[2], "skip") {
                if !off {
                    s.reply = crate::session::ReplyMode::SkipNext;
                }
            } else {
                return super::args::syntax();
            }
            Reply::ok()
        }
        "unblock" if a.len() == 3 || a.len() == 4 => {
            let error = match a.get(3) {
                None => false,
                Some(m) if is(m, "timeout") => false,
                Some(m) if is(m, "error") => true,
                Some(_) => {
                    return Reply::err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                }
            };
            let Ok(id) = int(&a[2]) else {
                return Reply::err("ERR value is not an integer or out of range");
            };
            Reply::Int(i64::from(id > 0 && server.unblock_client(id as u64, error)))
        }
        "reply" | "unblock" => wrong(),
        "help" => Reply::Array(
            [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "ID",
                "INFO",
                "KILL",
                "LIST",
                "SETNAME <name>",
            ]
            .iter()
            .map(|l| Reply::Simple((*l).into()))
            .collect(),
        ),
        _ => Reply::err(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

fn client_kill(server: &Server, a: &[Bytes]) -> Reply {
    if a.len() == 3 {
        let addr = String::from_utf8_lossy(&a[2]);
        return if server.kill_clients(|_, peer| peer == addr) > 0 {
            Reply::ok()
        } else {
            Reply::err("ERR No such client")
        };
    }
    let mut killed = 0;
    for pair in a[2..].chunks(2) {
        let [k, v] = pair else {
            return super::args::syntax();
        };
        if is(k, "id") {
            let Ok(id) = int(v) else {
                return Reply::err("ERR client-id should be greater than 0");
            };
            killed += server.kill_clients(|cid, _| cid as i64 == id);
        } else if is(k, "addr") {
            let addr = String::from_utf8_lossy(v).into_owned();
            killed += server.kill_clients(|_, peer| peer == addr);
        } else if is(k, "user") {
            let user = String::from_utf8_lossy(v);
            if server.acl.get(&user).is_none() {
                return Reply::err(format!("ERR No such user '{user}'"));
            }
            killed += server.kill_user(&user);
        } else {
            return super::args::syntax();
        }
    }
    Reply::Int(killed as i64)
}

fn subscribe(s: &mut Session, server: &Server, a: &[Bytes], pattern: bool, out: &mut Output) {
    let kind = if pattern { "psubscribe" } else { "subscribe" };
    for ch in &a[1..] {
        let set = if pattern {
            &mut s.patterns
        } else {
            &mut s.channels
        };
        if set.insert(ch.clone()) {
            server
                .pubsub
                .subscribe(pattern, ch.clone(), s.id, s.outbox.clone());
        }
        let n = classic(s);
        out.push(
            &Reply::Push(vec![
                Reply::bulk(kind),
                Reply::Bulk(ch.clone()),
                Reply::Int(n),
            ]),
            s.resp3,
        );
    }
}

fn unsubscribe(s: &mut Session, server: &Server, a: &[Bytes], pattern: bool, out: &mut Output) {
    let kind = if pattern {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    let names: Vec<Bytes> = if a.len() > 1 {
        a[1..].to_vec()
    } else if pattern {
        s.patterns.iter().cloned().collect()
    } else {
        s.channels.iter().cloned().collect()
    };
    if names.is_empty() {
        out.push(
            &Reply::Push(vec![Reply::bulk(kind), Reply::Nil, Reply::Int(classic(s))]),
            s.resp3,
        );
    }
    for ch in names {
        let set = if pattern {
            &mut s.patterns
        } else {
            &mut s.channels
        };
        if set.remove(&ch) {
            server.pubsub.unsubscribe(pattern, &ch, s.id);
        }
        let n = classic(s);
        out.push(
            &Reply::Push(vec![Reply::bulk(kind), Reply::Bulk(ch), Reply::Int(n)]),
            s.resp3,
        );
    }
}

/// Channels and patterns: what SUBSCRIBE/UNSUBSCRIBE count (shard channels are apart).
fn classic(s: &Session) -> i64 {
    (s.channels.len() + s.patterns.len()) as i64
}

/// SSUBSCRIBE: replies count shard channels only. A standalone Redis 7.0 does not ask the
/// channels to hash to one slot (no CROSSSLOT), and neither does dotdo.
fn ssubscribe(s: &mut Session, server: &Server, a: &[Bytes], out: &mut Output) {
    for ch in &a[1..] {
        if s.shard_channels.insert(ch.clone()) {
            server.pubsub.ssubscribe(ch.clone(), s.id, s.outbox.clone());
        }
        let n = s.shard_channels.len() as i64;
        out.push(
            &Reply::Push(vec![
                Reply::bulk("ssubscribe"),
                Reply::Bulk(ch.clone()),
                Reply::Int(n),
            ]),
            s.resp3,
        );
    }
}

/// SUNSUBSCRIBE [shardchannel...]: without names, from every shard channel (one reply with a
/// nil channel when there is none).
fn sunsubscribe(s: &mut Session, server: &Server, a: &[Bytes], out: &mut Output) {
    let names: Vec<Bytes> = if a.len() > 1 {
        a[1..].to_vec()
    } else {
        s.shard_channels.iter().cloned().collect()
    };
    if names.is_empty() {
        out.push(
            &Reply::Push(vec![
                Reply::bulk("sunsubscribe"),
                Reply::Nil,
                Reply::Int(s.shard_channels.len() as i64),
            ]),
            s.resp3,
        );
    }
    for ch in names {
        if s.shard_channels.remove(&ch) {
            server.pubsub.sunsubscribe(&ch, s.id);
        }
        let n = s.shard_channels.len() as i64;
        out.push(
            &Reply::Push(vec![
                Reply::bulk("sunsubscribe"),
                Reply::Bulk(ch),
                Reply::Int(n),
            ]),
            s.resp3,
        );
    }
}

fn pubsub(server: &Server, a: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match sub.as_str() {
        "channels" if a.len() <= 3 => {
            Reply::bulks(server.pubsub.channels(a.get(2).map(|p| &p[..])))
        }
        "numsub" => Reply::Array(
            a[2..]
                .iter()
                .flat_map(|c| [Reply::Bulk(c.clone()), Reply::Int(server.pubsub.numsub(c))])
                .collect(),
        ),
        "numpat" if a.len() == 2 => Reply::Int(server.pubsub.numpat()),
        "shardchannels" if a.len() <= 3 => {
            Reply::bulks(server.pubsub.shard_channels(a.get(2).map(|p| &p[..])))
        }
        "shardnumsub" => Reply::Array(
            a[2..]
                .iter()
                .flat_map(|c| {
                    [
                        Reply::Bulk(c.clone()),
                        Reply::Int(server.pubsub.shard_numsub(c)),
                    ]
                })
                .collect(),
        ),
        "help" if a.len() == 2 => Reply::Array(
            [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Prints this help.",
            ]
            .iter()
            .map(|l| Reply::Simple((*l).into()))
            .collect(),
        ),
        // Fixed arity: Redis's own argument count check answers.
        "numpat" | "help" => Reply::err(format!(
            "ERR wrong number of arguments for 'pubsub|{sub}' command"
        )),
        "channels" | "shardchannels" => Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&a[1])
        )),
        _ => Reply::err(format!(
            "ERR unknown subcommand '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP], with
/// Redis's checks in Redis's order.
fn tracking(s: &mut Session, server: &Server, a: &[Bytes]) -> Reply {
    use crate::tracking::Options;
    let on = match &a[2] {
        m if is(m, "on") => true,
        m if is(m, "off") => false,
        _ => return super::args::syntax(),
    };
    let mut o = Options::default();
    let mut target = None;
    let mut i = 3;
    while i < a.len() {
        let opt = &a[i];
        let more = i + 1 < a.len();
        if is(opt, "redirect") && more {
            i += 1;
            if o.redirect.is_some() {
                return Reply::err("ERR A client can only redirect to a single other client");
            }
            let id = match int(&a[i]) {
                Ok(id) => id,
                Err(e) => return e,
            };
            target = u64::try_from(id)
                .ok()
                .and_then(|id| server.redirect_target(id));
            if target.is_none() {
                return Reply::err("ERR The client ID you want redirect to does not exist");
            }
            o.redirect = Some(id as u64);
        } else if is(opt, "bcast") {
            o.bcast = true;
        } else if is(opt, "optin") {
            o.optin = true;
        } else if is(opt, "optout") {
            o.optout = true;
        } else if is(opt, "noloop") {
            o.noloop = true;
        } else if is(opt, "prefix") && more {
            i += 1;
            o.prefixes.push(a[i].clone());
        } else {
            return super::args::syntax();
        }
        i += 1;
    }
    if !on {
        server.tracking.disable(s.id);
        s.tracking = None;
        s.caching = None;
        return Reply::ok();
    }
    if !o.bcast && !o.prefixes.is_empty() {
        return Reply::err("ERR PREFIX option requires BCAST mode to be enabled");
    }
    if let Some(old) = &s.tracking
        && old.bcast != o.bcast
    {
        return Reply::err(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        );
    }
    if o.bcast && (o.optin || o.optout) {
        return Reply::err("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if o.optin && o.optout {
        return Reply::err("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if let Some(old) = &s.tracking
        && ((o.optin && old.optout) || (o.optout && old.optin))
    {
        return Reply::err(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        );
    }
    let existing: Vec<Bytes> = match &s.tracking {
        Some(old) if old.bcast && old.prefixes.is_empty() => vec![Bytes::new()],
        Some(old) => old.prefixes.clone(),
        None => Vec::new(),
    };
    let overlap = |x: &[u8], y: &[u8]| x.starts_with(y) || y.starts_with(x);
    for (i, p) in o.prefixes.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Reply::err(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(e)
            ));
        }
        if let Some(q) = o.prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
            return Reply::err(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(q)
            ));
        }
    }
    // Prefixes add up across CLIENT TRACKING ON calls in BCAST mode; the flags are replaced.
    // No prefix: every key.
    if o.bcast && !o.prefixes.is_empty() {
        let mut all = existing;
        all.extend(o.prefixes);
        o.prefixes = all;
    }
    server
        .tracking
        .enable(s.id, o.clone(), target, s.outbox.clone(), s.resp3);
    s.tracking = Some(o);
    Reply::ok()
}

/// CLIENT CACHING YES|NO: whether the next command's keys are tracked (OPTIN / OPTOUT).
fn caching(s: &mut Session, v: &[u8]) -> Reply {
    let Some(t) = s.tracking.as_ref().filter(|t| t.optin || t.optout) else {
        return Reply::err(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        );
    };
    if is(v, "yes") {
        if !t.optin {
            return Reply::err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        s.caching = Some(true);
    } else if is(v, "no") {
        if !t.optout {
            return Reply::err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        s.caching = Some(false);
    } else {
        return super::args::syntax();
    }
    Reply::ok()
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis 7 reports them.
fn tracking_info(s: &Session, server: &Server) -> Reply {
    let mut flags = Vec::new();
    let (redirect, prefixes) = match &s.tracking {
        None => {
            flags.push("off");
            (-1, Vec::new())
        }
        Some(t) => {
            flags.push("on");
            if t.bcast {
                flags.push("bcast");
            }
            if t.optin {
                flags.push("optin");
                if s.caching == Some(true) {
                    flags.push("caching-yes");
                }
            }
            if t.optout {
                flags.push("optout");
                if s.caching == Some(false) {
                    flags.push("caching-no");
                }
            }
            if t.noloop {
                flags.push("noloop");
            }
            if server.tracking.broken(s.id) {
                flags.push("broken_redirect");
            }
            let prefixes = if t.bcast && t.prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                t.prefixes.clone()
            };
            (t.redirect.map_or(0, |r| r as i64), prefixes)
        }
    };
    Reply::Map(vec![
        (
            Reply::bulk("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk).collect()),
        ),
        (Reply::bulk("redirect"), Reply::Int(redirect)),
        (Reply::bulk("prefixes"), Reply::bulks(prefixes)),
    ])
}
