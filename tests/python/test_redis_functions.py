"""Redis 7 functions (FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL, FCALL,
FCALL_RO) through redis-py: replies, errors, flags, durability across a SIGKILL, and
FUNCTION DUMP payloads moving between dotdo and a real redis-server."""

import threading
import time

import pytest
import redis

LIB = """#!lua name=mylib
redis.register_function('setit', function(keys, args)
  return redis.call('set', keys[1], args[1])
end)
redis.register_function{
  function_name = 'getit',
  callback = function(keys, args) return redis.call('get', keys[1]) end,
  flags = {'no-writes'},
  description = 'reads a key',
}
redis.register_function{
  function_name = 'sneaky',
  callback = function(keys, args) return redis.call('set', keys[1], 'x') end,
  flags = {'no-writes'},
}
"""


@pytest.fixture
def f(r):
    """The module's client with no function libraries (FLUSHALL keeps them, as in Redis)."""
    r.function_flush()
    yield r
    r.function_flush()


def _names(libs):
    """Library names of a FUNCTION LIST reply (lists or dicts, by redis-py's version)."""
    out = []
    for lib in libs:
        if isinstance(lib, dict):
            name = lib.get("library_name", lib.get(b"library_name"))
        else:
            name = lib[1]
        out.append(name.decode() if isinstance(name, bytes) else name)
    return sorted(out)


def _pairs(x):
    """A map reply as a dict, whichever way redis-py parsed it."""
    return x if isinstance(x, dict) or x is None else dict(zip(x[::2], x[1::2]))


def _stats(c):
    s = _pairs(c.execute_command("FUNCTION", "STATS"))
    engines = {k: _pairs(v) for k, v in _pairs(s["engines"]).items()}
    return _pairs(s["running_script"]), engines


def _client(d):
    host, port = d.addr("redis")
    return redis.Redis(host=host, port=port, decode_responses=True)


def test_load_list_call_delete(f):
    assert f.function_load(LIB) == "mylib"
    assert f.fcall("setit", 1, "k", "v") == "OK"
    assert f.fcall("SETIT", 1, "k", "v2") == "OK"  # names are found ignoring case
    assert f.fcall_ro("getit", 1, "k") == "v2"
    [lib] = f.function_list()
    assert lib[0:4] == ["library_name", "mylib", "engine", "LUA"]
    funcs = {fn[1]: fn for fn in lib[5]}
    assert funcs["getit"] == ["name", "getit", "description", "reads a key", "flags", ["no-writes"]]
    assert funcs["setit"] == ["name", "setit", "description", None, "flags", []]
    [lib] = f.function_list(library="MY*", withcode=True)
    assert lib[-2:] == ["library_code", LIB]
    assert f.function_list(library="other*") == []
    assert _stats(f) == (None, {"LUA": {"libraries_count": 1, "functions_count": 3}})
    # Libraries are not keys.
    assert f.dbsize() == 1 and f.keys("*") == ["k"]
    f.flushall()
    assert f.fcall_ro("getit", 1, "k") is None
    assert f.function_delete("mylib")
    with pytest.raises(redis.ResponseError, match="^Library not found$"):
        f.function_delete("mylib")
    with pytest.raises(redis.ResponseError, match="^Function not found$"):
        f.fcall("setit", 1, "k", "v")


def test_keys_and_args_are_parameters(f):
    f.function_load(
        "#!lua name=ka\n"
        "redis.register_function('ka', function(keys, args) return {keys, args, #keys, #args} end)\n"
        "redis.register_function('globals', function() return type(KEYS) end)\n"
    )
    assert f.fcall("ka", 2, "{t}a", "{t}b", "c", "d", "e") == [
        ["{t}a", "{t}b"], ["c", "d", "e"], 2, 3
    ]
    with pytest.raises(
        redis.ResponseError,
        match=r"^user_function:3: Script attempted to access nonexistent global variable 'KEYS' "
        r"script: globals, on @user_function:3\.$",
    ):
        f.fcall("globals", 0)


