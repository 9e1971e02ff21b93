"""SQLAlchemy 2 (dialect postgresql+psycopg) against dotdo: Core, the ORM and reflection."""

import pytest
import sqlalchemy as sa
from sqlalchemy import orm


def engine_for(dotdo, dbname):
    host, port = dotdo.addr("postgres")
    return sa.create_engine(f"postgresql+psycopg://postgres@{host}:{port}/{dbname}")


@pytest.fixture
def engine(dotdo, request):
    # One database per test: each starts from an empty catalog.
    e = engine_for(dotdo, request.node.name.replace("[", "_").replace("]", "").lower()[:60])
    yield e
    e.dispose()


def test_core_create_insert_select_returning(engine):
    md = sa.MetaData()
    items = sa.Table(
        "items",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("qty", sa.Integer, server_default="0"),
    )
    md.create_all(engine)
    with engine.begin() as conn:
        first = conn.execute(items.insert().values(name="a").returning(items.c.id)).scalar_one()
        assert first == 1
        ids = conn.execute(
            items.insert().returning(items.c.id), [{"name": "b"}, {"name": "c"}]
        ).scalars().all()
        assert ids == [2, 3]
        conn.execute(items.insert(), [{"name": "d"}, {"name": "e"}])
        # The serial column's own sequence.
        assert conn.execute(sa.text("SELECT currval('items_id_seq')")).scalar_one() == 5
        assert (
            conn.execute(sa.text("SELECT pg_get_serial_sequence('items', 'id')")).scalar_one()
            == "public.items_id_seq"
        )
    with engine.connect() as conn:
        rows = conn.execute(sa.select(items.c.id, items.c.name, items.c.qty).order_by(items.c.id)).all()
        assert [tuple(r) for r in rows] == [(1, "a", 0), (2, "b", 0), (3, "c", 0), (4, "d", 0), (5, "e", 0)]
        n = conn.execute(sa.select(sa.func.count()).select_from(items).where(items.c.name > "b")).scalar_one()
        assert n == 3
    md.drop_all(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pg_sequences")).scalar_one() == 0


class Base(orm.DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(100), unique=True)
    books: orm.Mapped[list["Book"]] = orm.relationship(back_populates="author", cascade="all, delete-orphan")


class Book(Base):
    __tablename__ = "books"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    title: orm.Mapped[str] = orm.mapped_column(sa.Text)
    pages: orm.Mapped[int | None]
    author_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("authors.id"), index=True)
    author: orm.Mapped[Author] = orm.relationship(back_populates="books")


def test_orm_session(engine):
    Base.metadata.create_all(engine)
    with orm.Session(engine) as s:
        ann = Author(name="Ann", books=[Book(title="One", pages=100), Book(title="Two", pages=200)])
        bob = Author(name="Bob", books=[Book(title="Three")])
        s.add_all([ann, bob])
        s.commit()
        assert ann.id == 1 and bob.id == 2
        assert sorted(b.id for b in ann.books) == [1, 2]

    with orm.Session(engine) as s:
        ann = s.scalars(sa.select(Author).where(Author.name == "Ann")).one()
        assert [b.title for b in sorted(ann.books, key=lambda b: b.id)] == ["One", "Two"]
        rows = s.execute(
            sa.select(Author.name, sa.func.count(Book.id))
            .join(Book)
            .group_by(Author.name)
            .order_by(Author.name)
        ).all()
        assert [tuple(r) for r in rows] == [("Ann", 2), ("Bob", 1)]
        # update
        book = s.get(Book, 3)
        book.pages = 50
        s.commit()
        assert s.scalars(sa.select(Book.pages).where(Book.id == 3)).one() == 50
        s.execute(sa.update(Book).where(Book.pages < 150).values(pages=Book.pages + 1))
        s.commit()
        assert s.scalars(sa.select(Book.pages).order_by(Book.id)).all() == [101, 200, 51]

    with orm.Session(engine) as s:
        # rollback: nothing of the block stays
        s.add(Author(name="Carl"))
        s.flush()
        s.rollback()
        assert s.scalars(sa.select(sa.func.count()).select_from(Author)).one() == 2
        # a unique violation is an IntegrityError, and the session goes on after rollback
        s.add(Author(name="Ann"))
        with pytest.raises(sa.exc.IntegrityError):
            s.commit()
        s.rollback()
        # delete (cascading to the author's books through the ORM)
        bob = s.scalars(sa.select(Author).where(Author.name == "Bob")).one()
        s.delete(bob)
        s.commit()
        assert s.scalars(sa.select(sa.func.count()).select_from(Book)).one() == 2
        assert s.scalars(sa.select(Author.name)).all() == ["Ann"]
        # A new author after the rollback and the failed insert: the sequence moved on.
        dan = Author(name="Dan")
        s.add(dan)
        s.commit()
        assert dan.id > 2


