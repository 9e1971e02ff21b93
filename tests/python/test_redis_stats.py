"""INFO commandstats / errorstats / latencystats, LATENCY and CONFIG RESETSTAT, compared with a
real redis-server: the same commands on both, then the counters (not the timings) compared."""

import time

import pytest
import redis

from conftest import assert_same_errors

# lib_name=None (no CLIENT SETINFO) is deprecated in redis-py 8, and still the way to ask for it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def fresh(port: int) -> redis.Redis:
    # No CLIENT SETINFO on connect: redis-server 7.0 would count it as a rejected call.
    return redis.Redis(port=port, decode_responses=True, lib_name=None, lib_version=None)


def workload(c: redis.Redis):
    c.config_resetstat()
    c.set("k", "1")
    c.incr("k")
    c.get("k")
    c.get("missing")
    c.rpush("l", "a", "b")
    with pytest.raises(redis.ResponseError):
        c.incr("l")  # WRONGTYPE: a failed call
    with pytest.raises(redis.ResponseError):
        c.execute_command("GET")  # arity: a rejected call
    with pytest.raises(redis.ResponseError):
        c.execute_command("NOSUCHCOMMAND")  # unknown: an error, no command's count


def counters(c: redis.Redis) -> dict:
    """(calls, rejected, failed) per command or subcommand; timings vary, so not those."""
    out = {}
    for name, v in c.info("commandstats").items():
        assert set(v) == {"calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"}
        out[name.removeprefix("cmdstat_")] = (v["calls"], v["rejected_calls"], v["failed_calls"])
    return out


def errorstats(c: redis.Redis) -> dict:
    return c.info("errorstats")


def test_commandstats_and_errorstats_count_as_redis_server_counts(dotdo, real_redis):
    _, port = dotdo.addr("redis")
    ours, theirs = fresh(port), fresh(real_redis.connection_pool.connection_kwargs["port"])
    for c in (ours, theirs):
        workload(c)
    want, got = counters(theirs), counters(ours)
    assert want["config|resetstat"] == (1, 0, 0) and want["incrby"] == (2, 0, 1), want
    assert got == want
    assert errorstats(ours) == errorstats(theirs)
    assert ours.info("stats")["total_error_replies"] == theirs.info("stats")["total_error_replies"]
    # CONFIG RESETSTAT clears them.
    for c in (ours, theirs):
        c.config_resetstat()
    assert counters(ours) == counters(theirs) == {"config|resetstat": (1, 0, 0)}


def scripts_and_transactions(c: redis.Redis):
    c.config_resetstat()
    # Each command a script runs is counted, failed or rejected as its own; the script's
    # error reply is one error in errorstats.
    with pytest.raises(redis.ResponseError):
        c.eval(
            "redis.call('set', KEYS[1], '1'); redis.call('incr', KEYS[1]);"
            " return redis.pcall('lpush', KEYS[1], 'x')",
            1,
            "k",
        )
    with pytest.raises(redis.ResponseError):
        c.eval("return redis.call('hset', KEYS[1], 'a')", 1, "k")
    c.eval("redis.pcall('get', KEYS[1], 'b', 'c'); return redis.call('get', KEYS[1])", 1, "k")
    c.eval("local ok = redis.pcall('lpush', KEYS[1], 'y'); return redis.call('exists', KEYS[1])", 1, "k")
    c.evalsha(c.script_load("return redis.call('strlen', KEYS[1])"), 1, "k")
    # A script's own error counts once, as the script's.
    with pytest.raises(redis.ResponseError):
        c.eval("redis.call('get', KEYS[1]); return redis.error_reply('MYERR own')", 1, "k")
    with pytest.raises(redis.ResponseError):
        c.eval("error('boom')", 0)
    with pytest.raises(redis.ResponseError):
        c.eval("return redis.call('nosuchcommand')", 0)
    # Each command EXEC runs is counted; a command queued in an aborted transaction is not.
    p = c.pipeline(transaction=True)
    p.set("a", "1").incr("a").lpush("a", "x").get("a")
    p.execute(raise_on_error=False)
    p = c.pipeline(transaction=True)
    p.set("a", "2").execute_command("GETX", "a")
    with pytest.raises(redis.ResponseError):
        p.execute()
    p = c.pipeline(transaction=True)
    p.incr("a").hset("h", "f", "v").hget("h", "f")
    p.execute()


def test_commands_inside_scripts_and_transactions_are_counted_as_redis_server_counts(
    dotdo, real_redis
):
    _, port = dotdo.addr("redis")
    ours, theirs = fresh(port), fresh(real_redis.connection_pool.connection_kwargs["port"])
    for c in (ours, theirs):
        c.flushall()
        scripts_and_transactions(c)
    want, got = counters(theirs), counters(ours)
    # What redis-server 7.0 counts, so the comparison below compares something.
    assert want["lpush"] == (3, 0, 3) and want["hset"] == (1, 1, 0), want
    assert want["set"] == (2, 0, 0) and want["exec"] == (3, 0, 1), want
    assert want["eval"] == (7, 0, 5), want
    assert got == want
    assert errorstats(ours) == errorstats(theirs)
    assert ours.info("stats")["total_error_replies"] == theirs.info("stats")["total_error_replies"]


