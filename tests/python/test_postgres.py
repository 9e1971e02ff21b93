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


def test_schemas_and_search_path(dotdo_factory):
    d = dotdo_factory()
    a = connect(d, "schemas")
    a.execute("CREATE SCHEMA tenant_a")
    a.execute("CREATE SCHEMA tenant_b")
    with pytest.raises(psycopg.errors.DuplicateSchema) as e:
        a.execute("CREATE SCHEMA tenant_a")
    assert e.value.diag.message_primary == 'schema "tenant_a" already exists'
    for schema in ("tenant_a", "tenant_b"):
        a.execute(f"CREATE TABLE {schema}.notes (id serial PRIMARY KEY, body text NOT NULL)")
        a.execute(f"INSERT INTO {schema}.notes (body) VALUES (%s), (%s)", (f"{schema} 1", f"{schema} 2"))
    assert a.execute("SELECT body FROM tenant_b.notes ORDER BY id").fetchall() == [("tenant_b 1",), ("tenant_b 2",)]
    with pytest.raises(psycopg.errors.UndefinedTable) as e:
        a.execute("SELECT * FROM notes")
    assert e.value.diag.message_primary == 'relation "notes" does not exist'
    with pytest.raises(psycopg.errors.InvalidSchemaName) as e:
        a.execute("CREATE TABLE nope.t (a int)")
    assert e.value.diag.message_primary == 'schema "nope" does not exist'
    # One prepared statement, run under two search paths: each finds its own table.
    query = "SELECT body FROM notes WHERE id = %s"
    a.execute("SET search_path TO tenant_a, public")
    assert a.execute(query, (1,), prepare=True).fetchone() == ("tenant_a 1",)
    assert a.execute("SELECT current_schema()").fetchone() == ("tenant_a",)
    a.execute("SET search_path = tenant_b")
    assert a.execute(query, (1,), prepare=True).fetchone() == ("tenant_b 1",)
    assert a.execute("SELECT body FROM notes WHERE id = 2").fetchone() == ("tenant_b 2",)
    assert a.execute("SHOW search_path").fetchone() == ("tenant_b",)
    # RETURNING and errors name the table as PostgreSQL does.
    row = a.execute("INSERT INTO notes (body) VALUES ('b 3') RETURNING id, body").fetchone()
    assert row == (3, "b 3")
    with pytest.raises(psycopg.errors.UniqueViolation) as e:
        a.execute("INSERT INTO notes (id, body) VALUES (1, 'dup')")
    assert e.value.diag.message_primary == 'duplicate key value violates unique constraint "notes_pkey"'
    # Another session keeps its own path.
    b = connect(d, "schemas")
    assert b.execute("SELECT count(*) FROM tenant_a.notes").fetchone() == (2,)
    assert b.execute("SELECT current_schemas(false)").fetchone()[0] in ("{public}", ["public"])
    # Reflection as SQLAlchemy does it.
    tables = b.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", ("tenant_b",)
    ).fetchall()
    assert tables == [("notes",)]
    columns = b.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'tenant_a' AND table_name = 'notes' ORDER BY ordinal_position"
    ).fetchall()
    assert columns == [("id", "integer"), ("body", "text")]
    a.execute("RESET search_path")
    assert a.execute("SHOW search_path").fetchone() == ('"$user", public',)
    # A search_path given at connect time (libpq's options).
    host, port = d.addr("postgres")
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="schemas", autocommit=True, options="-c search_path=tenant_b"
    ) as o:
        assert o.execute("SHOW search_path").fetchone() == ("tenant_b",)
        assert o.execute("SELECT count(*) FROM notes").fetchone() == (3,)
        o.execute("SET search_path = public")
        o.execute("RESET search_path")
        assert o.execute("SHOW search_path").fetchone() == ("tenant_b",)
    a.close()
    b.close()
    # Schemas and their tables are durable in the database's object.
    d.kill_and_restart()
    c = connect(d, "schemas")
    assert c.execute("SELECT body FROM tenant_a.notes ORDER BY id").fetchall() == [("tenant_a 1",), ("tenant_a 2",)]
    assert c.execute("SELECT count(*) FROM tenant_b.notes").fetchone() == (3,)
    names = c.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant%' ORDER BY 1").fetchall()
    assert names == [("tenant_a",), ("tenant_b",)]
    with pytest.raises(psycopg.errors.DependentObjectsStillExist):
        c.execute("DROP SCHEMA tenant_a")
    c.execute("DROP SCHEMA tenant_a CASCADE")
    with pytest.raises(psycopg.errors.UndefinedTable):
        c.execute("SELECT * FROM tenant_a.notes")
    assert c.execute("SELECT count(*) FROM tenant_b.notes").fetchone() == (3,)
    c.close()


