"""The metadata store's connection rules, on both backends: what a read sees while others
write, and which database URLs it accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from segtrail.services.workspace import Workspace
from segtrail.store.metadata import check_database_url, with_driver


def _events(connection) -> int:
    return connection.execute(text("SELECT count(*) FROM events")).scalar_one()


def test_a_read_sees_one_snapshot_while_a_writer_commits(
    tmp_path: Path, database_url: str | None
) -> None:
    """A page or a report reads several tables in one `read()`; a commit by another writer in
    the middle must not show up halfway (PostgreSQL's default READ COMMITTED would)."""
    with Workspace.init(tmp_path / "ws", database_url=database_url) as ws:
        with ws.meta.read() as connection:
            before = _events(connection)
            ws.meta.events.append("someone-else", "note", "meanwhile", {})
            assert _events(connection) == before
        with ws.meta.read() as connection:
            assert _events(connection) == before + 1


def test_a_read_cannot_write_on_postgresql(tmp_path: Path, database_url: str | None) -> None:
    if database_url is None:
        pytest.skip("PostgreSQL only: SQLite reads are plain deferred transactions")
    ws = Workspace.init(tmp_path / "ws", database_url=database_url)
    with ws, pytest.raises(DBAPIError, match="read-only"), ws.meta.read() as connection:
        connection.execute(text("DELETE FROM schema_migrations"))


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@db/segtrail", "postgresql+psycopg://u@db/segtrail"),
        (
            "postgres://u:p@db:5433/x?sslmode=require",
            "postgresql+psycopg://u:p@db:5433/x?sslmode=require",
        ),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_a_driverless_postgresql_url_uses_psycopg(given: str, used: str) -> None:
    assert with_driver(given) == used
    check_database_url(given)  # psycopg2 is not installed: without the rewrite this fails


def test_a_workspace_opens_with_the_url_psql_prints(
    tmp_path: Path, database_url: str | None
) -> None:
    if database_url is None:
        pytest.skip("PostgreSQL only")
    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    with Workspace.init(tmp_path / "ws", database_url=plain) as ws:
        ws.strategy_add("welcome", "Hello", ["email"])
    with Workspace.open(tmp_path / "ws") as ws:
        assert [s["name"] for s in ws.strategies()] == ["welcome"]
