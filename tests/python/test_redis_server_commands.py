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
