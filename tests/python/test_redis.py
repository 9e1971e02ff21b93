"""redis-py against dotdo's Redis front-end: pipelines, transactions, pub/sub, RESP3, blocking pops."""

import threading
import time

import pytest
import redis


def test_strings_hashes_lists_sets_zsets(r):
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.set("k", "w", nx=True) is None
    assert r.incrby("n", 5) == 5
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hgetall("h") == {"a": "1", "b": "2"}
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lrange("l", 0, -1) == ["a", "b", "c"]
    assert r.sadd("s", "x", "y") == 2
    assert r.smembers("s") == {"x", "y"}
    assert r.zadd("z", {"a": 1, "b": 2.5}) == 2
    assert r.zrange("z", 0, -1, withscores=True) == [("a", 1.0), ("b", 2.5)]
    assert r.zrangebyscore("z", "(1", "+inf") == ["b"]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("l")
    assert r.ping() is True


def test_pipelines_and_transactions(r):
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"p:{i}", i)
    pipe.dbsize()
    assert pipe.execute()[-1] == 2000

    pipe = r.pipeline(transaction=True)
    pipe.incr("counter").incr("counter").get("counter")
    assert pipe.execute() == [1, 2, "2"]

    # WATCH: a concurrent change makes EXEC fail with WatchError.
    with r.pipeline() as p:
        p.watch("counter")
        r.incr("counter")
        p.multi()
        p.incr("counter")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("counter") == "3"

    def add_one(p):
        value = int(p.get("counter"))
        p.multi()
        p.set("counter", value + 1)

    r.transaction(add_one, "counter")
    assert r.get("counter") == "4"


def test_expiry(r):
    r.set("t", "v", px=50)
    assert 0 < r.pttl("t") <= 50
    time.sleep(0.2)
    assert r.get("t") is None
    assert r.ttl("t") == -2


def test_pubsub_channels_and_patterns(r, dotdo):
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    for kind in ("subscribe", "psubscribe"):
        msg = p.get_message(timeout=5)
        assert msg["type"] == kind
    assert r.pubsub_numsub("news") == [("news", 1)]
    assert r.pubsub_numpat() == 1
    assert r.publish("news", "hello") == 2
    got = []
    deadline = time.time() + 10
    while len(got) < 2 and time.time() < deadline:
        m = p.get_message(timeout=1)
        if m:
            got.append((m["type"], m["data"]))
    assert sorted(got) == [("message", "hello"), ("pmessage", "hello")]
    p.close()


def test_resp3_types(r3):
    r3.hset("h", "f", "v")
    assert r3.hgetall("h") == {"f": "v"}
    r3.zadd("z", {"m": 1.5})
    assert r3.zscore("z", "m") == 1.5
    assert r3.get("missing") is None
    assert r3.connection_pool.connection_kwargs.get("protocol") == 3


def test_resp3_pubsub_push_messages(r3):
    p = r3.pubsub()
    p.subscribe("ch")
    assert p.get_message(timeout=5)["type"] == "subscribe"
    # A RESP3 client may run ordinary commands on a subscribed connection.
    assert r3.publish("ch", "pushed") == 1
    deadline = time.time() + 10
    msg = None
    while msg is None and time.time() < deadline:
        msg = p.get_message(timeout=1)
    assert msg["type"] == "message" and msg["data"] == "pushed"
    p.close()


def test_blocking_pops_are_woken_by_other_clients(r, dotdo):
    host, port = dotdo.addr("redis")
    result = {}

    def waiter():
        c = redis.Redis(host=host, port=port, decode_responses=True)
        result["blpop"] = c.blpop(["q1", "q2"], timeout=0)
        result["bzpopmin"] = c.bzpopmin("zq", timeout=0)
        c.close()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    r.rpush("q2", "job")
    time.sleep(0.3)
    r.zadd("zq", {"m": 2})
    t.join(20)
    assert not t.is_alive()
    assert result["blpop"] == ("q2", "job")
    assert result["bzpopmin"] == ("zq", "m", 2.0)
    assert r.blpop("empty", timeout=0.1) is None
    assert r.blmove("empty", "dst", 0.1) is None