def test_load_errors(f):
    cases = {
        "return 1": "Missing library metadata",
        "#!lua name=x": "Invalid library metadata",
        "#!lua\nreturn 1": "Library name was not given",
        "#!lua name=a-b\nreturn 1": "Library names can only contain letters, numbers, or "
        "underscores(_) and must be at least one character long",
        "#!js name=x\nreturn 1": "Engine 'js' not found",
        "#!lua name=x foo=bar\n": "Invalid metadata value given: foo=bar",
        "#!lua name=x\nreturn 1": "No functions registered",
        "#!lua name=x\nredis.call('ping')": "Error registering functions: ERR user_function:2: "
        "Script attempted to access nonexistent global variable 'call'",
        "#!lua name=x\nlocal n = string.len('a')": "Error registering functions: ERR "
        "user_function:2: Script attempted to access nonexistent global variable 'string'",
        "#!lua name=x\nfoo = 1": "Error registering functions: ERR user_function:2: "
        "Attempt to modify a readonly table",
        "#!lua name=x\nlocal a =\n": "Error compiling function: user_function:3: "
        "unexpected symbol near '<eof>'",
        "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
        "flags={'bogus'}}": "Error registering functions: ERR unknown flag given",
        "#!lua name=x\nredis.register_function('f', 1)": "Error registering functions: ERR "
        "second argument to redis.register_function must be a function",
    }
    for code, error in cases.items():
        with pytest.raises(redis.ResponseError) as e:
            f.function_load(code)
        assert str(e.value) == error, code
    f.function_load(LIB)
    with pytest.raises(redis.ResponseError, match="^Library 'mylib' already exists$"):
        f.function_load(LIB)
    with pytest.raises(redis.ResponseError, match="^Function SetIt already exists$"):
        f.function_load("#!lua name=two\nredis.register_function('SetIt', function() end)")
    # REPLACE swaps the library; a clash with another library leaves the old one in place.
    assert f.function_load(
        "#!lua name=mylib\nredis.register_function('setit', function() return 7 end)",
        replace=True,
    ) == "mylib"
    assert f.fcall("setit", 0) == 7
    f.function_load("#!lua name=two\nredis.register_function('two', function() return 2 end)")
    with pytest.raises(redis.ResponseError, match="^Function two already exists$"):
        f.function_load("#!lua name=mylib\nredis.register_function('two', function() end)",
                        replace=True)
    assert f.fcall("setit", 0) == 7
    with pytest.raises(redis.ResponseError, match="^Unknown option given: foo$"):
        f.execute_command("FUNCTION", "LOAD", "foo", LIB)


def test_fcall_errors_and_flags(f):
    f.function_load(LIB)
    with pytest.raises(redis.ResponseError, match="^Bad number of keys provided$"):
        f.execute_command("FCALL", "setit", "x")
    with pytest.raises(redis.ResponseError, match="^Number of keys can't be negative$"):
        f.execute_command("FCALL", "setit", "-1")
    with pytest.raises(redis.ResponseError, match="greater than number of args"):
        f.execute_command("FCALL", "setit", "2", "a")
    with pytest.raises(redis.ResponseError,
                       match=r"^Can not execute a script with write flag using \*_ro command\.$"):
        f.fcall_ro("setit", 1, "k", "v")
    # A no-writes function may not write, whichever command calls it.
    for call in (f.fcall, f.fcall_ro):
        with pytest.raises(redis.ResponseError) as e:
            call("sneaky", 1, "k")
        assert str(e.value) == (
            "Write commands are not allowed from read-only scripts. "
            "script: sneaky, on @user_function:13."
        )
    assert f.get("k") is None
    # FCALL is not callable from a script.
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        f.eval("return redis.call('fcall', 'setit', 1, 'k', 'v')", 0)


def test_fcall_in_multi(f):
    f.function_load(LIB)
    p = f.pipeline(transaction=True)
    p.fcall("setit", 1, "k", "v")
    p.fcall_ro("getit", 1, "k")
    assert p.execute() == ["OK", "v"]


def test_flush_and_help(f):
    f.function_load(LIB)
    assert f.function_flush("ASYNC")
    assert f.function_list() == []
    with pytest.raises(redis.ResponseError, match="only supports SYNC|ASYNC"):
        f.execute_command("FUNCTION", "FLUSH", "now")
    help_ = f.execute_command("FUNCTION", "HELP")
    assert help_[0].startswith("FUNCTION <subcommand>") and help_[-1] == "    Prints this help."
    with pytest.raises(redis.ResponseError, match="^unknown subcommand 'nope'. Try FUNCTION HELP.$"):
        f.execute_command("FUNCTION", "nope")


