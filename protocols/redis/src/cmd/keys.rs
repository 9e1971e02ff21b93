//! Generic key commands: DEL, EXISTS, TYPE, RENAME, COPY, expiry, KEYS, SCAN, DBSIZE, FLUSHDB.

use bytes::Bytes;

use super::args::{self, int, is, syntax};
use crate::frame::{Reply, errors};
use crate::notify::GENERIC;
use crate::store::View;
use crate::store::view::CmdResult;

pub fn del(v: &mut View, a: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for key in &a[1..] {
        if v.remove(key)?.is_some() {
            n += 1;
            v.notify(GENERIC, "del", key);
        }
    }
    Ok(Reply::Int(n))
}

/// EXISTS, and TOUCH (`touch`: counts as an access, as in Redis).
pub fn exists(v: &mut View, a: &[Bytes], touch: bool) -> CmdResult {
    let mut n = 0;
    for key in &a[1..] {
        let found = if touch {
            v.exists(key)?
        } else {
            v.peek(key)?.is_some()
        };
        n += i64::from(found);
    }
    Ok(Reply::Int(n))
}

pub fn type_(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Simple(
        v.peek(&a[1])?
            .map_or("none", |e| e.value.type_name())
            .into(),
    ))
}

pub fn rename(v: &mut View, a: &[Bytes], nx: bool) -> CmdResult {
    let (from, to) = (&a[1], &a[2]);
    let Some(entry) = v.get(from)?.cloned() else {
        return Err(Reply::err(errors::NO_SUCH_KEY));
    };
    if from == to {
        return Ok(if nx { Reply::Int(0) } else { Reply::ok() });
    }
    if nx && v.exists(to)? {
        return Ok(Reply::Int(0));
    }
    v.remove(from)?;
    // Redis deletes an overwritten destination, then adds it anew (its `new` event).
    v.remove(to)?;
    v.put_value(to, entry.value, entry.expires_at)?;
    // The key moves with its use (Redis adds the same object under the new name).
    if let Some(e) = v.lookup(to)? {
        e.accessed = entry.accessed;
    }
    v.notify(GENERIC, "rename_from", from);
    v.notify(GENERIC, "rename_to", to);
    Ok(if nx { Reply::Int(1) } else { Reply::ok() })
}

