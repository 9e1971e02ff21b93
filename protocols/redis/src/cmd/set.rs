//! Set commands.

use std::collections::HashSet;

use bytes::Bytes;

use super::args::{self, int, is, syntax};
use super::hash::{empty_scan, scan_cursor};
use super::keys::ScanOpts;
use crate::frame::Reply;
use crate::notify::{GENERIC, SET};
use crate::store::view::CmdResult;
use crate::store::{Value, View};

pub fn sadd(v: &mut View, a: &[Bytes]) -> CmdResult {
    let Some(mut s) = v.set_mut(&a[1], true)? else {
        return Ok(Reply::Int(0));
    };
    let n = a[2..].iter().filter(|m| s.insert(m)).count() as i64;
    if n > 0 {
        v.notify(SET, "sadd", &a[1]);
    }
    Ok(Reply::Int(n))
}

pub fn srem(v: &mut View, a: &[Bytes]) -> CmdResult {
    let Some(mut s) = v.set_mut(&a[1], false)? else {
        return Ok(Reply::Int(0));
    };
    let n = a[2..].iter().filter(|m| s.remove(m)).count() as i64;
    if n > 0 {
        v.notify(SET, "srem", &a[1]);
    }
    Ok(Reply::Int(n))
}

pub fn smembers(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Set(
        v.set(&a[1])?
            .map(|s| s.iter().cloned().map(Reply::Bulk).collect())
            .unwrap_or_default(),
    ))
}

pub fn sismember(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(i64::from(
        v.set(&a[1])?.is_some_and(|s| s.contains(&a[2])),
    )))
}

pub fn smismember(v: &mut View, a: &[Bytes]) -> CmdResult {
    let s = v.set(&a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| Reply::Int(i64::from(s.is_some_and(|s| s.contains(m)))))
            .collect(),
    ))
}

pub fn scard(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(v.set(&a[1])?.map_or(0, |s| s.len() as i64)))
}

pub fn spop(v: &mut View, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(syntax());
    }
    let count = a.get(2).map(|c| args::count(c)).transpose()?;
    let Some(mut s) = v.set_mut(&a[1], false)? else {
        return Ok(if count.is_some() {
            Reply::Set(vec![])
        } else {
            Reply::Nil
        });
    };
    if count.is_none() {
        // One member: walk to it instead of copying the whole set.
        let at = super::random_index(s.set().len());
        let Some(m) = s.set().iter().nth(at).cloned() else {
            return Ok(Reply::Nil);
        };
        s.remove(&m);
        v.notify(SET, "spop", &a[1]);
        return Ok(Reply::Bulk(m));
    }
    let members: Vec<Bytes> = s.set().iter().cloned().collect();
    let picks = super::random_picks(members.len(), Some(count.unwrap_or(1) as i64));
    let mut out = Vec::new();
    for i in picks {
        s.remove(&members[i]);
        out.push(Reply::Bulk(members[i].clone()));
    }
    if !out.is_empty() {
        v.notify(SET, "spop", &a[1]);
    }
    Ok(match count {
        None => out.pop().unwrap_or(Reply::Nil),
        Some(_) => Reply::Set(out),
    })
}

pub fn srandmember(v: &mut View, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(syntax());
    }
    let count = a.get(2).map(|c| int(c)).transpose()?;
    let Some(s) = v.set(&a[1])? else {
        return Ok(if count.is_some() {
            Reply::Array(vec![])
        } else {
            Reply::Nil
        });
    };
    if count.is_none() {
        let at = super::random_index(s.len());
        return Ok(s
            .iter()
            .nth(at)
            .map_or(Reply::Nil, |m| Reply::Bulk(m.clone())));
    }
    let members: Vec<&Bytes> = s.iter().collect();
    let picks = super::random_picks(members.len(), count.or(Some(1)));
    let out: Vec<Reply> = picks
        .into_iter()
        .map(|i| Reply::Bulk(members[i].clone()))
        .collect();
    Ok(match count {
        None => out.into_iter().next().unwrap_or(Reply::Nil),
        Some(_) => Reply::Array(out),
    })
}

pub fn smove(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (src, dst, m) = (&a[1], &a[2], &a[3]);
    if v.set(src)?.is_none() {
        return Ok(Reply::Int(0));
    }
    v.set(dst)?;
    let removed = v.set_mut(src, false)?.is_some_and(|mut s| s.remove(m));
    if !removed {
        return Ok(Reply::Int(0));
    }
    v.notify(SET, "srem", src);
    // Redis deletes the emptied source before it adds to the destination.
    if v.set(src)?.is_some_and(|s| s.is_empty()) {
        v.notify(GENERIC, "del", src);
    }
    if let Some(mut d) = v.set_mut(dst, true)? {
        d.insert(m);
    }
    v.notify(SET, "sadd", dst);
    Ok(Reply::Int(1))
}

#[derive(Clone, Copy)]
pub enum Op {
    Inter,
    Union,
    Diff,
}

/// The combined set of `keys` (missing keys are empty sets).
pub fn combine(v: &mut View, keys: &[Bytes], op: Op) -> Result<HashSet<Bytes>, Reply> {
    let mut sets = Vec::with_capacity(keys.len());
    for k in keys {
        sets.push(v.set(k)?.cloned().unwrap_or_default());
    }
    let mut it = sets.into_iter();
    let first = it.next().unwrap_or_default();
    Ok(it.fold(first, |acc, s| match op {
        Op::Inter => acc.intersection(&s).cloned().collect(),
        Op::Union => acc.union(&s).cloned().collect(),
        Op::Diff => acc.difference(&s).cloned().collect(),
    }))
}

pub fn sop(v: &mut View, a: &[Bytes], op: Op) -> CmdResult {
    let s = combine(v, &a[1..], op)?;
    Ok(Reply::Set(s.into_iter().map(Reply::Bulk).collect()))
}

pub fn sopstore(v: &mut View, a: &[Bytes], op: Op) -> CmdResult {
    let s = combine(v, &a[2..], op)?;
    let n = s.len() as i64;
    let existed = n == 0 && v.peek(&a[1])?.is_some();
    v.put_value(&a[1], Value::Set(s), None)?;
    if n > 0 {
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        v.notify(SET, event, &a[1]);
    } else if existed {
        v.notify(GENERIC, "del", &a[1]);
    }
    Ok(Reply::Int(n))
}

pub fn sintercard(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (keys, rest) = super::numkeys(a)?;
    let limit = match rest {
        [] => 0,
        [l, n] if is(l, "limit") => {
            let n = int(n)?;
            usize::try_from(n).map_err(|_| Reply::err("ERR LIMIT can't be negative"))?
        }
        _ => return Err(syntax()),
    };
    let n = combine(v, keys, Op::Inter)?.len();
    Ok(Reply::Int(if limit > 0 { n.min(limit) } else { n } as i64))
}

pub fn sscan(v: &mut View, a: &[Bytes]) -> CmdResult {
    let cursor = scan_cursor(&a[2])?;
    let opts = ScanOpts::parse(&a[3..], false)?;
    if v.set(&a[1])?.is_none() {
        return Ok(empty_scan());
    }
    let (page, next) = v.st(&a[1])?.members_page(&a[1], cursor, opts.count);
    let page = page
        .into_iter()
        .map(|(m, _, _)| m)
        .filter(|m| opts.pattern.as_ref().is_none_or(|p| args::glob(p, m)));
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::bulks(page),
    ]))
}
