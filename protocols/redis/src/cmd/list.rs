//! List commands.

use std::collections::VecDeque;

use bytes::Bytes;

use super::args::{self, int, is, syntax};
use crate::frame::{Reply, errors};
use crate::notify::LIST;
use crate::store::View;
use crate::store::view::CmdResult;

/// LPUSH/RPUSH, and LPUSHX/RPUSHX when `only_existing`.
pub fn push(v: &mut View, a: &[Bytes], left: bool, only_existing: bool) -> CmdResult {
    let Some(mut l) = v.list_mut(&a[1], !only_existing)? else {
        return Ok(Reply::Int(0));
    };
    for x in &a[2..] {
        if left {
            l.push_front(x.clone());
        } else {
            l.push_back(x.clone());
        }
    }
    let n = l.len() as i64;
    v.notify(LIST, if left { "lpush" } else { "rpush" }, &a[1]);
    Ok(Reply::Int(n))
}

/// LPOP/RPOP with an optional count.
pub fn pop(v: &mut View, a: &[Bytes], left: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(syntax());
    }
    let count = a.get(2).map(|c| args::count(c)).transpose()?;
    let Some(mut l) = v.list_mut(&a[1], false)? else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    let take =
        |l: &mut crate::store::view::ListMut| if left { l.pop_front() } else { l.pop_back() };
    let (reply, popped) = match count {
        None => {
            let x = take(&mut l);
            (x.is_some(), Reply::opt_bulk(x))
        }
        Some(n) => {
            let mut out = Vec::new();
            while out.len() < n
                && let Some(x) = take(&mut l)
            {
                out.push(x);
            }
            (!out.is_empty(), Reply::bulks(out))
        }
    };
    if reply {
        v.notify(LIST, if left { "lpop" } else { "rpop" }, &a[1]);
    }
    Ok(popped)
}

pub fn llen(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        v.list(&a[1])?.map_or(0, |l| l.items.len() as i64),
    ))
}

