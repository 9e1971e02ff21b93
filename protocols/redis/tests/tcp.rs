//! The Rust `redis` client against the front-end over TCP.

mod common;

use common::TestServer;
use dotdo_redis::{Config, User};
use redis::{AsyncCommands, RedisResult, Value, cmd, pipe};

fn cfg() -> Config {
    Config::default()
}

#[tokio::test]
async fn strings_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    let _: () = c.set("k", "v").await.unwrap();
    assert_eq!(c.get::<_, String>("k").await.unwrap(), "v");
    assert_eq!(c.get::<_, Option<String>>("missing").await.unwrap(), None);
    assert_eq!(c.incr::<_, _, i64>("n", 5).await.unwrap(), 5);
    assert_eq!(c.decr::<_, _, i64>("n", 7).await.unwrap(), -2);
    let r: RedisResult<i64> = c.incr("k", 1).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "ResponseError: value is not an integer or out of range"
    );
    let got: Option<String> = cmd("SET")
        .arg("k")
        .arg("w")
        .arg("NX")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(got, None);
    let old: String = cmd("SET")
        .arg("k")
        .arg("w")
        .arg("XX")
        .arg("GET")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(old, "v");
    assert_eq!(c.append::<_, _, i64>("k", "xyz").await.unwrap(), 4);
    assert_eq!(c.getrange::<_, String>("k", 1, -1).await.unwrap(), "xyz");
    assert_eq!(c.setrange::<_, _, i64>("k", 6, "!").await.unwrap(), 7);
    assert_eq!(
        c.get::<_, Vec<u8>>("k").await.unwrap(),
        b"wxyz\0\0!".to_vec()
    );
    let f: String = cmd("INCRBYFLOAT")
        .arg("f")
        .arg("10.5")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(f, "10.5");
    // Keys spread over several shards.
    let pairs: Vec<(String, String)> = (0..50)
        .map(|i| (format!("key:{i}"), format!("val:{i}")))
        .collect();
    let _: () = c.mset(&pairs).await.unwrap();
    let keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    let vals: Vec<String> = c.mget(&keys).await.unwrap();
    assert_eq!(
        vals,
        pairs.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()
    );
    assert_eq!(c.del::<_, i64>(&keys).await.unwrap(), 50);
    t.stop().await;
}

#[tokio::test]
async fn errors_are_worded_as_redis_and_the_connection_survives() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    let _: () = c.lpush("l", "x").await.unwrap();
    let e = c.get::<_, String>("l").await.unwrap_err();
    assert_eq!(e.code(), Some("WRONGTYPE"));
    assert_eq!(
        e.detail(),
        Some("Operation against a key holding the wrong kind of value")
    );
    let e = cmd("GET").query_async::<Value>(&mut c).await.unwrap_err();
    assert_eq!(
        e.detail(),
        Some("wrong number of arguments for 'get' command")
    );
    let e = cmd("NOPE")
        .arg("a")
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(
        e.detail(),
        Some("unknown command 'NOPE', with args beginning with: 'a' ")
    );
    let e = cmd("SET")
        .arg("a")
        .arg("b")
        .arg("EX")
        .arg("0")
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(e.detail(), Some("invalid expire time in 'set' command"));
    let e = cmd("SELECT")
        .arg(16)
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(e.detail(), Some("DB index is out of range"));
    let pong: String = cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
    t.stop().await;
}

