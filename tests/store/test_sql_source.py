"""Reading a user's SQL query into Arrow (store/sql_source.py) on real SQLite and DuckDB
files: the values and types that come back, the URL shown without its password, and the
one-line refusals (checked word for word, since they are what a user reads).
tests/cli/test_sql_ingest.py runs the same through `segtrail ingest --sql`, PostgreSQL too."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from segtrail.errors import InputError
from segtrail.store import sql_source
from segtrail.store.sql_source import default_name, read_sql, shown_url


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE orders (id TEXT, amount REAL, n INTEGER, note TEXT)")
        c.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [("a", 1.5, 1, None), ("b", None, 2, "x"), ("c", 3.0, None, "y")],
        )
    c.close()
    return path


def test_read_sql_returns_every_row_as_arrow(shop: Path) -> None:
    got = read_sql("SELECT * FROM orders ORDER BY id", f"sqlite:///{shop}")
    assert got.url == f"sqlite:///{shop}" and got.query == "SELECT * FROM orders ORDER BY id"
    assert got.table.column_names == ["id", "amount", "n", "note"]
    assert got.table.to_pydict() == {
        "id": ["a", "b", "c"],
        "amount": [1.5, None, 3.0],
        "n": [1, 2, None],
        "note": [None, "x", "y"],
    }
    assert got.table.schema.field("amount").type == pa.float64()
    assert got.table.schema.field("n").type == pa.int64()
    assert got.table.schema.field("note").type == pa.string()  # first value None: still text


def test_rows_are_fetched_in_chunks_and_joined(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_source, "FETCH_ROWS", 2)
    got = read_sql("SELECT id, n FROM orders ORDER BY id", f"  sqlite:///{shop}  ")
    assert got.table.to_pydict() == {"id": ["a", "b", "c"], "n": [1, 2, None]}
    # a chunk of only missing values (null type) joins a typed one
    got = read_sql("SELECT note FROM orders ORDER BY id", f"sqlite:///{shop}")
    assert got.table.column("note").to_pylist() == [None, "x", "y"]


def test_a_column_that_changes_type_between_chunks_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE t (v)")
        c.executemany("INSERT INTO t VALUES (?)", [(1,), ("text",)])
    c.close()
    monkeypatch.setattr(sql_source, "FETCH_ROWS", 1)
    with pytest.raises(
        InputError, match=rf"^the query on sqlite:///{path}: a column changes type \("
    ):
        read_sql("SELECT v FROM t ORDER BY rowid", f"sqlite:///{path}")


def test_values_arrow_cannot_hold_in_one_column_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixed.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE t (v)")
        c.executemany("INSERT INTO t VALUES (?)", [(1,), ("text",)])
    c.close()
    with pytest.raises(InputError, match=r"^column 'v' of the query result: "):
        read_sql("SELECT v FROM t ORDER BY rowid", f"sqlite:///{path}")


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process in another time zone than UTC (as a laptop in Tokyo would be)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_duckdb_decimals_uuids_and_time_zones(tmp_path: Path, tokyo: None) -> None:
    path = tmp_path / "shop.duckdb"
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with duckdb.connect(str(path)) as c:
        c.execute("CREATE TABLE t (amount DECIMAL(10, 2), key UUID, seen TIMESTAMPTZ)")
        c.execute("SET TimeZone = 'UTC'")
        c.execute(
            "INSERT INTO t VALUES (NULL, NULL, NULL),"
            f" (12.34, '{key}', TIMESTAMPTZ '2025-01-02 03:04:05+02:00')"
        )
    got = read_sql("SELECT * FROM t ORDER BY amount NULLS FIRST", f"duckdb:///{path}")
    table = got.table
    assert table.schema.field("amount").type == pa.float64()  # numeric amounts as floats
    assert table.column("amount").to_pylist() == [None, 12.34]
    assert table.schema.field("key").type == pa.string()
    assert table.column("key").to_pylist() == [None, str(key)]
    at = table.column("seen").to_pylist()[1]
    assert at == dt.datetime(2025, 1, 2, 1, 4, 5, tzinfo=dt.UTC)  # read in UTC
    assert table.schema.field("seen").type.tz in ("UTC", "+00:00")  # not the local zone
    # read only: the query cannot change the user's database
    with pytest.raises(InputError, match=r"^the query failed on duckdb:///"):
        read_sql("DELETE FROM t RETURNING *", f"duckdb:///{path}")


def test_naive_datetimes_stay_naive(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    with duckdb.connect(str(path)) as c:
        c.execute("CREATE TABLE t (seen TIMESTAMP)")
        c.execute("INSERT INTO t VALUES (TIMESTAMP '2025-01-02 03:04:05')")
    got = read_sql("SELECT seen FROM t", f"duckdb:///{path}")
    assert got.table.schema.field("seen").type.tz is None
    assert got.table.column("seen").to_pylist() == [dt.datetime(2025, 1, 2, 3, 4, 5)]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ana:secret@db:5432/shop", "postgresql://ana@db:5432/shop"),
        ("postgresql+psycopg://ana@db/shop", "postgresql+psycopg://ana@db/shop"),
        ("sqlite:///shop.db", "sqlite:///shop.db"),
    ],
)
def test_shown_url_never_has_the_password(url: str, shown: str) -> None:
    assert shown_url(url) == shown


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("SELECT * FROM orders", "orders"),
        ("select a from shop.Orders_2024 o", "Orders_2024"),
        ('SELECT 1 FROM "line items"', "query"),  # not a plain name
        ('SELECT 1 FROM "lines"', "lines"),
        ("SELECT 1 FROM `lines`", "lines"),
        ("SELECT 1", "query"),
        ("SELECT x_from FROM\n  public.customers", "customers"),
        ("SELECT * FROM shop.public.orders", "orders"),
    ],
)
def test_default_name_is_the_first_tables(query: str, name: str) -> None:
    assert default_name(query) == name


def test_refusals_name_the_problem_in_one_line(shop: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{shop}"
    cases = [
        ("  ", url, "the SQL query is empty"),
        ("SELECT 1", "not a url", "not a database URL (expected e.g. "
         "postgresql+psycopg://user@host/db, sqlite:///shop.db or duckdb:///shop.duckdb)"),
        ("SELECT 1", "sqlite://", "sqlite://: name a database file to read from"),
        ("SELECT 1", "sqlite:///:memory:", "sqlite:///%3Amemory%3A: name a database file to "
         "read from"),
        ("SELECT 1", "duckdb://", "duckdb://: name a database file to read from"),
        ("SELECT 1", f"sqlite:///{tmp_path}/none.db",
         f"sqlite:///{tmp_path}/none.db: no such database file {tmp_path}/none.db"),
        ("SELECT * FROM missing", url,
         f"the query failed on {url}: no such table: missing"),
        ("CREATE TABLE x (a INTEGER)", url, f"the query on {url} returned no table (use SELECT)"),
        ("SELECT * FROM orders WHERE 0", url, f"the query on {url} returned no rows"),
        ("SELECT 1", "nosuchdb://h/x", "cannot use nosuchdb://h/x: Can't load plugin: "
         "sqlalchemy.dialects:nosuchdb"),
    ]  # fmt: skip
    for query, given, message in cases:
        with pytest.raises(InputError) as caught:
            read_sql(query, given)
        assert str(caught.value) == message
    assert not (tmp_path / "none.db").exists()  # a missing file is not created


def test_a_server_that_cannot_be_reached_is_refused(tmp_path: Path) -> None:
    url = f"postgresql://ana:secret@/shop?host={tmp_path}"  # no server on that socket
    with pytest.raises(InputError) as caught:
        read_sql("SELECT 1", url)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to {shown_url(url)}: ")
    assert shown_url(url).startswith("postgresql://ana@/shop?host=")
    assert "secret" not in message and "\n" not in message
    reason = message.removeprefix(f"cannot connect to {shown_url(url)}: ")
    assert "No such file or directory" in reason  # the driver's own first line
