"""Server commands that tools probe (COMMAND LIST, MODULE, DEBUG, BGREWRITEAOF, ASKING),
answered as a real redis-server 7.0 with its default configuration answers them."""

import pytest
import redis

from conftest import assert_same_errors

# Replication, cluster-bus and module-debugging commands dotdo does not serve, and WAITAOF,
# which it serves ahead of Redis 7.2 (README, "Known gaps").
NOT_SERVED = {
    "failover", "lolwut", "migrate", "pfdebug", "pfselftest", "replicaof", "restore-asking",
    "slaveof",
}
AHEAD = {"waitaof"}


@pytest.fixture
def both(dotdo, real_redis):
    _, port = dotdo.addr("redis")
    ours = redis.Redis(port=port, decode_responses=True)
    theirs = redis.Redis(port=real_redis.connection_pool.connection_kwargs["port"], decode_responses=True)
    yield ours, theirs
    ours.close()
    theirs.close()


def listed(c: redis.Redis, **filter_by) -> set:
    return set(c.command_list(**filter_by))


def test_command_list_names_commands_and_subcommands_as_redis_server_does(both):
    ours, theirs = both
    want = listed(theirs)
    # Redis 7.0 lists each subcommand by its full name.
    assert {"config|get", "client|list", "xinfo|stream", "module|list"} <= want
    assert listed(ours) == (want - NOT_SERVED) | AHEAD
    for pattern in ("client*", "x*", "*|help", "s?t", "config|[gs]et"):
        got, exp = listed(ours, pattern=pattern), listed(theirs, pattern=pattern)
        assert exp and got == exp - NOT_SERVED, pattern
    assert listed(ours, module="search") == listed(theirs, module="search") == set()
    assert_same_errors([ours, theirs], [("COMMAND", "LIST", "FILTERBY"), ("COMMAND", "LIST", "FILTERBY", "NOPE", "x")])


def test_module_debug_and_cluster_commands_answer_as_redis_server_does(both):
    ours, theirs = both
    # No module is loaded: clients probing for RedisJSON or RediSearch see an empty list.
    assert ours.execute_command("MODULE", "LIST") == theirs.execute_command("MODULE", "LIST") == []
    assert ours.execute_command("MODULE", "HELP") == theirs.execute_command("MODULE", "HELP")
    assert ours.config_get("enable-debug-command") == theirs.config_get("enable-debug-command")
    assert ours.config_get("enable-module-command") == theirs.config_get("enable-module-command")
    assert ours.bgrewriteaof() == theirs.bgrewriteaof() is True
    assert_same_errors(
        [ours, theirs],
        [
            ("MODULE", "LOAD", "/nonexistent/module.so"),
            ("MODULE", "LOADEX", "/nonexistent/module.so", "ARGS", "x"),
            ("MODULE", "UNLOAD", "search"),
            ("MODULE", "BOGUS"),
            ("MODULE", "LIST", "extra"),
            ("MODULE",),
            ("DEBUG", "OBJECT", "k"),
            ("DEBUG", "SLEEP", "0"),
            ("DEBUG",),
            ("ASKING",),
        ],
    )


class Resp3:
    """A raw RESP3 connection whose replies keep their types: maps and sets compare without
    order (Redis orders them by its hash tables), arrays in order."""

    def __init__(self, port: int):
        import socket

        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
        self.ask("HELLO", "3")

    def ask(self, *args):
        req = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            req += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(req)
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = chr(line[0]), line[1:].decode()
        if t in "+-:":
            return (t, rest)
        if t == "_":
            return ("_",)
        if t == "$":
            return ("$", self.f.read(int(rest) + 2)[:-2].decode())
        if t == "*":
            return ("*", tuple(self.read() for _ in range(int(rest))))
        if t == "~":
            return ("~", tuple(sorted((self.read() for _ in range(int(rest))), key=repr)))
        if t == "%":
            pairs = [(self.read(), self.read()) for _ in range(int(rest))]
            return ("%", tuple(sorted(pairs, key=repr)))
        raise AssertionError(f"unexpected RESP3 type {t!r}")

    def close(self):
        self.s.close()


def unordered_subcommands(info):
    """COMMAND INFO's entry with its subcommands (10th field) in a fixed order."""
    kind, entries = info
    out = []
    for e in entries:
        if e[0] == "*" and len(e[1]) == 10 and e[1][9][0] == "*":
            fields = list(e[1])
            fields[9] = ("*", tuple(sorted(fields[9][1], key=repr)))
            e = ("*", tuple(fields))
        out.append(e)
    return (kind, tuple(out))


