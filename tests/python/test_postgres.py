"""psycopg 3 against dotdo's PostgreSQL front-end: text and binary, prepared statements, COPY."""

import datetime
import decimal

import psycopg
import pytest


def connect(dotdo, dbname="app"):
    host, port = dotdo.addr("postgres")
    return psycopg.connect(host=host, port=port, user="postgres", dbname=dbname, autocommit=True)


def test_text_and_binary_round_trip(dotdo):
    with connect(dotdo) as conn:
        conn.execute(
            "CREATE TABLE things (id bigserial PRIMARY KEY, name text NOT NULL, n int4, "
            "price numeric(8,2), ok boolean, blob bytea, day date, at timestamp)"
        )
        row = (
            "widget",
            7,
            decimal.Decimal("12.50"),
            True,
            b"\x00\xff",
            datetime.date(2024, 2, 29),
            datetime.datetime(2024, 1, 2, 3, 4, 5),
        )
        conn.execute(
            "INSERT INTO things (name, n, price, ok, blob, day, at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            row,
        )
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                cur.execute("SELECT name, n, price, ok, blob, day, at FROM things WHERE n = %s", (7,))
                got = cur.fetchone()
                assert got[0] == "widget"
                assert got[1] == 7
                assert got[2] == decimal.Decimal("12.50")
                assert got[3] is True
                assert bytes(got[4]) == b"\x00\xff"
                assert got[5] == datetime.date(2024, 2, 29)
                assert got[6] == datetime.datetime(2024, 1, 2, 3, 4, 5)


def test_server_side_prepared_statements(dotdo):
    with connect(dotdo) as conn:
        conn.prepare_threshold = 0
        conn.execute("CREATE TABLE kv (k text PRIMARY KEY, v int)")
        for i in range(10):
            conn.execute("INSERT INTO kv VALUES (%s, %s)", (f"k{i}", i), prepare=True)
        total = 0
        for i in range(10):
            total += conn.execute("SELECT v FROM kv WHERE k = %s", (f"k{i}",), prepare=True).fetchone()[0]
        assert total == 45


def test_copy_in_and_out(dotdo):
    with connect(dotdo) as conn:
        conn.execute("CREATE TABLE c (id int, name text)")
        with conn.cursor() as cur:
            with cur.copy("COPY c (id, name) FROM STDIN") as copy:
                for i in range(1000):
                    copy.write_row((i, f"name {i}"))
            assert conn.execute("SELECT count(*), max(id) FROM c").fetchone() == (1000, 999)
            out = []
            with cur.copy("COPY (SELECT id, name FROM c WHERE id < 3 ORDER BY id) TO STDOUT") as copy:
                for row in copy.rows():
                    out.append(row)
            assert out == [("0", "name 0"), ("1", "name 1"), ("2", "name 2")]


