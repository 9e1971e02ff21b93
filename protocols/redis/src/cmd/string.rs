//! String commands: GET, SET and its variants, counters, ranges, MGET/MSET.

use bytes::{Bytes, BytesMut};

use super::args::{self, int, is, syntax};
use crate::codec::format_incr as format_double;
use crate::frame::{Reply, errors};
use crate::notify::{GENERIC, STRING};
use crate::store::view::CmdResult;
use crate::store::{Entry, Value, View};

/// Longest string SETRANGE/APPEND may build (Redis's `proto-max-bulk-len` default).
const MAX_STRING: usize = 512 * 1024 * 1024;

pub fn get(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::opt_bulk(v.get_str(&a[1])?))
}

/// How a SET-like command treats the TTL.
enum Ttl {
    Clear,
    Keep,
    At(i64),
}

fn expire_arg(v: &View, unit_ms: i64, absolute: bool, arg: &[u8], cmd: &str) -> Result<i64, Reply> {
    let n = int(arg)?;
    let invalid = || Reply::err(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(v.now).ok_or_else(invalid)
    }
}

pub fn set(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (key, value) = (&a[1], a[2].clone());
    let (mut nx, mut xx, mut get, mut ttl) = (false, false, false, Ttl::Clear);
    let mut ttl_given = false;
    let mut i = 3;
    while i < a.len() {
        let opt = &a[i];
        let next = a.get(i + 1);
        let timed = [
            ("ex", 1000, false),
            ("px", 1, false),
            ("exat", 1000, true),
            ("pxat", 1, true),
        ]
        .into_iter()
        .find(|(w, _, _)| is(opt, w));
        if let Some((_, unit, abs)) = timed {
            let (Some(n), false) = (next, ttl_given) else {
                return Err(syntax());
            };
            ttl = Ttl::At(expire_arg(v, unit, abs, n, "set")?);
            ttl_given = true;
            i += 2;
            continue;
        }
        if is(opt, "nx") && !xx {
            nx = true;
        } else if is(opt, "xx") && !nx {
            xx = true;
        } else if is(opt, "get") {
            get = true;
        } else if is(opt, "keepttl") && !ttl_given {
            ttl = Ttl::Keep;
            ttl_given = true;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    let old = if get {
        // SET ... GET reads the old value as GET does (a miss is a `keymiss`).
        v.read_miss = true;
        let old = v.get_str(key);
        v.read_miss = false;
        old?
    } else {
        None
    };
    // Looked up for writing, a use of the key (Redis's `lookupKeyWrite`).
    let exists = v.live(key)?.is_some();
    if (nx && exists) || (xx && !exists) {
        return Ok(if get {
            Reply::opt_bulk(old)
        } else {
            Reply::Nil
        });
    }
    let expires_at = match ttl {
        Ttl::Clear => None,
        Ttl::At(at) => Some(at),
        Ttl::Keep => v.ttl_of(key)?.flatten(),
    };
    v.replace_str(key, value, expires_at)?;
    v.notify(STRING, "set", key);
    if matches!(ttl, Ttl::At(_)) {
        v.notify(GENERIC, "expire", key);
    }
    Ok(if get {
        Reply::opt_bulk(old)
    } else {
        Reply::ok()
    })
}

pub fn setnx(v: &mut View, a: &[Bytes]) -> CmdResult {
    if v.live(&a[1])?.is_some() {
        return Ok(Reply::Int(0));
    }
    v.replace_str(&a[1], a[2].clone(), None)?;
    v.notify(STRING, "set", &a[1]);
    Ok(Reply::Int(1))
}

pub fn setex(v: &mut View, a: &[Bytes], unit_ms: i64) -> CmdResult {
    let name = if unit_ms == 1 { "psetex" } else { "setex" };
    let at = expire_arg(v, unit_ms, false, &a[2], name)?;
    v.set_str(&a[1], a[3].clone(), Some(at))?;
    v.notify(STRING, "set", &a[1]);
    v.notify(GENERIC, "expire", &a[1]);
    Ok(Reply::ok())
}

pub fn getset(v: &mut View, a: &[Bytes]) -> CmdResult {
    let old = v.get_str(&a[1])?;
    v.set_str(&a[1], a[2].clone(), None)?;
    v.notify(STRING, "set", &a[1]);
    Ok(Reply::opt_bulk(old))
}

pub fn getdel(v: &mut View, a: &[Bytes]) -> CmdResult {
    let old = v.get_str(&a[1])?;
    if old.is_some() {
        v.remove(&a[1])?;
        v.notify(GENERIC, "del", &a[1]);
    }
    Ok(Reply::opt_bulk(old))
}

pub fn getex(v: &mut View, a: &[Bytes]) -> CmdResult {
    let key = &a[1];
    let mut change = None;
    let mut i = 2;
    while i < a.len() {
        let opt = &a[i];
        let timed = [
            ("ex", 1000, false),
            ("px", 1, false),
            ("exat", 1000, true),
            ("pxat", 1, true),
        ]
        .into_iter()
        .find(|(w, _, _)| is(opt, w));
        if let Some((_, unit, abs)) = timed {
            let (Some(n), None) = (a.get(i + 1), &change) else {
                return Err(syntax());
            };
            change = Some(Some(expire_arg(v, unit, abs, n, "getex")?));
            i += 2;
        } else if is(opt, "persist") && change.is_none() {
            change = Some(None);
            i += 1;
        } else {
            return Err(syntax());
        }
    }
    let value = v.get_str(key)?;
    if value.is_some()
        && let Some(at) = change
    {
        if at.is_some_and(|t| t <= v.now) {
            v.remove(key)?;
            v.notify(GENERIC, "del", key);
        } else if at.is_some() || v.ttl_of(key)?.flatten().is_some() {
            v.set_expiry(key, at)?;
            v.notify(
                GENERIC,
                if at.is_some() { "expire" } else { "persist" },
                key,
            );
        }
    }
    Ok(Reply::opt_bulk(value))
}

pub fn mget(v: &mut View, a: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity(a.len() - 1);
    for key in &a[1..] {
        // MGET answers nil for keys of other types.
        out.push(Reply::opt_bulk(v.get_str(key).ok().flatten()));
    }
    Ok(Reply::Array(out))
}

pub fn mset(v: &mut View, a: &[Bytes], nx: bool) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(Reply::wrong_args(if nx { "msetnx" } else { "mset" }));
    }
    if nx {
        for pair in a[1..].chunks(2) {
            if v.live(&pair[0])?.is_some() {
                return Ok(Reply::Int(0));
            }
        }
    }
    for pair in a[1..].chunks(2) {
        v.set_str(&pair[0], pair[1].clone(), None)?;
        v.notify(STRING, "set", &pair[0]);
    }
    Ok(if nx { Reply::Int(1) } else { Reply::ok() })
}

