"""MEMORY USAGE against a real redis-server 7.0: the same keys on both, the same bytes reported
(dotdo reports what Redis's encodings of the value would take; see cmd/memory.rs). MEMORY's
other subcommands and its errors answer as redis-server answers."""

import pytest
import redis

from conftest import assert_same_errors


def load(c: redis.Redis):
    c.flushall()
    c.set("s:short", "bar")
    c.set("s:int", 123)
    c.set("s:bigint", 12345678901)
    c.set("s:44", "x" * 44)
    c.set("s:45", "x" * 45)
    c.set("s:300", "x" * 300)
    c.set("s:70000", "y" * 70000)
    c.set("k" * 40, "v")
    c.set("s:lead0", "0123")
    c.hset("h:small", mapping={"a": 1, "b": 2, "field": "value" * 3})
    c.hset("h:ints", mapping={f"f{i}": i * 1000 for i in range(20)})
    c.hset("h:big", mapping={f"field{i:04}": f"value{i:04}" for i in range(200)})
    # Past 512 fields: a hash table. Sizes are picked so that redis-server's incremental
    # rehashing (which keeps both tables, and their slots, until done) has finished.
    c.hset("h:huge", mapping={f"field{i:04}": f"value{i:04}" for i in range(900)})
    c.hset("h:longval", mapping={"f": "z" * 100})
    c.sadd("set:ints", 1, 2, 3)
    c.sadd("set:wide", 1, 100000, -5)
    c.sadd("set:int64", 1, 2**40)
    c.sadd("set:strs", "a", "b", "c")
    c.sadd("set:many", *[f"m{i:05}" for i in range(900)])
    c.rpush("l:small", "a", "b", "c")
    c.rpush("l:ints", *range(100))
    c.rpush("l:big", *["e" * 50 for _ in range(500)])
    c.zadd("z:small", {"a": 1, "b": 2})
    c.zadd("z:frac", {"a": 1.5, "b": -2.25, "c": 1e20})


KEYS = ["s:short", "s:int", "s:bigint", "s:44", "s:45", "s:300", "s:70000", "k" * 40,
        "s:lead0", "h:small", "h:ints", "h:big", "h:huge", "h:longval", "set:ints", "set:wide",
        "set:int64", "set:strs", "set:many", "l:small", "l:ints", "l:big", "z:small", "z:frac"]


def test_memory_usage_is_what_redis_server_reports(r, real_redis):
    load(r)
    load(real_redis)
    ours = {k: r.memory_usage(k, samples=0) for k in KEYS}
    theirs = {k: real_redis.memory_usage(k, samples=0) for k in KEYS}
    assert all(v for v in theirs.values()), theirs
    assert ours == theirs
    # Sampling (the default, 5) of uniform elements gives the same.
    for k in ("h:huge", "set:many", "l:big"):
        assert r.memory_usage(k) == real_redis.memory_usage(k)
    assert r.memory_usage("nosuch") is None and real_redis.memory_usage("nosuch") is None


def test_memory_usage_of_streams_and_large_zsets_is_an_estimate_of_the_same_size(r, real_redis):
    for c in (r, real_redis):
        c.flushall()
        for i in range(300):
            c.xadd("x", {"f": i})
        c.zadd("z:big", {f"m{i:04}": i for i in range(300)})
    for k in ("x", "z:big"):
        ours, theirs = r.memory_usage(k, samples=0), real_redis.memory_usage(k, samples=0)
        assert theirs / 2 <= ours <= theirs * 2, (k, ours, theirs)


def test_memory_subcommands_and_errors_answer_as_redis_server(r, real_redis):
    for c in (r, real_redis):
        c.flushall()
    decoded = redis.Redis(port=real_redis.connection_pool.connection_kwargs["port"],
                          decode_responses=True)
    for sub in ("HELP", "DOCTOR", "PURGE"):
        assert r.execute_command("MEMORY", sub) == decoded.execute_command("MEMORY", sub), sub
    for c in (r, real_redis):
        stats = c.memory_stats()
        for field in ("peak.allocated", "total.allocated", "startup.allocated", "keys.count",
                      "dataset.bytes", "overhead.total", "fragmentation"):
            assert field in stats, (field, stats)
        c.set("a", 1)
        assert c.memory_stats()["keys.count"] == 1
        assert c.memory_stats()["db.0"]["overhead.hashtable.main"] > 0
    assert_same_errors((r, real_redis), [
        ("MEMORY", "USAGE"), ("MEMORY", "USAGE", "a", "SAMPLES"),
        ("MEMORY", "USAGE", "a", "SAMPLES", "-1"), ("MEMORY", "USAGE", "a", "x"),
        ("MEMORY", "USAGE", "a", "SAMPLES", "x"), ("MEMORY", "STATS", "x"),
        ("MEMORY", "NOPE"), ("MEMORY",),
    ])
    assert r.info("memory")["used_memory"] > 0