def test_arrays_round_trip_as_python_lists(dotdo):
    with connect(dotdo, "arrays") as conn:
        conn.execute(
            "CREATE TABLE docs (id int PRIMARY KEY, tags text[] NOT NULL DEFAULT '{}', "
            "scores int4[], big int8[], ratios float8[], flags bool[], days date[])"
        )
        rows = [
            (1, ["a", "b c", "", None, '"q"'], [1, 2, 3], [1 << 40, None], [0.5, 2.0], [True, False], [datetime.date(2024, 2, 29)]),
            (2, [], [], [], [], [], []),
            (3, ["x"], None, None, None, None, None),
        ]
        for binary in (False, True):
            # %t and %b send parameters in text and binary format; results follow the cursor.
            p = "%b" if binary else "%t"
            conn.execute("DELETE FROM docs")
            with conn.cursor(binary=binary) as cur:
                cur.executemany(
                    f"INSERT INTO docs (id, tags, scores, big, ratios, flags, days) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                    rows,
                )
                cur.execute("SELECT id, tags, scores, big, ratios, flags, days FROM docs ORDER BY id")
                assert cur.fetchall() == rows, f"binary={binary}"
                # = ANY(%s) with a Python list, the commonest use of arrays in applications.
                cur.execute(f"SELECT id FROM docs WHERE id = ANY({p}) ORDER BY id", ([1, 3, 99],))
                assert [r[0] for r in cur.fetchall()] == [1, 3]
                cur.execute(f"SELECT id FROM docs WHERE {p} = ANY(tags)", ("b c",))
                assert cur.fetchall() == [(1,)]
                cur.execute(f"SELECT id FROM docs WHERE tags @> {p} ORDER BY id", (["x"],))
                assert cur.fetchall() == [(3,)]
                # array_agg comes back as a list, unnest as rows.
                cur.execute("SELECT array_agg(id ORDER BY id) FROM docs")
                assert cur.fetchone()[0] == [1, 2, 3]
                cur.execute("SELECT array_agg(t ORDER BY t) FROM docs, unnest(tags) AS t WHERE t <> ''")
                assert cur.fetchone()[0] == ['"q"', "a", "b c", "x"]
                cur.execute(f"SELECT x FROM unnest({p}::int8[]) WITH ORDINALITY AS u(x, n) ORDER BY n", ([5, 6, 7],))
                assert [r[0] for r in cur.fetchall()] == [5, 6, 7]
                cur.execute("SELECT id, unnest(scores) FROM docs WHERE id = 1")
                assert cur.fetchall() == [(1, 1), (1, 2), (1, 3)]
                cur.execute(f"SELECT scores || {p}, array_length(scores, 1), scores[2] FROM docs WHERE id = 1", ([4],))
                assert cur.fetchone() == ([1, 2, 3, 4], 3, 2)
        conn.execute("UPDATE docs SET tags = array_append(tags, %s) WHERE id = %s", ("new", 2))
        assert conn.execute("SELECT tags FROM docs WHERE id = 2").fetchone()[0] == ["new"]
        # Text output is PostgreSQL's.
        assert conn.execute("SELECT tags::text FROM docs WHERE id = 1").fetchone()[0] == '{a,"b c","",NULL,"\\"q\\""}'
        with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e:
            conn.execute("SELECT '{1,2'::int[]")
        assert e.value.diag.message_primary == 'malformed array literal: "{1,2"'
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute("SELECT '{{1,2},{3,4}}'::int[]")
        # COPY with array columns, in and out.
        conn.execute("CREATE TABLE copied (id int, nums int[], words text[])")
        with conn.cursor() as cur:
            with cur.copy("COPY copied FROM STDIN") as copy:
                copy.write(b'1\t{1,2}\t{a,"b c"}\n2\t{}\t\\N\n')
            out = []
            with cur.copy("COPY copied TO STDOUT") as copy:
                for row in copy.rows():
                    out.append(row)
        assert out == [("1", "{1,2}", '{a,"b c"}'), ("2", "{}", None)]
        assert conn.execute("SELECT nums, words FROM copied ORDER BY id").fetchall() == [([1, 2], ["a", "b c"]), ([], None)]


def test_errors_and_transactions(dotdo):
    host, port = dotdo.addr("postgres")
    with psycopg.connect(host=host, port=port, user="postgres", dbname="tx") as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
        with conn.transaction():
            conn.execute("INSERT INTO t VALUES (2)")
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM nope")


