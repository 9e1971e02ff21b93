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