def test_databases_from_before_schemas_keep_their_tables(dotdo_factory):
    """An object whose catalog predates schemas (no _pg_namespaces, the old views) is
    migrated on first use: its public tables keep their names and rows. The old catalog is
    put back by editing the object's SQLite file, which only the embedded backend keeps
    at a known path, so this test pins it."""
    import sqlite3

    d = dotdo_factory(backend="embedded")
    a = connect(d, "legacy")
    a.execute("CREATE TABLE old_t (id int PRIMARY KEY, v text)")
    a.execute("CREATE INDEX old_t_v ON old_t (v)")
    a.execute("INSERT INTO old_t VALUES (1, 'kept'), (2, 'also kept')")
    a.close()
    assert d.stop() == 0
    db = sqlite3.connect(d.data_dir / "ns-pg%2Flegacy" / "o-main.db")
    db.executescript(
        """
        DROP VIEW _pg_split; DROP VIEW _pg_is_schemata; DROP TABLE _pg_namespaces;
        DROP VIEW pg_namespace;
        CREATE VIEW pg_namespace (oid, nspname, nspowner) AS VALUES (11, 'pg_catalog', 10), (2200, 'public', 6171), (13000, 'information_schema', 10);
        UPDATE _meta SET value = 3 WHERE key = 'pg_catalog_views';
        """
    )
    db.close()
    d.restart()
    b = connect(d, "legacy")
    assert b.execute("SELECT id, v FROM old_t ORDER BY id").fetchall() == [(1, "kept"), (2, "also kept")]
    assert b.execute("SELECT count(*) FROM public.old_t").fetchone() == (2,)
    assert b.execute("SELECT schemaname FROM pg_tables WHERE tablename = 'old_t'").fetchone() == ("public",)
    b.execute("CREATE SCHEMA s")
    b.execute("CREATE TABLE s.old_t (id int PRIMARY KEY)")
    assert b.execute("SELECT count(*) FROM s.old_t").fetchone() == (0,)
    assert b.execute("SELECT count(*) FROM old_t").fetchone() == (2,)
    b.close()


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