def test_scan_iter_and_client_commands(r):
    for i in range(250):
        r.set(f"user:{i}", i)
    r.set("other", 1)
    assert len(set(r.scan_iter(match="user:*", count=20))) == 250
    r.hset("big", mapping={f"f{i}": i for i in range(300)})
    assert len(dict(r.hscan_iter("big", count=25))) == 300
    assert r.client_setname("py") is True
    assert r.client_getname() == "py"
    assert any(c.get("name") == "py" for c in r.client_list())
    assert r.info("server")["redis_version"].startswith("7.")
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.time()[0] > 0


def test_lua_scripts(r):
    incr_and_log = r.register_script(
        "local v = redis.call('incrby', KEYS[1], ARGV[1]) "
        "redis.call('rpush', KEYS[2], v) return v"
    )
    assert incr_and_log(keys=["{q}:n", "{q}:log"], args=[5]) == 5
    assert incr_and_log(keys=["{q}:n", "{q}:log"], args=[2]) == 7
    assert r.lrange("{q}:log", 0, -1) == ["5", "7"]
    # EVALSHA after SCRIPT FLUSH reloads transparently (NOSCRIPT, then EVAL).
    r.script_flush()
    assert incr_and_log(keys=["{q}:n", "{q}:log"], args=[1]) == 8
    with pytest.raises(redis.ResponseError, match="hash to the same slot"):
        r.eval("return 1", 2, "a", "b")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.eval("return redis.call('get', KEYS[1])", 1, "{q}:log")
    assert r.eval("return {1, 'two', {ok='three'}}", 0) == [1, "two", "three"]


def test_a_blocked_client_that_leaves_takes_nothing(r, dotdo):
    host, port = dotdo.addr("redis")
    c = redis.Redis(host=host, port=port, socket_timeout=0.3)
    with pytest.raises(redis.TimeoutError):
        c.blpop("jobs", timeout=0)
    c.close()  # the client gives up and disconnects while blocked
    time.sleep(0.3)
    r.rpush("jobs", "j1")
    time.sleep(0.3)
    assert r.lrange("jobs", 0, -1) == ["j1"]
    assert r.info("clients")["blocked_clients"] == 0


def test_streams_read_and_block_woken_by_another_client(r, dotdo):
    first = r.xadd("events", {"n": "1"})
    assert r.xlen("events") == 1
    assert r.xrange("events") == [(first, {"n": "1"})]
    got = {}

    def reader():
        host, port = dotdo.addr("redis")
        c = redis.Redis(host=host, port=port, decode_responses=True)
        got["xread"] = c.xread({"events": "$"}, block=0)
        c.close()

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)
    second = r.xadd("events", {"n": "2"}, maxlen=1000, approximate=True)
    t.join(10)
    assert not t.is_alive()
    assert got["xread"] == [["events", [(second, {"n": "2"})]]]
    # A block that runs out answers None.
    assert not r.xread({"events": "$"}, block=50)
    assert r.xrevrange("events", count=1) == [(second, {"n": "2"})]
    info = r.xinfo_stream("events")
    assert info["length"] == 2 and info["last-entry"] == (second, {"n": "2"})