pub fn lrange(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (start, stop) = (int(&a[2])?, int(&a[3])?);
    let Some(l) = v.list(&a[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    Ok(match args::range(start, stop, l.items.len()) {
        None => Reply::Array(vec![]),
        Some((s, e)) => Reply::bulks(l.items.range(s..=e).cloned()),
    })
}

fn index_of(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (i >= 0 && i < len as i64).then_some(i as usize)
}

pub fn lindex(v: &mut View, a: &[Bytes]) -> CmdResult {
    let i = int(&a[2])?;
    let Some(l) = v.list(&a[1])? else {
        return Ok(Reply::Nil);
    };
    Ok(Reply::opt_bulk(
        index_of(i, l.items.len()).map(|i| l.items[i].clone()),
    ))
}

pub fn lset(v: &mut View, a: &[Bytes]) -> CmdResult {
    let i = int(&a[2])?;
    let Some(mut l) = v.list_mut(&a[1], false)? else {
        return Err(Reply::err(errors::NO_SUCH_KEY));
    };
    let idx = index_of(i, l.len()).ok_or_else(|| Reply::err(errors::INDEX_RANGE))?;
    l.set(idx, a[3].clone());
    v.notify(LIST, "lset", &a[1]);
    Ok(Reply::ok())
}

pub fn linsert(v: &mut View, a: &[Bytes]) -> CmdResult {
    let before = if is(&a[2], "before") {
        true
    } else if is(&a[2], "after") {
        false
    } else {
        return Err(syntax());
    };
    let Some(mut l) = v.list_mut(&a[1], false)? else {
        return Ok(Reply::Int(0));
    };
    let Some(at) = l.list().items.iter().position(|x| x == &a[3]) else {
        return Ok(Reply::Int(-1));
    };
    let mut items: VecDeque<Bytes> = l.list().items.clone();
    items.insert(if before { at } else { at + 1 }, a[4].clone());
    l.replace_all(items);
    let n = l.len() as i64;
    v.notify(LIST, "linsert", &a[1]);
    Ok(Reply::Int(n))
}

pub fn lrem(v: &mut View, a: &[Bytes]) -> CmdResult {
    let count = int(&a[2])?;
    let Some(mut l) = v.list_mut(&a[1], false)? else {
        return Ok(Reply::Int(0));
    };
    let items = &l.list().items;
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut drop = vec![false; items.len()];
    let mut removed = 0;
    let order: Box<dyn Iterator<Item = usize>> = if count < 0 {
        Box::new((0..items.len()).rev())
    } else {
        Box::new(0..items.len())
    };
    for i in order {
        if removed == limit {
            break;
        }
        if items[i] == a[3] {
            drop[i] = true;
            removed += 1;
        }
    }
    if removed > 0 {
        let kept = items
            .iter()
            .zip(&drop)
            .filter(|(_, d)| !**d)
            .map(|(x, _)| x.clone())
            .collect();
        l.replace_all(kept);
        v.notify(LIST, "lrem", &a[1]);
    }
    Ok(Reply::Int(removed as i64))
}

pub fn ltrim(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (start, stop) = (int(&a[2])?, int(&a[3])?);
    let Some(mut l) = v.list_mut(&a[1], false)? else {
        return Ok(Reply::ok());
    };
    let (keep_from, keep_to) = match args::range(start, stop, l.len()) {
        None => (0, 0),
        Some((s, e)) => (s, e + 1),
    };
    let tail = l.len() - keep_to;
    for _ in 0..tail {
        l.pop_back();
    }
    for _ in 0..keep_from {
        l.pop_front();
    }
    if keep_to == 0 {
        while l.pop_back().is_some() {}
    }
    v.notify(LIST, "ltrim", &a[1]);
    Ok(Reply::ok())
}

pub fn lpos(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 3;
    while i < a.len() {
        let val = a.get(i + 1).ok_or_else(syntax)?;
        if is(&a[i], "rank") {
            rank = int(val)?;
            if rank == 0 {
                return Err(Reply::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(&a[i], "count") {
            count = Some(int(val).and_then(|n| {
                usize::try_from(n).map_err(|_| Reply::err("ERR COUNT can't be negative"))
            })?);
        } else if is(&a[i], "maxlen") {
            maxlen = int(val).and_then(|n| {
                usize::try_from(n).map_err(|_| Reply::err("ERR MAXLEN can't be negative"))
            })?;
        } else {
            return Err(syntax());
        }
        i += 2;
    }
    let Some(l) = v.list(&a[1])? else {
        return Ok(if count.is_some() {
            Reply::Array(vec![])
        } else {
            Reply::Nil
        });
    };
    let n = l.items.len();
    let scan = if maxlen == 0 { n } else { maxlen.min(n) };
    let idxs: Box<dyn Iterator<Item = usize>> = if rank > 0 {
        Box::new(0..scan)
    } else {
        Box::new((n - scan..n).rev())
    };
    let mut skip = rank.unsigned_abs() - 1;
    let want = match count {
        Some(0) => usize::MAX,
        Some(c) => c,
        None => 1,
    };
    let mut found = Vec::new();
    for i in idxs {
        if l.items[i] == a[2] {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            found.push(Reply::Int(i as i64));
            if found.len() >= want {
                break;
            }
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Nil),
    })
}

fn side(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(syntax())
    }
}

/// Move one element between lists; the shared step of LMOVE, RPOPLPUSH and BLMOVE.
pub fn move_one(
    v: &mut View,
    src: &Bytes,
    dst: &Bytes,
    from_left: bool,
    to_left: bool,
) -> CmdResult {
    // Type-check the destination before taking anything from the source.
    if v.list(src)?.is_none() {
        return Ok(Reply::Nil);
    }
    v.list(dst)?;
    let popped = {
        let Some(mut l) = v.list_mut(src, false)? else {
            return Ok(Reply::Nil);
        };
        if from_left {
            l.pop_front()
        } else {
            l.pop_back()
        }
    };
    let Some(x) = popped else {
        return Ok(Reply::Nil);
    };
    if let Some(mut d) = v.list_mut(dst, true)? {
        if to_left {
            d.push_front(x.clone());
        } else {
            d.push_back(x.clone());
        }
    }
    v.notify(LIST, if to_left { "lpush" } else { "rpush" }, dst);
    v.notify(LIST, if from_left { "lpop" } else { "rpop" }, src);
    Ok(Reply::Bulk(x))
}

pub fn lmove(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (from, to) = (side(&a[3])?, side(&a[4])?);
    move_one(v, &a[1], &a[2], from, to)
}

pub fn rpoplpush(v: &mut View, a: &[Bytes]) -> CmdResult {
    move_one(v, &a[1], &a[2], false, true)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT n]; `a` starts at numkeys.
pub fn lmpop(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (keys, rest) = super::numkeys(a)?;
    let left = side(rest.first().ok_or_else(syntax)?)?;
    let count = match rest.get(1..) {
        Some([c, n]) if is(c, "count") => {
            let n = int(n)?;
            if n <= 0 {
                return Err(Reply::err("ERR count should be greater than 0"));
            }
            n as usize
        }
        Some([]) => 1,
        _ => return Err(syntax()),
    };
    for key in keys {
        if let Some(mut l) = v.list_mut(key, false)? {
            let mut out = Vec::new();
            while out.len() < count
                && let Some(x) = if left { l.pop_front() } else { l.pop_back() }
            {
                out.push(x);
            }
            v.notify(LIST, if left { "lpop" } else { "rpop" }, key);
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::bulks(out),
            ]));
        }
    }
    Ok(Reply::NilArray)
}
