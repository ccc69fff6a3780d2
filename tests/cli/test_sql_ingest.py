"""`segtrail ingest --sql QUERY --from URL --id COL`, on real SQLite and DuckDB files and a
real PostgreSQL server: the query and the URL (never its password) are recorded, an
unchanged result makes no new version, and a bad URL, a failing query or a missing id
column is one line on stderr, exit 2, nothing recorded."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]
CUSTOMERS = [("C001", 31, 120.5, "north"), ("C002", 45, 80.0, "south"), ("C003", 27, 310.25, None)]
LINES = [
    ("C001", "2024-01-01 10:00:00", 2, 5.0, "o1"),
    ("C001", "2024-02-01 10:00:00", 1, 7.5, "o2"),
    ("C002", "2024-01-20 09:00:00", -1, 4.0, "r1"),
    ("C003", "2024-02-10 12:00:00", 3, 2.0, "o3"),
]


def _fill(execute: Callable[[str], Any]) -> None:
    execute(
        "CREATE TABLE customers (customer_id TEXT, age INTEGER, spend NUMERIC(10,2), region TEXT)"
    )
    for row in CUSTOMERS:
        execute("INSERT INTO customers VALUES ('{}', {}, {}, {})".format(*row[:3], _text(row[3])))
    execute(
        "CREATE TABLE lines "
        "(cust TEXT, sold_at TIMESTAMP, qty INTEGER, price NUMERIC(8,2), inv TEXT)"
    )
    for row in LINES:
        execute("INSERT INTO lines VALUES ('{}', '{}', {}, {}, '{}')".format(*row))


def _text(value: str | None) -> str:
    return "NULL" if value is None else f"'{value}'"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        _fill(connection.execute)
    return f"sqlite:///{path}"


def _refused(result: Any, *fragments: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def _ingest_and_check(cli: Runner, url: str, shown_url: str) -> None:
    query = "SELECT customer_id, age, spend, region FROM customers ORDER BY customer_id"
    result = cli("ingest", "--sql", query, "--from", url, "--id", "customer_id", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert out["dataset"] == "customers@1" and out["rows"] == 3
    assert out["source"] == shown_url and out["source_format"] == "sql"
    shown = cli("dataset", "show", "customers", "--json", "--rows", "3").json()
    assert shown["lineage"] == {
        "kind": "sql",
        "spec": {"query": query, "url": shown_url},
        "derived_from": None,
    }
    data = shown["data"]
    assert [r["customer_id"] for r in data] == ["C001", "C002", "C003"]
    assert data[0]["spend"] == pytest.approx(120.5) and data[2]["region"] is None
    kinds = {c["name"]: c["kind"] for c in shown["columns"]}
    assert kinds["age"] == "numeric" and kinds["spend"] == "numeric"
    human = cli("dataset", "show", "customers")
    assert f"query: {query}" in human.out
    again = cli("ingest", "--sql", query, "--from", url, "--id", "customer_id")
    assert again.code == 0, again.err
    assert "customers@1 (unchanged" in again.out
    assert [d["dataset"] for d in cli("datasets", "--json").json()] == ["customers@1"]


def test_sqlite_file(workspace: Path, cli: Runner, sqlite_url: str) -> None:
    _ingest_and_check(cli, sqlite_url, sqlite_url)


def test_duckdb_file(workspace: Path, cli: Runner, tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    connection = duckdb.connect(str(path))
    _fill(connection.execute)
    connection.close()
    _ingest_and_check(cli, f"duckdb:///{path}", f"duckdb:///{path}")


def test_changed_rows_make_a_new_version(
    workspace: Path, cli: Runner, sqlite_url: str, tmp_path: Path
) -> None:
    query = "SELECT * FROM customers"
    assert cli("ingest", "--sql", query, "--from", sqlite_url, "--id", "customer_id").code == 0
    with sqlite3.connect(tmp_path / "shop.db") as connection:
        connection.execute("INSERT INTO customers VALUES ('C004', 50, 1.0, 'east')")
    out = cli("ingest", "--sql", query, "--from", sqlite_url, "--id", "customer_id", "--json")
    assert out.json()["dataset"] == "customers@2" and out.json()["rows"] == 4


def test_transactions_from_sql(workspace: Path, cli: Runner, sqlite_url: str) -> None:
    query = "SELECT cust, sold_at, qty, price, inv FROM lines"
    result = cli(
        "ingest",
        "--sql",
        query,
        "--from",
        sqlite_url,
        "--transactions",
        "--customer",
        "cust",
        "--date",
        "sold_at",
        "--amount",
        "qty*price",
        "--order",
        "inv",
        "--name",
        "shop",
        "--json",
    )
    assert result.code == 0, result.err
    out = result.json()
    assert out["dataset"] == "shop@1" and out["transactions"]["dataset"] == "shop-transactions@1"
    lines = cli("dataset", "show", "shop-transactions", "--json").json()
    assert lines["lineage"]["spec"] == {"query": query, "url": sqlite_url}
    data = cli("dataset", "show", "shop", "--json", "--rows", "3").json()["data"]
    assert [(r["cust"], r["frequency"], r["monetary"], r["returns_value"]) for r in data] == [
        ("C001", 2, 17.5, 0.0),
        ("C002", 0, 0.0, 4.0),
        ("C003", 1, 6.0, 0.0),
    ]


@pytest.mark.parametrize(
    ("url", "query", "fragments"),
    [
        ("not a url", "SELECT * FROM customers", ("not a database URL",)),
        ("nosuchdb://x/y", "SELECT * FROM customers", ("cannot use nosuchdb://x/y",)),
        ("sqlite:///{tmp}/missing.db", "SELECT * FROM customers", ("no such database file",)),
        ("{sqlite}", "SELECT * FROM nowhere", ("the query failed", "nowhere")),
        ("{sqlite}", "SELEKT 1", ("the query failed",)),
        ("{sqlite}", "SELECT age, spend FROM customers", ("no id column 'customer_id'",)),
        ("{sqlite}", "SELECT * FROM customers WHERE age > 100", ("returned no rows",)),
        ("{sqlite}", "", ("empty",)),
    ],
)
def test_bad_sources_are_one_line_and_record_nothing(
    workspace: Path,
    cli: Runner,
    tree_hash: TreeHash,
    sqlite_url: str,
    tmp_path: Path,
    url: str,
    query: str,
    fragments: tuple[str, ...],
) -> None:
    url = url.format(tmp=tmp_path, sqlite=sqlite_url)
    before = tree_hash(workspace)
    _refused(cli("ingest", "--sql", query, "--from", url, "--id", "customer_id"), *fragments)
    assert tree_hash(workspace) == before
    assert not (tmp_path / "missing.db").exists()  # a bad file URL creates no file


# --- PostgreSQL --------------------------------------------------------------------------
# `postgres_url` uses the suite's shared `postgres_server` fixture when tests/conftest.py has
# it; until then, a server of this module's own, started the way DESIGN.md describes:
# Debian's server binaries, run as the postgres user, on a unix socket in a folder it owns.


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class _OwnServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _admin(self, statement: str) -> None:
        import psycopg

        dsn = f"host={self.folder} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(statement)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@/{name}?host={self.folder}"

    def drop_database(self, url: str) -> None:
        name = url.split("/")[-1].split("?")[0]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def _own_postgres_server() -> Iterator[_OwnServer]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        pytest.skip("PostgreSQL server binaries are not installed")
    bin_dir = Path(binaries[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="stpg", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    subprocess.run(
        _as_postgres(str(bin_dir / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(data)),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-w",
            "-o",
            f"-k {folder} -c listen_addresses=''",
            "start",
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield _OwnServer(folder)
    finally:
        subprocess.run(
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty database on the test server."""
    try:
        server = request.getfixturevalue("postgres_server")
    except pytest.FixtureLookupError:
        server = request.getfixturevalue("_own_postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


def test_postgresql(workspace: Path, cli: Runner, postgres_url: str, tree_hash: TreeHash) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    dsn = f"host={url.query['host']} user=postgres dbname={url.database}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        _fill(connection.execute)
    # trust authentication ignores the password: it must still never be recorded
    secret = "s3cret-pw"
    with_password = url.set(password=secret).render_as_string(hide_password=False)
    _ingest_and_check(cli, with_password, url.render_as_string(hide_password=False))
    store = workspace / ".segtrail"
    assert not any(secret.encode() in p.read_bytes() for p in store.rglob("*") if p.is_file())
    assert secret not in cli("events", "--json").out
    before = tree_hash(workspace)
    _refused(
        cli("ingest", "--sql", "SELECT * FROM nowhere", "--from", with_password, "--id", "x"),
        "the query failed",
        "nowhere",
    )
    bad_db = url.set(database="no_such_db").render_as_string(hide_password=False)
    result = cli("ingest", "--sql", "SELECT 1", "--from", bad_db, "--id", "x")
    _refused(result, "cannot connect")
    assert secret not in result.err
    assert tree_hash(workspace) == before
    # the URL as psql prints it names no driver: psycopg (installed) is used, and the
    # source is recorded as the user wrote it
    plain = url.render_as_string(hide_password=False).replace("postgresql+psycopg", "postgresql")
    query = "SELECT customer_id, age FROM customers"
    result = cli("ingest", "--sql", query, "--from", plain, "--id", "customer_id", "--json")
    assert result.code == 0, result.err
    assert result.json()["source"] == plain
