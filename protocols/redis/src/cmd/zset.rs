//! Sorted set commands.

use bytes::Bytes;

use super::args::{self, int, is, syntax};
use super::hash::{empty_scan, scan_cursor};
use super::keys::ScanOpts;
use crate::frame::{Reply, errors};
use crate::notify::{GENERIC, ZSET};
use crate::store::view::CmdResult;
use crate::store::{Value, View, ZSet};

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

pub fn zadd(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        match () {
            _ if is(o, "nx") => nx = true,
            _ if is(o, "xx") => xx = true,
            _ if is(o, "gt") => gt = true,
            _ if is(o, "lt") => lt = true,
            _ if is(o, "ch") => ch = true,
            _ if is(o, "incr") => incr = true,
            _ => break,
        }
        i += 1;
    }
    let pairs = &a[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(syntax());
    }
    if nx && xx {
        return Err(Reply::err(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(Reply::err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && pairs.len() > 2 {
        return Err(Reply::err(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // Every score is checked before anything changes; a member is copied only if stored.
    let mut parsed: smallvec::SmallVec<[(f64, &Bytes); 4]> = smallvec::SmallVec::new();
    for p in pairs.chunks(2) {
        parsed.push((args::float(&p[0])?, &p[1]));
    }
    let Some(mut z) = v.zset_mut(&a[1], !xx)? else {
        return Ok(if incr { Reply::Nil } else { Reply::Int(0) });
    };
    let (mut added, mut changed) = (0, 0);
    for (score, member) in parsed {
        let cur = z.zset().score(member);
        if (nx && cur.is_some()) || (xx && cur.is_none()) {
            if incr {
                return Ok(Reply::Nil);
            }
            continue;
        }
        let new = match (incr, cur) {
            (true, Some(c)) => c + score,
            _ => score,
        };
        if new.is_nan() {
            return Err(Reply::err("ERR resulting score is not a number (NaN)"));
        }
        if let Some(c) = cur
            && ((gt && new <= c) || (lt && new >= c))
        {
            if incr {
                return Ok(Reply::Nil);
            }
            continue;
        }
        if cur != Some(new) {
            z.insert(member.clone(), new);
            if cur.is_none() {
                added += 1;
            } else {
                changed += 1;
            }
        }
        if incr {
            if cur != Some(new) {
                v.notify(ZSET, "zincr", &a[1]);
            }
            return Ok(Reply::Double(new));
        }
    }
    if added + changed > 0 {
        v.notify(ZSET, "zadd", &a[1]);
    }
    Ok(Reply::Int(if ch { added + changed } else { added }))
}

pub fn zincrby(v: &mut View, a: &[Bytes]) -> CmdResult {
    let by = args::float(&a[2])?;
    let Some(mut z) = v.zset_mut(&a[1], true)? else {
        return Ok(Reply::Nil);
    };
    let new = z.zset().score(&a[3]).unwrap_or(0.0) + by;
    if new.is_nan() {
        return Err(Reply::err("ERR resulting score is not a number (NaN)"));
    }
    z.insert(a[3].clone(), new);
    v.notify(ZSET, "zincr", &a[1]);
    Ok(Reply::Double(new))
}

pub fn zrem(v: &mut View, a: &[Bytes]) -> CmdResult {
    let Some(mut z) = v.zset_mut(&a[1], false)? else {
        return Ok(Reply::Int(0));
    };
    let n = a[2..].iter().filter(|m| z.remove(m).is_some()).count() as i64;
    if n > 0 {
        v.notify(ZSET, "zrem", &a[1]);
    }
    Ok(Reply::Int(n))
}

pub fn zscore(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(v.zset(&a[1])?
        .and_then(|z| z.score(&a[2]))
        .map_or(Reply::Nil, Reply::Double))
}

pub fn zmscore(v: &mut View, a: &[Bytes]) -> CmdResult {
    let z = v.zset(&a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
            .collect(),
    ))
}

pub fn zcard(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(v.zset(&a[1])?.map_or(0, |z| z.len() as i64)))
}

pub fn zrank(v: &mut View, a: &[Bytes], rev: bool) -> CmdResult {
    let Some(z) = v.zset(&a[1])? else {
        return Ok(Reply::Nil);
    };
    Ok(z.rank(&a[2]).map_or(Reply::Nil, |r| {
        Reply::Int(if rev {
            (z.len() - 1 - r) as i64
        } else {
            r as i64
        })
    }))
}

/// One end of a score range: `(1.5` is exclusive.
#[derive(Clone, Copy)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

fn score_bound(b: &[u8]) -> Result<ScoreBound, Reply> {
    let (exclusive, rest) = match b.strip_prefix(b"(") {
        Some(r) => (true, r),
        None => (false, b),
    };
    let value = args::float_of(rest).ok_or_else(|| Reply::err(NOT_FLOAT_RANGE))?;
    Ok(ScoreBound { value, exclusive })
}

fn above(s: f64, min: ScoreBound) -> bool {
    if min.exclusive {
        s > min.value
    } else {
        s >= min.value
    }
}

fn below(s: f64, max: ScoreBound) -> bool {
    if max.exclusive {
        s < max.value
    } else {
        s <= max.value
    }
}

/// One end of a lex range: `-`, `+`, `[x` inclusive, `(x` exclusive.
#[derive(Clone)]
enum LexBound {
    Min,
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

fn lex_bound(b: &Bytes) -> Result<LexBound, Reply> {
    match b.first() {
        Some(b'-') if b.len() == 1 => Ok(LexBound::Min),
        Some(b'+') if b.len() == 1 => Ok(LexBound::Max),
        Some(b'[') => Ok(LexBound::Incl(b.slice(1..))),
        Some(b'(') => Ok(LexBound::Excl(b.slice(1..))),
        _ => Err(Reply::err(NOT_LEX_RANGE)),
    }
}

fn lex_above(m: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Incl(x) => m >= &x[..],
        LexBound::Excl(x) => m > &x[..],
    }
}

fn lex_below(m: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m <= &x[..],
        LexBound::Excl(x) => m < &x[..],
    }
}

enum By {
    Rank,
    Score,
    Lex,
}

struct RangeSpec {
    by: By,
    rev: bool,
    withscores: bool,
    limit: Option<(i64, i64)>,
}

/// Members of `z` selected by `spec` from the `start`/`stop` arguments, in reply order.
fn select(
    z: &ZSet,
    start: &Bytes,
    stop: &Bytes,
    spec: &RangeSpec,
) -> Result<Vec<(Bytes, f64)>, Reply> {
    // With REV, BYSCORE and BYLEX take max before min.
    let (lo, hi) = if spec.rev && !matches!(spec.by, By::Rank) {
        (stop, start)
    } else {
        (start, stop)
    };
    let ordered: Box<dyn Iterator<Item = (&Bytes, f64)>> = if spec.rev {
        Box::new(z.iter().rev())
    } else {
        Box::new(z.iter())
    };
    let picked: Vec<(Bytes, f64)> = match spec.by {
        By::Rank => {
            let (s, e) = (int(lo)?, int(hi)?);
            match args::range(s, e, z.len()) {
                None => vec![],
                Some((s, e)) => ordered
                    .skip(s)
                    .take(e - s + 1)
                    .map(|(m, sc)| (m.clone(), sc))
                    .collect(),
            }
        }
        By::Score => {
            let (min, max) = (score_bound(lo)?, score_bound(hi)?);
            ordered
                .filter(|(_, s)| above(*s, min) && below(*s, max))
                .map(|(m, s)| (m.clone(), s))
                .collect()
        }
        By::Lex => {
            let (min, max) = (lex_bound(lo)?, lex_bound(hi)?);
            ordered
                .filter(|(m, _)| lex_above(m, &min) && lex_below(m, &max))
                .map(|(m, s)| (m.clone(), s))
                .collect()
        }
    };
    Ok(match spec.limit {
        None => picked,
        Some((off, count)) => {
            if off < 0 {
                return Ok(vec![]);
            }
            let count = if count < 0 {
                usize::MAX
            } else {
                count as usize
            };
            picked.into_iter().skip(off as usize).take(count).collect()
        }
    })
}

fn scored_reply(items: Vec<(Bytes, f64)>, withscores: bool, resp3: bool) -> Reply {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        if withscores && resp3 {
            out.push(Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]));
        } else {
            out.push(Reply::Bulk(m));
            if withscores {
                out.push(Reply::Double(s));
            }
        }
    }
    Reply::Array(out)
}