def test_command_info_and_docs_are_redis_servers_for_every_command_and_subcommand(
    dotdo, real_redis
):
    ours = Resp3(dotdo.addr("redis")[1])
    theirs = Resp3(real_redis.connection_pool.connection_kwargs["port"])
    names = [n for _, n in ours.ask("COMMAND", "LIST")[1] if n not in AHEAD]
    assert len(names) > 350 and "config|get" in names
    differ = []
    for name in names:
        for what in ("INFO", "DOCS"):
            got, want = ours.ask("COMMAND", what, name), theirs.ask("COMMAND", what, name)
            if what == "INFO":
                got, want = unordered_subcommands(got), unordered_subcommands(want)
            if got != want:
                differ.append(f"COMMAND {what} {name}:\n  dotdo {got}\n  redis {want}")
    # Several names at once, and names neither server has.
    for args in (("INFO", "get", "nosuch", "config|get", "config|nosuch"), ("DOCS", "get", "nosuch", "client|list")):
        got, want = ours.ask("COMMAND", *args), theirs.ask("COMMAND", *args)
        if args[0] == "INFO":
            got, want = unordered_subcommands(got), unordered_subcommands(want)
        assert got == want, args
    ours.close()
    theirs.close()
    assert not differ, "\n".join(differ[:10]) + f"\n({len(differ)} differ)"


def test_script_debug_answers_as_redis_server_where_dotdo_can(both):
    ours, theirs = both
    assert ours.execute_command("SCRIPT", "DEBUG", "NO") == theirs.execute_command("SCRIPT", "DEBUG", "NO")
    assert_same_errors([ours, theirs], [("SCRIPT", "DEBUG", "MAYBE"), ("SCRIPT", "DEBUG")])
    # There is no Lua debugger: YES and SYNC are refused, saying so.
    with pytest.raises(redis.ResponseError, match="no Lua debugger"):
        ours.execute_command("SCRIPT", "DEBUG", "YES")


def test_lfu_policy_counts_accesses_as_redis_server_does(both):
    """Under an LFU maxmemory-policy OBJECT FREQ reads each key's access counter, and
    `redis-cli --hotkeys` ranks keys by it. With `lfu-log-factor 0` every access counts and
    with `lfu-decay-time 0` nothing decays, so both servers' counters must agree exactly."""
    import subprocess

    ours, theirs = both
    for c in (ours, theirs):
        c.flushall()
    assert_same_errors(
        [ours, theirs],
        [
            ("CONFIG", "SET", "maxmemory-policy", "allkeys-lfuu"),
            ("CONFIG", "SET", "lfu-log-factor", "-1"),
            ("CONFIG", "SET", "lfu-decay-time", "x"),
        ],
    )
    try:
        for c in (ours, theirs):
            c.set("lru", "v")
            with pytest.raises(redis.ResponseError) as e:
                c.object("freq", "lru")
            assert "An LFU maxmemory policy is not selected" in str(e.value)
            # Its LRU stamp would read as a counter of whatever second it was set in.
            c.delete("lru")
            assert c.config_set("maxmemory-policy", "ALLKEYS-LFU")
            assert c.config_set("lfu-log-factor", "0")
            assert c.config_set("lfu-decay-time", "0")
        got = [c.config_get("maxmemory-policy") | c.config_get("lfu-*") for c in (ours, theirs)]
        assert got[0] == got[1] == {
            "maxmemory-policy": "allkeys-lfu", "lfu-log-factor": "0", "lfu-decay-time": "0",
        }
        assert ours.info("memory")["maxmemory_policy"] == theirs.info("memory")["maxmemory_policy"] == "allkeys-lfu"

        def run(c):
            # Values that are not small integers: Redis shares one object per integer below
            # 10000 (with maxmemory 0), and with it the counter.
            c.set("s", "one")  # a new key starts at 5
            for _ in range(7):
                c.get("s")
            c.append("s", "x")  # a write uses the key too
            c.set("s", "two")  # an overwrite keeps its count, plus one
            c.set("n", "100000")
            c.incr("n")
            c.incrby("n", 5)
            c.rpush("l", "a", "b")
            c.lrange("l", 0, -1)
            c.lpop("l")
            c.hset("h", "f", "v")
            c.hget("h", "f")
            c.hget("h", "missing")
            c.sadd("set", "m")
            c.zadd("z", {"m": 1})
            c.zscore("z", "m")
            c.zadd("z", {"m": 2})
            # Neither EXISTS, TYPE, TTL nor OBJECT counts as a use.
            c.exists("s")
            c.type("h")
            c.ttl("l")
            c.copy("s", "copied")
            c.set("old-name", "v")
            for _ in range(3):
                c.get("old-name")
            c.rename("old-name", "renamed")
            c.set("moving", "v")
            c.get("moving")
            c.move("moving", 1)
            c.set("hot", "x")
            for _ in range(30):
                c.get("hot")
            c.mget("s", "hot", "nosuch")
            payload = c.dump("h")
            c.restore("restored", 0, payload, frequency=77)
            c.restore("restored-default", 0, payload)
            keys = ["s", "n", "l", "h", "set", "z", "copied", "renamed", "hot", "restored", "restored-default"]
            db1 = redis.Redis(port=c.connection_pool.connection_kwargs["port"], db=1)
            moved = db1.object("freq", "moving")
            db1.close()
            return {k: c.object("freq", k) for k in keys}, moved

        ours_freq, theirs_freq = run(ours), run(theirs)
        assert ours_freq == theirs_freq
        assert ours_freq[0]["hot"] == 5 + 30 + 1
        # IDLETIME is not tracked under LFU; RESTORE with IDLETIME is checked and dropped.
        assert_same_errors([ours, theirs], [("OBJECT", "IDLETIME", "s")])

        def hotkeys(c):
            port = c.connection_pool.connection_kwargs["port"]
            run = subprocess.run(
                ["redis-cli", "-p", str(port), "--hotkeys"],
                capture_output=True, text=True, timeout=60,
            )
            assert run.returncode == 0, (port, run.stdout, run.stderr)
            out = run.stdout
            # The summary: the hottest keys and their counters (ties come in SCAN's order).
            return {line for line in out.splitlines() if line.startswith("hot key found with counter")}

        ours_hot = hotkeys(ours)
        assert ours_hot == hotkeys(theirs)
        assert 'hot key found with counter: 36\tkeyname: "hot"' in ours_hot
        # Back under LRU: IDLETIME is read again, FREQ refused.
        for c in (ours, theirs):
            assert c.config_set("maxmemory-policy", "allkeys-lru")
            with pytest.raises(redis.ResponseError):
                c.object("freq", "hot")
            assert isinstance(c.object("idletime", "hot"), int)
    finally:
        for c in (ours, theirs):
            c.config_set("maxmemory-policy", "noeviction")
            c.config_set("lfu-log-factor", "10")
            c.config_set("lfu-decay-time", "1")