def test_dump_and_restore(f):
    f.function_load(LIB)
    payload = f.function_dump()
    with pytest.raises(redis.ResponseError, match="^Library mylib already exists$"):
        f.function_restore(payload)
    assert f.function_restore(payload, "REPLACE")
    f.function_flush()
    f.function_load("#!lua name=other\nredis.register_function('o', function() return 1 end)")
    assert f.function_restore(payload)
    assert _names(f.function_list()) == ["mylib", "other"]
    assert f.function_restore(payload, "FLUSH")
    assert _names(f.function_list()) == ["mylib"]
    with pytest.raises(redis.ResponseError, match="version or checksum are wrong"):
        f.function_restore(payload[:-1] + bytes([payload[-1] ^ 1]))
    with pytest.raises(redis.ResponseError, match="Wrong restore policy"):
        f.function_restore(payload, "MERGE")


def test_dump_payloads_move_both_ways_with_redis_server(f, real_redis):
    real_redis.function_flush()
    real_redis.function_load(LIB)
    theirs = real_redis.function_dump()
    # Redis compresses this one (LZF).
    assert f.function_restore(theirs)
    assert f.fcall("setit", 1, "k", "v") == "OK"
    # A short library is stored uncompressed by Redis too: the payloads are the same bytes.
    short = "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 1 end)"
    real_redis.function_flush()
    real_redis.function_load(short)
    f.function_flush()
    f.function_load(short)
    assert f.function_dump() == real_redis.function_dump()
    f.function_load(LIB)
    ours = f.function_dump()
    real_redis.function_flush()
    assert real_redis.function_restore(ours)
    assert _names(real_redis.function_list()) == ["lib1", "mylib"]
    assert real_redis.fcall("f1", 0) == 1
    real_redis.function_flush()


def test_libraries_survive_sigkill_right_after_load(dotdo_factory):
    d = dotdo_factory()
    c = _client(d)
    assert c.function_load(LIB) == "mylib"
    d.kill_and_restart()
    c = _client(d)
    assert _names(c.function_list()) == ["mylib"]
    assert c.fcall("setit", 1, "k", "v") == "OK"
    assert c.function_delete("mylib")
    c.function_load("#!lua name=after\nredis.register_function('a', function() return 1 end)")
    d.kill_and_restart()
    c = _client(d)
    assert _names(c.function_list()) == ["after"]
    assert c.get("k") == "v"
    assert c.function_flush()
    d.restart()
    c = _client(d)
    assert c.function_list() == []


def test_function_kill_stops_a_busy_function(f):
    host = f.connection_pool.connection_kwargs["host"]
    port = f.connection_pool.connection_kwargs["port"]
    f.config_set("busy-reply-threshold", 100)
    try:
        f.function_load(
            "#!lua name=busy\n"
            "redis.register_function('spin', function() while true do end end)\n"
        )
        other = redis.Redis(host=host, port=port, decode_responses=True)
        caught = []

        def spin():
            try:
                other.fcall("spin", 0)
            except redis.ResponseError as e:
                caught.append(str(e))

        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.4)
        # A connection opened while the function runs (one idle since before it started
        # waits as long as the busy threshold's default: see the report).
        f = redis.Redis(host=host, port=port, decode_responses=True)
        with pytest.raises(redis.ResponseError, match="You can only call FUNCTION KILL"):
            f.ping()
        with pytest.raises(redis.ResponseError, match="You can only call FUNCTION KILL"):
            f.script_kill()
        running, _ = _stats(f)
        assert running["name"] == "spin" and [a.lower() for a in running["command"]] == ["fcall", "spin", "0"]
        assert running["duration_ms"] >= 100
        assert f.execute_command("FUNCTION", "KILL") == "OK"
        t.join(10)
        assert caught == [
            "Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
        ]
        with pytest.raises(redis.ResponseError, match="NOTBUSY No scripts in execution right now."):
            f.execute_command("FUNCTION", "KILL")
        other.close()
    finally:
        f = redis.Redis(host=host, port=port, decode_responses=True)
        for _ in range(50):
            try:
                f.execute_command("FUNCTION", "KILL")
            except redis.ResponseError as e:
                if "NOTBUSY" in str(e):
                    break
            time.sleep(0.1)
        f.config_set("busy-reply-threshold", 5000)