/// Parse `[BYSCORE|BYLEX] [REV] [LIMIT o c] [WITHSCORES]` after ZRANGE's min and max.
fn range_opts(opts: &[Bytes], mut spec: RangeSpec) -> Result<RangeSpec, Reply> {
    let mut i = 0;
    while i < opts.len() {
        let o = &opts[i];
        if is(o, "byscore") {
            spec.by = By::Score;
        } else if is(o, "bylex") {
            spec.by = By::Lex;
        } else if is(o, "rev") {
            spec.rev = true;
        } else if is(o, "withscores") {
            spec.withscores = true;
        } else if is(o, "limit") && i + 2 < opts.len() {
            spec.limit = Some((int(&opts[i + 1])?, int(&opts[i + 2])?));
            i += 2;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    Ok(spec)
}

/// ZRANGE and its older forms; `by`/`rev` preset by the command name.
pub fn zrange(v: &mut View, a: &[Bytes], by: By2, rev: bool) -> CmdResult {
    let base = RangeSpec {
        by: match by {
            By2::Rank => By::Rank,
            By2::Score => By::Score,
            By2::Lex => By::Lex,
        },
        rev,
        withscores: false,
        limit: None,
    };
    let spec = range_opts(&a[4..], base)?;
    if spec.limit.is_some() && matches!(spec.by, By::Rank) {
        return Err(Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if spec.withscores && matches!(spec.by, By::Lex) {
        return Err(Reply::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let resp3 = v.resp3;
    let Some(z) = v.zset(&a[1])? else {
        // Bounds are still validated for an empty key.
        select(&ZSet::default(), &a[2], &a[3], &spec)?;
        return Ok(Reply::Array(vec![]));
    };
    let items = select(z, &a[2], &a[3], &spec)?;
    Ok(scored_reply(items, spec.withscores, resp3))
}

/// Which range a command name implies.
#[derive(Clone, Copy)]
pub enum By2 {
    Rank,
    Score,
    Lex,
}

pub fn zcount(v: &mut View, a: &[Bytes], lex: bool) -> CmdResult {
    let spec = RangeSpec {
        by: if lex { By::Lex } else { By::Score },
        rev: false,
        withscores: false,
        limit: None,
    };
    let z = v.zset(&a[1])?.cloned().unwrap_or_default();
    Ok(Reply::Int(select(&z, &a[2], &a[3], &spec)?.len() as i64))
}

pub fn zremrange(v: &mut View, a: &[Bytes], by: By2) -> CmdResult {
    let spec = RangeSpec {
        by: match by {
            By2::Rank => By::Rank,
            By2::Score => By::Score,
            By2::Lex => By::Lex,
        },
        rev: false,
        withscores: false,
        limit: None,
    };
    let z = v.zset(&a[1])?.cloned().unwrap_or_default();
    let items = select(&z, &a[2], &a[3], &spec)?;
    if let Some(mut zm) = v.zset_mut(&a[1], false)? {
        for (m, _) in &items {
            zm.remove(m);
        }
    }
    if !items.is_empty() {
        let event = match by {
            By2::Rank => "zremrangebyrank",
            By2::Score => "zremrangebyscore",
            By2::Lex => "zremrangebylex",
        };
        v.notify(ZSET, event, &a[1]);
    }
    Ok(Reply::Int(items.len() as i64))
}

/// ZPOPMIN/ZPOPMAX of one key; `None` when it is empty.
pub fn pop_from(
    v: &mut View,
    key: &Bytes,
    max: bool,
    count: usize,
) -> Result<Option<Vec<(Bytes, f64)>>, Reply> {
    let Some(mut z) = v.zset_mut(key, false)? else {
        return Ok(None);
    };
    let picked: Vec<(Bytes, f64)> = if max {
        z.zset()
            .iter()
            .rev()
            .take(count)
            .map(|(m, s)| (m.clone(), s))
            .collect()
    } else {
        z.zset()
            .iter()
            .take(count)
            .map(|(m, s)| (m.clone(), s))
            .collect()
    };
    for (m, _) in &picked {
        z.remove(m);
    }
    if !picked.is_empty() {
        v.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    Ok(Some(picked))
}

pub fn zpop(v: &mut View, a: &[Bytes], max: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(syntax());
    }
    let count = match a.get(2) {
        None => None,
        Some(c) => Some(args::count(c)?),
    };
    let resp3 = v.resp3;
    let items = pop_from(v, &a[1], max, count.unwrap_or(1))?.unwrap_or_default();
    if count.is_none() || !resp3 {
        let mut out = Vec::new();
        for (m, s) in items {
            out.push(Reply::Bulk(m));
            out.push(Reply::Double(s));
        }
        return Ok(Reply::Array(out));
    }
    Ok(scored_reply(items, true, true))
}

/// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE dst numkeys key... [WEIGHTS ...] [AGGREGATE ...].
pub fn zstore(v: &mut View, a: &[Bytes], op: super::set::Op) -> CmdResult {
    let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
    let (out, _) = combine(v, &a[2..], op, &name, false)?;
    let n = out.len() as i64;
    let existed = n == 0 && v.peek(&a[1])?.is_some();
    v.put_value(&a[1], Value::ZSet(out), None)?;
    if n > 0 {
        let event = match op {
            super::set::Op::Union => "zunionstore",
            super::set::Op::Inter => "zinterstore",
            super::set::Op::Diff => "zdiffstore",
        };
        v.notify(ZSET, event, &a[1]);
    } else if existed {
        v.notify(GENERIC, "del", &a[1]);
    }
    Ok(Reply::Int(n))
}

/// ZUNION / ZINTER / ZDIFF numkeys key... [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES].
pub fn zcombine(v: &mut View, a: &[Bytes], op: super::set::Op) -> CmdResult {
    let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
    let resp3 = v.resp3;
    let (out, withscores) = combine(v, &a[1..], op, &name, true)?;
    let items = out.iter().map(|(m, s)| (m.clone(), s)).collect();
    Ok(scored_reply(items, withscores, resp3))
}

/// ZINTERCARD numkeys key... [LIMIT n].
pub fn zintercard(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (keys, rest) = super::numkeys(&a[1..]).map_err(|e| match e {
        Reply::Error(m) if m.contains("numkeys") => {
            Reply::err("ERR at least 1 input key is needed for 'zintercard' command")
        }
        other => other,
    })?;
    let limit = match rest {
        [] => 0,
        [l, n] if is(l, "limit") => {
            usize::try_from(int(n)?).map_err(|_| Reply::err("ERR LIMIT can't be negative"))?
        }
        _ => return Err(syntax()),
    };
    let mut args = vec![a[1].clone()];
    args.extend(keys.iter().cloned());
    let (out, _) = combine(v, &args, super::set::Op::Inter, "zintercard", false)?;
    let n = out.len();
    Ok(Reply::Int(if limit > 0 { n.min(limit) } else { n } as i64))
}

/// The combined sorted set of `a` = [numkeys, key..., options...].
fn combine(
    v: &mut View,
    a: &[Bytes],
    op: super::set::Op,
    name: &str,
    allow_withscores: bool,
) -> Result<(ZSet, bool), Reply> {
    let (keys, rest) = super::numkeys(a).map_err(|e| match e {
        Reply::Error(m) if m.contains("numkeys") => Reply::err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )),
        other => other,
    })?;
    let diff = matches!(op, super::set::Op::Diff);
    let mut weights = vec![1.0; keys.len()];
    let mut agg = 0u8; // 0 sum, 1 min, 2 max
    let mut withscores = false;
    let mut i = 0;
    while i < rest.len() {
        if is(&rest[i], "weights") && !diff && i + keys.len() < rest.len() {
            for (w, arg) in weights.iter_mut().zip(&rest[i + 1..]) {
                *w = args::float_of(arg)
                    .ok_or_else(|| Reply::err("ERR weight value is not a float"))?;
            }
            i += keys.len() + 1;
        } else if is(&rest[i], "aggregate") && !diff && i + 1 < rest.len() {
            let w = &rest[i + 1];
            agg = if is(w, "sum") {
                0
            } else if is(w, "min") {
                1
            } else if is(w, "max") {
                2
            } else {
                return Err(syntax());
            };
            i += 2;
        } else if is(&rest[i], "withscores") && allow_withscores {
            withscores = true;
            i += 1;
        } else {
            return Err(syntax());
        }
    }
    let mut inputs = Vec::with_capacity(keys.len());
    for k in keys {
        // Plain sets count as sorted sets with score 1.
        let z = match v.get(k)? {
            None => ZSet::default(),
            Some(e) => match &e.value {
                Value::ZSet(z) => z.clone(),
                Value::Set(s) => {
                    let mut z = ZSet::default();
                    s.iter().for_each(|m| {
                        z.insert(m.clone(), 1.0);
                    });
                    z
                }
                _ => return Err(Reply::err(errors::WRONGTYPE)),
            },
        };
        inputs.push(z);
    }
    let combine = |a: f64, b: f64| {
        let r = match agg {
            1 => a.min(b),
            2 => a.max(b),
            _ => a + b,
        };
        if r.is_nan() { 0.0 } else { r }
    };
    let mut out = ZSet::default();
    let Some(first) = inputs.first() else {
        return Ok((out, withscores));
    };
    match op {
        super::set::Op::Union => {
            for (z, w) in inputs.iter().zip(&weights) {
                for (m, s) in z.iter() {
                    let s = s * w;
                    let new = out.score(m).map_or(s, |c| combine(c, s));
                    out.insert(m.clone(), if new.is_nan() { 0.0 } else { new });
                }
            }
        }
        super::set::Op::Inter => {
            'members: for (m, s) in first.iter() {
                let mut acc = s * weights[0];
                for (z, w) in inputs.iter().zip(&weights).skip(1) {
                    let Some(t) = z.score(m) else {
                        continue 'members;
                    };
                    acc = combine(acc, t * w);
                }
                out.insert(m.clone(), if acc.is_nan() { 0.0 } else { acc });
            }
        }
        super::set::Op::Diff => {
            for (m, s) in first.iter() {
                if inputs[1..].iter().all(|z| z.score(m).is_none()) {
                    out.insert(m.clone(), s);
                }
            }
        }
    }
    Ok((out, withscores))
}

pub fn zrandmember(v: &mut View, a: &[Bytes]) -> CmdResult {
    let count = a.get(2).map(|c| int(c)).transpose()?;
    let withscores = match a.get(3) {
        None => false,
        Some(w) if is(w, "withscores") && a.len() == 4 => true,
        Some(_) => return Err(syntax()),
    };
    let resp3 = v.resp3;
    let Some(z) = v.zset(&a[1])? else {
        return Ok(if count.is_some() {
            Reply::Array(vec![])
        } else {
            Reply::Nil
        });
    };
    let members: Vec<(Bytes, f64)> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
    let picks = super::random_picks(members.len(), count.or(Some(1)));
    let chosen: Vec<(Bytes, f64)> = picks.into_iter().map(|i| members[i].clone()).collect();
    match count {
        None => Ok(chosen
            .into_iter()
            .next()
            .map_or(Reply::Nil, |(m, _)| Reply::Bulk(m))),
        Some(_) => Ok(scored_reply(chosen, withscores, resp3)),
    }
}

pub fn zscan(v: &mut View, a: &[Bytes]) -> CmdResult {
    let cursor = scan_cursor(&a[2])?;
    let opts = ScanOpts::parse(&a[3..], false)?;
    if v.zset(&a[1])?.is_none() {
        return Ok(empty_scan());
    }
    let (page, next) = v.st(&a[1])?.members_page(&a[1], cursor, opts.count);
    let mut out = Vec::new();
    for (m, _, s) in page {
        if opts.pattern.as_ref().is_none_or(|p| args::glob(p, &m)) {
            out.push(Reply::Bulk(m));
            out.push(Reply::bulk(crate::codec::format_double(s.unwrap_or(0.0))));
        }
    }
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(out),
    ]))
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT n]; `a` starts at numkeys. Also the step of
/// BZMPOP: `None` when every key is empty.
pub fn zmpop_once(v: &mut View, a: &[Bytes]) -> Result<Option<Reply>, Reply> {
    let (keys, rest) = super::numkeys(a)?;
    let where_ = rest.first().ok_or_else(syntax)?;
    let max = if is(where_, "max") {
        true
    } else if is(where_, "min") {
        false
    } else {
        return Err(syntax());
    };
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
        if let Some(items) = pop_from(v, key, max, count)?
            && !items.is_empty()
        {
            let items = items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect();
            return Ok(Some(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::Array(items),
            ])));
        }
    }
    Ok(None)
}

pub fn zmpop(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(zmpop_once(v, a)?.unwrap_or(Reply::NilArray))
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(v: &mut View, a: &[Bytes]) -> CmdResult {
    let base = RangeSpec {
        by: By::Rank,
        rev: false,
        withscores: false,
        limit: None,
    };
    if a[5..].iter().any(|o| is(o, "withscores")) {
        return Err(syntax());
    }
    let spec = range_opts(&a[5..], base)?;
    if spec.limit.is_some() && matches!(spec.by, By::Rank) {
        return Err(Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    let items = match v.zset(&a[2])? {
        Some(z) => select(z, &a[3], &a[4], &spec)?,
        None => {
            select(&ZSet::default(), &a[3], &a[4], &spec)?;
            vec![]
        }
    };
    let n = items.len() as i64;
    let mut out = ZSet::default();
    for (m, s) in items {
        out.insert(m, s);
    }
    if n == 0 {
        if v.remove(&a[1])?.is_some() {
            v.notify(GENERIC, "del", &a[1]);
        }
    } else {
        v.put_value(&a[1], Value::ZSet(out), None)?;
        v.notify(ZSET, "zrangestore", &a[1]);
    }
    Ok(Reply::Int(n))
}