REFLECTED = (
    "CREATE SCHEMA inv",
    "CREATE TABLE parents (id serial PRIMARY KEY, code varchar(10) NOT NULL UNIQUE, "
    "note text DEFAULT 'none', made timestamp)",
    "CREATE TABLE children (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    "parent_id integer NOT NULL REFERENCES parents (id) ON DELETE CASCADE, "
    "amount numeric(10,2), flag boolean NOT NULL DEFAULT false)",
    "CREATE INDEX children_parent_idx ON children (parent_id)",
    "CREATE TABLE inv.stock (sku text PRIMARY KEY, n integer)",
)


@pytest.fixture
def reflected(engine):
    with engine.begin() as conn:
        for ddl in REFLECTED:
            conn.execute(sa.text(ddl))
    return sa.inspect(engine)


def test_reflection_names(reflected):
    insp = reflected
    assert sorted(insp.get_table_names()) == ["children", "parents"]
    assert insp.get_table_names(schema="inv") == ["stock"]
    assert {"public", "inv"} <= set(insp.get_schema_names())


def test_reflection_columns(reflected):
    insp = reflected
    cols = {c["name"]: c for c in insp.get_columns("parents")}
    assert list(cols) == ["id", "code", "note", "made"]
    assert isinstance(cols["id"]["type"], sa.Integer)
    assert cols["id"]["nullable"] is False
    assert cols["id"]["autoincrement"] is True
    assert cols["id"]["default"] == "nextval('parents_id_seq'::regclass)"
    assert isinstance(cols["code"]["type"], sa.String) and cols["code"]["type"].length == 10
    assert cols["code"]["nullable"] is False
    assert cols["note"]["default"] == "'none'::text"
    assert isinstance(cols["made"]["type"], sa.DateTime)

    ccols = {c["name"]: c for c in insp.get_columns("children")}
    assert isinstance(ccols["id"]["type"], sa.BigInteger)
    assert ccols["id"]["identity"]["always"] is False
    assert ccols["id"]["identity"]["start"] == 1
    assert isinstance(ccols["amount"]["type"], sa.Numeric)
    assert (ccols["amount"]["type"].precision, ccols["amount"]["type"].scale) == (10, 2)
    assert isinstance(ccols["flag"]["type"], sa.Boolean)
    assert ccols["flag"]["default"] == "false"

    scols = insp.get_columns("stock", schema="inv")
    assert [c["name"] for c in scols] == ["sku", "n"]


def test_reflection_constraints_and_indexes(reflected):
    insp = reflected
    assert insp.get_pk_constraint("parents")["constrained_columns"] == ["id"]
    assert insp.get_pk_constraint("parents")["name"] == "parents_pkey"
    assert insp.get_pk_constraint("stock", schema="inv")["constrained_columns"] == ["sku"]
    fks = insp.get_foreign_keys("children")
    assert len(fks) == 1
    assert fks[0]["constrained_columns"] == ["parent_id"]
    assert fks[0]["referred_table"] == "parents"
    assert fks[0]["referred_columns"] == ["id"]
    assert fks[0]["options"].get("ondelete") == "CASCADE"
    idx = insp.get_indexes("children")
    assert [(i["name"], i["column_names"], i["unique"]) for i in idx] == [
        ("children_parent_idx", ["parent_id"], False)
    ]
    uq = insp.get_unique_constraints("parents")
    assert [(u["name"], u["column_names"]) for u in uq] == [("parents_code_key", ["code"])]


def test_metadata_reflect(engine, reflected):
    md = sa.MetaData()
    md.reflect(engine)
    assert set(md.tables) == {"parents", "children"}
    children = md.tables["children"]
    assert [c.name for c in children.primary_key] == ["id"]
    assert {fk.target_fullname for fk in children.foreign_keys} == {"parents.id"}
    # The reflected tables work for Core statements.
    with engine.begin() as conn:
        pid = conn.execute(
            md.tables["parents"].insert().values(code="p1").returning(md.tables["parents"].c.id)
        ).scalar_one()
        conn.execute(children.insert().values(parent_id=pid, amount="1.50"))
        got = conn.execute(sa.select(children.c.parent_id, children.c.amount, children.c.flag)).one()
        assert (got[0], str(got[1]), got[2]) == (pid, "1.50", False)
