//! Commands: one file per family, and the single dispatch match for commands on keys.

pub mod acl;
pub mod args;
pub mod bitfield;
pub mod bitmap;
pub mod connection;
pub mod db;
pub mod function;
pub mod geo;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod hll_sketch;
pub mod keys;
pub mod lcs;
pub mod list;
pub mod lua_libs;
pub mod memory;
pub mod pqsort;
pub mod reference;
pub mod script;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod sync;
pub mod table;
pub mod zset;

use bytes::Bytes;

use crate::frame::Reply;
use crate::store::View;
use crate::store::view::CmdResult;
use set::Op;
use zset::By2;

/// Run a command on keys against the locked view. `name` is lowercase; arity is checked.
pub fn apply(name: &str, v: &mut View, a: &[Bytes]) -> CmdResult {
    match name {
        "get" => string::get(v, a),
        "set" => string::set(v, a),
        "setnx" => string::setnx(v, a),
        "setex" => string::setex(v, a, 1000),
        "psetex" => string::setex(v, a, 1),
        "getset" => string::getset(v, a),
        "getdel" => string::getdel(v, a),
        "getex" => string::getex(v, a),
        "mget" => string::mget(v, a),
        "mset" => string::mset(v, a, false),
        "msetnx" => string::mset(v, a, true),
        "incr" => string::incr_by(v, &a[1], 1),
        "decr" => string::incr_by(v, &a[1], -1),
        "incrby" => string::incr_by(v, &a[1], args::int(&a[2])?),
        "decrby" => {
            let by = args::int(&a[2])?;
            let by = by
                .checked_neg()
                .ok_or_else(|| Reply::err("ERR decrement would overflow"))?;
            string::incr_by(v, &a[1], by)
        }
        "incrbyfloat" => string::incrbyfloat(v, a),
        "append" => string::append(v, a),
        "strlen" => string::strlen(v, a),
        "getrange" | "substr" => string::getrange(v, a),
        "lcs" => lcs::lcs(v, a),
        "setrange" => string::setrange(v, a),

        "del" | "unlink" => keys::del(v, a),
        "exists" => keys::exists(v, a, false),
        "touch" => keys::exists(v, a, true),
        "type" => keys::type_(v, a),
        "rename" => keys::rename(v, a, false),
        "renamenx" => keys::rename(v, a, true),
        "copy" => keys::copy(v, a),
        "dump" => keys::dump(v, a),
        "restore" => keys::restore(v, a),
        "keys" => keys::keys(v, a),
        "randomkey" => keys::randomkey(v),
        "expire" => keys::expire(v, a, 1000, false),
        "pexpire" => keys::expire(v, a, 1, false),
        "expireat" => keys::expire(v, a, 1000, true),
        "pexpireat" => keys::expire(v, a, 1, true),
        "ttl" => keys::ttl(v, a, 1000, false),
        "pttl" => keys::ttl(v, a, 1, false),
        "expiretime" => keys::ttl(v, a, 1000, true),
        "pexpiretime" => keys::ttl(v, a, 1, true),
        "persist" => keys::persist(v, a),
        "object" => keys::object(v, a),
        "memory" => memory::usage(v, a),
        "scan" => keys::scan(v, a),
        "dbsize" => keys::dbsize(v),
        "flushdb" => keys::flushdb(v, a),
        // MOVE locks two databases: outside a transaction or script it never comes here.
        "move" => Err(Reply::err(
            "ERR MOVE inside MULTI or a script is not supported by this server",
        )),

        "hset" => hash::hset(v, a, false),
        "hmset" => hash::hset(v, a, true),
        "hsetnx" => hash::hsetnx(v, a),
        "hget" => hash::hget(v, a),
        "hmget" => hash::hmget(v, a),
        "hdel" => hash::hdel(v, a),
        "hlen" => hash::hlen(v, a),
        "hstrlen" => hash::hstrlen(v, a),
        "hexists" => hash::hexists(v, a),
        "hkeys" => hash::hgetall(v, a, true, false),
        "hvals" => hash::hgetall(v, a, false, true),
        "hgetall" => hash::hgetall(v, a, true, true),
        "hincrby" => hash::hincrby(v, a),
        "hincrbyfloat" => hash::hincrbyfloat(v, a),
        "hrandfield" => hash::hrandfield(v, a),
        "hscan" => hash::hscan(v, a),

        "lpush" => list::push(v, a, true, false),
        "rpush" => list::push(v, a, false, false),
        "lpushx" => list::push(v, a, true, true),
        "rpushx" => list::push(v, a, false, true),
        "lpop" => list::pop(v, a, true),
        "rpop" => list::pop(v, a, false),
        "llen" => list::llen(v, a),
        "lrange" => list::lrange(v, a),
        "lindex" => list::lindex(v, a),
        "lset" => list::lset(v, a),
        "linsert" => list::linsert(v, a),
        "lrem" => list::lrem(v, a),
        "ltrim" => list::ltrim(v, a),
        "lpos" => list::lpos(v, a),
        "lmove" => list::lmove(v, a),
        "rpoplpush" => list::rpoplpush(v, a),
        "lmpop" => list::lmpop(v, &a[1..]),
        // Inside MULTI (or a script) a blocking pop does not block.
        "blmpop" => list::lmpop(v, &a[2..]),

        "sadd" => set::sadd(v, a),
        "srem" => set::srem(v, a),
        "smembers" => set::smembers(v, a),
        "sismember" => set::sismember(v, a),
        "smismember" => set::smismember(v, a),
        "scard" => set::scard(v, a),
        "spop" => set::spop(v, a),
        "srandmember" => set::srandmember(v, a),
        "smove" => set::smove(v, a),
        "sinter" => set::sop(v, a, Op::Inter),
        "sunion" => set::sop(v, a, Op::Union),
        "sdiff" => set::sop(v, a, Op::Diff),
        "sinterstore" => set::sopstore(v, a, Op::Inter),
        "sunionstore" => set::sopstore(v, a, Op::Union),
        "sdiffstore" => set::sopstore(v, a, Op::Diff),
        "sintercard" => set::sintercard(v, &a[1..]),
        "sscan" => set::sscan(v, a),

        "zadd" => zset::zadd(v, a),
        "zincrby" => zset::zincrby(v, a),
        "zrem" => zset::zrem(v, a),
        "zscore" => zset::zscore(v, a),
        "zmscore" => zset::zmscore(v, a),
        "zcard" => zset::zcard(v, a),
        "zcount" => zset::zcount(v, a, false),
        "zlexcount" => zset::zcount(v, a, true),
        "zrank" => zset::zrank(v, a, false),
        "zrevrank" => zset::zrank(v, a, true),
        "zrange" => zset::zrange(v, a, By2::Rank, false),
        "zrevrange" => zset::zrange(v, a, By2::Rank, true),
        "zrangebyscore" => zset::zrange(v, a, By2::Score, false),
        "zrevrangebyscore" => zset::zrange(v, a, By2::Score, true),
        "zrangebylex" => zset::zrange(v, a, By2::Lex, false),
        "zrevrangebylex" => zset::zrange(v, a, By2::Lex, true),
        "zremrangebyrank" => zset::zremrange(v, a, By2::Rank),
        "zremrangebyscore" => zset::zremrange(v, a, By2::Score),
        "zremrangebylex" => zset::zremrange(v, a, By2::Lex),
        "zpopmin" => zset::zpop(v, a, false),
        "zpopmax" => zset::zpop(v, a, true),
        "zunionstore" => zset::zstore(v, a, Op::Union),
        "zinterstore" => zset::zstore(v, a, Op::Inter),
        "zdiffstore" => zset::zstore(v, a, Op::Diff),
        "zunion" => zset::zcombine(v, a, Op::Union),
        "zinter" => zset::zcombine(v, a, Op::Inter),
        "zdiff" => zset::zcombine(v, a, Op::Diff),
        "zintercard" => zset::zintercard(v, a),
        "zrandmember" => zset::zrandmember(v, a),
        "zscan" => zset::zscan(v, a),
        "zmpop" => zset::zmpop(v, &a[1..]),
        "bzmpop" => zset::zmpop(v, &a[2..]),
        "zrangestore" => zset::zrangestore(v, a),

        "xadd" => stream::xadd(v, a),
        "xlen" => stream::xlen(v, a),
        "xrange" => stream::xrange(v, a, false),
        "xrevrange" => stream::xrange(v, a, true),
        "xread" => stream::xread(v, a, false),
        "xreadgroup" => stream::xread(v, a, true),
        "xdel" => stream::xdel(v, a),
        "xtrim" => stream::xtrim(v, a),
        "xsetid" => {
            let r = stream::xsetid(v, a)?;
            v.notify(crate::notify::STREAM, "xsetid", &a[1]);
            Ok(r)
        }
        "xgroup" => xgroup(v, a),
        "xack" => stream::xack(v, a),
        "xpending" => stream::xpending(v, a),
        "xclaim" => stream::xclaim(v, a),
        "xautoclaim" => stream::xautoclaim(v, a),
        "xinfo" => stream::xinfo(v, a),

        "setbit" => bitmap::setbit(v, a),
        "getbit" => bitmap::getbit(v, a),
        "bitcount" => bitmap::bitcount(v, a),
        "bitpos" => bitmap::bitpos(v, a),
        "bitop" => bitmap::bitop(v, a),
        "bitfield" => bitfield::bitfield(v, a, false),
        "bitfield_ro" => bitfield::bitfield(v, a, true),
        "pfadd" => hll::pfadd(v, a),
        "pfcount" => hll::pfcount(v, a),
        "pfmerge" => hll::pfmerge(v, a),
        "geoadd"
        | "geopos"
        | "geodist"
        | "geohash"
        | "geosearch"
        | "geosearchstore"
        | "georadius"
        | "georadius_ro"
        | "georadiusbymember"
        | "georadiusbymember_ro" => geo::run(name, v, a),
        "sort" => sort::sort(v, a, false),
        "sort_ro" => sort::sort(v, a, true),
        other => Err(Reply::err(format!("ERR unknown command '{other}'"))),
    }
}

