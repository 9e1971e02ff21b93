//! The command table: arity, flags and key positions, as `COMMAND INFO` reports them.

/// Where a command's keys are, which decides the shards it locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// No keys: a connection or server command.
    None,
    /// Keys at `first..=last` (negative `last` counts from the end), every `step`.
    At(i32, i32, i32),
    /// Keys whose positions depend on arguments, or the whole database: lock every shard.
    All,
}

pub struct Spec {
    pub name: &'static str,
    /// Positive: exact argument count (with the name); negative: at least that many.
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub keys: Keys,
    pub group: &'static str,
    /// Has the `write` flag (worked out once, at compile time, not per command).
    pub writes: bool,
    /// Has the `readonly` flag.
    pub reads: bool,
    /// `Session::dispatch` runs it by name (transactions, scripts, blocking commands, MOVE);
    /// every other command with keys takes the plain keyed path.
    pub routed: bool,
    /// A container command (CONFIG, CLIENT, XINFO, …): its statistics are kept per
    /// subcommand (`stats::CONTAINERS`).
    pub container: bool,
}

/// Commands with a path of their own in `Session::dispatch`.
const ROUTED: &[&str] = &[
    "memory",
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
    "blpop",
    "brpop",
    "blmove",
    "brpoplpush",
    "bzpopmin",
    "bzpopmax",
    "blmpop",
    "bzmpop",
    "xread",
    "xreadgroup",
    "move",
];

/// `a == b`, usable in a constant.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `list` holds `word`, usable in a constant.
const fn holds(list: &[&str], word: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if same(list[i], word) {
            return true;
        }
        i += 1;
    }
    false
}

impl Spec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// (first, last, step) as COMMAND INFO reports them.
    pub fn key_positions(&self) -> (i64, i64, i64) {
        match self.keys {
            Keys::At(f, l, s) => (f.into(), l.into(), s.into()),
            // Redis declares the shard channel as a key flagged `not_key`: COMMAND INFO shows
            // its position, yet it is no key (no shard locked, no key ACL, no GETKEYS).
            Keys::None if self.name == "spublish" => (1, 1, 1),
            Keys::None if matches!(self.name, "ssubscribe" | "sunsubscribe") => (1, -1, 1),
            Keys::None | Keys::All => (0, 0, 0),
        }
    }
}

const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const WD: &[&str] = &["write"];
const WDF: &[&str] = &["write", "fast"];
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const C: &[&str] = &["fast", "loading", "stale"];
const RB: &[&str] = &["readonly", "blocking", "movablekeys"];
const WB: &[&str] = &["write", "blocking", "movablekeys"];
const A: &[&str] = &["admin", "noscript"];
const GM: &[&str] = &["write", "denyoom", "movablekeys"];
const RM: &[&str] = &["readonly", "movablekeys"];
const NS: &[&str] = &["noscript"];
const AL: &[&str] = &["admin", "noscript", "loading", "stale"];
const P: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const M: &[&str] = &["noscript", "loading", "stale", "fast"];
const SR: &[&str] = &[
    "readonly",
    "noscript",
    "stale",
    "skip_monitor",
    "no_mandatory_keys",
    "movablekeys",
];
const SY: &[&str] = &["admin", "noscript", "no_async_loading", "no_multi"];
const RC: &[&str] = &["admin", "noscript", "loading", "stale", "allow_busy"];
const S: &[&str] = &[
    "noscript",
    "stale",
    "skip_monitor",
    "no_mandatory_keys",
    "movablekeys",
];

macro_rules! specs {
    ($( $name:literal $arity:literal $flags:ident $keys:expr, $group:literal; )*) => {
        pub static COMMANDS: &[Spec] = &[
            $( Spec {
                name: $name,
                arity: $arity,
                flags: $flags,
                keys: $keys,
                group: $group,
                writes: holds($flags, "write"),
                reads: holds($flags, "readonly"),
                routed: holds(ROUTED, $name),
                container: holds(crate::stats::CONTAINERS, $name),
            }, )*
        ];
    };
}

const K1: Keys = Keys::At(1, 1, 1);
const K2: Keys = Keys::At(1, 2, 1);
const KN: Keys = Keys::At(1, -1, 1);
const KP: Keys = Keys::At(1, -1, 2);
const KA: Keys = Keys::All;
const K0: Keys = Keys::None;
const KS: Keys = Keys::At(1, -2, 1);