def test_sequences(dotdo_factory):
    d = dotdo_factory()
    a = connect(d, "seq")
    a.execute("CREATE SEQUENCE ids START 10 INCREMENT BY 10 MAXVALUE 50")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState) as e:
        a.execute("SELECT currval('ids')")
    assert e.value.diag.message_primary == 'currval of sequence "ids" is not yet defined in this session'
    with pytest.raises(psycopg.errors.UndefinedTable) as e:
        a.execute("SELECT nextval('nope')")
    assert e.value.diag.message_primary == 'relation "nope" does not exist'
    assert a.execute("SELECT nextval('ids')").fetchone() == (10,)
    b = connect(d, "seq")
    # Values are shared by sessions; currval is each session's own.
    assert b.execute("SELECT nextval('ids')").fetchone() == (20,)
    assert a.execute("SELECT currval('ids'), lastval()").fetchone() == (10, 10)
    # A rolled-back statement keeps the value it took, as in PostgreSQL.
    a.execute("CREATE TABLE items (id bigint PRIMARY KEY DEFAULT nextval('ids'), label text NOT NULL)")
    a.execute("INSERT INTO items (label) VALUES ('x')")
    with pytest.raises(psycopg.errors.NotNullViolation):
        a.execute("INSERT INTO items (label) VALUES (NULL)")
    assert a.execute("INSERT INTO items (label) VALUES (%s) RETURNING id", ("y",)).fetchone() == (50,)
    # In a block, after other statements (the block switches to a locking transaction).
    a.execute("CREATE SEQUENCE tx_ids")
    with a.transaction():
        a.execute("SELECT count(*) FROM items")
        got = [a.execute("SELECT nextval('tx_ids')").fetchone()[0] for _ in range(3)]
    assert got == [1, 2, 3]
    assert a.execute("SELECT currval('tx_ids')").fetchone() == (3,)
    with pytest.raises(psycopg.errors.SequenceGeneratorLimitExceeded) as e:
        a.execute("SELECT nextval('ids')")
    assert e.value.diag.message_primary == 'nextval: reached maximum value of sequence "ids" (50)'
    assert a.execute("SELECT setval('ids', 10, false)").fetchone() == (10,)
    a.close()
    b.close()
    # Sequence state is durable in the database's object.
    d.kill_and_restart()
    c = connect(d, "seq")
    assert c.execute("SELECT nextval('ids')").fetchone() == (10,)
    assert c.execute("SELECT id FROM items ORDER BY id").fetchall() == [(30,), (50,)]
    c.execute("DROP SEQUENCE ids")
    with pytest.raises(psycopg.errors.UndefinedTable):
        c.execute("DROP SEQUENCE ids")
    c.execute("DROP SEQUENCE IF EXISTS ids")
    c.close()


def test_acknowledged_blocks_survive_sigkill(dotdo_factory):
    """Concurrent optimistic blocks (their statements answered before the data they saw is
    durable) under SIGKILL: every COMMIT that was acknowledged is there after restart, and
    every block is all or nothing."""
    import threading
    import time

    d = dotdo_factory()
    setup = connect(d, "crash")
    setup.execute("CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL)")
    setup.execute("CREATE TABLE hist (id bigint PRIMARY KEY, acct int NOT NULL, delta int NOT NULL)")
    setup.execute("INSERT INTO acct VALUES (1, 0), (2, 0), (3, 0)")
    setup.close()
    host, port = d.addr("postgres")
    acked = []
    stop = threading.Event()

    def writer(w):
        n = 0
        try:
            conn = psycopg.connect(host=host, port=port, user="postgres", dbname="crash")
            while not stop.is_set():
                n += 1
                hid, acct, delta = w * 1_000_000 + n, 1 + n % 3, n % 7 - 3
                try:
                    # Literals in the text: the simple-query templates are exercised too.
                    conn.execute(f"UPDATE acct SET bal = bal + {delta} WHERE id = {acct}")
                    conn.execute(f"SELECT bal FROM acct WHERE id = {acct}").fetchone()
                    conn.execute(f"INSERT INTO hist VALUES ({hid}, {acct}, {delta})")
                    conn.commit()
                    acked.append(hid)
                except psycopg.errors.SerializationFailure:
                    conn.rollback()
        except psycopg.OperationalError:
            return

    def reader():
        try:
            conn = psycopg.connect(host=host, port=port, user="postgres", dbname="crash")
            while not stop.is_set():
                conn.execute("SELECT sum(bal) FROM acct").fetchone()
                conn.execute("SELECT count(*) FROM hist").fetchone()
                conn.rollback()
        except psycopg.OperationalError:
            return

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    time.sleep(1.5)
    d.kill()
    stop.set()
    for t in threads:
        t.join(30)
    assert acked, "no block committed before the kill"
    d.kill_and_restart()
    c = connect(d, "crash")
    ids = {r[0] for r in c.execute("SELECT id FROM hist").fetchall()}
    assert set(acked) <= ids
    for acct, bal in c.execute("SELECT id, bal FROM acct").fetchall():
        total = c.execute(f"SELECT coalesce(sum(delta), 0) FROM hist WHERE acct = {acct}").fetchone()[0]
        assert bal == total, (acct, bal, total)
    c.close()