def test_consumer_groups_ack_pending_claim(r, dotdo):
    r.xgroup_create("jobs", "workers", id="0", mkstream=True)
    ids = [r.xadd("jobs", {"job": str(i)}) for i in range(3)]
    got = {}

    def worker():
        host, port = dotdo.addr("redis")
        c = redis.Redis(host=host, port=port, decode_responses=True)
        # Drain what is there, then block for the next job.
        got["first"] = c.xreadgroup("workers", "w1", {"jobs": ">"})
        got["blocked"] = c.xreadgroup("workers", "w1", {"jobs": ">"}, block=0)
        c.close()

    t = threading.Thread(target=worker)
    t.start()
    time.sleep(0.3)
    late = r.xadd("jobs", {"job": "late"})
    t.join(10)
    assert not t.is_alive()
    assert [i for i, _ in got["first"][0][1]] == ids
    assert got["blocked"] == [["jobs", [(late, {"job": "late"})]]]

    assert r.xack("jobs", "workers", ids[0]) == 1
    summary = r.xpending("jobs", "workers")
    assert summary["pending"] == 3
    assert summary["min"] == ids[1] and summary["max"] == late
    assert summary["consumers"] == [{"name": "w1", "pending": 3}]
    detail = r.xpending_range("jobs", "workers", min="-", max="+", count=10)
    assert [d["message_id"] for d in detail] == [ids[1], ids[2], late]
    assert all(d["consumer"] == "w1" and d["times_delivered"] == 1 for d in detail)

    # Another worker takes over an entry, then everything left idle.
    claimed = r.xclaim("jobs", "workers", "w2", min_idle_time=0, message_ids=[ids[1]])
    assert claimed == [(ids[1], {"job": "1"})]
    cursor, entries, deleted = r.xautoclaim("jobs", "workers", "w2", min_idle_time=0, count=10)
    assert cursor == "0-0" and deleted == []
    assert [i for i, _ in entries] == [ids[1], ids[2], late]
    consumers = {c["name"]: c["pending"] for c in r.xinfo_consumers("jobs", "workers")}
    assert consumers == {"w1": 0, "w2": 3}
    assert r.xack("jobs", "workers", ids[1], ids[2], late) == 3
    groups = r.xinfo_groups("jobs")
    assert groups[0]["pending"] == 0 and groups[0]["last-delivered-id"] == late
    assert groups[0]["lag"] == 0


def test_blmpop_and_bzmpop_are_woken_by_other_clients(r, dotdo):
    host, port = dotdo.addr("redis")
    result = {}

    def waiter():
        c = redis.Redis(host=host, port=port, decode_responses=True)
        result["blmpop"] = c.execute_command("BLMPOP", 0, 2, "q1", "q2", "RIGHT", "COUNT", 5)
        result["bzmpop"] = c.execute_command("BZMPOP", 0, 1, "zq", "MAX")
        c.close()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    r.rpush("q2", "a", "b")
    time.sleep(0.3)
    r.zadd("zq", {"m": 2, "n": 3})
    t.join(20)
    assert not t.is_alive()
    assert result["blmpop"] == ["q2", ["b", "a"]]
    key, popped = result["bzmpop"]
    assert key == "zq" and [(m, float(s)) for m, s in popped] == [("n", 3.0)]
    assert r.execute_command("BLMPOP", 0.05, 1, "q1", "LEFT") is None
    assert r.zrangestore("copy", "zq", 0, -1) == 1
    assert r.zrange("copy", 0, -1, withscores=True) == [("m", 2.0)]


def _drain(p, want, timeout=10):
    """Pattern messages from `p` until `want` arrived (or the timeout)."""
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        m = p.get_message(timeout=0.5)
        if m and m["type"] == "pmessage":
            got.append((m["channel"], m["data"]))
    return got


def test_keyspace_notifications(r):
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}
    with pytest.raises(redis.ResponseError, match="Invalid event class character"):
        r.config_set("notify-keyspace-events", "KEq")
    r.config_set("notify-keyspace-events", "KEA")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
    p = r.pubsub()
    p.psubscribe("__keyevent@0__:*")
    assert p.get_message(timeout=5)["type"] == "psubscribe"
    r.set("k", "v", ex=100)
    r.incrby("n", 5)
    r.rename("k", "k2")
    r.delete("k2")
    r.lpush("l", "a")
    r.rpop("l")
    r.hset("h", "f", "v")
    r.zadd("z", {"m": 1})
    r.xadd("x", {"f": "v"})
    r.set("e", "v", px=1)
    expected = [
        ("__keyevent@0__:set", "k"),
        ("__keyevent@0__:expire", "k"),
        ("__keyevent@0__:incrby", "n"),
        ("__keyevent@0__:rename_from", "k"),
        ("__keyevent@0__:rename_to", "k2"),
        ("__keyevent@0__:del", "k2"),
        ("__keyevent@0__:lpush", "l"),
        ("__keyevent@0__:rpop", "l"),
        ("__keyevent@0__:del", "l"),
        ("__keyevent@0__:hset", "h"),
        ("__keyevent@0__:zadd", "z"),
        ("__keyevent@0__:xadd", "x"),
        ("__keyevent@0__:set", "e"),
        ("__keyevent@0__:expire", "e"),
        # By the active sweep, or by this GET if it comes first.
        ("__keyevent@0__:expired", "e"),
    ]
    time.sleep(0.2)
    r.get("e")
    assert _drain(p, len(expected)) == expected
    # Key-space channels, and the `n` class (not part of `A`).
    r.config_set("notify-keyspace-events", "Kn$")
    p.psubscribe("__keyspace@0__:*")
    assert p.get_message(timeout=5)["type"] == "psubscribe"
    r.set("fresh", "1")
    r.set("fresh", "2")
    assert _drain(p, 3) == [
        ("__keyspace@0__:fresh", "new"),
        ("__keyspace@0__:fresh", "set"),
        ("__keyspace@0__:fresh", "set"),
    ]
    r.config_set("notify-keyspace-events", "")
    r.set("quiet", "1")
    assert _drain(p, 1, timeout=1) == []
    p.close()


