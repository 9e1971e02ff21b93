//! SORT and SORT_RO over lists, sets and sorted sets: BY and GET patterns (`*`, `#`, hash
//! fields with `->`), LIMIT, ASC/DESC, ALPHA and STORE, as redis-server 7 answers them.

use std::cmp::Ordering;
use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::args::{is, syntax};
use crate::frame::{Reply, errors};
use crate::store::view::CmdResult;
use crate::store::{Entry, List, Value, View};

struct Opts {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    by: Option<Bytes>,
    gets: Vec<Bytes>,
}

fn parse(a: &[Bytes], read_only: bool) -> Result<Opts, Reply> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let arg = &a[j];
        if is(arg, "asc") {
            o.desc = false;
        } else if is(arg, "desc") {
            o.desc = true;
        } else if is(arg, "alpha") {
            o.alpha = true;
        } else if is(arg, "limit") && left >= 2 {
            o.limit = Some((super::args::int(&a[j + 1])?, super::args::int(&a[j + 2])?));
            j += 2;
        } else if !read_only && is(arg, "store") && left >= 1 {
            o.store = Some(a[j + 1].clone());
            j += 1;
        } else if is(arg, "by") && left >= 1 {
            o.by = Some(a[j + 1].clone());
            j += 1;
        } else if is(arg, "get") && left >= 1 {
            o.gets.push(a[j + 1].clone());
            j += 1;
        } else {
            return Err(syntax());
        }
        j += 1;
    }
    Ok(o)
}

/// The value a BY/GET pattern names for `elem`: `#` is the element, `*` is replaced by it,
/// `key->field` reads a hash field. `None` when missing or of another type.
fn lookup(v: &mut View, pattern: &[u8], elem: &Bytes) -> Result<Option<Bytes>, Reply> {
    if pattern == b"#" {
        return Ok(Some(elem.clone()));
    }
    let Some(star) = pattern.iter().position(|&c| c == b'*') else {
        return Ok(None);
    };
    let field = pattern[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p)
        .filter(|&f| f + 2 < pattern.len());
    let key_end = field.unwrap_or(pattern.len());
    let mut key = BytesMut::with_capacity(key_end + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let key = key.freeze();
    Ok(match (v.get(&key)?, field) {
        (
            Some(Entry {
                value: Value::Hash(h),
                ..
            }),
            Some(f),
        ) => h.get(&pattern[f + 2..]).cloned(),
        (
            Some(Entry {
                value: Value::Str(s),
                ..
            }),
            None,
        ) => Some(s.clone()),
        _ => None,
    })
}

/// `strtod` as SORT uses it: leading spaces allowed, the whole rest must be a number.
fn score_of(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return Some(0.0);
    }
    let s = std::str::from_utf8(b).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.len() != s.len() && t.is_empty() {
        return None;
    }
    let v = super::args::float_of(t.as_bytes())?;
    (!v.is_nan()).then_some(v)
}

struct Item {
    elem: Bytes,
    score: f64,
    key: Option<Bytes>,
}