/// XGROUP, with the event of each subcommand that changed something.
fn xgroup(v: &mut View, a: &[Bytes]) -> CmdResult {
    let sub = a[1].to_ascii_lowercase();
    // DELCONSUMER's reply (the consumer's pending count) does not say whether it existed.
    let had_consumer = sub == b"delconsumer"
        && a.len() == 5
        && v.notify != 0
        && v.stream(&a[2])
            .ok()
            .flatten()
            .and_then(|s| s.groups.get(&a[3]))
            .is_some_and(|g| g.consumers.contains_key(&a[4]));
    let r = stream::xgroup(v, a)?;
    let event = match (&sub[..], &r) {
        (b"create", Reply::Simple(_)) => Some("xgroup-create"),
        (b"setid", Reply::Simple(_)) => Some("xgroup-setid"),
        (b"destroy", Reply::Int(1)) => Some("xgroup-destroy"),
        (b"createconsumer", Reply::Int(1)) => Some("xgroup-createconsumer"),
        (b"delconsumer", _) if had_consumer => Some("xgroup-delconsumer"),
        _ => None,
    };
    if let Some(e) = event {
        v.notify(crate::notify::STREAM, e, &a[2]);
    }
    Ok(r)
}

/// Split `numkeys key... rest` (the slice starts at numkeys).
pub fn numkeys(a: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Reply> {
    let n = args::int(a.first().ok_or_else(args::syntax)?)?;
    if n <= 0 {
        return Err(Reply::err("ERR numkeys should be greater than 0"));
    }
    let n = n as usize;
    if n > a.len() - 1 {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok((&a[1..=n], &a[n + 1..]))
}

/// A cheap random number (xorshift seeded per thread); randomness here is for sampling only.
pub fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
                | 1,
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

pub fn random_index(len: usize) -> usize {
    (random_u64() % len.max(1) as u64) as usize
}

/// Indices for SRANDMEMBER-style counts: positive = distinct, negative = may repeat.
pub fn random_picks(len: usize, count: Option<i64>) -> Vec<usize> {
    if len == 0 {
        return vec![];
    }
    match count {
        None => vec![random_index(len)],
        Some(c) if c < 0 => (0..c.unsigned_abs().min(1 << 20))
            .map(|_| random_index(len))
            .collect(),
        Some(c) => {
            let c = (c as usize).min(len);
            let mut idx: Vec<usize> = (0..len).collect();
            for i in 0..c {
                let j = i + random_index(len - i);
                idx.swap(i, j);
            }
            idx.truncate(c);
            idx
        }
    }
}