class RedisOnFile:
    """A redis-server started on an RDB file (it loads it at start), for as long as the
    `with` block runs."""

    def __init__(self, rdb: bytes, tmp, *args: str):
        import socket
        import subprocess

        self.dir = tmp
        (tmp / "dump.rdb").write_bytes(rdb)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp), "--dbfilename", "dump.rdb", *args],
            stdout=open(tmp / "redis.log", "wb"),
        )

    def __enter__(self):
        import time

        deadline = time.time() + 20
        while True:
            try:
                c = redis.Redis(port=self.port)
                c.ping()
                c.close()
                return self
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.ConnectionError:
                assert self.proc.poll() is None, (self.dir / "redis.log").read_text()
            assert time.time() < deadline, "redis-server did not load the file"
            time.sleep(0.05)

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(port=self.port, db=db)

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def snapshot(c: redis.Redis) -> dict:
    """Every key of a database: its type, value, absolute expiry and stream groups."""
    out = {}
    for key in c.scan_iter(count=1000):
        t = c.type(key)
        if t == b"string":
            v = c.get(key)
        elif t == b"list":
            v = c.lrange(key, 0, -1)
        elif t == b"set":
            v = sorted(c.smembers(key))
        elif t == b"hash":
            v = sorted(c.hgetall(key).items())
        elif t == b"zset":
            v = c.zrange(key, 0, -1, withscores=True)
        else:
            v = (c.xrange(key), [sorted(g.items()) for g in c.xinfo_groups(key)])
        out[key] = (t, v, c.pexpiretime(key))
    return out