#[tokio::test]
async fn expiry_is_lazy_and_active_and_ttls_report() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    let _: () = c.set_ex("a", "1", 100).await.unwrap();
    let ttl: i64 = c.ttl("a").await.unwrap();
    assert!((99..=100).contains(&ttl));
    assert_eq!(c.ttl::<_, i64>("nope").await.unwrap(), -2);
    let _: () = c.set("p", "1").await.unwrap();
    assert_eq!(c.ttl::<_, i64>("p").await.unwrap(), -1);
    assert!(c.expire::<_, bool>("p", 50).await.unwrap());
    let gt: i64 = cmd("EXPIRE")
        .arg("p")
        .arg(10)
        .arg("GT")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(gt, 0);
    assert!(c.persist::<_, bool>("p").await.unwrap());
    let _: () = cmd("SET")
        .arg("gone")
        .arg("x")
        .arg("PX")
        .arg(30)
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = cmd("SET")
        .arg("swept")
        .arg("x")
        .arg("PX")
        .arg(30)
        .query_async(&mut c)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(c.get::<_, Option<String>>("gone").await.unwrap(), None);
    // The active sweep removed the other without anyone reading it.
    let keys: Vec<String> = c.keys("*").await.unwrap();
    assert!(!keys.contains(&"swept".to_string()));
    let size: i64 = cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(size, 2);
    t.stop().await;
}

#[tokio::test]
async fn hashes_lists_sets_sorted_sets() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    assert_eq!(
        c.hset_multiple::<_, _, _, String>("h", &[("a", "1"), ("b", "2")])
            .await
            .unwrap(),
        "OK"
    );
    assert_eq!(c.hget::<_, _, String>("h", "b").await.unwrap(), "2");
    assert_eq!(c.hincr::<_, _, _, i64>("h", "a", 10).await.unwrap(), 11);
    let all: std::collections::HashMap<String, String> = c.hgetall("h").await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(c.hdel::<_, _, i64>("h", &["a", "b"]).await.unwrap(), 2);
    assert!(!c.exists::<_, bool>("h").await.unwrap());

    let _: i64 = c.rpush("l", &["a", "b", "c"]).await.unwrap();
    let _: i64 = c.lpush("l", "z").await.unwrap();
    assert_eq!(
        c.lrange::<_, Vec<String>>("l", 0, -1).await.unwrap(),
        ["z", "a", "b", "c"]
    );
    assert_eq!(c.lpop::<_, String>("l", None).await.unwrap(), "z");
    assert_eq!(c.rpop::<_, String>("l", None).await.unwrap(), "c");
    let _: () = c.lset("l", 1, "B").await.unwrap();
    let _: i64 = c.linsert_before("l", "B", "m").await.unwrap();
    assert_eq!(
        c.lrange::<_, Vec<String>>("l", 0, -1).await.unwrap(),
        ["a", "m", "B"]
    );
    let moved: String = cmd("LMOVE")
        .arg("l")
        .arg("l2")
        .arg("LEFT")
        .arg("RIGHT")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(moved, "a");

    assert_eq!(c.sadd::<_, _, i64>("s", &["a", "b", "c"]).await.unwrap(), 3);
    assert_eq!(
        c.sadd::<_, _, i64>("s2", &["b", "c", "d"]).await.unwrap(),
        3
    );
    let mut inter: Vec<String> = c.sinter(&["s", "s2"]).await.unwrap();
    inter.sort();
    assert_eq!(inter, ["b", "c"]);
    assert_eq!(c.scard::<_, i64>("s").await.unwrap(), 3);
    let picked: String = cmd("SRANDMEMBER")
        .arg("s2")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(["b", "c", "d"].contains(&picked.as_str()));
    let popped: String = cmd("SPOP").arg("s2").query_async(&mut c).await.unwrap();
    assert!(["b", "c", "d"].contains(&popped.as_str()));
    assert_eq!(c.scard::<_, i64>("s2").await.unwrap(), 2);
    let _: i64 = c.sadd("s2", &popped).await.unwrap();
    let n: i64 = cmd("SINTERCARD")
        .arg(2)
        .arg("s")
        .arg("s2")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 2);

    let _: i64 = c
        .zadd_multiple("z", &[(1.0, "a"), (2.0, "b"), (3.0, "c")])
        .await
        .unwrap();
    assert_eq!(
        c.zrange::<_, Vec<String>>("z", 0, -1).await.unwrap(),
        ["a", "b", "c"]
    );
    let by: Vec<String> = cmd("ZRANGE")
        .arg("z")
        .arg("(1")
        .arg("+inf")
        .arg("BYSCORE")
        .arg("LIMIT")
        .arg(0)
        .arg(1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(by, ["b"]);
    let ch: i64 = cmd("ZADD")
        .arg("z")
        .arg("GT")
        .arg("CH")
        .arg(0)
        .arg("c")
        .arg(9)
        .arg("b")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(ch, 1);
    assert_eq!(c.zscore::<_, _, f64>("z", "b").await.unwrap(), 9.0);
    let popped: Vec<String> = c.zpopmin("z", 1).await.unwrap();
    assert_eq!(popped, ["a", "1"]);
    let stored: i64 = cmd("ZUNIONSTORE")
        .arg("u")
        .arg(2)
        .arg("z")
        .arg("s")
        .arg("WEIGHTS")
        .arg(1)
        .arg(2)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(stored, 3);
    let u: Vec<(String, f64)> = c.zrange_withscores("u", 0, -1).await.unwrap();
    assert_eq!(
        u,
        [
            ("a".to_string(), 2.0),
            ("c".to_string(), 5.0),
            ("b".to_string(), 11.0)
        ]
    );
    t.stop().await;
}