def test_monitor_streams_other_clients_commands(r, dotdo):
    host, port = dotdo.addr("redis")
    other = redis.Redis(host=host, port=port, decode_responses=True)
    with r.monitor() as m:
        other.set("k", 'a b"c')
        other.execute_command("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "x")
        other.select(2)
        other.incr("n")
        other.eval("return redis.call('set', KEYS[1], 'x')", 1, "lk")
        pipe = other.pipeline(transaction=True)
        pipe.set("a", "1")
        pipe.execute()
        seen = []
        while not seen or seen[-1]["command"] != "EXEC":
            c = m.next_command()
            # redis-py's own connection set-up (HELLO, CLIENT SETINFO) comes and goes.
            if c["command"] != "HELLO 3" and not c["command"].startswith("CLIENT"):
                seen.append(c)
    cmds = [c["command"] for c in seen]
    assert cmds == [
        'SET k a b"c',
        "HELLO 2 AUTH (redacted) (redacted) SETNAME x",
        "SELECT 2",
        "INCRBY n 1",
        "EVAL return redis.call('set', KEYS[1], 'x') 1 lk",
        "set lk x",
        "MULTI",
        "SET a 1",
        "EXEC",
    ], cmds
    assert [c["db"] for c in seen] == [0, 0, 2, 2, 2, 2, 2, 2, 2]
    assert seen[5]["client_type"] == "lua"
    assert seen[4]["client_address"] == "127.0.0.1"
    other.close()


def test_acl_users_and_noperm(r, dotdo):
    host, port = dotdo.addr("redis")
    assert r.acl_whoami() == "default"
    assert r.acl_users() == ["default"]
    assert r.acl_list() == ["user default on nopass ~* &* +@all"]
    assert "string" in r.acl_cat()
    assert {"get", "set"} <= set(r.acl_cat("string"))
    assert len(r.acl_genpass()) == 64 and len(r.acl_genpass(5)) == 2
    r.acl_setuser("alice", enabled=True, passwords=["+pw"], keys=["app:*"], commands=["+get", "+set", "+ping"])
    assert r.acl_users() == ["alice", "default"]
    alice = redis.Redis(host=host, port=port, username="alice", password="pw", decode_responses=True)
    assert alice.set("app:1", "x") is True
    assert alice.get("app:1") == "x"
    with pytest.raises(redis.exceptions.NoPermissionError, match="run the 'del' command"):
        alice.delete("app:1")
    with pytest.raises(redis.exceptions.NoPermissionError, match="one of the keys"):
        alice.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError, match="'acl\\|whoami'"):
        alice.acl_whoami()
    # A change applies to connections already logged in.
    r.acl_setuser("alice", commands=["+del"])
    assert alice.delete("app:1") == 1
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=host, port=port, username="alice", password="wrong").ping()
    # Commands a script runs are checked against the caller's permissions.
    r.acl_setuser("alice", commands=["+eval"])
    with pytest.raises(redis.exceptions.NoPermissionError, match="one of the keys"):
        alice.eval("return redis.call('get', 'other')", 0)
    assert alice.eval("return redis.call('get', 'app:1')", 0) is None
    # EXEC checks queued commands again against the rules of the moment.
    r.acl_setuser("alice", commands=["+multi", "+exec"])
    c = alice.connection_pool.get_connection()
    c.send_command("MULTI")
    assert c.read_response() == "OK"
    c.send_command("GET", "app:1")
    assert c.read_response() == "QUEUED"
    r.acl_setuser("alice", commands=["-get"])
    c.send_command("EXEC")
    (res,) = c.read_response()
    assert isinstance(res, redis.exceptions.NoPermissionError)
    assert "ACLs rules changed" in str(res)
    alice.connection_pool.release(c)
    r.acl_setuser("alice", commands=["+get"])
    assert r.acl_dryrun("alice", "get", "other") == "This user has no permissions to access the 'other' key"
    assert any(c["user"] == "alice" for c in r.client_list())
    assert r.acl_deluser("alice") == 1
    deadline = time.time() + 10
    while any(c["user"] == "alice" for c in r.client_list()):
        assert time.time() < deadline, "alice's connection is still open"
        time.sleep(0.05)
    # Deleting a user closes its connections.
    alice.connection_pool.connection_kwargs["retry"] = None
    with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.AuthenticationError)):
        alice.ping()
    alice.close()


