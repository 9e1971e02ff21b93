//! Stream commands: XADD, XLEN, XRANGE/XREVRANGE, XREAD/XREADGROUP, XDEL, XTRIM, XSETID,
//! XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO, with redis-server 7.0's replies and
//! error wordings (t_stream.c).

use std::ops::Bound;

use bytes::Bytes;

use super::args::{int, is, strict_i64, syntax};
use crate::frame::Reply;
use crate::store::View;
use crate::store::stream::{Group, NODE_ENTRIES, Pending, Stream, StreamId, StreamMut};
use crate::store::view::CmdResult;

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const TOP_ITEM: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

/// Redis's `string2ull`: a decimal without sign (beyond what `string2ll` takes).
fn ull(b: &[u8]) -> Option<u64> {
    if let Some(i) = strict_i64(b) {
        return u64::try_from(i).ok();
    }
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// An id as `streamGenericParseIDOrReply` reads it. `missing_seq` fills `<ms>` alone; `strict`
/// refuses `-` and `+`. With `partial`, `<ms>-*` is accepted and reported as `(id, false)`.
fn parse_id_full(
    b: &[u8],
    missing_seq: u64,
    strict: bool,
    partial: bool,
) -> Result<(StreamId, bool), Reply> {
    let invalid = || Reply::err(INVALID_ID);
    if b.len() > 127 {
        return Err(invalid());
    }
    match b {
        b"-" | b"+" if strict => return Err(invalid()),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    match b.iter().position(|&c| c == b'-') {
        None => Ok((
            StreamId::new(ull(b).ok_or_else(invalid)?, missing_seq),
            true,
        )),
        Some(dash) => {
            let ms = ull(&b[..dash]).ok_or_else(invalid)?;
            let rest = &b[dash + 1..];
            if partial && rest == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            Ok((StreamId::new(ms, ull(rest).ok_or_else(invalid)?), true))
        }
    }
}

fn parse_id(b: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_full(b, missing_seq, false, false).map(|(id, _)| id)
}

fn parse_strict(b: &[u8]) -> Result<StreamId, Reply> {
    parse_id_full(b, 0, true, false).map(|(id, _)| id)
}

/// The start of an interval: `(` makes it exclusive.
fn interval_start(b: &[u8]) -> Result<StreamId, Reply> {
    if b.len() > 1 && b[0] == b'(' {
        let id = parse_id_full(&b[1..], 0, true, false)?.0;
        return id
            .next()
            .ok_or_else(|| Reply::err("ERR invalid start ID for the interval"));
    }
    parse_id(b, 0)
}

fn interval_end(b: &[u8]) -> Result<StreamId, Reply> {
    if b.len() > 1 && b[0] == b'(' {
        let id = parse_id_full(&b[1..], u64::MAX, true, false)?.0;
        return id
            .prev()
            .ok_or_else(|| Reply::err("ERR invalid end ID for the interval"));
    }
    parse_id(b, u64::MAX)
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

fn entry_reply(id: StreamId, fields: &[Bytes]) -> Reply {
    Reply::Array(vec![id_reply(id), Reply::bulks(fields.iter().cloned())])
}

fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn subcommand_syntax(a: &[Bytes]) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&a[1]),
        String::from_utf8_lossy(&a[0]).to_ascii_uppercase()
    ))
}

/// A map reply (RESP3) that degrades to a flat array (RESP2).
fn map(pairs: Vec<(&str, Reply)>) -> Reply {
    Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::bulk(k.to_owned()), v))
            .collect(),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Trim {
    None,
    MaxLen(u64),
    MinId(StreamId),
}

struct TrimArgs {
    trim: Trim,
    approx: bool,
    /// Most entries one trim removes (0: no bound).
    limit: u64,
}

/// The options of XADD (`xadd`) or XTRIM; for XADD also the id (`None` for `*`), whether its
/// sequence was given, NOMKSTREAM, and where the fields start.
struct AddArgs {
    trim: TrimArgs,
    id: Option<(StreamId, bool)>,
    nomkstream: bool,
    fields_at: usize,
}