#[tokio::test]
async fn deep_pipelines_and_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    let mut p = pipe();
    for i in 0..5000 {
        p.cmd("RPUSH").arg("big").arg(i).ignore();
    }
    p.cmd("LLEN").arg("big");
    let (len,): (i64,) = p.query_async(&mut c).await.unwrap();
    assert_eq!(len, 5000);

    let (a, b): (i64, i64) = pipe()
        .atomic()
        .incr("x", 1)
        .incr("x", 1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!((a, b), (1, 2));

    // WATCH: a write from another connection aborts EXEC.
    let mut other = t.client().await;
    let mut conn = redis::Client::open(t.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = cmd("WATCH").arg("x").query_async(&mut conn).await.unwrap();
    let _: i64 = other.incr("x", 1).await.unwrap();
    let res: Option<(i64,)> = pipe()
        .atomic()
        .incr("x", 1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(res, None);
    assert_eq!(c.get::<_, i64>("x").await.unwrap(), 3);

    // An error queued before EXEC discards the transaction; one during EXEC does not.
    let mut raw = redis::Client::open(t.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = cmd("MULTI").query_async(&mut raw).await.unwrap();
    let _: Value = cmd("SET")
        .arg("y")
        .arg("1")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _ = cmd("GET").query_async::<Value>(&mut raw).await;
    let e = cmd("EXEC")
        .query_async::<Value>(&mut raw)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("EXECABORT"));
    let _: () = cmd("MULTI").query_async(&mut raw).await.unwrap();
    let _: Value = cmd("SET")
        .arg("y")
        .arg("1")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: Value = cmd("LPUSH")
        .arg("y")
        .arg("1")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: Value = cmd("INCR").arg("y").query_async(&mut raw).await.unwrap();
    // The client surfaces the failed LPUSH; the INCR after it still ran.
    let e = cmd("EXEC")
        .query_async::<Value>(&mut raw)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("WRONGTYPE"));
    assert_eq!(c.get::<_, i64>("y").await.unwrap(), 2);
    t.stop().await;
}

#[tokio::test]
async fn restart_keeps_data_and_ttls() {
    let dir = tempfile::tempdir().unwrap();
    {
        let t = TestServer::start(dir.path(), cfg()).await;
        let mut c = t.client().await;
        let _: () = c.set_ex("ttl", "v", 1000).await.unwrap();
        let _: () = c.set("plain", "p").await.unwrap();
        let _: i64 = c.rpush("list", &["1", "2", "3"]).await.unwrap();
        let _: String = c.lpop("list", None).await.unwrap();
        let _: i64 = c.hset("hash", "f", "v").await.unwrap();
        let _: i64 = c.zadd("zs", "m", 2.5).await.unwrap();
        let _: i64 = c.sadd("set", "m").await.unwrap();
        let _: () = cmd("SELECT").arg(3).query_async(&mut c).await.unwrap();
        let _: () = c.set("in3", "x").await.unwrap();
        t.stop().await;
    }
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    assert_eq!(c.get::<_, String>("plain").await.unwrap(), "p");
    let ttl: i64 = c.ttl("ttl").await.unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert_eq!(
        c.lrange::<_, Vec<String>>("list", 0, -1).await.unwrap(),
        ["2", "3"]
    );
    let _: i64 = c.lpush("list", "0").await.unwrap();
    assert_eq!(
        c.lrange::<_, Vec<String>>("list", 0, -1).await.unwrap(),
        ["0", "2", "3"]
    );
    assert_eq!(c.hget::<_, _, String>("hash", "f").await.unwrap(), "v");
    assert_eq!(c.zscore::<_, _, f64>("zs", "m").await.unwrap(), 2.5);
    assert!(c.sismember::<_, _, bool>("set", "m").await.unwrap());
    assert_eq!(c.get::<_, Option<String>>("in3").await.unwrap(), None);
    let _: () = cmd("SELECT").arg(3).query_async(&mut c).await.unwrap();
    assert_eq!(c.get::<_, String>("in3").await.unwrap(), "x");
    t.stop().await;
}

#[tokio::test]
async fn auth_with_configured_users() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        requirepass: Some("secret".into()),
        users: vec![User {
            name: "app".into(),
            password: "pw".into(),
        }],
        ..Config::default()
    };
    let t = TestServer::start(dir.path(), config).await;
    let client = redis::Client::open(t.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let e = cmd("GET")
        .arg("a")
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NOAUTH"));
    let e = cmd("AUTH")
        .arg("app")
        .arg("bad")
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("WRONGPASS"));
    let _: () = cmd("AUTH")
        .arg("app")
        .arg("pw")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = c.set("a", "1").await.unwrap();
    let url = format!("redis://default:secret@{}/", t.addr);
    let mut c2 = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    assert_eq!(c2.get::<_, String>("a").await.unwrap(), "1");
    // The configured users, as ACL LIST renders them (passwords as SHA-256).
    let list: Vec<String> = cmd("ACL").arg("LIST").query_async(&mut c2).await.unwrap();
    assert_eq!(
        list,
        [
            "user app on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* &* +@all",
            "user default on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~* &* +@all",
        ]
    );
    let who: String = cmd("ACL").arg("WHOAMI").query_async(&mut c).await.unwrap();
    assert_eq!(who, "app");
    t.stop().await;
}