def test_client_pause_holds_writes_not_reads(r, dotdo):
    host, port = dotdo.addr("redis")
    other = redis.Redis(host=host, port=port, decode_responses=True)
    r.set("k", "v")
    assert r.client_pause(400, all=False) is True
    start = time.time()
    assert other.get("k") == "v"
    assert time.time() - start < 0.3
    assert other.set("k", "v2") is True
    assert time.time() - start >= 0.3
    # ALL holds reads too, until CLIENT UNPAUSE.
    assert r.client_pause(60_000) is True
    got = []
    t = threading.Thread(target=lambda: got.append(other.get("k")))
    t.start()
    time.sleep(0.3)
    assert got == []
    assert r.client_unpause() in (True, "OK")
    t.join(10)
    assert got == ["v2"]
    # WAIT: no replicas ever acknowledge.
    start = time.time()
    assert r.wait(1, 200) == 0
    assert time.time() - start >= 0.15
    assert r.wait(0, 0) == 0
    other.close()


def test_a_subscriber_that_does_not_read_is_closed_at_its_output_buffer_limit(r, dotdo):
    # Redis's defaults, then a smaller hard limit for the test.
    assert r.config_get("client-output-buffer-limit") == {
        "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    }
    r.config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    host, port = dotdo.addr("redis")
    # A bare redis-py connection: a PubSub object would reconnect and subscribe again.
    slow = redis.Connection(host=host, port=port, socket_timeout=10, protocol=2)
    try:
        slow.send_command("SUBSCRIBE", "firehose")
        assert slow.read_response() == [b"subscribe", b"firehose", 1]
        payload = b"x" * 65536
        # The subscriber reads nothing: once the kernel's socket buffers are full the
        # messages queue in the gateway, up to the limit, and then the client is dropped.
        counts = [r.publish("firehose", payload) for _ in range(50)]
        assert counts[0] == 1
        for _ in range(4000):
            if r.publish("firehose", payload) == 0:
                break
        else:
            pytest.fail("a subscriber that reads nothing was never disconnected")
        deadline = time.time() + 10
        while r.pubsub_numsub("firehose") != [("firehose", 0)] and time.time() < deadline:
            time.sleep(0.05)
        assert r.pubsub_numsub("firehose") == [("firehose", 0)]
        # What reached the socket before the close can still be read; then the server has gone.
        with pytest.raises(redis.ConnectionError):
            while True:
                assert slow.read_response()[0] == b"message"
        # Everyone else is served as before.
        assert r.ping() is True
    finally:
        r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
        slow.disconnect()


def test_a_subscriber_past_the_soft_limit_for_its_seconds_is_closed(r, dotdo):
    r.config_set("client-output-buffer-limit", "pubsub 0 256kb 1")
    host, port = dotdo.addr("redis")
    slow = redis.Redis(host=host, port=port)
    try:
        p = slow.pubsub()
        p.subscribe("drip")
        assert p.get_message(timeout=5)["type"] == "subscribe"
        payload = b"y" * 65536
        start = time.time()
        closed_after = None
        while time.time() - start < 30:
            if r.publish("drip", payload) == 0:
                closed_after = time.time() - start
                break
            time.sleep(0.01)
        assert closed_after is not None, "never closed past the soft limit"
        # Not before the queue had stayed past the soft limit for a second.
        assert closed_after >= 1.0
    finally:
        r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
        slow.close()


def test_a_keyspace_event_is_heard_only_once_its_change_is_durable(dotdo_factory):
    d = dotdo_factory()
    host, port = d.addr("redis")
    admin = redis.Redis(host=host, port=port, decode_responses=True)
    admin.config_set("notify-keyspace-events", "E$")
    listener = redis.Redis(host=host, port=port, decode_responses=True)
    p = listener.pubsub()
    p.psubscribe("__keyevent@0__:set")
    assert p.get_message(timeout=5)["type"] == "psubscribe"
    heard = []
    stop = threading.Event()

    def write():
        w = redis.Redis(host=host, port=port)
        i = 0
        try:
            while not stop.is_set():
                pipe = w.pipeline(transaction=False)
                for _ in range(200):
                    pipe.set(f"k:{i}", i)
                    i += 1
                pipe.execute()
        except redis.ConnectionError:
            pass

    def listen():
        try:
            while True:
                m = p.get_message(timeout=1)
                if m and m["type"] == "pmessage":
                    heard.append(m["data"])
        except (redis.ConnectionError, ValueError, OSError):
            pass

    writer = threading.Thread(target=write, daemon=True)
    reader = threading.Thread(target=listen, daemon=True)
    writer.start()
    reader.start()
    # Kill it mid-stream, once events are flowing (however slow the backend).
    deadline = time.time() + 30
    while len(heard) < 20000 and time.time() < deadline:
        time.sleep(0.05)
    d.kill()
    stop.set()
    writer.join(10)
    reader.join(10)
    assert len(heard) > 100
    d._spawn()
    host, port = d.addr("redis")
    after = redis.Redis(host=host, port=port, decode_responses=True)
    missing = []
    for i in range(0, len(heard), 1000):
        chunk = heard[i : i + 1000]
        pipe = after.pipeline(transaction=False)
        for k in chunk:
            pipe.exists(k)
        missing += [k for k, n in zip(chunk, pipe.execute()) if n == 0]
    assert missing == [], f"{len(missing)} of {len(heard)} keys heard of were lost: {missing[:5]}"
    after.close()


def _replies_and_pushes_reach_a_blocked_client(r, host, port):
    c = redis.Connection(host=host, port=port, protocol=3, socket_timeout=10)
    try:
        # A pipeline whose last command blocks: the replies before it arrive while it waits.
        c.send_packed_command(c.pack_commands([("SET", "bk", "1"), ("BLPOP", "bl", "5")]))
        start = time.time()
        assert c.read_response(timeout=2) == b"OK"
        assert time.time() - start < 2
        r.lpush("bl", "x")
        assert c.read_response() == [b"bl", b"x"]
        # A RESP3 subscriber may block; its messages reach it while it waits.
        c.send_command("SUBSCRIBE", "bch")
        assert c.read_response(push_request=True) == [b"subscribe", b"bch", 1]
        c.send_command("BLPOP", "bl", "5")
        time.sleep(0.2)
        assert r.publish("bch", "hello") == 1
        assert c.read_response(push_request=True, timeout=3) == [b"message", b"bch", b"hello"]
        r.lpush("bl", "y")
        assert c.read_response() == [b"bl", b"y"]
    finally:
        c.disconnect()


def test_replies_and_pushes_reach_a_blocked_client_at_once(r, dotdo):
    host, port = dotdo.addr("redis")
    _replies_and_pushes_reach_a_blocked_client(r, host, port)


def _client_list_shows_each_connections_state(r, host, port):
    sub = redis.Redis(host=host, port=port, protocol=3)
    p = sub.pubsub()
    p.subscribe("c1", "c2")
    p.psubscribe("p*")
    for _ in range(3):
        assert p.get_message(timeout=5) is not None
    plain = redis.Redis(host=host, port=port, protocol=2, decode_responses=True)
    me = plain.client_info()
    assert (me["flags"], int(me["multi"]), str(me["resp"])) == ("N", -1, "2")
    assert me["laddr"] == f"{host}:{port}"
    subscriber = [c for c in plain.client_list() if int(c["sub"]) == 2]
    assert len(subscriber) == 1
    s = subscriber[0]
    assert (int(s["psub"]), s["flags"], str(s["resp"]), s["cmd"]) == (1, "P", "3", "psubscribe")
    # Another connection's MULTI shows after the batch that opened it.
    other = redis.Redis(host=host, port=port, protocol=2)
    conn = other.connection_pool.get_connection()
    conn.send_command("MULTI")
    assert conn.read_response() == b"OK"
    conn.send_command("SET", "x", "1")
    assert conn.read_response() == b"QUEUED"
    queued = [c for c in plain.client_list() if c["flags"] == "x"]
    assert len(queued) == 1 and int(queued[0]["multi"]) == 1
    conn.send_command("DISCARD")
    assert conn.read_response() == b"OK"
    other.connection_pool.release(conn)
    other.close()
    plain.close()
    p.close()
    sub.close()


def test_client_list_shows_each_connections_state(r, dotdo):
    host, port = dotdo.addr("redis")
    _client_list_shows_each_connections_state(r, host, port)


def test_writes_spread_over_many_keys_survive_sigkill_through_the_redo_log(dotdo_factory):
    """Batches of writes to many keys are made durable as redo-log entries and folded into the
    tables later (at a threshold, before a batch of statements, when idle, and at start).
    Whatever path each batch took, SIGKILL loses nothing acknowledged and the keys read back
    exactly as written, twice over (the second time after writing on top of a replayed log)."""
    d = dotdo_factory()
    model = {}

    def client():
        host, port = d.addr("redis")
        return redis.Redis(host=host, port=port, decode_responses=True)

    def spread(c, tag, n):
        pipe = c.pipeline(transaction=False)
        for i in range(n):
            pipe.set(f"s:{i}", f"{tag}:{i}")
            model[f"s:{i}"] = ("string", f"{tag}:{i}")
            pipe.hset(f"h:{i % 50}", f"f{i}", tag)
            model.setdefault(f"h:{i % 50}", ("hash", {}))[1][f"f{i}"] = tag
            pipe.sadd(f"set:{i % 20}", f"{tag}:{i}")
            model.setdefault(f"set:{i % 20}", ("set", set()))[1].add(f"{tag}:{i}")
            pipe.zadd(f"z:{i % 10}", {f"m{i}": i + len(tag)})
            model.setdefault(f"z:{i % 10}", ("zset", {}))[1][f"m{i}"] = float(i + len(tag))
        pipe.execute()

    def check(c):
        assert c.dbsize() == len(model)
        for key, (kind, want) in model.items():
            assert c.type(key) == kind, key
            if kind == "string":
                assert c.get(key) == want, key
            elif kind == "hash":
                assert c.hgetall(key) == want, key
            elif kind == "set":
                assert c.smembers(key) == want, key
            else:
                assert dict(c.zrange(key, 0, -1, withscores=True)) == want, key
        assert c.ttl("ttl") > 1000

    c = client()
    spread(c, "a", 400)
    # A small batch while the log holds entries joins the log.
    assert c.set("hot", "1") is True
    model["hot"] = ("string", "1")
    # Deleting collections is a statement: the log folds first, in the same transaction.
    assert c.delete("set:3", "h:7", "z:2") == 3
    for key in ("set:3", "h:7", "z:2"):
        del model[key]
    assert c.sadd("set:3", "again") == 1
    model["set:3"] = ("set", {"again"})
    # Overwrites and deletions of rows the log already holds.
    spread(c, "bb", 250)
    assert c.delete(*[f"s:{i}" for i in range(0, 250, 7)]) == len(range(0, 250, 7))
    for i in range(0, 250, 7):
        del model[f"s:{i}"]
    assert c.set("ttl", "x", ex=100000) is True
    model["ttl"] = ("string", "x")
    # Idle long enough for the writers to fold on their own, then more entries on top.
    time.sleep(1.5)
    spread(c, "ccc", 120)
    d.kill_and_restart()
    c = client()
    check(c)
    spread(c, "dddd", 300)
    d.kill_and_restart()
    check(client())