def test_serial_and_identity_columns_own_sequences(dotdo):
    with connect(dotdo, dbname="serials") as conn:
        conn.execute("CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL)")
        conn.execute("CREATE TABLE tickets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what text)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO people (name) VALUES (%s)", [("a",), ("b",), ("c",)])
            cur.execute("INSERT INTO people (name) VALUES (%s), (%s) RETURNING id", ("d", "e"))
            assert [r[0] for r in cur.fetchall()] == [4, 5]
            assert cur.execute("SELECT currval('people_id_seq')").fetchone()[0] == 5
            assert cur.execute("SELECT pg_get_serial_sequence('people', 'id')").fetchone()[0] == "public.people_id_seq"
            # An explicit id does not move the sequence: the next default collides.
            cur.execute("INSERT INTO people (id, name) VALUES (6, 'explicit')")
            with pytest.raises(psycopg.errors.UniqueViolation):
                cur.execute("INSERT INTO people (name) VALUES ('collides')")
            assert cur.execute("INSERT INTO people (name) VALUES ('f') RETURNING id").fetchone()[0] == 7
            # GENERATED ALWAYS refuses an explicit value unless OVERRIDING SYSTEM VALUE.
            with pytest.raises(psycopg.errors.GeneratedAlways):
                cur.execute("INSERT INTO tickets (id, what) VALUES (%s, %s)", (9, "x"))
            cur.execute("INSERT INTO tickets OVERRIDING SYSTEM VALUE VALUES (%s, %s)", (9, "x"))
            cur.execute("INSERT INTO tickets (what) SELECT name FROM people ORDER BY id RETURNING id")
            assert [r[0] for r in cur.fetchall()] == [1, 2, 3, 4, 5, 6, 7]
        # A rolled-back block's values stay taken (PostgreSQL never gives them back).
        with pytest.raises(RuntimeError):
            with conn.transaction():
                got = conn.execute("INSERT INTO people (name) VALUES ('gone') RETURNING id").fetchone()[0]
                assert got == 8
                raise RuntimeError("roll back")
        assert conn.execute("INSERT INTO people (name) VALUES ('g') RETURNING id").fetchone()[0] == 9
        assert conn.execute("SELECT count(*) FROM people WHERE name = 'gone'").fetchone()[0] == 0
        # Prepared (extended protocol) and binary: one value per row of an INSERT ... SELECT.
        with conn.cursor(binary=True) as cur:
            cur.execute(
                "INSERT INTO people (name) SELECT name || %s FROM people WHERE id < %s RETURNING id",
                ("!", 3),
                prepare=True,
            )
            assert [r[0] for r in cur.fetchall()] == [10, 11]
        conn.execute("TRUNCATE people, tickets RESTART IDENTITY")
        assert conn.execute("INSERT INTO tickets (what) VALUES ('new') RETURNING id").fetchone()[0] == 1
        conn.execute("DROP TABLE people, tickets")
        assert conn.execute("SELECT count(*) FROM pg_sequences").fetchone()[0] == 0


def test_citus_distributed_table_survives_restart(dotdo_factory):
    """create_distributed_table through psycopg, parameterised inserts routed to shards,
    pinned and fanned-out queries, and the distribution kept across a gateway restart."""
    d = dotdo_factory("[postgres]\nshard_count = 4\n")

    def conn():
        host, port = d.addr("postgres")
        return psycopg.connect(host=host, port=port, user="postgres", dbname="citus", autocommit=True)

    with conn() as c:
        c.execute("CREATE TABLE events (tenant int NOT NULL, id int NOT NULL, kind text, n int, PRIMARY KEY (tenant, id))")
        c.execute("CREATE TABLE kinds (kind text PRIMARY KEY, label text)")
        c.execute("INSERT INTO kinds VALUES ('a', 'Alpha'), ('b', 'Beta')")
        assert c.execute("SELECT create_distributed_table('events', 'tenant')").fetchall() == [("",)]
        c.execute("SELECT create_reference_table('kinds')")
        with c.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (tenant, id, kind, n) VALUES (%s, %s, %s, %s)",
                [(t, i, "ab"[(t + i) % 2], t * 10 + i) for t in range(1, 11) for i in range(1, 4)],
            )
        assert c.execute("SELECT id, n FROM events WHERE tenant = %s ORDER BY id", (3,)).fetchall() == [
            (1, 31),
            (2, 32),
            (3, 33),
        ]
        assert c.execute("SELECT count(*), sum(n), max(n) FROM events").fetchone() == (30, 1710, 103)
        assert c.execute(
            "SELECT k.label, count(*) FROM events e JOIN kinds k ON k.kind = e.kind GROUP BY k.label ORDER BY 1"
        ).fetchall() == [("Alpha", 15), ("Beta", 15)]
        assert c.execute("SELECT tenant FROM events ORDER BY n DESC LIMIT 2").fetchall() == [(10,), (10,)]
        cur = c.execute("UPDATE events SET n = n + 1 WHERE kind = %s", ("a",))
        assert cur.rowcount == 15
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            c.execute("UPDATE events SET tenant = 1 WHERE id = 1")
        c.execute("CREATE TABLE loose (a int)")
        with pytest.raises(psycopg.errors.UndefinedColumn):
            c.execute("SELECT create_distributed_table('loose', 'nope')")
    # A block on one tenant commits as one.
    host, port = d.addr("postgres")
    with psycopg.connect(host=host, port=port, user="postgres", dbname="citus") as c:
        c.execute("INSERT INTO events (tenant, id, kind, n) VALUES (%s, %s, %s, %s)", (11, 1, "a", 0))
        c.execute("UPDATE events SET n = 5 WHERE tenant = %s AND id = %s", (11, 1))
        c.commit()
    d.restart()
    with conn() as c:
        assert c.execute(
            "SELECT logicalrelid, partmethod FROM pg_dist_partition ORDER BY 1"
        ).fetchall() == [("events", "h"), ("kinds", "n")]
        assert c.execute("SELECT table_name, shard_count FROM citus_tables WHERE citus_table_type = 'distributed'").fetchall() == [
            ("events", 4)
        ]
        assert c.execute("SELECT count(*), sum(n) FROM events").fetchone() == (31, 1710 + 15 + 5)
        assert c.execute("SELECT n FROM events WHERE tenant = %s", (11,)).fetchall() == [(5,)]