#[tokio::test]
async fn resp3_hello_and_maps() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let url = format!("redis://{}/?protocol=resp3", t.addr);
    let mut c = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = c.hset("h", "f", "v").await.unwrap();
    let v: Value = cmd("HGETALL").arg("h").query_async(&mut c).await.unwrap();
    assert!(matches!(v, Value::Map(ref m) if m.len() == 1), "{v:?}");
    let _: i64 = c.zadd("z", "m", 1.5).await.unwrap();
    let v: Value = cmd("ZSCORE")
        .arg("z")
        .arg("m")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, Value::Double(1.5));
    let v: Value = cmd("GET").arg("none").query_async(&mut c).await.unwrap();
    assert_eq!(v, Value::Nil);
    t.stop().await;
}

#[tokio::test]
async fn blocking_pop_is_woken_by_another_connection() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut waiter = redis::Client::open(t.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut pusher = t.client().await;
    let blocked = tokio::spawn(async move {
        let r: Option<(String, String)> = waiter.blpop("q", 0.0).await.unwrap();
        r
    });
    // Keep pushing until the waiter has it (no sleeps with timing assertions).
    let mut pushed = 0;
    while !blocked.is_finished() && pushed < 1000 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if pushed == 0 {
            let _: i64 = pusher.rpush("q", "job").await.unwrap();
            pushed += 1;
        }
    }
    assert_eq!(blocked.await.unwrap(), Some(("q".into(), "job".into())));
    let mut c = t.client().await;
    let r: Option<(String, String)> = c.brpop("empty", 0.05).await.unwrap();
    assert_eq!(r, None);
    t.stop().await;
}

