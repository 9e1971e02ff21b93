//! Hash commands.

use bytes::Bytes;

use super::args::{self, int, is, syntax};
use super::keys::ScanOpts;
use crate::codec::format_incr as format_double;
use crate::frame::{Reply, errors};
use crate::notify::HASH;
use crate::store::View;
use crate::store::view::CmdResult;

pub fn hset(v: &mut View, a: &[Bytes], legacy: bool) -> CmdResult {
    if !a.len().is_multiple_of(2) {
        return Err(Reply::wrong_args(if legacy { "hmset" } else { "hset" }));
    }
    let Some(mut h) = v.hash_mut(&a[1], true)? else {
        return Ok(Reply::Int(0));
    };
    let mut added = 0;
    for pair in a[2..].chunks(2) {
        added += i64::from(h.insert(pair[0].clone(), pair[1].clone()));
    }
    v.notify(HASH, "hset", &a[1]);
    Ok(if legacy {
        Reply::ok()
    } else {
        Reply::Int(added)
    })
}

pub fn hsetnx(v: &mut View, a: &[Bytes]) -> CmdResult {
    let Some(mut h) = v.hash_mut(&a[1], true)? else {
        return Ok(Reply::Int(0));
    };
    if h.map().contains_key(&a[2]) {
        return Ok(Reply::Int(0));
    }
    h.insert(a[2].clone(), a[3].clone());
    v.notify(HASH, "hset", &a[1]);
    Ok(Reply::Int(1))
}

pub fn hget(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::opt_bulk(
        v.hash(&a[1])?.and_then(|h| h.get(&a[2]).cloned()),
    ))
}

pub fn hmget(v: &mut View, a: &[Bytes]) -> CmdResult {
    let h = v.hash(&a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|f| Reply::opt_bulk(h.and_then(|h| h.get(f).cloned())))
            .collect(),
    ))
}

pub fn hdel(v: &mut View, a: &[Bytes]) -> CmdResult {
    let Some(mut h) = v.hash_mut(&a[1], false)? else {
        return Ok(Reply::Int(0));
    };
    let n = a[2..].iter().filter(|f| h.remove(f).is_some()).count() as i64;
    if n > 0 {
        v.notify(HASH, "hdel", &a[1]);
    }
    Ok(Reply::Int(n))
}

pub fn hlen(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(v.hash(&a[1])?.map_or(0, |h| h.len() as i64)))
}

pub fn hstrlen(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        v.hash(&a[1])?
            .and_then(|h| h.get(&a[2]))
            .map_or(0, |s| s.len() as i64),
    ))
}

pub fn hexists(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(i64::from(
        v.hash(&a[1])?.is_some_and(|h| h.contains_key(&a[2])),
    )))
}

/// HKEYS, HVALS and HGETALL.
pub fn hgetall(v: &mut View, a: &[Bytes], keys: bool, vals: bool) -> CmdResult {
    let Some(h) = v.hash(&a[1])? else {
        return Ok(if keys && vals {
            Reply::Map(vec![])
        } else {
            Reply::Array(vec![])
        });
    };
    Ok(match (keys, vals) {
        (true, true) => Reply::Map(
            h.iter()
                .map(|(f, x)| (Reply::Bulk(f.clone()), Reply::Bulk(x.clone())))
                .collect(),
        ),
        (true, false) => Reply::bulks(h.keys().cloned()),
        _ => Reply::bulks(h.values().cloned()),
    })
}

pub fn hincrby(v: &mut View, a: &[Bytes]) -> CmdResult {
    let by = int(&a[3])?;
    let Some(mut h) = v.hash_mut(&a[1], true)? else {
        return Ok(Reply::Nil);
    };
    let cur = match h.map().get(&a[2]) {
        None => 0,
        Some(s) => {
            args::strict_i64(s).ok_or_else(|| Reply::err("ERR hash value is not an integer"))?
        }
    };
    let new = cur
        .checked_add(by)
        .ok_or_else(|| Reply::err(errors::OVERFLOW))?;
    h.insert(a[2].clone(), args::int_bytes(new));
    v.notify(HASH, "hincrby", &a[1]);
    Ok(Reply::Int(new))
}

pub fn hincrbyfloat(v: &mut View, a: &[Bytes]) -> CmdResult {
    let by = args::float(&a[3])?;
    let Some(mut h) = v.hash_mut(&a[1], true)? else {
        return Ok(Reply::Nil);
    };
    let cur = match h.map().get(&a[2]) {
        None => 0.0,
        Some(s) => args::float_of(s).ok_or_else(|| Reply::err("ERR hash value is not a float"))?,
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(Reply::err("ERR increment would produce NaN or Infinity"));
    }
    let text = Bytes::from(format_double(new));
    h.insert(a[2].clone(), text.clone());
    v.notify(HASH, "hincrbyfloat", &a[1]);
    Ok(Reply::Bulk(text))
}

pub fn hrandfield(v: &mut View, a: &[Bytes]) -> CmdResult {
    let count = a.get(2).map(|c| int(c)).transpose()?;
    let with_values = match a.get(3) {
        None => false,
        Some(w) if is(w, "withvalues") && a.len() == 4 => true,
        Some(_) => return Err(syntax()),
    };
    let resp3 = v.resp3;
    let Some(h) = v.hash(&a[1])? else {
        return Ok(if count.is_some() {
            Reply::Array(vec![])
        } else {
            Reply::Nil
        });
    };
    let fields: Vec<(&Bytes, &Bytes)> = h.iter().collect();
    let picks = super::random_picks(fields.len(), count);
    let Some(_) = count else {
        return Ok(picks
            .first()
            .map_or(Reply::Nil, |&i| Reply::Bulk(fields[i].0.clone())));
    };
    let mut out = Vec::new();
    for i in picks {
        let (f, x) = fields[i];
        if with_values && resp3 {
            out.push(Reply::Array(vec![
                Reply::Bulk(f.clone()),
                Reply::Bulk(x.clone()),
            ]));
        } else {
            out.push(Reply::Bulk(f.clone()));
            if with_values {
                out.push(Reply::Bulk(x.clone()));
            }
        }
    }
    Ok(Reply::Array(out))
}

pub fn hscan(v: &mut View, a: &[Bytes]) -> CmdResult {
    let cursor = scan_cursor(&a[2])?;
    let opts = ScanOpts::parse(&a[3..], false)?;
    if v.hash(&a[1])?.is_none() {
        return Ok(empty_scan());
    }
    let (page, next) = v.st(&a[1])?.members_page(&a[1], cursor, opts.count);
    let mut out = Vec::new();
    for (f, x, _) in page {
        if opts.pattern.as_ref().is_none_or(|p| args::glob(p, &f)) {
            out.push(f);
            out.push(x.unwrap_or_default());
        }
    }
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::bulks(out),
    ]))
}

pub fn scan_cursor(b: &[u8]) -> Result<u64, Reply> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Reply::err("ERR invalid cursor"))
}

pub fn empty_scan() -> Reply {
    Reply::Array(vec![Reply::bulk("0"), Reply::Array(vec![])])
}