def redis_cli_rdb(port: int, path, *mode: str) -> bytes:
    import subprocess

    run = subprocess.run(
        ["redis-cli", "-p", str(port), *(mode or ("--rdb",)), str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert "Transfer finished with success" in run.stderr
    return path.read_bytes()


def test_redis_cli_rdb_saves_a_file_redis_server_loads(both, tmp_path):
    """`redis-cli --rdb` (REPLCONF rdb-only 1, then SYNC) saves every database of dotdo as an
    RDB file; a real redis-server started on it holds the same keys, values, expiry times,
    stream groups and function libraries, and under an LFU policy the same counters."""
    ours, theirs = both
    port = ours.connection_pool.connection_kwargs["port"]
    ours.flushall()
    ours.function_flush()
    raw = redis.Redis(port=port)
    p = raw.pipeline(transaction=False)
    for i in range(300):
        p.set(f"s{i}", "x" * (i * 7))
        p.rpush(f"list{i % 3}", *[f"e{i}-{j}" for j in range(i % 50)] or ["only"])
        p.sadd(f"set{i % 4}", i, f"m{i}")
        p.hset(f"hash{i % 5}", f"f{i}", "v" * (i % 90))
        p.zadd(f"zset{i % 6}", {f"m{i}": i / 3})
    p.set("int", 12345)
    p.set("neg", -7)
    p.set("bin", bytes(range(256)) * 40)
    p.set("with-ttl", "v", px=3_600_000)
    p.hset("hash-ttl", "f", "v")
    p.pexpire("hash-ttl", 7_200_000)
    p.execute()
    for i in range(120):
        raw.xadd("stream", {"n": i, "k": "v"})
    raw.xgroup_create("stream", "g1", id="0")
    raw.xreadgroup("g1", "alice", {"stream": ">"}, count=5)
    raw.xack("stream", "g1", raw.xrange("stream", count=1)[0][0])
    raw.xgroup_create("stream", "g2", id="$")
    redis.Redis(port=port, db=2).set("db2-key", "in db 2")
    redis.Redis(port=port, db=15).rpush("db15-list", "a", "b")
    raw.function_load(
        "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 1 end)"
    )
    want = {db: snapshot(redis.Redis(port=port, db=db)) for db in (0, 2, 15)}
    assert len(want[0]) == 300 + 3 + 4 + 5 + 6 + 6

    rdb = redis_cli_rdb(port, tmp_path / "dump.rdb")
    assert rdb.startswith(b"REDIS0010")
    (tmp_path / "a").mkdir()
    with RedisOnFile(rdb, tmp_path / "a") as loaded:
        for db in (0, 2, 15):
            assert snapshot(loaded.client(db)) == want[db], db
        assert loaded.client(1).dbsize() == 0
        assert loaded.client().function_list() == raw.function_list()

    # Only the libraries (redis-cli --functions-rdb: REPLCONF rdb-filter-only functions).
    rdb = redis_cli_rdb(port, tmp_path / "functions.rdb", "--functions-rdb")
    (tmp_path / "b").mkdir()
    with RedisOnFile(rdb, tmp_path / "b") as loaded:
        assert loaded.client().dbsize() == 0
        assert loaded.client().function_list() == raw.function_list()

    # Under an LFU policy the file keeps each key's counter, which an LFU redis-server loads.
    try:
        ours.config_set("maxmemory-policy", "allkeys-lfu")
        ours.config_set("lfu-log-factor", "0")
        ours.flushall()
        for i in range(5):
            ours.set(f"k{i}", "v")
            for _ in range(i * 10):
                ours.get(f"k{i}")
        counts = {f"k{i}": ours.object("freq", f"k{i}") for i in range(5)}
        assert counts == {f"k{i}": 5 + i * 10 for i in range(5)}
        rdb = redis_cli_rdb(port, tmp_path / "lfu.rdb")
        (tmp_path / "c").mkdir()
        with RedisOnFile(rdb, tmp_path / "c", "--maxmemory-policy", "allkeys-lfu") as loaded:
            assert {k: loaded.client().object("freq", k) for k in counts} == counts
    finally:
        ours.config_set("maxmemory-policy", "noeviction")
        ours.config_set("lfu-log-factor", "10")
        ours.function_flush()
        ours.flushall()
    raw.close()


def test_replconf_and_sync_errors_are_redis_servers(both):
    """REPLCONF's checks answer as redis-server's; SYNC inside MULTI is refused as there. A
    replica's SYNC (no rdb-only) and PSYNC are refused: dotdo does not replicate."""
    ours, theirs = both
    assert_same_errors(
        [ours, theirs],
        [
            ("REPLCONF", "foo", "bar"),
            ("REPLCONF", "rdb-only", "2"),
            ("REPLCONF", "rdb-only", "x"),
            ("REPLCONF", "rdb-filter-only", "bogus"),
            ("REPLCONF", "x"),
            ("REPLCONF", "listening-port", "abc"),
        ],
    )
    for c in (ours, theirs):
        assert c.execute_command("REPLCONF", "capa", "eof", "capa", "psync2") in (b"OK", "OK", True)
        assert c.execute_command("REPLCONF", "rdb-only", "0") in (b"OK", "OK", True)
    for c in (ours, theirs):
        p = c.pipeline(transaction=True)
        p.execute_command("SYNC")
        with pytest.raises(redis.ResponseError) as e:
            p.execute()
        assert "Command not allowed inside a transaction" in str(e.value)
    with pytest.raises(redis.ResponseError) as e:
        ours.execute_command("SYNC")
    assert "dotdo does not replicate" in str(e.value)
    with pytest.raises(redis.ResponseError) as e:
        ours.execute_command("PSYNC", "?", "-1")
    assert "dotdo does not replicate" in str(e.value)
    assert ours.ping()