#[tokio::test]
async fn pubsub_delivers_messages() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let client = redis::Client::open(t.url()).unwrap();
    let mut ps = client.get_async_pubsub().await.unwrap();
    ps.subscribe("news").await.unwrap();
    ps.psubscribe("n*").await.unwrap();
    let mut c = t.client().await;
    let n: i64 = c.publish("news", "hello").await.unwrap();
    assert_eq!(n, 2);
    let mut stream = ps.on_message();
    use futures_util::StreamExt;
    let m1 = stream.next().await.unwrap();
    let m2 = stream.next().await.unwrap();
    let payloads: Vec<String> = [m1, m2].iter().map(|m| m.get_payload().unwrap()).collect();
    assert_eq!(payloads, ["hello", "hello"]);
    t.stop().await;
}

#[tokio::test]
async fn scan_visits_every_key_once_and_keyslot_matches() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    for i in 0..300 {
        let _: () = c.set(format!("s:{i}"), i).await.unwrap();
    }
    let _: () = c.set("other", 1).await.unwrap();
    let mut cursor = 0u64;
    let mut seen = std::collections::HashSet::new();
    loop {
        let (next, keys): (u64, Vec<String>) = cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("s:*")
            .arg("COUNT")
            .arg(37)
            .query_async(&mut c)
            .await
            .unwrap();
        for k in keys {
            assert!(seen.insert(k));
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 300);
    let slot: i64 = cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg("{user1000}.following")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(slot, 3443);
    t.stop().await;
}

#[tokio::test]
async fn lua_scripts_run_atomically_on_the_keys_shard() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    let script = redis::Script::new(
        "local v = redis.call('incrby', KEYS[1], ARGV[1]); redis.call('rpush', KEYS[2], v); return v",
    );
    let v: i64 = script
        .key("{job}:count")
        .key("{job}:log")
        .arg(5)
        .invoke_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, 5);
    let v: i64 = script
        .key("{job}:count")
        .key("{job}:log")
        .arg(2)
        .invoke_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, 7);
    assert_eq!(
        c.lrange::<_, Vec<i64>>("{job}:log", 0, -1).await.unwrap(),
        [5, 7]
    );
    let e = cmd("EVAL")
        .arg("return 1")
        .arg(2)
        .arg("a")
        .arg("b")
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("CROSSSLOT"));
    let e = cmd("EVAL")
        .arg("return redis.call('lpush', KEYS[1], 'x')")
        .arg(1)
        .arg("{job}:count")
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("WRONGTYPE"));
    // A rate limiter in the style of the common token-bucket scripts.
    let limiter = redis::Script::new(
        "local n = redis.call('incr', KEYS[1]) if n == 1 then redis.call('pexpire', KEYS[1], ARGV[2]) end if n > tonumber(ARGV[1]) then return 0 end return 1",
    );
    let mut allowed = 0;
    for _ in 0..10 {
        let ok: i64 = limiter
            .key("rl:user")
            .arg(3)
            .arg(60_000)
            .invoke_async(&mut c)
            .await
            .unwrap();
        allowed += ok;
    }
    assert_eq!(allowed, 3);
    assert!(c.pttl::<_, i64>("rl:user").await.unwrap() > 0);
    t.stop().await;
}

/// Every key with its type, contents and whether it has a TTL, in key order.
async fn dump(c: &mut redis::aio::MultiplexedConnection) -> Vec<(String, String, String, bool)> {
    let mut keys: Vec<String> = c.keys("*").await.expect("dump");
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        let t: String = cmd("TYPE").arg(&k).query_async(c).await.expect("dump");
        let body = match t.as_str() {
            "string" => c.get::<_, String>(&k).await.expect("dump"),
            "list" => format!(
                "{:?}",
                c.lrange::<_, Vec<String>>(&k, 0, -1).await.expect("dump")
            ),
            "hash" => {
                let mut h: Vec<(String, String)> = c.hgetall(&k).await.expect("dump");
                h.sort();
                format!("{h:?}")
            }
            "set" => {
                let mut s: Vec<String> = c.smembers(&k).await.expect("dump");
                s.sort();
                format!("{s:?}")
            }
            "zset" => format!(
                "{:?}",
                c.zrange_withscores::<_, Vec<(String, f64)>>(&k, 0, -1)
                    .await
                    .expect("dump")
            ),
            "stream" => format!(
                "{:?}",
                cmd("XRANGE")
                    .arg(&k)
                    .arg("-")
                    .arg("+")
                    .query_async::<Value>(c)
                    .await
                    .expect("dump")
            ),
            other => other.to_string(),
        };
        let ttl: i64 = c.pttl(&k).await.expect("dump");
        out.push((k, t, body, ttl > 0));
    }
    out
}