def test_latency_histogram_and_latencystats_have_redis_server_shape(dotdo, real_redis):
    _, port = dotdo.addr("redis")
    ours, theirs = fresh(port), fresh(real_redis.connection_pool.connection_kwargs["port"])
    for c in (ours, theirs):
        c.config_resetstat()
        for i in range(50):
            c.set(f"h{i}", i)
    for c in (ours, theirs):
        # redis-py reads the reply as {name: {"calls": n, "histogram_usec": {bound: count}}}.
        h = c.execute_command("LATENCY", "HISTOGRAM", "set", "config|resetstat", "nosuch")
        assert set(h) == {"set", "config|resetstat"}, h
        assert h["set"]["calls"] == 50
        bounds = sorted(h["set"]["histogram_usec"])
        counts = [h["set"]["histogram_usec"][b] for b in bounds]
        assert counts == sorted(counts) and counts[-1] == 50
        # Powers of two of 1024 ns, each shown as the highest value HdrHistogram (2
        # significant digits) holds with it, in µs: 1, 2, 4, 8, 16, 33, 66, 132, ...
        assert all(b in [((1024 + 8) * 2 ** k - 1) // 1000 for k in range(40)] for b in bounds), \
            bounds
        stats = c.info("latencystats")["latency_percentiles_usec_set"]
        assert set(stats) == {"p50", "p99", "p99.9"}
        assert 0 < stats["p50"] <= stats["p99"] <= stats["p99.9"]
    assert ours.execute_command("LATENCY", "HISTOGRAM", "nosuch") == \
        theirs.execute_command("LATENCY", "HISTOGRAM", "nosuch") == {}
    for c in (ours, theirs):
        c.config_set("latency-tracking-info-percentiles", "50 99.99")
        assert c.config_get("latency-tracking-info-percentiles") == \
            {"latency-tracking-info-percentiles": "50 99.99"}
        assert set(c.info("latencystats")["latency_percentiles_usec_set"]) == {"p50", "p99.99"}
        c.config_set("latency-tracking-info-percentiles", "50 99 99.9")


def test_latency_monitor_events_as_redis_server_reports_them(dotdo, real_redis):
    _, port = dotdo.addr("redis")
    ours, theirs = fresh(port), fresh(real_redis.connection_pool.connection_kwargs["port"])
    for c in (ours, theirs):
        c.config_set("latency-monitor-threshold", 0)
        c.execute_command("LATENCY", "RESET")
    # Off: nothing is recorded, and the doctor says how to turn it on.
    assert ours.execute_command("LATENCY", "DOCTOR") == theirs.execute_command("LATENCY", "DOCTOR")
    assert ours.execute_command("LATENCY", "LATEST") == theirs.execute_command("LATENCY", "LATEST") == []
    for c in (ours, theirs):
        c.config_set("latency-monitor-threshold", 100)
    assert ours.execute_command("LATENCY", "DOCTOR") == theirs.execute_command("LATENCY", "DOCTOR")
    # A script that runs past the threshold is a `command` spike on both.
    spin = "local t = redis.call('TIME') local s = t[1]*1e6+t[2] " \
           "repeat t = redis.call('TIME') until t[1]*1e6+t[2] - s > 250000 return 1"
    shapes = []
    for c in (ours, theirs):
        before = int(time.time())
        c.eval(spin, 0)
        latest = c.execute_command("LATENCY", "LATEST")
        assert len(latest) == 1, latest
        name, at, last_ms, max_ms = latest[0]
        assert name == "command" and before <= at <= time.time() + 1
        assert 200 <= last_ms <= max_ms < 5000
        history = c.execute_command("LATENCY", "HISTORY", "command")
        assert history[-1][1] == last_ms
        shapes.append((name, len(history)))
        assert c.execute_command("LATENCY", "HISTORY", "nosuch") == []
        assert c.execute_command("LATENCY", "RESET", "command", "nosuch") == 1
        assert c.execute_command("LATENCY", "LATEST") == []
        c.config_set("latency-monitor-threshold", 0)
    assert shapes[0] == shapes[1]
    assert_same_errors((ours, theirs), [
        ("LATENCY", "GRAPH", "nosuch"), ("LATENCY", "NOPE"), ("LATENCY", "LATEST", "x"),
        ("LATENCY", "HISTORY"),
    ])
    assert ours.execute_command("LATENCY", "HELP") == theirs.execute_command("LATENCY", "HELP")
