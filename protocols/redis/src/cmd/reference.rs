//! What redis-server 7.0.15 says about the commands dotdo serves, for COMMAND DOCS (summary,
//! since, group, complexity, history, arguments, subcommands: what redis-cli builds its hints
//! from) and for the parts of COMMAND INFO that the command table does not hold (tips, key
//! specifications, subcommands).
//!
//! `redis_commands.json` is redis-server 7.0.15's own RESP3 replies to `COMMAND DOCS` and
//! `COMMAND INFO` (Redis 7.0 is BSD-3-Clause) for the commands dotdo serves, written by
//! `scripts/gen_redis_reference.py` as typed trees that keep reply types and order:
//! `["%", k, v, ...]` a map, `["~", ...]` a set, `["*", ...]` an array, `"+text"` a simple
//! string, `"$text"` a bulk string, numbers integers. The command table stays the source of
//! arity, flags, key positions and categories; tests compare both with redis-server.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

use crate::frame::Reply;

static DATA: &str = include_str!("redis_commands.json");

struct Reference {
    docs: HashMap<String, Value>,
    info: HashMap<String, Value>,
}

static REFERENCE: LazyLock<Reference> = LazyLock::new(|| {
    let mut all: HashMap<String, HashMap<String, Value>> =
        serde_json::from_str(DATA).unwrap_or_default();
    Reference {
        docs: all.remove("docs").unwrap_or_default(),
        info: all.remove("info").unwrap_or_default(),
    }
});

/// Every subcommand's full name (`config|get`) of the commands dotdo serves, sorted.
pub fn subcommand_names() -> &'static [&'static str] {
    static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut names: Vec<&'static str> = REFERENCE
            .info
            .values()
            .filter_map(|entry| items(entry).get(9))
            .flat_map(|subs| items(subs).iter())
            .filter_map(|sub| items(sub).first().and_then(text))
            .collect();
        names.sort_unstable();
        names
    });
    &NAMES
}

/// The items of a typed tree node (after its type tag).
fn items(v: &Value) -> &[Value] {
    match v.as_array() {
        Some(a) if !a.is_empty() => &a[1..],
        _ => &[],
    }
}

/// The value under `key` of a typed map.
fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    items(map)
        .chunks(2)
        .find(|kv| kv[0].as_str().and_then(|k| k.strip_prefix('$')) == Some(key))
        .and_then(|kv| kv.get(1))
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().map(|s| s.get(1..).unwrap_or_default())
}

/// The docs entry of `name`, a command or a subcommand's full name (`config|get`).
fn docs_value(name: &str) -> Option<&'static Value> {
    match name.split_once('|') {
        None => REFERENCE.docs.get(name),
        Some((container, _)) => get(get(REFERENCE.docs.get(container)?, "subcommands")?, name),
    }
}

/// The COMMAND INFO entry of `name`, a command or a subcommand's full name.
fn info_value(name: &str) -> Option<&'static Value> {
    match name.split_once('|') {
        None => REFERENCE.info.get(name),
        Some((container, _)) => items(items(REFERENCE.info.get(container)?).get(9)?)
            .iter()
            .find(|e| items(e).first().and_then(text) == Some(name)),
    }
}

/// COMMAND DOCS's entry for `name`, in Redis's reply types.
pub fn docs(name: &str) -> Option<Reply> {
    docs_value(name).map(to_reply)
}

/// COMMAND INFO's flags and legacy key positions (its 3rd to 6th fields), and its tips, key
/// specifications and subcommands (8th to 10th), as Redis describes a command.
pub fn described(name: &str) -> Option<([Reply; 4], [Reply; 3])> {
    let v = items(info_value(name)?);
    let field = |i: usize| v.get(i).map_or(Reply::Set(Vec::new()), to_reply);
    Some((
        [field(2), field(3), field(4), field(5)],
        [field(7), field(8), field(9)],
    ))
}

/// COMMAND INFO's whole entry for a subcommand's full name (`config|get`).
pub fn subcommand_info(full: &str) -> Option<Reply> {
    full.contains('|').then_some(())?;
    info_value(full).map(to_reply)
}

/// The ACL categories (without `@`) Redis gives `name`, a command or a subcommand.
pub fn categories(name: &str) -> Option<Vec<&'static str>> {
    let cats = items(info_value(name)?).get(6)?;
    Some(
        items(cats)
            .iter()
            .filter_map(|c| text(c)?.strip_prefix('@'))
            .collect(),
    )
}

/// A typed tree as the reply it was.
fn to_reply(v: &Value) -> Reply {
    match v {
        Value::Array(a) => {
            let rest = || a[1..].iter().map(to_reply);
            match a.first().and_then(Value::as_str) {
                Some("%") => {
                    let flat: Vec<Reply> = rest().collect();
                    let mut pairs = Vec::with_capacity(flat.len() / 2);
                    let mut it = flat.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Reply::Map(pairs)
                }
                Some("~") => Reply::Set(rest().collect()),
                _ => Reply::Array(rest().collect()),
            }
        }
        Value::String(s) => match s.split_at_checked(1) {
            Some(("+", t)) => Reply::Simple(t.to_owned()),
            Some((_, t)) => Reply::bulk(t.to_owned()),
            None => Reply::bulk(String::new()),
        },
        Value::Number(n) => Reply::Int(n.as_i64().unwrap_or(0)),
        Value::Bool(b) => Reply::Int(i64::from(*b)),
        Value::Null | Value::Object(_) => Reply::Nil,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_loads_and_answers_for_commands_and_subcommands() {
        assert!(REFERENCE.docs.len() > 200 && REFERENCE.info.len() > 200);
        assert!(matches!(docs("set"), Some(Reply::Map(_))));
        assert!(matches!(docs("config|get"), Some(Reply::Map(_))));
        assert!(docs("nosuch").is_none());
        assert_eq!(
            categories("config|get"),
            Some(vec!["admin", "slow", "dangerous"])
        );
        assert!(matches!(subcommand_info("client|list"), Some(Reply::Array(a)) if a.len() == 10));
        assert!(subcommand_info("client").is_none());
    }
}