pub fn sort(v: &mut View, a: &[Bytes], read_only: bool) -> CmdResult {
    let o = parse(a, read_only)?;
    let mut dontsort = o.by.as_ref().is_some_and(|b| !b.contains(&b'*'));
    let mut alpha = o.alpha;
    let mut by = o.by.clone();
    let (mut elems, is_set): (Vec<Bytes>, bool) = match v.get(&a[1])? {
        None => (Vec::new(), false),
        Some(Entry { value, .. }) => match value {
            Value::List(List { items, .. }) => (items.iter().cloned().collect(), false),
            Value::Set(s) => (s.iter().cloned().collect(), true),
            Value::ZSet(z) => (z.iter().map(|(m, _)| m.clone()).collect(), false),
            _ => return Err(Reply::err(errors::WRONGTYPE)),
        },
    };
    let mut desc = o.desc;
    if dontsort && is_set {
        if o.store.is_none() && is_intset(&elems) {
            // Redis answers in its intset order (ascending numbers), whatever ASC/DESC say.
            elems.sort_by_key(|e| super::args::strict_i64(e).unwrap_or(0));
            desc = false;
        } else {
            // Redis sorts a set (ALPHA) when storing or in scripts, and otherwise answers in its
            // hash table's order; sorting makes our answer deterministic.
            (dontsort, alpha, by) = (false, true, None);
        }
    }
    let len = elems.len() as i64;
    let (ls, lc) = o.limit.unwrap_or((0, -1));
    let mut start = ls.max(0).min(len);
    let lc = lc.max(-1).min(len);
    let mut end = if lc < 0 { len - 1 } else { start + lc - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            key: None,
        })
        .collect();
    if dontsort {
        if desc {
            items.reverse();
        }
    } else {
        let mut bad = false;
        for it in &mut items {
            let byval = match &by {
                Some(p) => match lookup(v, p, &it.elem)? {
                    Some(b) => b,
                    None => continue,
                },
                None => it.elem.clone(),
            };
            if alpha {
                if by.is_some() {
                    it.key = Some(byval);
                }
            } else {
                match score_of(&byval) {
                    Some(s) => it.score = s,
                    None => bad = true,
                }
            }
        }
        let by_pattern = by.is_some();
        let cmp = |x: &Item, y: &Item| {
            let c = compare(x, y, alpha, by_pattern);
            if desc { c.reverse() } else { c }
        };
        if by_pattern && (start != 0 || end != len - 1) {
            // Redis sorts a LIMIT range with its partial quicksort; equal keys land as it puts them.
            super::pqsort::pqsort(&mut items, cmp, start, end);
        } else {
            items.sort_by(cmp);
        }
        if bad {
            return Err(Reply::err(
                "ERR One or more scores can't be converted into double",
            ));
        }
    }
    let picked: &[Item] = if start <= end && start >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let mut out: Vec<Option<Bytes>> = Vec::new();
    for it in picked {
        if o.gets.is_empty() {
            out.push(Some(it.elem.clone()));
        }
        for g in &o.gets {
            out.push(lookup(v, g, &it.elem)?);
        }
    }
    match &o.store {
        None => Ok(Reply::Array(out.into_iter().map(Reply::opt_bulk).collect())),
        Some(dest) => {
            let n = out.len();
            let items: VecDeque<Bytes> = out.into_iter().map(Option::unwrap_or_default).collect();
            if items.is_empty() {
                if v.remove(dest)?.is_some() {
                    v.notify(crate::notify::GENERIC, "del", dest);
                }
            } else {
                v.put_value(
                    dest,
                    Value::List(List {
                        items,
                        ..Default::default()
                    }),
                    None,
                )?;
                v.notify(crate::notify::LIST, "sortstore", dest);
            }
            Ok(Reply::Int(n as i64))
        }
    }
}

/// Whether Redis 7.0 keeps this set as an intset (every member an integer, at most 512).
fn is_intset(elems: &[Bytes]) -> bool {
    elems.len() <= 512 && elems.iter().all(|e| super::args::strict_i64(e).is_some())
}

fn compare(x: &Item, y: &Item, alpha: bool, by_pattern: bool) -> Ordering {
    if !alpha {
        return x
            .score
            .partial_cmp(&y.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| x.elem.cmp(&y.elem));
    }
    if by_pattern {
        return match (&x.key, &y.key) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.cmp(b),
        };
    }
    x.elem.cmp(&y.elem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_read_as_strtod() {
        assert_eq!(score_of(b""), Some(0.0));
        assert_eq!(score_of(b" 1.5"), Some(1.5));
        assert_eq!(score_of(b"  "), None);
        assert_eq!(score_of(b"1x"), None);
        assert_eq!(score_of(b"nan"), None);
        assert_eq!(score_of(b"-inf"), Some(f64::NEG_INFINITY));
    }
}