specs! {
    "get" 2 RF K1, "string"; "set" -3 W K1, "string"; "setnx" 3 WF K1, "string";
    "setex" 4 W K1, "string"; "psetex" 4 W K1, "string"; "getset" 3 WF K1, "string";
    "getdel" 2 WDF K1, "string"; "getex" -2 WDF K1, "string"; "mget" -2 RF KN, "string";
    "mset" -3 W KP, "string"; "msetnx" -3 W KP, "string"; "incr" 2 WF K1, "string";
    "decr" 2 WF K1, "string"; "incrby" 3 WF K1, "string"; "decrby" 3 WF K1, "string";
    "incrbyfloat" 3 WF K1, "string"; "append" 3 W K1, "string"; "strlen" 2 RF K1, "string";
    "getrange" 4 R K1, "string"; "substr" 4 R K1, "string"; "setrange" 4 W K1, "string";
    "lcs" -3 R K2, "string";
    "del" -2 WD KN, "generic"; "unlink" -2 WDF KN, "generic"; "exists" -2 RF KN, "generic";
    "touch" -2 RF KN, "generic"; "type" 2 RF K1, "generic"; "rename" 3 WD K2, "generic";
    "renamenx" 3 WDF K2, "generic"; "copy" -3 W K2, "generic"; "keys" 2 R KA, "generic";
    "randomkey" 1 R KA, "generic"; "expire" -3 WDF K1, "generic"; "pexpire" -3 WDF K1, "generic";
    "expireat" -3 WDF K1, "generic"; "pexpireat" -3 WDF K1, "generic"; "ttl" 2 RF K1, "generic";
    "pttl" 2 RF K1, "generic"; "expiretime" 2 RF K1, "generic"; "pexpiretime" 2 RF K1, "generic";
    "persist" 2 WDF K1, "generic"; "dump" 2 R K1, "generic"; "restore" -4 W K1, "generic"; "object" -2 R Keys::At(2, 2, 1), "generic"; "scan" -2 R KA, "generic";
    "dbsize" 1 RF KA, "server"; "move" 3 WDF K1, "generic"; "swapdb" 3 WDF K0, "server"; "flushdb" -1 WD KA, "server";
    "hset" -4 WF K1, "hash"; "hmset" -4 WF K1, "hash"; "hsetnx" 4 WF K1, "hash";
    "hget" 3 RF K1, "hash"; "hmget" -3 RF K1, "hash"; "hdel" -3 WDF K1, "hash";
    "hlen" 2 RF K1, "hash"; "hstrlen" 3 RF K1, "hash"; "hexists" 3 RF K1, "hash";
    "hkeys" 2 R K1, "hash"; "hvals" 2 R K1, "hash"; "hgetall" 2 R K1, "hash";
    "hincrby" 4 WF K1, "hash"; "hincrbyfloat" 4 WF K1, "hash"; "hrandfield" -2 R K1, "hash";
    "hscan" -3 R K1, "hash";
    "lpush" -3 WF K1, "list"; "rpush" -3 WF K1, "list"; "lpushx" -3 WF K1, "list";
    "rpushx" -3 WF K1, "list"; "lpop" -2 WDF K1, "list"; "rpop" -2 WDF K1, "list";
    "llen" 2 RF K1, "list"; "lrange" 4 R K1, "list"; "lindex" 3 R K1, "list";
    "lset" 4 W K1, "list"; "linsert" 5 W K1, "list"; "lrem" 4 WD K1, "list";
    "ltrim" 4 WD K1, "list"; "lpos" -3 R K1, "list"; "lmove" 5 W K2, "list";
    "rpoplpush" 3 W K2, "list"; "lmpop" -4 WD KA, "list";
    "blpop" -3 WD KS, "list"; "brpop" -3 WD KS, "list"; "blmove" 6 W K2, "list";
    "brpoplpush" 4 W K2, "list"; "blmpop" -5 WB KA, "list";
    "sadd" -3 WF K1, "set"; "srem" -3 WDF K1, "set"; "smembers" 2 R K1, "set";
    "sismember" 3 RF K1, "set"; "smismember" -3 RF K1, "set"; "scard" 2 RF K1, "set";
    "spop" -2 WDF K1, "set"; "srandmember" -2 R K1, "set"; "smove" 4 WF K2, "set";
    "sinter" -2 R KN, "set"; "sunion" -2 R KN, "set"; "sdiff" -2 R KN, "set";
    "sinterstore" -3 W KN, "set"; "sunionstore" -3 W KN, "set"; "sdiffstore" -3 W KN, "set";
    "sintercard" -3 R KA, "set"; "sscan" -3 R K1, "set";
    "zadd" -4 WF K1, "sorted_set"; "zincrby" 4 WF K1, "sorted_set"; "zrem" -3 WDF K1, "sorted_set";
    "zscore" 3 RF K1, "sorted_set"; "zmscore" -3 RF K1, "sorted_set"; "zcard" 2 RF K1, "sorted_set";
    "zcount" 4 RF K1, "sorted_set"; "zlexcount" 4 RF K1, "sorted_set"; "zrank" 3 RF K1, "sorted_set";
    "zrevrank" 3 RF K1, "sorted_set"; "zrange" -4 R K1, "sorted_set"; "zrevrange" -4 R K1, "sorted_set";
    "zrangebyscore" -4 R K1, "sorted_set"; "zrevrangebyscore" -4 R K1, "sorted_set";
    "zrangebylex" -4 R K1, "sorted_set"; "zrevrangebylex" -4 R K1, "sorted_set";
    "zremrangebyrank" 4 WD K1, "sorted_set"; "zremrangebyscore" 4 WD K1, "sorted_set";
    "zremrangebylex" 4 WD K1, "sorted_set"; "zpopmin" -2 WDF K1, "sorted_set";
    "zpopmax" -2 WDF K1, "sorted_set"; "bzpopmin" -3 WDF KS, "sorted_set";
    "bzpopmax" -3 WDF KS, "sorted_set"; "zunionstore" -4 W KA, "sorted_set";
    "zinterstore" -4 W KA, "sorted_set"; "zdiffstore" -4 W KA, "sorted_set";
    "zunion" -3 R KA, "sorted_set"; "zinter" -3 R KA, "sorted_set";
    "zdiff" -3 R KA, "sorted_set"; "zintercard" -3 R KA, "sorted_set";
    "zrandmember" -2 R K1, "sorted_set"; "zscan" -3 R K1, "sorted_set";
    "zmpop" -4 WD KA, "sorted_set"; "bzmpop" -5 WB KA, "sorted_set";
    "zrangestore" -5 W K2, "sorted_set";
    "xadd" -5 WF K1, "stream"; "xlen" 2 RF K1, "stream"; "xrange" -4 R K1, "stream";
    "xrevrange" -4 R K1, "stream"; "xread" -4 RB KA, "stream"; "xreadgroup" -7 WB KA, "stream";
    "xdel" -3 WF K1, "stream"; "xtrim" -4 WD K1, "stream"; "xsetid" -3 WF K1, "stream";
    "xgroup" -2 WD Keys::At(2, 2, 1), "stream"; "xack" -4 WF K1, "stream";
    "xpending" -3 R K1, "stream"; "xclaim" -6 WF K1, "stream"; "xautoclaim" -6 WF K1, "stream";
    "xinfo" -2 R Keys::At(2, 2, 1), "stream";
    "setbit" 4 W K1, "bitmap"; "getbit" 3 RF K1, "bitmap"; "bitcount" -2 R K1, "bitmap";
    "bitpos" -3 R K1, "bitmap"; "bitop" -4 W Keys::At(2, -1, 1), "bitmap";
    "bitfield" -2 W K1, "bitmap"; "bitfield_ro" -2 RF K1, "bitmap";
    "pfadd" -2 WF K1, "hyperloglog"; "pfcount" -2 R KN, "hyperloglog";
    "pfmerge" -2 W KN, "hyperloglog";
    "geoadd" -5 W K1, "geo"; "geopos" -2 R K1, "geo"; "geodist" -4 R K1, "geo";
    "geohash" -2 R K1, "geo"; "geosearch" -7 R K1, "geo"; "geosearchstore" -8 W K2, "geo";
    "georadius" -6 GM KA, "geo"; "georadius_ro" -6 R K1, "geo";
    "georadiusbymember" -5 GM KA, "geo"; "georadiusbymember_ro" -5 R K1, "geo";
    "sort" -2 GM KA, "generic"; "sort_ro" -2 RM KA, "generic";
    "ping" -1 C K0, "connection"; "echo" 2 C K0, "connection"; "select" 2 C K0, "connection";
    "auth" -2 M K0, "connection"; "hello" -1 M K0, "connection"; "client" -2 M K0, "connection";
    "quit" -1 M K0, "connection"; "reset" 1 M K0, "connection";
    "info" -1 C K0, "server"; "config" -2 A K0, "server"; "command" -1 C K0, "server";
    "time" 1 C K0, "server"; "flushall" -1 WD K0, "server"; "lastsave" 1 C K0, "server";
    "save" 1 A K0, "server"; "sync" 1 SY K0, "server"; "psync" -3 SY K0, "server"; "replconf" -1 RC K0, "server"; "acl" -2 AL K0, "server"; "wait" 3 NS K0, "generic"; "waitaof" 4 NS K0, "generic"; "monitor" 1 A K0, "server"; "bgsave" -1 A K0, "server"; "cluster" -2 C K0, "cluster";
    "slowlog" -2 AL K0, "server"; "role" 1 M K0, "server"; "latency" -2 AL K0, "server";
    "memory" -2 R Keys::At(2, 2, 1), "server";
    "readonly" 1 C K0, "cluster"; "readwrite" 1 C K0, "cluster"; "asking" 1 C K0, "connection";
    "debug" -2 AL K0, "server"; "shutdown" -1 AL K0, "server"; "module" -2 A K0, "server";
    "bgrewriteaof" 1 A K0, "server";
    "multi" 1 M K0, "transactions"; "exec" 1 M K0, "transactions";
    "discard" 1 M K0, "transactions"; "watch" -2 M KN, "transactions";
    "unwatch" 1 M K0, "transactions";
    "subscribe" -2 P K0, "pubsub"; "unsubscribe" -1 P K0, "pubsub";
    "psubscribe" -2 P K0, "pubsub"; "punsubscribe" -1 P K0, "pubsub";
    "publish" 3 P K0, "pubsub"; "pubsub" -2 P K0, "pubsub";
    "spublish" 3 P K0, "pubsub"; "ssubscribe" -2 P K0, "pubsub"; "sunsubscribe" -1 P K0, "pubsub";
    "eval" -3 S KA, "scripting"; "evalsha" -3 S KA, "scripting"; "script" -2 A K0, "scripting";
    "eval_ro" -3 SR KA, "scripting"; "evalsha_ro" -3 SR KA, "scripting";
    "fcall" -3 S KA, "scripting"; "fcall_ro" -3 SR KA, "scripting"; "function" -2 NS K0, "scripting";
}