pub fn incr_by(v: &mut View, key: &Bytes, by: i64) -> CmdResult {
    // One lookup for the value and its TTL.
    let (cur, ttl) = match v.get(key)? {
        None => (0, None),
        Some(Entry {
            value: Value::Str(s),
            expires_at,
            ..
        }) => (
            args::strict_i64(s).ok_or_else(|| Reply::err(errors::NOT_INT))?,
            *expires_at,
        ),
        Some(_) => return Err(Reply::err(errors::WRONGTYPE)),
    };
    let new = cur
        .checked_add(by)
        .ok_or_else(|| Reply::err(errors::OVERFLOW))?;
    v.replace_str(key, args::int_bytes(new), ttl)?;
    v.notify(STRING, "incrby", key);
    Ok(Reply::Int(new))
}

pub fn incrbyfloat(v: &mut View, a: &[Bytes]) -> CmdResult {
    let key = &a[1];
    let by = args::float(&a[2])?;
    let cur = match v.get_str(key)? {
        None => 0.0,
        Some(s) => args::float_of(&s).ok_or_else(|| Reply::err(errors::NOT_FLOAT))?,
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(Reply::err("ERR increment would produce NaN or Infinity"));
    }
    let text = Bytes::from(format_double(new));
    let ttl = v.ttl_of(key)?.flatten();
    v.replace_str(key, text.clone(), ttl)?;
    v.notify(STRING, "incrbyfloat", key);
    Ok(Reply::Bulk(text))
}

pub fn append(v: &mut View, a: &[Bytes]) -> CmdResult {
    let key = &a[1];
    let cur = v.get_str(key)?.unwrap_or_default();
    if cur.len() + a[2].len() > MAX_STRING {
        return Err(Reply::err(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let mut buf = BytesMut::with_capacity(cur.len() + a[2].len());
    buf.extend_from_slice(&cur);
    buf.extend_from_slice(&a[2]);
    let len = buf.len();
    let ttl = v.ttl_of(key)?.flatten();
    v.replace_str(key, buf.freeze(), ttl)?;
    v.notify(STRING, "append", key);
    Ok(Reply::Int(len as i64))
}

pub fn strlen(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(v.get_str(&a[1])?.map_or(0, |s| s.len() as i64)))
}

pub fn getrange(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (start, end) = (int(&a[2])?, int(&a[3])?);
    let s = v.get_str(&a[1])?.unwrap_or_default();
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::bulk(Bytes::new()));
    }
    Ok(Reply::Bulk(match args::range(start, end, s.len()) {
        Some((from, to)) => s.slice(from..=to),
        None => Bytes::new(),
    }))
}

pub fn setrange(v: &mut View, a: &[Bytes]) -> CmdResult {
    let key = &a[1];
    let offset = int(&a[2])?;
    if offset < 0 {
        return Err(Reply::err("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let cur = v.get_str(key)?;
    let patch = &a[3];
    if patch.is_empty() {
        return Ok(Reply::Int(cur.map_or(0, |c| c.len() as i64)));
    }
    if offset.saturating_add(patch.len()) > MAX_STRING {
        return Err(Reply::err(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let cur = cur.unwrap_or_default();
    let mut buf = BytesMut::from(&cur[..]);
    if buf.len() < offset + patch.len() {
        buf.resize(offset + patch.len(), 0);
    }
    buf[offset..offset + patch.len()].copy_from_slice(patch);
    let len = buf.len();
    let ttl = v.ttl_of(key)?.flatten();
    v.replace_str(key, buf.freeze(), ttl)?;
    v.notify(STRING, "setrange", key);
    Ok(Reply::Int(len as i64))
}
