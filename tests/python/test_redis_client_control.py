"""CLIENT REPLY and CLIENT UNBLOCK, each compared with a real redis-server: the bytes a raw
socket receives, and what redis-py's blocked calls return when another client unblocks them."""

import socket
import threading
import time

import pytest
import redis

from conftest import assert_same_errors


def raw_exchange(port: int, request: bytes, expect_len: int, settle: float = 0.3) -> bytes:
    """Send `request` at once, then read until `expect_len` bytes came and `settle` seconds
    pass with nothing more (so replies that should not come would be seen)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        got = b""
        deadline = time.time() + 5
        while len(got) < expect_len and time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.settimeout(settle)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
        return got


def cmd(*args: str) -> bytes:
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        b = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out


REPLY_CASES = [
    # OFF drops every reply, errors too, until ON, which answers OK.
    [("CLIENT", "REPLY", "OFF"), ("SET", "a", "1"), ("GET", "a"), ("NOSUCH",),
     ("CLIENT", "REPLY", "ON"), ("GET", "a")],
    # SKIP drops its own reply and the next command's only.
    [("CLIENT", "REPLY", "SKIP"), ("SET", "b", "2"), ("GET", "b"), ("INCR", "b")],
    # SKIP twice in a row; SKIP while OFF stays OFF.
    [("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "SKIP"), ("SET", "c", "3"),
     ("GET", "c"), ("CLIENT", "REPLY", "OFF"), ("CLIENT", "REPLY", "SKIP"), ("GET", "c"),
     ("CLIENT", "REPLY", "ON"), ("GET", "c")],
    # A bad mode is a syntax error; MULTI's QUEUED and EXEC's replies go with the mode.
    [("CLIENT", "REPLY", "MAYBE"), ("CLIENT", "REPLY", "OFF"), ("MULTI",), ("INCR", "n"),
     ("EXEC",), ("CLIENT", "REPLY", "ON"), ("MULTI",), ("INCR", "n"), ("EXEC",)],
]


@pytest.mark.parametrize("case", range(len(REPLY_CASES)))
def test_client_reply_drops_exactly_what_redis_server_drops(case, r, dotdo, real_redis):
    request = b"".join(cmd(*c) for c in REPLY_CASES[case])
    real_redis.flushall()
    want = raw_exchange(real_redis.connection_pool.connection_kwargs["port"], request, 1)
    assert want, "redis-server answered nothing"
    _, port = dotdo.addr("redis")
    got = raw_exchange(port, request, len(want))
    assert got == want


def blocked_call(port: int, call, box: dict, key: str):
    c = redis.Redis(port=port, decode_responses=True)
    box["id"] = c.client_id()
    try:
        box[key] = call(c)
    except redis.ResponseError as e:
        box[key] = f"error: {e}"
    finally:
        c.close()


BLOCKING_CALLS = {
    "blpop": lambda c: c.blpop(["nothing"], timeout=0),
    "blmove": lambda c: c.blmove("nothing", "dst", 0),
    "bzpopmin": lambda c: c.bzpopmin("nothing", timeout=0),
    "blmpop": lambda c: c.blmpop(0, 1, "nothing", direction="LEFT"),
    "xread": lambda c: c.xread({"nostream": "$"}, block=0),
}


def flags_of(control: redis.Redis, client_id: int) -> str:
    for c in control.client_list():
        if int(c["id"]) == client_id:
            return c["flags"]
    return "gone"


def unblock_outcomes(port: int, control: redis.Redis) -> dict:
    outcomes = {}
    for name, call in BLOCKING_CALLS.items():
        for reason in ("TIMEOUT", "ERROR"):
            box = {}
            t = threading.Thread(target=blocked_call, args=(port, call, box, "result"))
            t.start()
            deadline = time.time() + 5
            while "id" not in box and time.time() < deadline:
                time.sleep(0.01)
            # Until it blocks, CLIENT UNBLOCK finds nothing to end (0); then exactly once.
            # While it is blocked, CLIENT LIST flags it `b`.
            while time.time() < deadline and "b" not in flags_of(control, box["id"]):
                time.sleep(0.02)
            blocked_flags = flags_of(control, box["id"])
            answers = []
            while time.time() < deadline:
                n = control.execute_command("CLIENT", "UNBLOCK", box["id"], reason)
                if n:
                    answers.append(n)
                    break
                time.sleep(0.02)
            t.join(5)
            assert not t.is_alive(), f"{name} stayed blocked"
            again = control.execute_command("CLIENT", "UNBLOCK", box["id"], reason)
            outcomes[(name, reason)] = (blocked_flags, answers, box["result"], again,
                                        flags_of(control, box["id"]))
    return outcomes


def test_client_unblock_ends_each_blocking_command_as_redis_server_does(r, dotdo, real_redis):
    real_port = real_redis.connection_pool.connection_kwargs["port"]
    want = unblock_outcomes(real_port, redis.Redis(port=real_port, decode_responses=True))
    _, port = dotdo.addr("redis")
    got = unblock_outcomes(port, r)
    assert got == want
    assert want[("blpop", "ERROR")][2] == "error: UNBLOCKED client unblocked via CLIENT UNBLOCK"
    assert want[("blpop", "TIMEOUT")][0] == "b"


def test_client_unblock_errors_are_worded_as_redis_server_words_them(r, real_redis):
    me = r.client_id()
    for c in (r, real_redis):
        assert c.execute_command("CLIENT", "UNBLOCK", 999999) == 0
        # A client that is not blocked is not unblocked.
        assert c.execute_command("CLIENT", "UNBLOCK", me) == 0
    assert_same_errors((r, real_redis), [
        ("CLIENT", "UNBLOCK", "x"), ("CLIENT", "UNBLOCK", 1, "SOON"), ("CLIENT", "UNBLOCK"),
    ])


def subscriber(port: int, *commands) -> socket.socket:
    """A raw connection logged in as alice that sent `commands` and read their replies."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(cmd("AUTH", "alice", "pw") + b"".join(cmd(*c) for c in commands))
    time.sleep(0.2)
    s.recv(65536)
    return s