/// One pipeline (so one batch) that changes the same rows many ways: type changes, deletes
/// and re-creation, pops and pushes at both ends, overwrites with the same and other values,
/// TTL changes, whole-list rewrites, renames, streams; what a restart loads is what was
/// acknowledged.
#[tokio::test]
async fn a_batch_of_changes_to_the_same_rows_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let t = TestServer::start(dir.path(), cfg()).await;
        let mut c = t.client().await;
        let mut p = pipe();
        for round in 0..3 {
            let r = round.to_string();
            p.cmd("RPUSH")
                .arg("{a}l")
                .arg(&r)
                .arg("x")
                .arg("y")
                .ignore();
            p.cmd("LPUSH").arg("{a}l").arg("front").ignore();
            p.cmd("LPOP").arg("{a}l").ignore();
            p.cmd("RPOP").arg("{a}l").ignore();
            p.cmd("LSET")
                .arg("{a}l")
                .arg(0)
                .arg(format!("set{r}"))
                .ignore();
            p.cmd("HSET")
                .arg("{a}h")
                .arg("f")
                .arg("1")
                .arg("g")
                .arg(&r)
                .ignore();
            p.cmd("HSET").arg("{a}h").arg("f").arg("1").ignore();
            p.cmd("HDEL").arg("{a}h").arg("g").ignore();
            p.cmd("SADD").arg("{a}s").arg("m").arg(&r).ignore();
            p.cmd("SREM").arg("{a}s").arg("m").ignore();
            p.cmd("ZADD")
                .arg("{a}z")
                .arg(1)
                .arg("m")
                .arg(2)
                .arg(&r)
                .ignore();
            p.cmd("ZADD").arg("{a}z").arg(1).arg("m").ignore();
            p.cmd("ZPOPMIN").arg("{a}z").ignore();
            p.cmd("SET").arg("{a}t").arg("str").ignore();
            p.cmd("DEL").arg("{a}t").ignore();
            p.cmd("HSET").arg("{a}t").arg("f").arg("v").ignore();
            p.cmd("SET").arg("{a}t").arg(format!("again{r}")).ignore();
            p.cmd("EXPIRE").arg("{a}t").arg(1000).ignore();
            p.cmd("PERSIST").arg("{a}t").ignore();
            p.cmd("EXPIRE").arg("{a}h").arg(1000).ignore();
            p.cmd("RPUSH")
                .arg("{a}r")
                .arg("a")
                .arg("b")
                .arg("a")
                .ignore();
            p.cmd("LREM").arg("{a}r").arg(1).arg("a").ignore();
            p.cmd("RENAME").arg("{a}r").arg("{a}moved").ignore();
            p.cmd("DEL").arg("{a}x").ignore();
            p.cmd("XADD").arg("{a}x").arg("*").arg("f").arg(&r).ignore();
            p.cmd("DEL").arg("{a}x").ignore();
            p.cmd("HSET").arg("{a}x").arg("k").arg(&r).ignore();
            p.cmd("DEL").arg("{a}x").ignore();
            p.cmd("XADD").arg("{a}x").arg("*").arg("g").arg(&r).ignore();
            p.cmd("INCR").arg("{a}n").ignore();
            p.cmd("MSET")
                .arg("{a}m")
                .arg(&r)
                .arg("{a}m")
                .arg("last")
                .ignore();
        }
        // Runs of pops at both ends (saved as range deletes), with pushes between.
        p.cmd("RPUSH")
            .arg("{a}q")
            .arg(&["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"])
            .ignore();
        p.cmd("LPOP").arg("{a}q").arg(3).ignore();
        p.cmd("RPOP").arg("{a}q").arg(2).ignore();
        p.cmd("LPOP").arg("{a}q").ignore();
        p.cmd("LPUSH").arg("{a}q").arg("new").ignore();
        p.cmd("RPOP").arg("{a}q").ignore();
        // A list emptied and rebuilt in the same batch reuses its positions.
        p.cmd("RPUSH").arg("{a}e").arg("1").arg("2").ignore();
        p.cmd("DEL").arg("{a}e").ignore();
        p.cmd("LPUSH").arg("{a}e").arg("3").ignore();
        let _: () = p.query_async(&mut c).await.unwrap();
        let before = dump(&mut c).await;
        t.stop().await;
        before
    };
    assert!(before.len() >= 9, "{before:?}");
    let t = TestServer::start(dir.path(), cfg()).await;
    let mut c = t.client().await;
    assert_eq!(dump(&mut c).await, before);
    t.stop().await;
}

