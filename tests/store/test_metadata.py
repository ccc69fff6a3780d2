"""The metadata store's connection rules, on both backends: what a read sees while others
write, and which database URLs it accepts."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from tests.store.conftest import write_locked

from segtrail.errors import Conflict, Damaged, InvalidInput, SegtrailError
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
    assert store.url == f"sqlite:///{tmp_path / 'm.db'}"
    assert store.schema_version() == 0
    assert store.migrate(target=0) == [] and store.schema_version() == 0  # the table, no rows
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


def test_every_record_group_works_on_this_store(store: MetadataStore) -> None:
    assert store.events.count() == 0 and store.objects.registered() == {}
    assert store.datasets.list() == [] and store.segmentations.list() == []
    assert store.segmentations.tags(1) == {} and store.strategies.rows() == []
    assert store.plans.states([1]) == [] and store.campaigns.list() == []
    assert store.audiences.names() == set() and store.designs.list() == []
    assert store.holdouts.list() == [] and store.users.list() == []
    assert store.retirements.retired("lens") == {} and store.jobs.get("a" * 32) is None
    store.exports.append("marketing@1", "csv", "/tmp/m.csv", 3, "a" * 64, {}, "ana")
    assert [(e["action"], e["subject"]) for e in store.events.list()] == [("export", "marketing@1")]
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):  # no segmentation 1
        store.annotations.tag(1, 0, "channel", "email", "ana", "marketing@1")


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
    waits: list[float] = []
    monkeypatch.setattr(metadata.time, "sleep", waits.append)
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
    # a random wait between tries, in a window 20 ms longer at each try: writers that
    # clashed once do not clash again in step
    assert len(waits) == 11
    assert all(0 <= wait <= 0.02 * n for n, wait in enumerate(waits, start=1))
    assert max(waits[5:]) > 0.02 and len(set(waits)) == 11


def test_an_events_details_are_json_with_sorted_keys(store: MetadataStore) -> None:
    store.events.append("ana", "note", "x", {"b": 1, "a": Path("x/y"), "c": {"z": 0, "y": 1}})
    (raw,) = store.fetch(select(schema.events.c.details))
    assert raw["details"] == '{"a": "x/y", "b": 1, "c": {"y": 1, "z": 0}}'


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


# --- SQLite: concurrent writers, reads beside a writer, the settings of a connection ------


def test_concurrent_writers_each_wait_their_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers that read before they write (a version is "max + 1") run in threads of this
    process at once: each waits for the others (BEGIN IMMEDIATE takes the write lock at the
    start) instead of failing when its read lock cannot be upgraded, and none of them decides
    on a count another one changed meanwhile."""
    monkeypatch.setattr(metadata, "BUSY_TIMEOUT_MS", 30_000)  # a loaded machine is slow
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    writers, rounds = 4, 3
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def work(connection, n: int) -> int:
        seen = _events(connection)
        time.sleep(0.02)  # the others are at the door meanwhile
        return store.record_event(connection, "ana", "note", f"{n} saw {seen}", {})

    def writer(n: int) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                store.write(lambda c: work(c, n))
        except BaseException as e:  # reported by the assertion below
            failures.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    seen = sorted(int(e["subject"].split(" saw ")[1]) for e in store.events.list())
    assert seen == list(range(writers * rounds))  # each saw every commit before its own
    store.dispose()


def test_a_read_beside_a_writer_answers_at_once(store: MetadataStore, tmp_path: Path) -> None:
    """WAL, and reads that do not ask for the write lock: a page reads while a long command
    writes."""
    store.events.append("ana", "note", "before", {})
    with write_locked(tmp_path / "m.db"):
        started = time.monotonic()
        assert [e["subject"] for e in store.events.list()] == ["before"]
        assert store.schema_version() == schema.LATEST
    assert time.monotonic() - started < 0.5  # the busy timeout (1 s) was never waited out


