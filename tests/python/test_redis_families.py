"""redis-py against dotdo: bitmaps, HyperLogLog, GEO and SORT (replies checked byte for byte
against redis-server in tests/redis/corpus.txt; here the client library's view of them)."""

import pytest
import redis


@pytest.fixture
def rb(dotdo):
    host, port = dotdo.addr("redis")
    client = redis.Redis(host=host, port=port)
    yield client
    client.close()


def test_bitmaps(r, rb):
    assert r.setbit("b", 7, 1) == 0
    assert r.setbit("b", 7, 1) == 1
    assert r.getbit("b", 7) == 1
    assert r.getbit("b", 1000) == 0
    assert rb.get("b") == b"\x01"
    r.set("s", "foobar")
    assert r.bitcount("s") == 26
    assert r.bitcount("s", 1, 1) == 6
    assert r.bitcount("s", 5, 30, mode="BIT") == 17
    assert r.bitpos("s", 1) == 1
    assert r.bitpos("s", 0, 2, -1) == 16
    r.set("x", "ab")
    assert r.bitop("AND", "dest", "s", "x") == 6
    assert rb.get("dest")[:2] == bytes([ord("f") & ord("a"), ord("o") & ord("b")])
    assert r.bitop("NOT", "inv", "x") == 2
    assert rb.get("inv") == bytes([0xFF ^ ord("a"), 0xFF ^ ord("b")])
    bf = r.bitfield("f")
    bf.set("i8", 0, 100).get("i8", 0).incrby("i8", 0, 100)
    assert bf.execute() == [0, 100, -56]
    bf = r.bitfield("f", default_overflow="SAT")
    bf.incrby("u8", "#1", 300).overflow("FAIL").incrby("u8", "#1", 1)
    assert bf.execute() == [255, None]
    assert r.bitfield_ro("f", "u8", 8, items=[("i8", 0)]) == [255, -56]
    with pytest.raises(redis.ResponseError, match="bit offset is not an integer or out of range"):
        r.setbit("b", 2**32, 1)
    r.rpush("l", "a")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.getbit("l", 0)


def test_hyperloglog(r, rb):
    assert r.pfadd("h1", *[f"a{i}" for i in range(1000)]) == 1
    assert r.pfadd("h1", "a1") == 0
    n1 = r.pfcount("h1")
    assert abs(n1 - 1000) < 30
    assert rb.get("h1")[:4] == b"HYLL"
    assert r.pfadd("h2", *[f"a{i}" for i in range(500, 3000)]) == 1
    union = r.pfcount("h1", "h2")
    assert abs(union - 3000) < 90
    assert r.pfmerge("m", "h1", "h2") is True
    assert r.pfcount("m") == union
    # A dense sketch (more than ~3000 bytes sparse) keeps the exact same estimate.
    assert len(rb.get("m")) == 12304
    r.set("plain", "hello")
    with pytest.raises(redis.ResponseError, match="not a valid HyperLogLog"):
        r.pfadd("plain", "x")
    assert r.pfcount("missing") == 0