/// Lists stored in chunk rows: random pushes and pops at both ends, LSET, LINSERT, LREM and
/// LTRIM, with elements short enough for a chunk row and too long for one, across several
/// batches and restarts; every restart loads exactly the lists that were acknowledged.
#[tokio::test]
async fn lists_in_chunk_rows_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let keys = ["{l}a", "{l}b", "{l}c"];
    let mut before: Option<Vec<Vec<Vec<u8>>>> = None;
    for round in 0..4 {
        let t = TestServer::start(dir.path(), cfg()).await;
        let mut c = t.client().await;
        let mut lists = Vec::new();
        for key in keys {
            lists.push(c.lrange::<_, Vec<Vec<u8>>>(key, 0, -1).await.unwrap());
        }
        if let Some(b) = &before {
            // (Not assert_eq: the lists are long.)
            assert!(lists == *b, "round {round}: the restart loaded other lists");
        }
        for _batch in 0..6 {
            let mut p = pipe();
            for _ in 0..120 {
                let key = keys[next(3) as usize];
                // Mostly short elements; one in eight too long for a chunk row.
                let value = |n: u64| {
                    let len = if n.is_multiple_of(8) {
                        1500 + n as usize
                    } else {
                        1 + n as usize % 9
                    };
                    vec![b'a' + (n % 26) as u8; len]
                };
                match next(10) {
                    0..=2 => p.cmd("RPUSH").arg(key).arg(value(next(1000))),
                    3..=4 => p.cmd("LPUSH").arg(key).arg(value(next(1000))),
                    5 => p.cmd("LPOP").arg(key).arg(1 + next(2)),
                    6 => p.cmd("RPOP").arg(key).arg(1 + next(2)),
                    7 => p
                        .cmd("LSET")
                        .arg(key)
                        .arg(next(40) as i64 - 20)
                        .arg(value(next(1000))),
                    8 => p
                        .cmd("LINSERT")
                        .arg(key)
                        .arg(if next(2) == 0 { "BEFORE" } else { "AFTER" })
                        .arg(value(next(1000)))
                        .arg(value(next(1000))),
                    _ => match next(3) {
                        0 => p.cmd("LREM").arg(key).arg(1).arg(value(next(1000))),
                        1 => p
                            .cmd("LTRIM")
                            .arg(key)
                            .arg(next(3))
                            .arg(-1 - next(3) as i64),
                        _ => p.cmd("RPUSH").arg(key).arg(value(next(1000))).arg("x"),
                    },
                }
                .ignore();
            }
            // LSET of an index past the end is an error, which the pipeline returns.
            let _: redis::RedisResult<()> = p.query_async(&mut c).await;
        }
        let mut now = Vec::new();
        for key in keys {
            now.push(c.lrange::<_, Vec<Vec<u8>>>(key, 0, -1).await.unwrap());
        }
        if round > 0 {
            assert!(
                now.iter().all(|l| l.len() > 64),
                "lists span several chunks"
            );
        }
        before = Some(now);
        t.stop().await;
    }
}