fn parse_add_or_trim(a: &[Bytes], xadd: bool) -> Result<AddArgs, Reply> {
    let mut trim = Trim::None;
    let mut approx = false;
    let mut limit: Option<i64> = None;
    let mut id = None;
    let mut nomkstream = false;
    let mut i = 2;
    let incompatible = || {
        Reply::err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    };
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = &a[i];
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if is(opt, "maxlen") && more > 0 {
            if trim != Trim::None {
                return Err(incompatible());
            }
            approx = trim_operator(a, &mut i, more);
            let n = int(&a[i + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR The MAXLEN argument must be >= 0."));
            }
            trim = Trim::MaxLen(n as u64);
            i += 1;
        } else if is(opt, "minid") && more > 0 {
            if trim != Trim::None {
                return Err(incompatible());
            }
            approx = trim_operator(a, &mut i, more);
            trim = Trim::MinId(parse_strict(&a[i + 1])?);
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            let n = int(&a[i + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    if limit.is_some_and(|l| l != 0) && trim == Trim::None {
        return Err(Reply::err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && trim == Trim::None {
        return Err(Reply::err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    let limit = match limit {
        Some(_) if !approx => {
            return Err(Reply::err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        Some(l) => l as u64,
        None if approx => 100 * NODE_ENTRIES as u64,
        None => 0,
    };
    Ok(AddArgs {
        trim: TrimArgs {
            trim,
            approx,
            limit,
        },
        id,
        nomkstream,
        fields_at: i + 1,
    })
}

/// Trim as `streamTrim` does; `~` removes only whole nodes of `NODE_ENTRIES` from the head.
fn trim(m: &mut StreamMut, t: &TrimArgs) -> u64 {
    let mut deleted = 0u64;
    loop {
        let len = m.s.len() as u64;
        if len == 0 {
            break;
        }
        if t.approx {
            let node = len.min(NODE_ENTRIES as u64);
            if t.limit != 0 && deleted + node > t.limit {
                break;
            }
            let remove = match t.trim {
                Trim::None => false,
                Trim::MaxLen(max) => len > max && len - node >= max,
                Trim::MinId(min) => {
                    m.s.entries
                        .keys()
                        .nth(node as usize - 1)
                        .is_some_and(|last| *last < min)
                }
            };
            if !remove {
                break;
            }
            let ids: Vec<StreamId> = m.s.entries.keys().take(node as usize).copied().collect();
            for id in ids {
                m.remove_entry(id);
            }
            deleted += node;
        } else {
            let Some(first) = m.s.entries.keys().next().copied() else {
                break;
            };
            let remove = match t.trim {
                Trim::None => false,
                Trim::MaxLen(max) => len > max,
                Trim::MinId(min) => first < min,
            };
            if !remove {
                break;
            }
            m.remove_entry(first);
            deleted += 1;
        }
    }
    if deleted > 0 {
        m.s.refresh_first();
        m.save_meta();
    }
    deleted
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
pub fn xadd(v: &mut View, a: &[Bytes]) -> CmdResult {
    let args = parse_add_or_trim(a, true)?;
    let nfields = a.len().saturating_sub(args.fields_at);
    if nfields < 2 || nfields % 2 == 1 {
        return Err(Reply::wrong_args("xadd"));
    }
    if let Some((id, true)) = args.id
        && id.is_zero()
    {
        return Err(Reply::err(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let now = v.now;
    let Some(mut m) = v.stream_mut(&a[1], !args.nomkstream)? else {
        return Ok(Reply::Nil);
    };
    let last = m.s.last_id;
    if last == StreamId::MAX {
        return Err(Reply::err(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = match args.id {
        Some((id, true)) => id,
        Some((id, false)) if id.ms == last.ms => {
            if last.seq == u64::MAX {
                return Err(Reply::err(TOP_ITEM));
            }
            StreamId::new(id.ms, last.seq + 1)
        }
        Some((id, false)) => id,
        None => {
            let ms = u64::try_from(now).unwrap_or(0);
            if ms > last.ms {
                StreamId::new(ms, 0)
            } else {
                last.next().unwrap_or(StreamId::MAX)
            }
        }
    };
    if id <= last {
        return Err(Reply::err(TOP_ITEM));
    }
    m.append(id, a[args.fields_at..].to_vec());
    let trimmed = args.trim.trim != Trim::None && trim(&mut m, &args.trim) > 0;
    v.notify(crate::notify::STREAM, "xadd", &a[1]);
    if trimmed {
        v.notify(crate::notify::STREAM, "xtrim", &a[1]);
    }
    Ok(id_reply(id))
}

pub fn xlen(v: &mut View, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(v.stream(&a[1])?.map_or(0, |s| s.len() as i64)))
}

/// XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n]
pub fn xrange(v: &mut View, a: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (&a[3], &a[2]) } else { (&a[2], &a[3]) };
    let start = interval_start(start_arg)?;
    let end = interval_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < a.len() {
        if is(&a[j], "count") && j + 1 < a.len() {
            count = int(&a[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(syntax());
        }
    }
    let Some(s) = v.stream(&a[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    if count == 0 {
        return Ok(Reply::NilArray);
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    if start > end {
        return Ok(Reply::Array(vec![]));
    }
    let range = s.entries.range(start..=end);
    let items: Vec<Reply> = if rev {
        range
            .rev()
            .take(limit)
            .map(|(id, f)| entry_reply(*id, f))
            .collect()
    } else {
        range
            .take(limit)
            .map(|(id, f)| entry_reply(*id, f))
            .collect()
    };
    Ok(Reply::Array(items))
}

pub fn xdel(v: &mut View, a: &[Bytes]) -> CmdResult {
    if v.stream(&a[1])?.is_none() {
        return Ok(Reply::Int(0));
    }
    let ids = a[2..]
        .iter()
        .map(|b| parse_strict(b))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(mut m) = v.stream_mut(&a[1], false)? else {
        return Ok(Reply::Int(0));
    };
    let mut deleted = 0;
    for id in ids {
        if m.remove_entry(id) {
            if id > m.s.max_deleted {
                m.s.max_deleted = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        m.s.refresh_first();
        m.save_meta();
    }
    if deleted > 0 {
        v.notify(crate::notify::STREAM, "xdel", &a[1]);
    }
    Ok(Reply::Int(deleted))
}

pub fn xtrim(v: &mut View, a: &[Bytes]) -> CmdResult {
    let args = parse_add_or_trim(a, false)?;
    if v.stream(&a[1])?.is_none() {
        return Ok(Reply::Int(0));
    }
    let Some(mut m) = v.stream_mut(&a[1], false)? else {
        return Ok(Reply::Int(0));
    };
    let n = trim(&mut m, &args.trim) as i64;
    if n > 0 {
        v.notify(crate::notify::STREAM, "xtrim", &a[1]);
    }
    Ok(Reply::Int(n))
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
pub fn xsetid(v: &mut View, a: &[Bytes]) -> CmdResult {
    let id = parse_strict(&a[2])?;
    let mut added: Option<u64> = None;
    let mut max_del = StreamId::MIN;
    let mut i = 3;
    while i < a.len() {
        let more = a.len() - 1 - i;
        if is(&a[i], "entriesadded") && more > 0 {
            let n = int(&a[i + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR entries_added must be positive"));
            }
            added = Some(n as u64);
        } else if is(&a[i], "maxdeletedid") && more > 0 {
            max_del = parse_strict(&a[i + 1])?;
            if id < max_del {
                return Err(Reply::err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(syntax());
        }
        i += 2;
    }
    let Some(mut m) = v.stream_mut(&a[1], false)? else {
        return Err(Reply::err(crate::frame::errors::NO_SUCH_KEY));
    };
    if let Some(top) = m.s.entries.keys().next_back().copied() {
        if id < top {
            return Err(Reply::err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if added.is_some_and(|n| (m.s.len() as u64) > n) {
            return Err(Reply::err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    m.s.last_id = id;
    if let Some(n) = added {
        m.s.entries_added = n;
    }
    if !max_del.is_zero() {
        m.s.max_deleted = max_del;
    }
    m.save_meta();
    Ok(Reply::ok())
}

/// Where an XREAD/XREADGROUP read starts on one stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadFrom {
    /// `$`: entries added after the call.
    Last,
    /// `>`: entries never delivered to the group.
    New,
    /// Entries after this id (a group's consumer: its pending history from this id).
    After(StreamId),
}

/// XREAD/XREADGROUP after parsing.
pub struct ReadArgs {
    pub block_ms: Option<u64>,
    count: usize,
    group: Option<(Bytes, Bytes)>,
    noack: bool,
    pub keys: Vec<Bytes>,
    pub from: Vec<ReadFrom>,
}

pub fn parse_read(a: &[Bytes], group_cmd: bool) -> Result<ReadArgs, Reply> {
    let mut r = ReadArgs {
        block_ms: None,
        count: 0,
        group: None,
        noack: false,
        keys: vec![],
        from: vec![],
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let o = &a[i];
        if is(o, "block") && more > 0 {
            i += 1;
            let ms = strict_i64(&a[i])
                .ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Reply::err("ERR timeout is negative"));
            }
            r.block_ms = Some(ms as u64);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = int(&a[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            let n = a.len() - (i + 1);
            if !n.is_multiple_of(2) {
                return Err(Reply::err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            streams_at = Some(i + 1);
            break;
        } else if is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(Reply::err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((a[i + 1].clone(), a[i + 2].clone()));
            i += 2;
        } else if is(o, "noack") {
            if !group_cmd {
                return Err(Reply::err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(syntax());
    };
    if group_cmd && r.group.is_none() {
        return Err(Reply::err("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (a.len() - at) / 2;
    r.keys = a[at..at + n].to_vec();
    r.from = Vec::with_capacity(n);
    Ok(r)
}

/// Check the keys and groups and read each id (Redis does this before serving anything).
fn resolve(v: &mut View, r: &mut ReadArgs, a: &[Bytes]) -> Result<(), Reply> {
    let at = a.len() - r.keys.len();
    r.from.clear();
    for (i, key) in r.keys.clone().iter().enumerate() {
        let idarg = &a[at + i];
        let s = v.stream(key)?;
        if let Some((g, _)) = &r.group
            && s.is_none_or(|s| !s.groups.contains_key(g))
        {
            return Err(Reply::err(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(g)
            )));
        }
        let from = match idarg.as_ref() {
            b"$" if r.group.is_some() => {
                return Err(Reply::err(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            b"$" => ReadFrom::After(s.map_or(StreamId::MIN, |s| s.last_id)),
            b">" if r.group.is_none() => {
                return Err(Reply::err(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            b">" => ReadFrom::New,
            other => ReadFrom::After(parse_strict(other)?),
        };
        r.from.push(from);
    }
    Ok(())
}

/// One attempt to serve an XREAD/XREADGROUP; `None` when nothing can be served yet (the
/// caller blocks or answers a null array). `r.from` must be resolved.
pub fn read_once(v: &mut View, r: &ReadArgs) -> Result<Option<Reply>, Reply> {
    let now = v.now;
    let resp3 = v.resp3;
    let mut served = Vec::new();
    for (key, from) in r.keys.iter().zip(&r.from) {
        let Some(s) = v.stream(key)? else {
            continue;
        };
        let top = s.entries.keys().next_back().copied();
        let entries = match &r.group {
            None => {
                let ReadFrom::After(gt) = from else { continue };
                if top.is_none_or(|t| t <= *gt) {
                    continue;
                }
                let limit = if r.count == 0 { usize::MAX } else { r.count };
                s.entries
                    .range((Bound::Excluded(*gt), Bound::Unbounded))
                    .take(limit)
                    .map(|(id, f)| entry_reply(*id, f))
                    .collect()
            }
            Some((gname, cname)) => {
                let Some(mut m) = v.stream_mut(key, false)? else {
                    continue;
                };
                let group_last = m.s.groups.get(gname).map(|g| g.last_id);
                let Some(group_last) = group_last else {
                    return Err(nogroup(key, gname));
                };
                let serve = match from {
                    ReadFrom::After(_) => true,
                    _ => top.is_some_and(|t| t > group_last),
                };
                m.touch_consumer(gname, cname, now);
                if !serve {
                    continue;
                }
                match from {
                    ReadFrom::After(gt) => history(&mut m, gname, cname, *gt, r.count, now),
                    _ => deliver(&mut m, gname, cname, group_last, r.count, r.noack, now),
                }
            }
        };
        served.push((Reply::Bulk(key.clone()), Reply::Array(entries)));
    }
    if served.is_empty() {
        return Ok(None);
    }
    Ok(Some(if resp3 {
        Reply::Map(served)
    } else {
        Reply::Array(
            served
                .into_iter()
                .map(|(k, e)| Reply::Array(vec![k, e]))
                .collect(),
        )
    }))
}

/// A consumer's pending entries after `gt` (XREADGROUP with an id): each counts a delivery.
fn history(
    m: &mut StreamMut,
    group: &Bytes,
    consumer: &Bytes,
    gt: StreamId,
    count: usize,
    now: i64,
) -> Vec<Reply> {
    let Some(start) = gt.next() else {
        return vec![];
    };
    let Some(g) = m.s.groups.get(group) else {
        return vec![];
    };
    let limit = if count == 0 { usize::MAX } else { count };
    let ids: Vec<StreamId> = g
        .pel
        .range(start..)
        .filter(|(_, p)| p.consumer == consumer)
        .take(limit)
        .map(|(id, _)| *id)
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match m.s.entries.get(&id) {
            None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
            Some(fields) => {
                out.push(entry_reply(id, fields));
                if let Some(p) = m.s.groups.get_mut(group).and_then(|g| g.pel.get_mut(&id)) {
                    p.delivery_time = now;
                    p.delivery_count += 1;
                }
                m.save_pending(group, id);
            }
        }
    }
    out
}

/// Entries after the group's last delivered id, delivered to `consumer` (XREADGROUP `>`).
fn deliver(
    m: &mut StreamMut,
    group: &Bytes,
    consumer: &Bytes,
    last: StreamId,
    count: usize,
    noack: bool,
    now: i64,
) -> Vec<Reply> {
    let limit = if count == 0 { usize::MAX } else { count };
    let ids: Vec<StreamId> =
        m.s.entries
            .range((Bound::Excluded(last), Bound::Unbounded))
            .take(limit)
            .map(|(id, _)| *id)
            .collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let tomb = m.s.has_tombstones(id, StreamId::MAX);
        let estimate = m.s.estimate_distance(id);
        let added = m.s.entries_added;
        if let Some(g) = m.s.groups.get_mut(group) {
            if id > g.last_id {
                g.entries_read = match g.entries_read {
                    Some(n) if !tomb => Some(n + 1),
                    _ if added > 0 => estimate,
                    other => other,
                };
                g.last_id = id;
            }
            if !noack {
                g.pel.insert(
                    id,
                    Pending {
                        consumer: consumer.clone(),
                        delivery_time: now,
                        delivery_count: 1,
                    },
                );
            }
        }
        if !noack {
            m.save_pending(group, id);
        }
        if let Some(fields) = m.s.entries.get(&id) {
            out.push(entry_reply(id, fields));
        }
    }
    m.save_group(group);
    out
}

/// XREAD/XREADGROUP without blocking (also what BLOCK does inside MULTI and scripts).
pub fn xread(v: &mut View, a: &[Bytes], group_cmd: bool) -> CmdResult {
    let mut r = parse_read(a, group_cmd)?;
    resolve(v, &mut r, a)?;
    Ok(read_once(v, &r)?.unwrap_or(Reply::NilArray))
}

/// The first attempt of a blocking read: resolves `$` once, so later attempts wait for
/// entries after the stream's end as it was when the command arrived.
pub fn read_first(v: &mut View, r: &mut ReadArgs, a: &[Bytes]) -> Result<Option<Reply>, Reply> {
    resolve(v, r, a)?;
    read_once(v, r)
}

/// Whether XREAD/XREADGROUP asks to block (it then goes through the session's wait loop).
pub fn blocks(a: &[Bytes]) -> bool {
    a.iter()
        .take_while(|x| !is(x, "streams"))
        .any(|x| is(x, "block"))
}

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP
pub fn xgroup(v: &mut View, a: &[Bytes]) -> CmdResult {
    let sub = subcommand(a, "XGROUP", |sub, n| match sub {
        "create" | "setid" => Some(n >= 5),
        "destroy" => Some(n == 4),
        "createconsumer" | "delconsumer" => Some(n == 5),
        "help" => Some(n == 2),
        _ => None,
    })?;
    if sub == "help" {
        return Ok(super::args::help(
            "XGROUP",
            &[
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
            ],
        ));
    }
    let (create, setid) = (sub == "create", sub == "setid");
    let mut mkstream = false;
    let mut entries_read: i64 = -1;
    let mut i = 5;
    while i < a.len() {
        if create && is(&a[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(&a[i], "entriesread") && i + 1 < a.len() {
            entries_read = int(&a[i + 1])?;
            if entries_read < 0 && entries_read != -1 {
                return Err(Reply::err(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(a));
        }
    }
    let key = &a[2];
    let gname = &a[3];
    let exists = v.stream(key)?.is_some();
    if !mkstream {
        if !exists {
            return Err(Reply::err(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        let has_group = v.stream(key)?.is_some_and(|s| s.groups.contains_key(gname));
        if !has_group && matches!(sub.as_str(), "setid" | "createconsumer" | "delconsumer") {
            return Err(Reply::err(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(gname),
                String::from_utf8_lossy(key)
            )));
        }
    }
    let entries_read = u64::try_from(entries_read).ok();
    match sub.as_str() {
        "create" if a.len() <= 8 => {
            let id = if a[4].as_ref() == b"$" {
                v.stream(key)?.map_or(StreamId::MIN, |s| s.last_id)
            } else {
                parse_strict(&a[4])?
            };
            let Some(mut m) = v.stream_mut(key, true)? else {
                return Err(Reply::err("ERR internal error: no stream"));
            };
            if !exists {
                m.save_meta();
            }
            if m.s.groups.contains_key(gname) {
                return Err(Reply::err("BUSYGROUP Consumer Group name already exists"));
            }
            m.s.groups.insert(
                gname.clone(),
                Group {
                    last_id: id,
                    entries_read,
                    ..Group::default()
                },
            );
            m.save_group(gname);
            Ok(Reply::ok())
        }
        "setid" if a.len() == 5 || a.len() == 7 => {
            let Some(mut m) = v.stream_mut(key, false)? else {
                return Err(Reply::err("ERR internal error: no stream"));
            };
            let id = if a[4].as_ref() == b"$" {
                m.s.last_id
            } else {
                parse_id(&a[4], 0)?
            };
            if let Some(g) = m.s.groups.get_mut(gname) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            m.save_group(gname);
            Ok(Reply::ok())
        }
        "destroy" => {
            let Some(mut m) = v.stream_mut(key, false)? else {
                return Ok(Reply::Int(0));
            };
            Ok(Reply::Int(i64::from(m.remove_group(gname))))
        }
        "createconsumer" => {
            let now = v.now;
            let Some(mut m) = v.stream_mut(key, false)? else {
                return Ok(Reply::Int(0));
            };
            let exists =
                m.s.groups
                    .get(gname)
                    .is_some_and(|g| g.consumers.contains_key(&a[4]));
            if exists {
                return Ok(Reply::Int(0));
            }
            Ok(Reply::Int(i64::from(m.touch_consumer(gname, &a[4], now))))
        }
        "delconsumer" => {
            let Some(mut m) = v.stream_mut(key, false)? else {
                return Ok(Reply::Int(0));
            };
            Ok(Reply::Int(
                m.remove_consumer(gname, &a[4]).unwrap_or(0) as i64
            ))
        }
        _ => Err(subcommand_syntax(a)),
    }
}

pub fn xack(v: &mut View, a: &[Bytes]) -> CmdResult {
    let has = v
        .stream(&a[1])?
        .is_some_and(|s| s.groups.contains_key(&a[2]));
    if !has {
        return Ok(Reply::Int(0));
    }
    let ids = a[3..]
        .iter()
        .map(|b| parse_strict(b))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(mut m) = v.stream_mut(&a[1], false)? else {
        return Ok(Reply::Int(0));
    };
    let acked = ids.into_iter().filter(|id| m.ack(&a[2], *id)).count();
    Ok(Reply::Int(acked as i64))
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]]
pub fn xpending(v: &mut View, a: &[Bytes]) -> CmdResult {
    let argc = a.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(syntax());
    }
    let mut range = None;
    let mut consumer = None;
    let mut min_idle = 0i64;
    if argc >= 6 {
        let mut at = 3;
        if is(&a[3], "idle") {
            min_idle = int(&a[4])?;
            if argc < 8 {
                return Err(syntax());
            }
            at += 2;
        }
        let count = int(&a[at + 2])?.max(0) as usize;
        let start = interval_start(&a[at])?;
        let end = interval_end(&a[at + 1])?;
        if at + 3 < argc {
            consumer = Some(a[at + 3].clone());
        }
        range = Some((start, end, count));
    }
    let now = v.now;
    let Some(g) = v.stream(&a[1])?.and_then(|s| s.groups.get(&a[2])) else {
        return Err(nogroup(&a[1], &a[2]));
    };
    let Some((start, end, count)) = range else {
        if g.pel.is_empty() {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        }
        let first = g.pel.keys().next().copied().unwrap_or_default();
        let last = g.pel.keys().next_back().copied().unwrap_or_default();
        let per: Vec<Reply> = g
            .consumers
            .keys()
            .filter_map(|c| {
                let n = g.pending_of(c).count();
                (n > 0)
                    .then(|| Reply::Array(vec![Reply::Bulk(c.clone()), Reply::bulk(n.to_string())]))
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(per),
        ]));
    };
    if let Some(c) = &consumer
        && !g.consumers.contains_key(c)
    {
        return Ok(Reply::Array(vec![]));
    }
    if start > end || count == 0 {
        return Ok(Reply::Array(vec![]));
    }
    let out = g
        .pel
        .range(start..=end)
        .filter(|(_, p)| consumer.as_ref().is_none_or(|c| p.consumer == c))
        .filter(|(_, p)| min_idle == 0 || now - p.delivery_time >= min_idle)
        .take(count)
        .map(|(id, p)| {
            Reply::Array(vec![
                id_reply(*id),
                Reply::Bulk(p.consumer.clone()),
                Reply::Int((now - p.delivery_time).max(0)),
                Reply::Int(p.delivery_count as i64),
            ])
        })
        .collect();
    Ok(Reply::Array(out))
}

/// XCLAIM key group consumer min-idle-time id ... [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
/// [JUSTID] [LASTID id]
pub fn xclaim(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (key, gname, cname) = (&a[1], &a[2], &a[3]);
    if !v.stream(key)?.is_some_and(|s| s.groups.contains_key(gname)) {
        return Err(nogroup(key, gname));
    }
    let min_idle = strict_i64(&a[4])
        .ok_or_else(|| Reply::err("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < a.len() {
        match parse_strict(&a[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = v.now;
    let (mut force, mut justid) = (false, false);
    let mut retry: Option<i64> = None;
    let mut delivery: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let opt = &a[j];
        let num = |b: &[u8], what: &str| {
            strict_i64(b)
                .ok_or_else(|| Reply::err(format!("ERR Invalid {what} option argument for XCLAIM")))
        };
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            delivery = Some(now - num(&a[j], "IDLE")?);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(num(&a[j], "TIME")?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = Some(num(&a[j], "RETRYCOUNT")?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict(&a[j])?;
        } else {
            return Err(Reply::err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(d) if d < 0 || d > now => now,
        Some(d) => d,
        None => now,
    };
    let Some(mut m) = v.stream_mut(key, false)? else {
        return Err(nogroup(key, gname));
    };
    if let Some(g) = m.s.groups.get_mut(gname)
        && last_id > g.last_id
    {
        g.last_id = last_id;
        m.save_group(gname);
    }
    let mut out = Vec::new();
    let mut touched = false;
    for id in ids {
        let exists = m.s.entries.contains_key(&id);
        let Some(g) = m.s.groups.get_mut(gname) else {
            break;
        };
        if !exists {
            if g.pel.remove(&id).is_some() {
                m.save_pending(gname, id);
            }
            continue;
        }
        let fresh = force && !g.pel.contains_key(&id);
        if fresh {
            g.pel.insert(
                id,
                Pending {
                    consumer: Bytes::new(),
                    delivery_time: now,
                    delivery_count: 0,
                },
            );
        }
        let Some(p) = g.pel.get_mut(&id) else {
            continue;
        };
        if !fresh && min_idle > 0 && now - p.delivery_time < min_idle {
            continue;
        }
        p.consumer = cname.clone();
        p.delivery_time = delivery;
        match retry {
            Some(n) if n >= 0 => p.delivery_count = n as u64,
            _ if !justid => p.delivery_count += 1,
            _ => {}
        }
        if !touched {
            m.touch_consumer(gname, cname, now);
            touched = true;
        }
        m.save_pending(gname, id);
        out.push(match (justid, m.s.entries.get(&id)) {
            (false, Some(f)) => entry_reply(id, f),
            _ => id_reply(id),
        });
    }
    Ok(Reply::Array(out))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (key, gname, cname) = (&a[1], &a[2], &a[3]);
    let min_idle = strict_i64(&a[4])
        .ok_or_else(|| Reply::err("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = interval_start(&a[5])?;
    let mut count: usize = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match strict_i64(&a[j + 1]) {
                None => return Err(Reply::err(crate::frame::errors::NOT_INT)),
                Some(n) if n < 1 || n > max => {
                    return Err(Reply::err("ERR COUNT must be > 0"));
                }
                Some(n) => n as usize,
            };
            j += 1;
        } else if is(&a[j], "justid") {
            justid = true;
        } else {
            return Err(syntax());
        }
        j += 1;
    }
    if !v.stream(key)?.is_some_and(|s| s.groups.contains_key(gname)) {
        return Err(nogroup(key, gname));
    }
    let now = v.now;
    let Some(mut m) = v.stream_mut(key, false)? else {
        return Err(nogroup(key, gname));
    };
    let ids: Vec<StreamId> =
        m.s.groups
            .get(gname)
            .map(|g| {
                g.pel
                    .range(start..)
                    .take(count.saturating_mul(10))
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default();
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut next = 0;
    let mut touched = false;
    while attempts > 0 && left > 0 && next < ids.len() {
        attempts -= 1;
        let id = ids[next];
        next += 1;
        if !m.s.entries.contains_key(&id) {
            m.ack(gname, id);
            deleted.push(id_reply(id));
            left -= 1;
            continue;
        }
        let Some(p) = m.s.groups.get_mut(gname).and_then(|g| g.pel.get_mut(&id)) else {
            continue;
        };
        if min_idle > 0 && now - p.delivery_time < min_idle {
            continue;
        }
        p.consumer = cname.clone();
        p.delivery_time = now;
        if !justid {
            p.delivery_count += 1;
        }
        if !touched {
            m.touch_consumer(gname, cname, now);
            touched = true;
        }
        m.save_pending(gname, id);
        claimed.push(match (justid, m.s.entries.get(&id)) {
            (false, Some(f)) => entry_reply(id, f),
            _ => id_reply(id),
        });
        left -= 1;
    }
    // The cursor: the first pending entry not looked at, or 0-0 at the end.
    let cursor = match ids.get(next) {
        Some(id) => *id,
        None => {
            m.s.groups
                .get(gname)
                .and_then(|g| {
                    let after = ids.last().and_then(|l| l.next())?;
                    g.pel.range(after..).next().map(|(id, _)| *id)
                })
                .unwrap_or(StreamId::MIN)
        }
    };
    Ok(Reply::Array(vec![
        id_reply(cursor),
        Reply::Array(claimed),
        Reply::Array(deleted),
    ]))
}

/// XINFO STREAM|GROUPS|CONSUMERS|HELP
pub fn xinfo(v: &mut View, a: &[Bytes]) -> CmdResult {
    let sub = subcommand(a, "XINFO", |sub, n| match sub {
        "stream" => Some(n >= 3),
        "groups" => Some(n == 3),
        "consumers" => Some(n == 4),
        "help" => Some(n == 2),
        _ => None,
    })?;
    if sub == "help" {
        return Ok(super::args::help(
            "XINFO",
            &[
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
            ],
        ));
    }
    let now = v.now;
    let Some(s) = v.stream(&a[2])? else {
        return Err(Reply::err(crate::frame::errors::NO_SUCH_KEY));
    };
    match sub.as_str() {
        "consumers" => {
            let Some(g) = s.groups.get(&a[3]) else {
                return Err(Reply::err(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(&a[3]),
                    String::from_utf8_lossy(&a[2])
                )));
            };
            Ok(Reply::Array(
                g.consumers
                    .iter()
                    .map(|(name, c)| {
                        map(vec![
                            ("name", Reply::Bulk(name.clone())),
                            ("pending", Reply::Int(g.pending_of(name).count() as i64)),
                            ("idle", Reply::Int((now - c.seen_time).max(0))),
                        ])
                    })
                    .collect(),
            ))
        }
        "groups" => Ok(Reply::Array(
            s.groups
                .iter()
                .map(|(name, g)| {
                    map(vec![
                        ("name", Reply::Bulk(name.clone())),
                        ("consumers", Reply::Int(g.consumers.len() as i64)),
                        ("pending", Reply::Int(g.pel.len() as i64)),
                        ("last-delivered-id", id_reply(g.last_id)),
                        ("entries-read", opt_int(g.entries_read)),
                        ("lag", opt_int(s.lag(g))),
                    ])
                })
                .collect(),
        )),
        _ => stream_info(s, a),
    }
}

fn opt_int(n: Option<u64>) -> Reply {
    n.map_or(Reply::Nil, |n| Reply::Int(n as i64))
}

fn stream_info(s: &Stream, a: &[Bytes]) -> CmdResult {
    let opts = &a[3..];
    let full = match opts {
        [] => None,
        [f] if is(f, "full") => Some(10usize),
        [f, c, n] if is(f, "full") && is(c, "count") => {
            let n = int(n)?;
            Some(if n < 0 { 10 } else { n as usize })
        }
        _ => return Err(subcommand_syntax(a)),
    };
    let nodes = s.len().div_ceil(NODE_ENTRIES);
    let mut pairs = vec![
        ("length", Reply::Int(s.len() as i64)),
        ("radix-tree-keys", Reply::Int(nodes as i64)),
        ("radix-tree-nodes", Reply::Int(nodes as i64 + 1)),
        ("last-generated-id", id_reply(s.last_id)),
        ("max-deleted-entry-id", id_reply(s.max_deleted)),
        ("entries-added", Reply::Int(s.entries_added as i64)),
        ("recorded-first-entry-id", id_reply(s.first_id)),
    ];
    let Some(count) = full else {
        pairs.push(("groups", Reply::Int(s.groups.len() as i64)));
        let edge = |e: Option<(&StreamId, &Vec<Bytes>)>| {
            e.map_or(Reply::Nil, |(id, f)| entry_reply(*id, f))
        };
        pairs.push(("first-entry", edge(s.entries.iter().next())));
        pairs.push(("last-entry", edge(s.entries.iter().next_back())));
        return Ok(map(pairs));
    };
    let limit = if count == 0 { usize::MAX } else { count };
    pairs.push((
        "entries",
        Reply::Array(
            s.entries
                .iter()
                .take(limit)
                .map(|(id, f)| entry_reply(*id, f))
                .collect(),
        ),
    ));
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let pel = g
                .pel
                .iter()
                .take(limit)
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::Bulk(p.consumer.clone()),
                        Reply::Int(p.delivery_time),
                        Reply::Int(p.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let mine: Vec<Reply> = g
                        .pending_of(cname)
                        .take(limit)
                        .map(|(id, p)| {
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Int(p.delivery_time),
                                Reply::Int(p.delivery_count as i64),
                            ])
                        })
                        .collect();
                    map(vec![
                        ("name", Reply::Bulk(cname.clone())),
                        ("seen-time", Reply::Int(c.seen_time)),
                        ("pel-count", Reply::Int(g.pending_of(cname).count() as i64)),
                        ("pending", Reply::Array(mine)),
                    ])
                })
                .collect();
            map(vec![
                ("name", Reply::Bulk(name.clone())),
                ("last-delivered-id", id_reply(g.last_id)),
                ("entries-read", opt_int(g.entries_read)),
                ("lag", opt_int(s.lag(g))),
                ("pel-count", Reply::Int(g.pel.len() as i64)),
                ("pending", Reply::Array(pel)),
                ("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    pairs.push(("groups", Reply::Array(groups)));
    Ok(map(pairs))
}

/// The lower-cased subcommand of a container command (`XGROUP CREATE`, ...), with Redis's
/// errors for an unknown one (`arity` answers `None`) or a wrong argument count.
fn subcommand(
    a: &[Bytes],
    command: &str,
    arity: impl Fn(&str, usize) -> Option<bool>,
) -> Result<String, Reply> {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match arity(&sub, a.len()) {
        None => Err(Reply::err(format!(
            "ERR unknown subcommand '{}'. Try {command} HELP.",
            String::from_utf8_lossy(&a[1])
        ))),
        Some(false) => Err(Reply::err(format!(
            "ERR wrong number of arguments for '{}|{sub}' command",
            command.to_ascii_lowercase()
        ))),
        Some(true) => Ok(sub),
    }
}

/// The optional `~` (approximate) or `=` (exact) after MAXLEN/MINID at `a[*i]`, with `more`
/// arguments after the option: steps over it and says whether trimming is approximate.
fn trim_operator(a: &[Bytes], i: &mut usize, more: usize) -> bool {
    let op = if more >= 2 { a[*i + 1].as_ref() } else { b"" };
    match op {
        b"~" => {
            *i += 1;
            true
        }
        b"=" => {
            *i += 1;
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis_reads_them() {
        assert_eq!(parse_id(b"5", 0), Ok(StreamId::new(5, 0)));
        assert_eq!(parse_id(b"5", u64::MAX), Ok(StreamId::new(5, u64::MAX)));
        assert_eq!(parse_id(b"5-3", 0), Ok(StreamId::new(5, 3)));
        assert_eq!(parse_id(b"+", 0), Ok(StreamId::MAX));
        assert!(parse_strict(b"-").is_err());
        assert!(parse_id(b"-1", 0).is_err());
        assert!(parse_id(b"1-x", 0).is_err());
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615", 0),
            Ok(StreamId::MAX)
        );
        assert_eq!(
            parse_id_full(b"7-*", 0, true, true),
            Ok((StreamId::new(7, 0), false))
        );
        assert_eq!(interval_start(b"(1-5"), Ok(StreamId::new(1, 6)));
        assert_eq!(interval_end(b"(2"), Ok(StreamId::new(2, u64::MAX - 1)));
    }
}
