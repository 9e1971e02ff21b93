"""Redis 7.0 sharded pub/sub (SSUBSCRIBE / SUNSUBSCRIBE / SPUBLISH, PUBSUB SHARDCHANNELS /
SHARDNUMSUB) through redis-py, and raw RESP2/RESP3 exchanges compared byte for byte with a
real redis-server."""

import socket
import time

import pytest
import redis


def _sharded(p, timeout=5):
    """The next sharded pub/sub message (or confirmation), waiting up to `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_sharded_message(timeout=0.5)
        if m:
            return m
    return None


def _wait_until(pred, timeout=5):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "condition not reached"
        time.sleep(0.02)


def _encode(parts):
    out = b"*%d\r\n" % len(parts)
    for p in parts:
        p = p.encode() if isinstance(p, str) else p
        out += b"$%d\r\n%s\r\n" % (len(p), p)
    return out


class Raw:
    """A bare RESP connection: send a command, read whatever arrives until it goes quiet."""

    def __init__(self, port, host="127.0.0.1"):
        self.s = socket.create_connection((host, port), timeout=5)

    def send(self, *parts, wait=0.15):
        self.s.sendall(_encode(parts))
        return self.read(wait)

    def read(self, wait=0.15):
        time.sleep(wait)
        self.s.setblocking(False)
        data = b""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except BlockingIOError:
            pass
        finally:
            self.s.setblocking(True)
        return data

    def close(self):
        self.s.close()


def _exchange(port, script, host="127.0.0.1"):
    """Run `script` (commands; a tuple starting with "@" runs on a second connection) and
    return every reply seen, in order."""
    main = Raw(port, host)
    seen = []
    try:
        for cmd in script:
            if cmd[0] == "@":
                other = Raw(port, host)
                seen.append(("other", other.send(*cmd[1:])))
                other.close()
                seen.append(("main", main.read()))
            else:
                seen.append((cmd, main.send(*cmd)))
    finally:
        main.close()
    return seen


def test_ssubscribe_spublish_and_get_sharded_message(r, dotdo):
    p = r.pubsub()
    p.ssubscribe("orders{1}", "invoices{1}")
    confirmations = [_sharded(p), _sharded(p)]
    assert [(m["type"], m["channel"], m["data"]) for m in confirmations] == [
        ("ssubscribe", "orders{1}", 1),
        ("ssubscribe", "invoices{1}", 2),
    ]
    assert r.spublish("orders{1}", "o-1") == 1
    assert r.spublish("nobody", "x") == 0
    m = _sharded(p)
    assert (m["type"], m["channel"], m["data"]) == ("smessage", "orders{1}", "o-1")
    p.sunsubscribe("orders{1}")
    m = _sharded(p)
    assert (m["type"], m["channel"], m["data"]) == ("sunsubscribe", "orders{1}", 1)
    assert r.spublish("orders{1}", "o-2") == 0
    assert r.spublish("invoices{1}", "i-1") == 1
    m = _sharded(p)
    assert (m["type"], m["data"]) == ("smessage", "i-1")
    p.close()
    _wait_until(lambda: r.pubsub_shardnumsub("invoices{1}") == [("invoices{1}", 0)])


def test_shard_channels_are_apart_from_classic_channels_and_patterns(r, dotdo):
    shard = r.pubsub()
    shard.ssubscribe("news")
    assert _sharded(shard)["type"] == "ssubscribe"
    classic = r.pubsub()
    classic.subscribe("news")
    classic.psubscribe("n*")
    for kind in ("subscribe", "psubscribe"):
        assert classic.get_message(timeout=5)["type"] == kind
    # Each publish reaches its own namespace only.
    assert r.spublish("news", "sharded") == 1
    assert r.publish("news", "classic") == 2
    m = _sharded(shard)
    assert (m["type"], m["data"]) == ("smessage", "sharded")
    assert shard.get_sharded_message(timeout=0.3) is None
    got = sorted(
        (m["type"], m["data"])
        for m in (classic.get_message(timeout=5), classic.get_message(timeout=5))
    )
    assert got == [("message", "classic"), ("pmessage", "classic")]
    assert classic.get_message(timeout=0.3) is None
    assert r.pubsub_channels() == ["news"]
    assert r.pubsub_shardchannels() == ["news"]
    assert r.pubsub_numsub("news") == [("news", 1)]
    assert r.pubsub_shardnumsub("news") == [("news", 1)]
    assert r.pubsub_numpat() == 1
    shard.close()
    classic.close()


def test_pubsub_shardchannels_and_shardnumsub(r, dotdo):
    subs = []
    for names in (["a{x}", "b{x}"], ["b{x}"], ["c"]):
        p = r.pubsub()
        p.ssubscribe(*names)
        for _ in names:
            assert _sharded(p)["type"] == "ssubscribe"
        subs.append(p)
    assert sorted(r.pubsub_shardchannels()) == ["a{x}", "b{x}", "c"]
    assert sorted(r.pubsub_shardchannels("b*")) == ["b{x}"]
    assert r.pubsub_shardchannels("zz*") == []
    assert r.pubsub_shardnumsub("a{x}", "b{x}", "c", "missing") == [
        ("a{x}", 1),
        ("b{x}", 2),
        ("c", 1),
        ("missing", 0),
    ]
    assert r.pubsub_shardnumsub() == []
    assert r.pubsub_channels() == []
    assert r.spublish("b{x}", "both") == 2
    for p in subs:
        p.close()
    _wait_until(lambda: r.pubsub_shardchannels() == [])


def test_resp3_sharded_messages_are_pushes(r3, dotdo):
    p = r3.pubsub()
    p.ssubscribe("ch")
    assert _sharded(p)["type"] == "ssubscribe"
    assert r3.spublish("ch", "pushed") == 1
    m = _sharded(p)
    assert (m["type"], m["channel"], m["data"]) == ("smessage", "ch", "pushed")
    p.close()

    host, port = dotdo.addr("redis")
    raw = Raw(port, host)
    assert raw.send("HELLO", "3").startswith(b"%")
    assert raw.send("SSUBSCRIBE", "ch") == b">3\r\n$10\r\nssubscribe\r\n$2\r\nch\r\n:1\r\n"
    # A RESP3 connection may run any command while subscribed.
    assert raw.send("GET", "missing") == b"_\r\n"
    assert raw.send("PING") == b"+PONG\r\n"
    assert r3.spublish("ch", "hi") == 1
    assert raw.read() == b">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    assert raw.send("SUNSUBSCRIBE") == b">3\r\n$12\r\nsunsubscribe\r\n$2\r\nch\r\n:0\r\n"
    assert raw.send("SUNSUBSCRIBE") == b">3\r\n$12\r\nsunsubscribe\r\n_\r\n:0\r\n"
    raw.close()


def test_resp2_subscribed_context_and_reset(r, dotdo):
    host, port = dotdo.addr("redis")
    raw = Raw(port, host)
    assert raw.send("SSUBSCRIBE", "s1") == b"*3\r\n$10\r\nssubscribe\r\n$2\r\ns1\r\n:1\r\n"
    assert raw.send("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    assert raw.send("GET", "k").startswith(b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE")
    # Classic (un)subscriptions count classic ones only, shard ones shard ones only.
    assert raw.send("UNSUBSCRIBE") == b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    assert raw.send("SUBSCRIBE", "c1") == b"*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n"
    line = next(l for l in r.client_list() if l["ssub"] == "1")
    assert (line["sub"], line["psub"], line["flags"]) == ("1", "0", "P")
    assert raw.send("SUNSUBSCRIBE") == b"*3\r\n$12\r\nsunsubscribe\r\n$2\r\ns1\r\n:0\r\n"
    # Still subscribed to a classic channel: still in the subscribed context.
    assert raw.send("GET", "k").startswith(b"-ERR Can't execute")
    assert raw.send("UNSUBSCRIBE") == b"*3\r\n$11\r\nunsubscribe\r\n$2\r\nc1\r\n:0\r\n"
    assert raw.send("GET", "k") == b"$-1\r\n"
    assert raw.send("SSUBSCRIBE", "s2") == b"*3\r\n$10\r\nssubscribe\r\n$2\r\ns2\r\n:1\r\n"
    assert raw.send("RESET") == b"+RESET\r\n"
    assert raw.send("GET", "k") == b"$-1\r\n"
    assert r.pubsub_shardnumsub("s2") == [("s2", 0)]
    assert raw.send("SSUBSCRIBE", "s3") == b"*3\r\n$10\r\nssubscribe\r\n$2\r\ns3\r\n:1\r\n"
    raw.close()
    _wait_until(lambda: r.pubsub_shardnumsub("s3") == [("s3", 0)])


def test_spublish_in_multi_and_ssubscribe_refused_there(r, dotdo):
    p = r.pubsub()
    p.ssubscribe("tx")
    assert _sharded(p)["type"] == "ssubscribe"
    pipe = r.pipeline(transaction=True)
    pipe.spublish("tx", "from-multi")
    pipe.pubsub_shardnumsub("tx")
    assert pipe.execute() == [1, [("tx", 1)]]
    m = _sharded(p)
    assert (m["type"], m["data"]) == ("smessage", "from-multi")
    p.close()


def test_acl_channel_rules_apply_to_shard_channels(r, dotdo):
    r.acl_setuser("frank", enabled=True, nopass=True, channels=["news*"], commands=["+@all"], keys=["*"], reset_channels=True)
    try:
        assert r.acl_dryrun("frank", "spublish", "other", "x") == (
            "This user has no permissions to access the 'other' channel"
        )
        assert r.acl_dryrun("frank", "ssubscribe", "news1", "other") == (
            "This user has no permissions to access the 'other' channel"
        )
        assert r.acl_dryrun("frank", "spublish", "news1", "x") == "OK"
        assert r.acl_dryrun("frank", "sunsubscribe", "other") == "OK"
        host, port = dotdo.addr("redis")
        c = redis.Redis(host=host, port=port, username="frank", password="x", decode_responses=True)
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.spublish("other", "x")
        assert c.spublish("news1", "x") == 0
        c.close()
    finally:
        r.acl_deluser("frank")


def test_command_info_of_the_shard_commands(r, real_redis):
    names = ("spublish", "ssubscribe", "sunsubscribe")
    ours = r.execute_command("COMMAND", "INFO", *names)
    theirs = real_redis.execute_command("COMMAND", "INFO", *names)
    fields = ("arity", "first_key_pos", "last_key_pos", "step_count", "acl_categories")

    def shown(info):
        return {n: {f: info[n if n in info else n.encode()][f] for f in fields} for n in names}

    def text(v):
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, list):
            return sorted(text(x) for x in v)
        return v

    assert {n: {f: text(v) for f, v in d.items()} for n, d in shown(ours).items()} == {
        n: {f: text(v) for f, v in d.items()} for n, d in shown(theirs).items()
    }
    assert shown(ours)["spublish"]["first_key_pos"] == 1
    # The channel is declared `not_key`: it is no key.
    for client in (r, real_redis):
        with pytest.raises(redis.ResponseError, match="no key arguments"):
            client.execute_command("COMMAND", "GETKEYS", "SPUBLISH", "ch", "msg")


SCRIPTS = [
    [
        ("SSUBSCRIBE", "a", "b"),
        ("SSUBSCRIBE", "a", "{a}x"),
        ("SUBSCRIBE", "a"),
        ("SSUBSCRIBE", "c"),
        ("@", "SPUBLISH", "a", "hi"),
        ("@", "PUBLISH", "a", "classic"),
        ("@", "PUBSUB", "SHARDNUMSUB", "a", "b", "zz"),
        ("@", "PUBSUB", "NUMSUB", "a", "b"),
        ("PING", "x"),
        ("GET", "x"),
        ("SUNSUBSCRIBE", "c"),
        ("UNSUBSCRIBE",),
        ("SUNSUBSCRIBE", "a", "b", "{a}x"),
        ("SUNSUBSCRIBE",),
        ("SUNSUBSCRIBE", "zz"),
        ("GET", "x"),
    ],
    [
        ("HELLO", "3"),
        ("SSUBSCRIBE", "a"),
        ("@", "SPUBLISH", "a", "hi"),
        ("GET", "x"),
        ("SUNSUBSCRIBE",),
        ("SUNSUBSCRIBE",),
    ],
    [
        ("MULTI",),
        ("SPUBLISH", "a", "x"),
        ("PUBSUB", "SHARDNUMSUB", "a"),
        ("SSUBSCRIBE", "a"),
        ("EXEC",),
        ("SSUBSCRIBE",),
        ("SPUBLISH", "a"),
        ("PUBSUB", "SHARDCHANNELS", "a", "b"),
        ("PUBSUB", "HELP"),
    ],
]


@pytest.mark.parametrize("script", SCRIPTS, ids=["resp2", "resp3", "errors"])
def test_exchanges_match_redis_server(dotdo, real_redis, script):
    host, port = dotdo.addr("redis")
    ours = _exchange(port, script, host)
    theirs = _exchange(real_redis.connection_pool.connection_kwargs["port"], script)
    if script[0] == ("HELLO", "3"):
        # HELLO's reply names the server.
        ours, theirs = ours[1:], theirs[1:]
    assert ours == theirs