/// Looked up once per command with a name the client sent: a fixed table takes no inserts
/// from clients, so a fast hash cannot be flooded.
static BY_NAME: std::sync::LazyLock<
    std::collections::HashMap<&'static str, &'static Spec, rustc_hash::FxBuildHasher>,
> = std::sync::LazyLock::new(|| COMMANDS.iter().map(|s| (s.name, s)).collect());

static INDEX: std::sync::LazyLock<std::collections::HashMap<&'static str, usize>> =
    std::sync::LazyLock::new(|| {
        COMMANDS
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name, i))
            .collect()
    });

/// A command's position in `COMMANDS` (ACL permissions are kept by position).
pub fn index(name: &str) -> Option<usize> {
    INDEX.get(name).copied()
}

pub fn lookup(name: &str) -> Option<&'static Spec> {
    BY_NAME.get(name).copied()
}

/// The keys of a command with fixed key positions.
pub fn keys_at(
    args: &[bytes::Bytes],
    first: i32,
    last: i32,
    step: i32,
) -> impl Iterator<Item = &bytes::Bytes> {
    let n = args.len() as i32;
    let last = if last < 0 { n + last } else { last.min(n - 1) };
    let first = first.max(0);
    let step = step.max(1);
    (first..=last)
        .step_by(step as usize)
        .filter_map(move |i| args.get(i as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_worked_out_at_compile_time_agree_with_the_table() {
        for name in ROUTED {
            assert!(lookup(name).is_some_and(|s| s.routed), "{name}");
        }
        for s in COMMANDS {
            assert_eq!(s.writes, s.flags.contains(&"write"), "{}", s.name);
            assert_eq!(s.reads, s.flags.contains(&"readonly"), "{}", s.name);
            assert_eq!(s.routed, ROUTED.contains(&s.name), "{}", s.name);
        }
        assert!(!lookup("get").unwrap().routed);
        for s in COMMANDS {
            assert_eq!(
                s.container,
                crate::stats::CONTAINERS.contains(&s.name),
                "{}",
                s.name
            );
        }
    }
}
