"""psycopg 3 against dotdo: LISTEN/NOTIFY between connections and cancel requests."""

import threading

import psycopg
import pytest


def connect(dotdo, dbname="app", **kw):
    host, port = dotdo.addr("postgres")
    return psycopg.connect(host=host, port=port, user="postgres", dbname=dbname, autocommit=True, **kw)


def received(conn, n):
    """The next `n` notifications (channel, payload, pid), waiting for each."""
    got = []
    for note in conn.notifies(timeout=60, stop_after=n):
        got.append((note.channel, note.payload, note.pid))
    return got


def test_notifications_between_connections(dotdo):
    with connect(dotdo) as listener, connect(dotdo) as sender, connect(dotdo, "other") as other:
        listener.execute("LISTEN orders")
        pid = sender.info.backend_pid
        sender.execute("NOTIFY orders, 'created'")
        sender.execute("SELECT pg_notify(%s, %s)", ("orders", "paid"))
        other.execute("NOTIFY orders, 'another database'")
        with sender.transaction():
            sender.execute("NOTIFY orders, 'at commit'")
            sender.execute("NOTIFY orders, 'at commit'")
        with pytest.raises(ZeroDivisionError):
            with sender.transaction():
                sender.execute("NOTIFY orders, 'rolled back'")
                1 / 0
        sender.execute("NOTIFY orders, 'last'")
        assert received(listener, 4) == [
            ("orders", "created", pid),
            ("orders", "paid", pid),
            ("orders", "at commit", pid),
            ("orders", "last", pid),
        ]
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="payload string too long"):
            sender.execute("SELECT pg_notify('orders', %s)", ("x" * 8000,))
        sender.execute("SELECT pg_notify('orders', %s)", ("x" * 7999,))
        assert received(listener, 1) == [("orders", "x" * 7999, pid)]


def test_cancel_interrupts_pg_sleep_and_the_connection_survives(dotdo):
    with connect(dotdo) as conn:
        stop = threading.Event()

        def cancel_until_done():
            # The first cancel may arrive before the statement starts: repeat until it ends.
            while not stop.wait(0.1):
                conn.cancel_safe()

        t = threading.Thread(target=cancel_until_done)
        t.start()
        try:
            with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement due to user request"):
                conn.execute("SELECT pg_sleep(30)")
        finally:
            stop.set()
            t.join()
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