pub fn copy(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (from, to) = (&a[1], &a[2]);
    let mut replace = false;
    for opt in &a[3..] {
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "db") {
            return Err(Reply::err("ERR Copying to another database is not allowed"));
        } else {
            return Err(syntax());
        }
    }
    let Some(entry) = v.get(from)?.cloned() else {
        return Ok(Reply::Int(0));
    };
    if (!replace && v.exists(to)?) || from == to {
        return Ok(Reply::Int(0));
    }
    if replace {
        v.remove(to)?;
    }
    v.put_value(to, entry.value, entry.expires_at)?;
    v.notify(GENERIC, "copy_to", to);
    Ok(Reply::Int(1))
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT.
pub fn expire(v: &mut View, a: &[Bytes], unit_ms: i64, absolute: bool) -> CmdResult {
    let key = &a[1];
    let n = int(&a[2])?;
    let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
    let invalid = || Reply::err(format!("ERR invalid expire time in '{name}' command"));
    let mut at = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    if !absolute {
        at = at.checked_add(v.now).ok_or_else(invalid)?;
    }
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &a[3..] {
        match () {
            _ if is(opt, "nx") => nx = true,
            _ if is(opt, "xx") => xx = true,
            _ if is(opt, "gt") => gt = true,
            _ if is(opt, "lt") => lt = true,
            _ => {
                return Err(Reply::err(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Reply::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    // Looked up for writing: a use of the key.
    let Some(current) = v.live(key)?.map(|e| e.expires_at) else {
        return Ok(Reply::Int(0));
    };
    let allowed = match current {
        None => !xx && !gt,
        Some(cur) => !nx && (!gt || at > cur) && (!lt || at < cur),
    };
    if !allowed {
        return Ok(Reply::Int(0));
    }
    if at <= v.now {
        v.remove(key)?;
        v.notify(GENERIC, "del", key);
    } else {
        v.set_expiry(key, Some(at))?;
        v.notify(GENERIC, "expire", key);
    }
    Ok(Reply::Int(1))
}

/// TTL (`unit_ms` 1000) and PTTL (1); EXPIRETIME and PEXPIRETIME when `absolute`.
pub fn ttl(v: &mut View, a: &[Bytes], unit_ms: i64, absolute: bool) -> CmdResult {
    Ok(Reply::Int(match v.peek(&a[1])?.map(|e| e.expires_at) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) if absolute => at / unit_ms,
        Some(Some(at)) => {
            let left = (at - v.now).max(0);
            (left + unit_ms / 2) / unit_ms
        }
    }))
}

pub fn persist(v: &mut View, a: &[Bytes]) -> CmdResult {
    match v.ttl_of(&a[1])? {
        Some(Some(_)) => {
            v.set_expiry(&a[1], None)?;
            v.notify(GENERIC, "persist", &a[1]);
            Ok(Reply::Int(1))
        }
        _ => Ok(Reply::Int(0)),
    }
}

pub fn object(v: &mut View, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    let known = ["help", "encoding", "freq", "idletime", "refcount"]
        .into_iter()
        .find(|w| is(sub, w));
    let Some(name) = known else {
        return Err(Reply::err(format!(
            "ERR unknown subcommand '{}'. Try OBJECT HELP.",
            String::from_utf8_lossy(sub)
        )));
    };
    if a.len() != if name == "help" { 2 } else { 3 } {
        return Err(Reply::err(format!(
            "ERR wrong number of arguments for 'object|{name}' command"
        )));
    }
    if name == "help" {
        return Ok(Reply::Array(
            [
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
                "HELP",
                "    Prints this help.",
            ]
            .iter()
            .map(|s| Reply::Simple((*s).into()))
            .collect(),
        ));
    }
    let key = &a[2];
    let now = v.now;
    let Some(entry) = v.peek(key)? else {
        return Ok(Reply::Nil);
    };
    if is(sub, "encoding") {
        use crate::store::Value;
        let enc = match &entry.value {
            Value::Str(s) if args::strict_i64(s).is_some() && s.len() <= 20 => "int",
            Value::Str(s) if s.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            Value::List(_) => "quicklist",
            Value::Hash(h) if crate::cmd::memory::hash_is_listpack(h) => "listpack",
            Value::Hash(_) => "hashtable",
            Value::Set(s) if s.iter().all(|m| args::strict_i64(m).is_some()) && s.len() <= 512 => {
                "intset"
            }
            Value::Set(_) => "hashtable",
            Value::ZSet(z) if crate::cmd::memory::zset_is_listpack(z) => "listpack",
            Value::Stream(_) => "stream",
            Value::ZSet(_) => "skiplist",
        };
        return Ok(Reply::bulk(enc));
    }
    if is(sub, "refcount") {
        return Ok(Reply::Int(1));
    }
    use crate::store::value;
    // The stamp counts accesses under an LFU policy and holds the last one's time otherwise
    // (dotdo evicts nothing, but OBJECT and `redis-cli --hotkeys` read them as in Redis).
    if is(sub, "idletime") {
        if value::lfu() {
            return Err(Reply::err(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ));
        }
        let idle = value::access_clock(now).wrapping_sub(entry.accessed);
        return Ok(Reply::Int(i64::from(idle)));
    }
    if !value::lfu() {
        return Err(Reply::err(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    Ok(Reply::Int(i64::from(value::lfu_freq(entry.accessed, now))))
}

/// Every live key of the view's shards, expired ones left out.
fn live_keys(v: &mut View) -> Vec<Bytes> {
    let now = v.now;
    let mut out = Vec::new();
    for st in v.shards_mut() {
        out.extend(
            st.keys()
                .filter(|(_, e)| e.expires_at.is_none_or(|at| at > now))
                .map(|(k, _)| k.clone()),
        );
    }
    out
}

pub fn keys(v: &mut View, a: &[Bytes]) -> CmdResult {
    let pattern = &a[1];
    let mut keys: Vec<Bytes> = live_keys(v)
        .into_iter()
        .filter(|k| args::glob(pattern, k))
        .collect();
    keys.sort();
    Ok(Reply::bulks(keys))
}

/// Counted per shard through its expiry index, not by visiting every key: DBSIZE is called
/// often by monitoring, and holds every shard's lock meanwhile.
pub fn dbsize(v: &mut View) -> CmdResult {
    let now = v.now;
    Ok(Reply::Int(
        v.shards_mut().map(|st| st.live_len(now)).sum::<usize>() as i64,
    ))
}

/// A key drawn uniformly from the live ones: a position among all keys, found in its shard
/// without copying the keyspace; a draw that lands on an expired key draws again (as Redis
/// does), and after a hundred such draws the live keys are listed to choose among.
pub fn randomkey(v: &mut View) -> CmdResult {
    let now = v.now;
    let sizes: Vec<usize> = v.shards_mut().map(|st| st.len()).collect();
    let total: usize = sizes.iter().sum();
    if total == 0 {
        return Ok(Reply::Nil);
    }
    for _ in 0..100 {
        let mut n = super::random_index(total);
        for (st, size) in v.shards_mut().zip(&sizes) {
            if n >= *size {
                n -= size;
                continue;
            }
            match st.nth_key(n) {
                Some((k, e)) if e.expires_at.is_none_or(|at| at > now) => {
                    return Ok(Reply::Bulk(k.clone()));
                }
                _ => break,
            }
        }
    }
    let keys = live_keys(v);
    if keys.is_empty() {
        return Ok(Reply::Nil);
    }
    Ok(Reply::Bulk(keys[super::random_index(keys.len())].clone()))
}

pub fn flushdb(v: &mut View, a: &[Bytes]) -> CmdResult {
    if a.len() > 2 || a.get(1).is_some_and(|m| !(is(m, "sync") || is(m, "async"))) {
        return Err(syntax());
    }
    for st in v.shards_mut() {
        st.flush();
    }
    Ok(Reply::ok())
}

/// SCAN cursors are positions in the order of a stable hash of the key, so a key present for
/// the whole scan is returned at least once however the keyspace changes in between.
pub fn scan(v: &mut View, a: &[Bytes]) -> CmdResult {
    let cursor = args::strict_i64(&a[1])
        .and_then(|c| u64::try_from(c).ok())
        .or_else(|| std::str::from_utf8(&a[1]).ok()?.parse::<u64>().ok())
        .ok_or_else(|| Reply::err("ERR invalid cursor"))?;
    let opts = ScanOpts::parse(&a[2..], true)?;
    let now = v.now;
    // Each shard gives its next `count` keys in hash order; the page is the first `count` of
    // them all (ties kept together), and the next cursor the first hash not returned, among
    // the keys left out and each shard's next key after what it gave.
    let mut items: Vec<(u64, Bytes, bool)> = Vec::new();
    let mut next_of_shards: Option<u64> = None;
    for st in v.shards_mut() {
        let part = st.scan_page(cursor, opts.count, now, opts.type_.as_deref());
        items.extend(part.keys);
        next_of_shards = match (next_of_shards, part.next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    items.sort_unstable_by_key(|(h, _, _)| *h);
    let take = crate::store::page_end(items.len(), 0, opts.count, |i| items[i].0);
    let next = match (items.get(take).map(|(h, _, _)| *h), next_of_shards) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(0),
    };
    // MATCH and TYPE filter the page, as in Redis (a page may come back empty).
    let keys: Vec<Bytes> = items
        .into_iter()
        .take(take)
        .filter(|(_, _, shown)| *shown)
        .map(|(_, k, _)| k)
        .filter(|k| opts.pattern.as_ref().is_none_or(|p| args::glob(p, k)))
        .collect();
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::bulks(keys),
    ]))
}

pub struct ScanOpts {
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub type_: Option<String>,
}

impl ScanOpts {
    pub fn parse(a: &[Bytes], allow_type: bool) -> Result<Self, Reply> {
        let mut o = ScanOpts {
            pattern: None,
            count: 10,
            type_: None,
        };
        let mut i = 0;
        while i < a.len() {
            let Some(val) = a.get(i + 1) else {
                return Err(syntax());
            };
            if is(&a[i], "match") {
                o.pattern = Some(val.clone()).filter(|p| &p[..] != b"*");
            } else if is(&a[i], "count") {
                let n = int(val)?;
                if n < 1 {
                    return Err(syntax());
                }
                o.count = n as usize;
            } else if is(&a[i], "type") && allow_type {
                o.type_ = Some(String::from_utf8_lossy(val).into_owned());
            } else {
                return Err(syntax());
            }
            i += 2;
        }
        Ok(o)
    }
}

/// DUMP key: the value in the RDB form Redis's RESTORE reads (`rdb.rs`).
pub fn dump(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(match v.get(&a[1])? {
        Some(e) => Reply::Bulk(Bytes::from(crate::rdb::dump(&e.value))),
        None => Reply::Nil,
    })
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency], with
/// Redis's order of checks: options, TTL, an existing key, then the payload.
pub fn restore(v: &mut View, a: &[Bytes]) -> CmdResult {
    let key = &a[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut i = 4;
    while i < a.len() {
        let opt = &a[i];
        let value = a.get(i + 1);
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "absttl") {
            absttl = true;
        } else if is(opt, "idletime") && value.is_some() && freq.is_none() {
            let n = int(value.unwrap_or(opt))?;
            if n < 0 {
                return Err(Reply::err("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(n);
            i += 1;
        } else if is(opt, "freq") && value.is_some() && idle.is_none() {
            let n = int(value.unwrap_or(opt))?;
            if !(0..=255).contains(&n) {
                return Err(Reply::err(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(n);
            i += 1;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    let ttl = int(&a[2])?;
    if ttl < 0 {
        return Err(Reply::err("ERR Invalid TTL value, must be >= 0"));
    }
    if !replace && v.exists(key)? {
        return Err(Reply::err("BUSYKEY Target key name already exists."));
    }
    let value = crate::rdb::restore(&a[3]).map_err(Reply::err)?;
    let expires_at = match (ttl, absttl) {
        (0, _) => None,
        (t, true) => Some(t),
        (t, false) => Some(v.now.saturating_add(t)),
    };
    if expires_at.is_some_and(|at| at <= v.now) {
        // Already expired: nothing is created, and a replaced key goes (Redis's `del`).
        if replace && v.remove(key)?.is_some() {
            v.notify(GENERIC, "del", key);
        }
        return Ok(Reply::ok());
    }
    if replace {
        v.remove(key)?;
    }
    v.put_value(key, value, expires_at)?;
    // The stamp the policy in force keeps, as Redis's `objectSetLRUOrLFU` sets it (the
    // other option is read, checked and dropped).
    use crate::store::value;
    let now = v.now;
    if let Some(e) = v.lookup(key)? {
        match (value::lfu(), idle, freq) {
            (false, Some(idle), _) => {
                let idle = u32::try_from(idle).unwrap_or(u32::MAX);
                e.accessed = value::access_clock(now).wrapping_sub(idle);
            }
            (true, _, Some(freq)) => {
                e.accessed = value::lfu_stamp(u32::try_from(freq).unwrap_or(255), now);
            }
            _ => {}
        }
    }
    v.notify(GENERIC, "restore", key);
    Ok(Reply::ok())
}