def closed(s: socket.socket) -> bool:
    s.settimeout(1)
    try:
        return s.recv(65536) == b""
    except (socket.timeout, BlockingIOError):
        return False
    except ConnectionResetError:
        return True


def revoke_outcomes(port: int, admin: redis.Redis) -> dict:
    admin.execute_command("ACL", "SETUSER", "alice", "reset", "on", ">pw", "+@all", "~*",
                          "&news.*", "&sports")
    subs = {
        "channel kept": subscriber(port, ("SUBSCRIBE", "news.a")),
        "channel lost": subscriber(port, ("SUBSCRIBE", "sports")),
        "pattern lost": subscriber(port, ("PSUBSCRIBE", "news.*")),
        "shard kept": subscriber(port, ("SSUBSCRIBE", "news.b")),
        "idle": subscriber(port, ("PING",)),
    }
    # Now alice may use news.a and news.b only: sports is gone, and so is the pattern news.*
    # (a PSUBSCRIBE needs it literally).
    admin.execute_command("ACL", "SETUSER", "alice", "resetchannels", "&news.a", "&news.b")
    time.sleep(0.3)
    outcome = {name: closed(s) for name, s in subs.items()}
    for s in subs.values():
        s.close()
    admin.execute_command("ACL", "DELUSER", "alice")
    return outcome


def test_acl_setuser_closes_subscribers_that_lost_their_channels_as_redis_server_does(
        r, dotdo, real_redis):
    real_port = real_redis.connection_pool.connection_kwargs["port"]
    want = revoke_outcomes(real_port, real_redis)
    assert want == {"channel kept": False, "channel lost": True, "pattern lost": True,
                    "shard kept": False, "idle": False}, want
    _, port = dotdo.addr("redis")
    assert revoke_outcomes(port, r) == want


def last_commands(port: int) -> list:
    """The `cmd` CLIENT LIST shows for a connection after each of a few commands, as another
    connection sees it, then as the connection sees itself."""
    seen = []
    with redis.Redis(port=port, lib_name=None, lib_version=None) as a, redis.Redis(
        port=port, lib_name=None, lib_version=None
    ) as control:
        me = a.client_id()
        for call in (
            ("CONFIG", "GET", "maxmemory"),
            ("OBJECT", "ENCODING", "nosuch"),
            ("XINFO", "HELP"),
            ("GET", "k"),
            ("CLIENT", "NOSUCHSUB"),
            ("SLOWLOG", "LEN"),
        ):
            try:
                a.execute_command(*call)
            except redis.ResponseError:
                pass
            seen.append(next(c["cmd"] for c in control.client_list() if int(c["id"]) == me))
        seen.append(next(c["cmd"] for c in a.client_list() if int(c["id"]) == me))
    return seen


# lib_name=None (no CLIENT SETINFO, which redis-server 7.0 lacks) is deprecated in redis-py 8.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_client_list_names_the_last_subcommand_as_redis_server_does(r, dotdo, real_redis):
    want = last_commands(real_redis.connection_pool.connection_kwargs["port"])
    assert want[0] == "config|get" and want[-1] == "client|list", want
    assert last_commands(dotdo.addr("redis")[1]) == want
