"""Server commands that tools probe (COMMAND LIST, MODULE, DEBUG, BGREWRITEAOF, ASKING),
answered as a real redis-server 7.0 with its default configuration answers them."""

import pytest
import redis

from conftest import assert_same_errors

# Replication, cluster-bus and module-debugging commands dotdo does not serve, and WAITAOF,
# which it serves ahead of Redis 7.2 (README, "Known gaps").
NOT_SERVED = {
    "failover", "lolwut", "migrate", "pfdebug", "pfselftest", "psync", "replconf", "replicaof",
    "restore-asking", "slaveof", "sync",
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
