"""The metadata store's connection rules, on both backends: what a read sees while others
write, and which database URLs it accepts."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests.store.conftest import write_locked

from segtrail.errors import Conflict, Damaged, SegtrailError
from segtrail.services.workspace import Workspace
from segtrail.store import metadata, schema
from segtrail.store.metadata import (
    MetadataStore,
    check_database_url,
    dumps,
    loads,
    utc_now,
    with_driver,
)


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


# --- the store's own rules, on a SQLite file -------------------------------------------


def test_utc_now_is_iso_with_microseconds_and_z() -> None:
    before = datetime.now(UTC)
    stamp = utc_now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert before <= parsed <= datetime.now(UTC)


def test_dumps_sorts_keys_and_writes_numpy_as_numbers() -> None:
    data = {"b": np.int64(3), "a": np.float32(0.5), "c": np.arange(3), "d": Path("x/y")}
    assert dumps(data) == '{"a": 0.5, "b": 3, "c": [0, 1, 2], "d": "x/y"}'
    assert loads(dumps(data)) == {"a": 0.5, "b": 3, "c": [0, 1, 2], "d": "x/y"}
    assert loads(None) is None and loads("[1]") == [1]


def test_a_new_database_has_schema_zero_until_migrated(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    assert store.schema_version() == 0
    assert store.migrate(target=2) == [1, 2]
    assert store.schema_version() == 2
    assert store.migrate() == list(range(3, schema.LATEST + 1))
    assert store.schema_version() == schema.LATEST and store.migrate() == []
    store.dispose()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    store.write(
        lambda c: c.execute(
            schema.schema_migrations.insert().values(
                version=schema.LATEST + 1, name="future", applied_at=utc_now()
            )
        )
    )
    with pytest.raises(
        SegtrailError,
        match=rf"^this workspace has schema {schema.LATEST + 1}, newer than this segtrail "
        rf"\(schema {schema.LATEST}\); upgrade segtrail$",
    ):
        store.migrate()
    store.dispose()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MetadataStore]:
    monkeypatch.setattr(metadata, "BUSY_TIMEOUT_MS", 1000)
    made = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    made.migrate()
    yield made
    made.dispose()


def test_a_write_that_loses_a_race_on_a_unique_key_is_retried(store: MetadataStore) -> None:
    tries = []

    def work(connection) -> int:
        tries.append(1)
        # the first two tries take a key already in use, as a concurrent writer would
        version = 1 if len(tries) < 3 else schema.LATEST + 5
        store.record_event(connection, "ana", "note", f"try {len(tries)}", {})
        connection.execute(
            schema.schema_migrations.insert().values(
                version=version, name="race", applied_at=utc_now()
            )
        )
        return version

    assert store.write(work) == schema.LATEST + 5
    assert len(tries) == 3
    # the lost tries left nothing: one event, that of the third
    assert [e["subject"] for e in store.events.list()] == ["try 3"]


def test_a_write_that_keeps_clashing_gives_up_with_what(
    store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metadata.time, "sleep", lambda _s: None)
    calls = []

    def work(connection) -> None:
        calls.append(1)
        connection.execute(
            schema.schema_migrations.insert().values(version=1, name="x", applied_at=utc_now())
        )

    with pytest.raises(
        Conflict,
        match=r"^the test row kept clashing with concurrent changes and was not recorded; "
        r"try again$",
    ):
        store.write(work, what="the test row")
    assert len(calls) == metadata.WRITE_ATTEMPTS == 12


def test_a_refused_write_is_not_retried(store: MetadataStore) -> None:
    store.events.append("ana", "note", "x", {})
    calls = []

    def work(connection) -> None:
        calls.append(1)
        connection.execute(schema.events.delete())  # append-only: a trigger refuses it

    with pytest.raises(IntegrityError, match="events is append-only"):
        store.write(work)
    assert len(calls) == 1


def test_a_busy_database_is_a_conflict_naming_the_wait(
    store: MetadataStore, tmp_path: Path
) -> None:
    with (
        write_locked(tmp_path / "m.db"),
        pytest.raises(
            Conflict,
            match=r"^the workspace database stayed busy for 1 s \(another writer\); "
            r"this change was not recorded, try again$",
        ),
    ):
        store.write(lambda c: store.record_event(c, "ana", "note", "x", {}))
    assert store.events.count() == 0


def test_a_damaged_file_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not a database" * 100)
    store = MetadataStore(f"sqlite:///{path}")
    with pytest.raises(Damaged) as caught:
        store.schema_version()
    message = str(caught.value)
    assert message.startswith("the metadata database is damaged: ")
    assert message.endswith("; run `segtrail fsck`") and "\n" not in message
    with pytest.raises(Damaged):
        store.write(lambda c: store.record_event(c, "ana", "note", "x", {}))
    store.dispose()


def test_integrity_problems_of_a_sound_database(store: MetadataStore) -> None:
    store.events.append("ana", "note", "x", {})
    assert store.integrity_problems() == []


def test_a_broken_reference_is_an_integrity_problem(store: MetadataStore, tmp_path: Path) -> None:
    store.dispose()
    with sqlite3.connect(tmp_path / "m.db") as raw:  # foreign keys off by default
        raw.execute(
            "INSERT INTO datasets (name, version, object_hash, id_column, source, source_bytes,"
            " source_format, rows, columns, event_id) VALUES"
            " ('c', 1, 'abc', 'id', 'c.csv', 1, 'csv', 1, '[]', 99)"
        )
    problems = store.integrity_problems()
    assert "table datasets row 1: broken reference to events" in problems
    assert "table datasets row 1: broken reference to objects" in problems


def test_a_database_without_the_tables_is_damaged(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")  # never migrated
    with pytest.raises(Damaged) as caught:
        store.events.count()
    assert str(caught.value) == (
        "the metadata database is damaged: no such table: events; run `segtrail fsck`"
    )
    store.dispose()


def test_a_file_with_damaged_pages_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = MetadataStore(f"sqlite:///{path}")
    store.migrate()
    for _ in range(50):
        store.events.append("ana", "note", "x" * 200, {})
    store.dispose()
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 4096):  # the start of every page but the first
        data[offset : offset + 100] = b"\xff" * 100
    path.write_bytes(data)
    with pytest.raises(Damaged) as caught:
        store.events.list()
    assert str(caught.value) == (
        "the metadata database is damaged: database disk image is malformed; run `segtrail fsck`"
    )
    store.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(store: MetadataStore, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "m.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # kept in the file
    raw.close()
    with store.read() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1000
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        store.write(
            lambda c: c.execute(
                schema.datasets.insert().values(
                    name="c", version=1, object_hash="a" * 64, id_column="id", source="c.csv",
                    source_bytes=1, source_format="csv", rows=1, columns="[]", event_id=99,
                )
            )
        )  # fmt: skip