def test_geo(r):
    assert r.geoadd("Sicily", [13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"]) == 2
    assert r.zscore("Sicily", "Palermo") == 3479099956230698
    assert r.geodist("Sicily", "Palermo", "Catania") == pytest.approx(166274.1516)
    assert r.geodist("Sicily", "Palermo", "Catania", unit="km") == pytest.approx(166.2742)
    lon, lat = r.geopos("Sicily", "Palermo", "nobody")[0]
    assert lon == pytest.approx(13.361389, abs=1e-5) and lat == pytest.approx(38.115556, abs=1e-5)
    assert r.geopos("Sicily", "nobody") == [None]
    assert r.geohash("Sicily", "Palermo", "Catania") == ["sqc8b49rny0", "sqdtr74hyu0"]
    near = r.geosearch("Sicily", longitude=15, latitude=37, radius=200, unit="km", withdist=True, sort="ASC")
    assert near == [["Catania", 56.4413], ["Palermo", 190.4424]]
    assert r.georadiusbymember("Sicily", "Palermo", 100, unit="km") == ["Palermo"]
    assert r.geosearchstore("near", "Sicily", longitude=15, latitude=37, radius=100, unit="km") == 1
    assert r.zrange("near", 0, -1) == ["Catania"]
    assert r.georadius("Sicily", 15, 37, 200, unit="km", store_dist="dists") == 2
    assert r.zscore("dists", "Catania") == pytest.approx(56.4413, abs=1e-3)
    assert r.geoadd("Sicily", [13.5, 38.2, "Palermo"], xx=True, ch=True) == 1
    with pytest.raises(redis.ResponseError, match="invalid longitude,latitude pair"):
        r.geoadd("Sicily", [200, 10, "bad"])


def test_sort(r):
    r.rpush("ids", 3, 1, 2)
    r.mset({"w_1": 30, "w_2": 10, "w_3": 20, "name_1": "one", "name_2": "two", "name_3": "three"})
    r.hset("obj_1", "age", 9)
    r.hset("obj_2", "age", 7)
    assert r.sort("ids") == ["1", "2", "3"]
    assert r.sort("ids", desc=True, start=0, num=2) == ["3", "2"]
    assert r.sort("ids", by="w_*") == ["2", "3", "1"]
    assert r.sort("ids", by="w_*", get=["#", "name_*"], groups=True) == [
        ("2", "two"),
        ("3", "three"),
        ("1", "one"),
    ]
    assert r.sort("ids", by="obj_*->age", get="obj_*->age") == [None, "7", "9"]
    assert r.sort("ids", by="nosort") == ["3", "1", "2"]
    assert r.sort("ids", by="w_*", store="out") == 3
    assert r.lrange("out", 0, -1) == ["2", "3", "1"]
    assert r.sort_ro("ids", by="w_*", desc=True) == ["1", "3", "2"]
    r.rpush("words", "b", "c", "a")
    assert r.sort("words", alpha=True) == ["a", "b", "c"]
    with pytest.raises(redis.ResponseError, match="can't be converted into double"):
        r.sort("words")


def test_multi_key_commands_across_shards_and_scripts(r):
    # Keys in different slots (and shards): these work as on a standalone redis-server.
    r.set("alpha", "ab")
    r.set("omega", "b")
    assert r.bitop("OR", "zulu", "alpha", "omega") == 2
    r.pfadd("hll:a", "x", "y")
    r.pfadd("hll:b", "y", "z")
    assert r.pfcount("hll:a", "hll:b") == 3
    assert r.pfmerge("hll:c", "hll:a", "hll:b") is True
    pipe = r.pipeline(transaction=True)
    pipe.setbit("{t}b", 3, 1).bitcount("{t}b").pfadd("{t}h", "a").pfcount("{t}h")
    pipe.geoadd("{t}g", [13.361389, 38.115556, "Palermo"]).rpush("{t}l", 2, 1).sort("{t}l")
    assert pipe.execute() == [0, 1, 1, 1, 1, 2, ["1", "2"]]
    assert r.eval("return redis.call('pfcount', KEYS[1], KEYS[2])", 2, "{t}h", "{t}h2") == 1
    assert r.eval("return redis.call('bitpos', KEYS[1], 1)", 1, "{t}b") == 3
    with pytest.raises(redis.ResponseError, match="hash to the same slot"):
        r.eval("return redis.call('pfmerge', KEYS[1], KEYS[2])", 2, "hll:a", "hll:b")


def test_object_idletime_counts_from_the_last_access(r):
    import time

    r.set("cold", "v")
    r.set("warm", "v")
    time.sleep(2.1)
    # TYPE, TTL, EXISTS and OBJECT itself do not count as an access (as in Redis).
    r.type("cold")
    r.ttl("cold")
    r.exists("cold")
    assert r.object("idletime", "cold") >= 2
    pipe = r.pipeline(transaction=False)
    pipe.get("warm").object("idletime", "warm").object("idletime", "cold")
    _, warm, cold = pipe.execute()
    assert warm < 2 <= cold
    assert r.object("idletime", "missing") is None
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is not selected"):
        r.object("freq", "cold")


def test_a_script_cannot_reach_keys_on_other_shards_through_patterns(r):
    # A list key and a BY key on another shard object (4 shards: 4096 slots each).
    def quarter(key):
        return r.execute_command("CLUSTER", "KEYSLOT", key) // 4096

    other = next(f"w{i}_" for i in range(1000) if quarter(f"w{i}_1") != quarter("{t}l"))
    r.rpush("{t}l", 1)
    r.set(f"{other}1", 5)
    assert r.sort("{t}l", by=f"{other}*", get=f"{other}*") == ["5"]
    with pytest.raises(redis.ResponseError, match="non local key"):
        r.eval(f"return redis.call('sort', KEYS[1], 'GET', '{other}*')", 1, "{t}l")


def test_slowlog_records_commands_as_redis_py_reads_them(r, dotdo):
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        r.client_setname("slowpoke")
        r.set("a", "b")
        r.execute_command("ACL", "SETUSER", "slowuser", ">secret")
        entries = r.slowlog_get(3)
        assert [e["command"].decode() for e in entries] == [
            "ACL SETUSER (redacted) (redacted)",
            "SET a b",
            "CLIENT SETNAME slowpoke",
        ]
        ids = [e["id"] for e in entries]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
        host, _ = dotdo.addr("redis")
        for e in entries:
            assert e["client_name"] == b"slowpoke"
            assert e["client_address"].decode().startswith(f"{host}:")
            assert e["duration"] >= 0 and e["start_time"] > 1_700_000_000
        assert r.slowlog_len() >= 5
        r.config_set("slowlog-max-len", 3)
        assert r.slowlog_len() == 3
        r.config_set("slowlog-log-slower-than", -1)
        r.slowlog_reset()
        r.set("a", "c")
        assert r.slowlog_len() == 0
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
        r.config_set("slowlog-max-len", 128)
        r.execute_command("ACL", "DELUSER", "slowuser")


def _answering_client(dotdo):
    """A new connection that answers: connections are spread over event loops, and the one
    running a busy script serves nothing until the script ends."""
    host, port = dotdo.addr("redis")
    for _ in range(8):
        c = redis.Redis(host=host, port=port, socket_timeout=1, decode_responses=True)
        try:
            c.ping()
            return c
        except redis.ResponseError as e:
            # Answered: while a script is busy, Redis answers everything but SCRIPT KILL so.
            assert str(e).startswith("BUSY Redis is busy running a script")
            return c
        except redis.TimeoutError:
            c.close()
    raise AssertionError("no connection answered")


def test_script_kill_stops_a_busy_script_that_has_not_written(r, dotdo):
    import threading
    import time

    host, port = dotdo.addr("redis")
    r.config_set("busy-reply-threshold", 100)
    try:
        with pytest.raises(redis.ResponseError, match="NOTBUSY"):
            r.script_kill()
        outcome = {}

        def run(script, *keys):
            c = redis.Redis(host=host, port=port, decode_responses=True)
            try:
                outcome["reply"] = c.eval(script, len(keys), *keys)
            except redis.ResponseError as e:
                outcome["error"] = str(e)
            finally:
                c.close()

        # A runaway loop that has written nothing: SCRIPT KILL ends it, as in Redis.
        t = threading.Thread(target=run, args=("local i = 0 while true do i = i + 1 end",))
        t.start()
        time.sleep(0.5)
        killer = _answering_client(dotdo)
        assert killer.script_kill() is True
        t.join(10)
        assert not t.is_alive()
        assert outcome["error"].startswith("Script killed by user with SCRIPT KILL...")
        assert killer.ping() and r.ping()
        killer.close()

        # One that wrote first cannot be killed (its write would be half a script); it ends
        # by itself and its write stays.
        outcome.clear()
        busy_writer = (
            "redis.call('set', KEYS[1], 'v') "
            "local t = redis.call('time') "
            "while true do local n = redis.call('time') "
            "if tonumber(n[1]) - tonumber(t[1]) >= 2 then break end end return 1"
        )
        t = threading.Thread(target=run, args=(busy_writer, "written"))
        t.start()
        time.sleep(0.5)
        killer = _answering_client(dotdo)
        with pytest.raises(redis.ResponseError, match="BUSY Redis is busy running a script"):
            killer.get("written")
        with pytest.raises(redis.ResponseError, match="UNKILLABLE"):
            killer.script_kill()
        t.join(10)
        assert outcome == {"reply": 1}
        assert r.get("written") == "v"
        killer.close()
    finally:
        r.config_set("busy-reply-threshold", 5000)


def test_read_only_scripts_refuse_writes(r):
    r.set("ro", "1")
    assert r.eval_ro("return redis.call('get', KEYS[1])", 1, "ro") == "1"
    with pytest.raises(redis.ResponseError, match="Write commands are not allowed from read-only scripts"):
        r.eval_ro("return redis.call('incr', KEYS[1])", 1, "ro")
    sha = r.script_load("return redis.call('get', KEYS[1])")
    assert r.evalsha_ro(sha, 1, "ro") == "1"
    assert r.get("ro") == "1"


def _fill(c):
    """One value of every type, in the shapes Redis encodes differently (small and big)."""
    c.set("str", "hello")
    c.set("int", 12345)
    c.set("long", "xy" * 5000)
    c.rpush("list", *[f"e{i}" for i in range(5)], b"\x00\xff", "")
    c.rpush("biglist", *[f"{i}" * (i % 7 + 1) for i in range(3000)])
    c.sadd("ints", *range(100))
    c.sadd("set", *[f"m{i}" for i in range(300)])
    c.hset("hash", mapping={"f": "v", "n": 1, "": "empty"})
    c.hset("bighash", mapping={f"f{i}": "v" * i for i in range(300)})
    c.zadd("zset", {"a": 1.5, "b": -2, "c": float("inf"), "d": 0})
    c.zadd("bigzset", {f"m{i}": i / 3 for i in range(300)})
    for i in range(1, 6):
        c.xadd("stream", {"f": f"v{i}", "n": i}, id=f"{i}-1")
    c.xgroup_create("stream", "g", "0")
    c.xreadgroup("g", "alice", {"stream": ">"}, count=2)
    c.xreadgroup("g", "bob", {"stream": ">"}, count=1)
    c.xack("stream", "g", "1-1")


def _view(c, key):
    t = c.type(key).decode()
    if t == "string":
        return c.get(key)
    if t == "list":
        return c.lrange(key, 0, -1)
    if t == "set":
        return sorted(c.smembers(key))
    if t == "hash":
        return sorted(c.hgetall(key).items())
    if t == "zset":
        return c.zrange(key, 0, -1, withscores=True)
    if t == "stream":
        p = c.xpending(key, "g")
        groups = [(g["name"], g["pending"], g["last-delivered-id"]) for g in c.xinfo_groups(key)]
        consumers = sorted((x["name"], x["pending"]) for x in c.xinfo_consumers(key, "g"))
        return (c.xrange(key), p["pending"], p["min"], p["max"], groups, consumers)
    raise AssertionError(t)


KEYS = ["str", "int", "long", "list", "biglist", "ints", "set", "hash", "bighash", "zset",
        "bigzset", "stream"]


def test_dump_payloads_restore_both_ways_with_redis_server(r, real_redis):
    rb = redis.Redis(host=r.connection_pool.connection_kwargs["host"],
                     port=r.connection_pool.connection_kwargs["port"])
    real_redis.flushall()
    _fill(rb)
    _fill(real_redis)
    for key in KEYS:
        want = _view(real_redis, key)
        assert _view(rb, key) == want, key
        # dotdo's payload, restored by redis-server ...
        real_redis.restore(f"from-dotdo:{key}", 0, rb.dump(key))
        assert _view(real_redis, f"from-dotdo:{key}") == want, key
        # ... and redis-server's, restored by dotdo, with a TTL.
        rb.restore(f"from-redis:{key}", 60_000, real_redis.dump(key))
        assert _view(rb, f"from-redis:{key}") == want, key
        assert 0 < rb.pttl(f"from-redis:{key}") <= 60_000
    with pytest.raises(redis.ResponseError, match="BUSYKEY"):
        rb.restore("str", 0, real_redis.dump("str"))
    with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
        rb.restore("other", 0, real_redis.dump("str")[:-1] + b"\x00", replace=True)


def test_redis_server_migrates_keys_into_dotdo(r, real_redis):
    """MIGRATE: redis-server itself connects to dotdo and sends RESTORE ... REPLACE."""
    host = r.connection_pool.connection_kwargs["host"]
    port = r.connection_pool.connection_kwargs["port"]
    real_redis.flushall()
    _fill(real_redis)
    real_redis.migrate(host, port, KEYS, 0, 5000, copy=True, replace=True)
    rb = redis.Redis(host=host, port=port)
    for key in KEYS:
        assert _view(rb, key) == _view(real_redis, key), key
    # Without COPY the keys leave redis-server once dotdo has them.
    real_redis.set("moving", "v", px=90_000)
    real_redis.migrate(host, port, "moving", 0, 5000)
    assert not real_redis.exists("moving")
    assert rb.get("moving") == b"v" and 0 < rb.pttl("moving") <= 90_000