def test_sqlite_waits_a_minute_for_a_writer_and_commits_durably(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    with store.read() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.dispose()


def test_a_failing_migration_leaves_nothing_half_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's sqlite3 would run DDL outside any transaction; the store begins every
    transaction itself, so a migration that fails midway is undone whole."""
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate(target=1)
    second = schema.migrations()[1]

    def half_then_fail(connection, migration) -> None:
        connection.exec_driver_sql("CREATE TABLE half_made (x INTEGER)")
        raise RuntimeError(f"migration {migration.version} failed midway")

    monkeypatch.setattr(schema, "apply_migration", half_then_fail)
    with pytest.raises(RuntimeError, match="migration 2 failed midway"):
        store.migrate()
    monkeypatch.undo()
    assert store.schema_version() == 1 == second.version - 1
    with store.read() as connection:
        tables = connection.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
    assert "half_made" not in tables
    store.dispose()


# --- what a user reads when the database fails --------------------------------------------


def test_a_full_disk_says_nothing_was_recorded(store: MetadataStore) -> None:
    def fill(connection) -> None:
        # SQLite's own page limit stands for the disk: past it, "database or disk is full"
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
        for n in range(200):
            store.record_event(connection, "ana", "note", f"{n}" + "x" * 250, {})

    with pytest.raises(SegtrailError, match=r"^the disk is full; nothing was recorded$"):
        store.write(fill)
    store.dispose()  # the page limit stays with the connection
    assert store.events.count() == 0


def test_a_malformed_schema_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = MetadataStore(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA writable_schema = ON")
        raw.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE events (' WHERE name = 'events'")
    raw.close()
    with pytest.raises(Damaged) as caught:
        store.events.count()
    message = str(caught.value)
    assert message.startswith("the metadata database is damaged: malformed database schema")
    assert message.endswith("; run `segtrail fsck`")
    store.dispose()


def test_an_index_out_of_step_is_an_integrity_problem(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = MetadataStore(f"sqlite:///{path}")
    store.migrate()
    store.events.append("ana", "note", "x", {})
    store.dispose()
    with sqlite3.connect(path) as raw:  # an index whose entries no longer match its table
        raw.execute("CREATE INDEX by_subject ON events (subject)")
        raw.execute("PRAGMA writable_schema = ON")
        raw.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX by_subject ON events (author)'"
            " WHERE name = 'by_subject'"
        )
    raw.close()
    problems = store.integrity_problems()
    assert problems and all(
        p.startswith("database integrity check failed: ") and "by_subject" in p for p in problems
    )
    store.dispose()


def test_an_error_in_a_query_is_not_taken_for_damage(store: MetadataStore) -> None:
    """Only what the database says about itself is damage or an unreachable server: a
    wrong query (here one naming a `connection` column) surfaces as itself."""
    with pytest.raises(OperationalError, match="no such column: connection"):
        store.fetch(text("SELECT connection FROM events"))


def test_an_unusable_database_url_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_database_url("nosuchdb://host/x")
    assert str(caught.value).startswith("cannot use --database-url 'nosuchdb://host/x': ")
    assert "nosuchdb" in str(caught.value).removeprefix("cannot use --database-url")


# --- PostgreSQL: the errors after which a write is run again, and those it reports ---------


@pytest.fixture
def pg(postgres_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[MetadataStore]:
    """A metadata store on a fresh (unmigrated) PostgreSQL database; retries do not wait."""
    monkeypatch.setattr(metadata.time, "sleep", lambda _s: None)
    url = postgres_server.create_database()
    made = MetadataStore(url)
    yield made
    made.dispose()
    postgres_server.drop_database(url)


def _fails_with(connection, sqlstate: str) -> None:
    connection.exec_driver_sql(
        f"DO $$ BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = '{sqlstate}'; END $$"
    )


@pytest.mark.parametrize(
    "sqlstate",
    [
        "23505",  # unique_violation: a concurrent writer took the key
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
    ],
)
def test_a_postgresql_write_that_lost_a_race_is_run_again(pg: MetadataStore, sqlstate: str):
    tries = []

    def work(connection) -> str:
        tries.append(1)
        if len(tries) < 3:
            _fails_with(connection, sqlstate)
        return "done"

    assert pg.write(work) == "done" and len(tries) == 3


def test_a_postgresql_write_that_keeps_losing_gives_up(pg: MetadataStore) -> None:
    tries = []

    def work(connection) -> None:
        tries.append(1)
        _fails_with(connection, "40001")

    with pytest.raises(Conflict, match=r"^the plan kept clashing with concurrent changes"):
        pg.write(work, what="the plan")
    assert len(tries) == metadata.WRITE_ATTEMPTS


@pytest.mark.parametrize("sqlstate", ["23503", "23502", "P0001"])  # foreign key, NOT NULL, raise
def test_a_postgresql_write_refused_for_good_is_not_run_again(pg: MetadataStore, sqlstate: str):
    tries = []

    def work(connection) -> None:
        tries.append(1)
        _fails_with(connection, sqlstate)

    with pytest.raises(DBAPIError, match="lost a race"):
        pg.write(work)
    assert len(tries) == 1


def test_a_value_longer_than_its_column_is_invalid_input(pg: MetadataStore) -> None:
    def work(connection) -> None:
        connection.exec_driver_sql("CREATE TEMPORARY TABLE t (name VARCHAR(3))")
        connection.exec_driver_sql("INSERT INTO t VALUES ('abcd')")

    with pytest.raises(InvalidInput) as caught:
        pg.write(work)
    assert str(caught.value) == (
        "a value is too long to record: value too long for type character varying(3)"
    )


def test_a_query_cancelled_on_postgresql_is_not_an_unreachable_server(pg: MetadataStore):
    def work(connection) -> None:
        connection.exec_driver_sql("SET LOCAL statement_timeout = 10")
        connection.exec_driver_sql("SELECT pg_sleep(1)")

    with pytest.raises(OperationalError, match="statement timeout"):
        pg.write(work)


def test_an_unreachable_server_is_named_in_one_line(tmp_path: Path) -> None:
    store = MetadataStore(f"postgresql://segtrail@/segtrail?host={tmp_path / 'no-server'}")
    for attempt in (store.schema_version, lambda: store.write(lambda c: None)):
        with pytest.raises(SegtrailError) as caught:
            attempt()
        message = str(caught.value)
        assert message.startswith("cannot reach the metadata database: connection")
        assert str(tmp_path / "no-server") in message and "\n" not in message
    store.dispose()


def test_postgresql_writers_record_events_in_commit_order(postgres_server) -> None:
    """A writer that recorded an event holds the others' events back until it commits, so
    event ids come in commit order (a reader that saw id n never gets an id below n later)."""
    url = postgres_server.create_database()
    store = MetadataStore(url)
    store.migrate()
    first_recorded, first_may_commit = threading.Event(), threading.Event()

    def first(connection) -> int:
        event_id = store.record_event(connection, "ana", "note", "first", {})
        first_recorded.set()
        first_may_commit.wait(10)
        return event_id

    ids: dict[str, int] = {}
    one = threading.Thread(target=lambda: ids.update(first=store.write(first)))
    one.start()
    assert first_recorded.wait(10)
    two = threading.Thread(
        target=lambda: ids.update(second=store.events.append("bob", "note", "second", {}))
    )
    two.start()
    two.join(0.5)
    assert two.is_alive()  # waiting for the first writer's commit
    first_may_commit.set()
    one.join(10)
    two.join(10)
    assert ids["first"] < ids["second"]
    store.dispose()
    postgres_server.drop_database(url)