def test_citus_tables_in_schemas_follow_search_path(dotdo_factory):
    """A distributed table in a schema shadows a distributed public table of the same name
    on the search_path; both stay distinct through routing, fan-out, arrays and a restart."""
    d = dotdo_factory("[postgres]\nshard_count = 4\n")

    def conn():
        host, port = d.addr("postgres")
        return psycopg.connect(host=host, port=port, user="postgres", dbname="tenants", autocommit=True)

    with conn() as c:
        c.execute("CREATE SCHEMA shop")
        c.execute("CREATE TABLE shop.items (tenant int NOT NULL, id int NOT NULL, tags text[])")
        c.execute("CREATE TABLE items (tenant int NOT NULL, id int NOT NULL)")
        c.execute("INSERT INTO items VALUES (1, 100), (2, 200)")
        c.execute("SET search_path TO shop, public")
        c.execute("SELECT create_distributed_table('items', 'tenant')")
        c.execute("SELECT create_distributed_table('public.items', 'tenant', shard_count => 2)")
        with c.cursor() as cur:
            cur.executemany(
                "INSERT INTO items (tenant, id, tags) VALUES (%s, %s, %s)",
                [(t, t * 10 + i, [f"t{t}", f"i{i}"]) for t in range(1, 9) for i in range(2)],
            )
        assert c.execute("SELECT count(*), sum(id) FROM items").fetchone() == (16, sum(t * 20 + 1 for t in range(1, 9)))
        assert c.execute("SELECT count(*), sum(id) FROM public.items").fetchone() == (2, 300)
        assert c.execute("SELECT id, tags FROM items WHERE tenant = %s ORDER BY id", (3,)).fetchall() == [
            (30, ["t3", "i0"]),
            (31, ["t3", "i1"]),
        ]
        assert c.execute("SELECT id FROM items WHERE 'i1' = ANY(tags) ORDER BY id DESC LIMIT 2").fetchall() == [(81,), (71,)]
    d.restart()
    with conn() as c:
        assert c.execute("SELECT count(*) FROM shop.items").fetchone() == (16,)
        assert c.execute("SELECT count(*) FROM items").fetchone() == (2,)
        c.execute("SET search_path TO shop")
        assert c.execute("SELECT tags FROM items WHERE tenant = 8 AND id = 80").fetchone() == (["t8", "i0"],)
