"""Schema migrations, on SQLite and on PostgreSQL: an old workspace opens in the current code,
migrations are fixed steps that are atomic and run once, and every history table refuses
UPDATE and DELETE at the database itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from segtrail.errors import SegtrailError
from segtrail.services.workspace import Workspace
from segtrail.store import schema

TreeHash = Callable[[Path], dict]
HISTORY_TABLES = sorted(
    t.name for m in schema.migrations() for t in m.tables if t.name not in schema.MUTABLE_TABLES
)


def _tables(ws: Workspace) -> set[str]:
    with ws.meta.read() as connection:
        return set(inspect(connection).get_table_names())


def _tables_of(versions: range) -> set[str]:
    return {t.name for m in schema.migrations() if m.version in versions for t in m.tables}


def _triggers(ws: Workspace) -> set[str]:
    with ws.meta.read() as connection:
        if connection.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        return set(connection.execute(text(query)).scalars())


def _count(ws: Workspace, table: str) -> int:
    with ws.meta.read() as connection:
        return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.fixture
def old_workspace(tmp_path: Path, database_url: str | None) -> Path:
    """A workspace made with schema 1 only (on the backend under test), holding one dataset."""
    root = tmp_path / "old"
    source = tmp_path / "people.csv"
    source.write_text("id,age,region\n00123,30,north\n7,41,south\n8,,south\n")
    with Workspace.init(
        root, schema_version=1, author="old-release", database_url=database_url
    ) as ws:
        assert ws.meta.schema_version() == 1
        assert _tables(ws) == {"schema_migrations", *_tables_of(range(1, 2))}
        ws.ingest(source, "id")
    return root


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    assert [m.version for m in schema.migrations()] == list(range(1, schema.LATEST + 1))


def test_steps_never_use_todays_tables() -> None:
    """A step's tables are its own frozen copies (same columns as today's, except the columns
    a later step widened in place), so altering a module-level table later cannot change what
    an old step creates."""
    widened = set(schema.WIDENED_TO_BIGINT)
    for migration in schema.migrations():
        for frozen in migration.tables:
            today = schema.metadata.tables[frozen.name]
            assert frozen is not today
            assert frozen.metadata is not schema.metadata
            assert [c.name for c in frozen.columns] == [c.name for c in today.columns]
            for column in frozen.columns:
                now = str(today.c[column.name].type)
                if (frozen.name, column.name) in widened:
                    assert (str(column.type), now) == ("INTEGER", "BIGINT")
                else:
                    assert str(column.type) == now, (frozen.name, column.name)


def test_old_workspace_is_migrated_and_still_reads(
    old_workspace: Path, tree_hash: TreeHash
) -> None:
    with Workspace.open(old_workspace, author="new-release") as ws:
        assert ws.meta.schema_version() == schema.LATEST
        assert _tables(ws) >= _tables_of(range(1, schema.LATEST + 1))
        with ws.meta.read() as connection:
            versions = connection.execute(
                select(schema.schema_migrations.c.version).order_by("version")
            ).scalars()
            assert list(versions) == [m.version for m in schema.migrations()]
        info = ws.dataset("people@1")
        assert info["rows"] == 3
        assert info["author"] == "old-release"
        frame = ws.dataset_frame("people@1")
        assert sorted(frame["id"]) == ["00123", "7", "8"]
        assert ws.fsck()["clean"]
        # the migrated workspace takes new history in the new tables
        ws.strategy_add("welcome", "Hello", ["email"])
        assert [s["name"] for s in ws.strategies()] == ["welcome"]
    after_first_open = tree_hash(old_workspace)

    with Workspace.open(old_workspace) as ws:  # nothing left to migrate: nothing written
        assert ws.meta.schema_version() == schema.LATEST
        assert ws.dataset("people")["dataset"] == "people@1"
    assert tree_hash(old_workspace) == after_first_open


def test_open_without_migrate_leaves_the_old_schema(old_workspace: Path) -> None:
    with Workspace.open(old_workspace, migrate=False) as ws:
        assert ws.meta.schema_version() == 1


def test_failed_migration_rolls_back_entirely(
    old_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration that fails after creating its tables leaves no table behind, so the
    next open can apply it again (rather than failing on 'table already exists')."""

    def broken(step: schema.Migration) -> schema.Migration:
        def apply(connection) -> None:
            step.apply(connection)  # the real DDL runs...
            raise RuntimeError("power cut")  # ...and then the power goes

        return schema.Migration(step.version, step.name, apply, step.tables)

    steps = tuple(broken(m) if m.version == 2 else m for m in schema.migrations())
    monkeypatch.setattr(schema, "migrations", lambda: steps)
    with pytest.raises(RuntimeError, match="power cut"):
        Workspace.open(old_workspace)
    monkeypatch.undo()

    with Workspace.open(old_workspace, migrate=False) as ws:
        assert ws.meta.schema_version() == 1
        assert not _tables(ws) & _tables_of(range(2, schema.LATEST + 1))
    with Workspace.open(old_workspace) as ws:
        assert ws.meta.schema_version() == schema.LATEST
        assert ws.dataset("people@1")["rows"] == 3


def test_newer_workspace_is_refused(old_workspace: Path) -> None:
    with Workspace.open(old_workspace) as ws, ws.meta.engine.begin() as connection:
        connection.execute(
            schema.schema_migrations.insert().values(
                version=schema.LATEST + 1, name="from the future", applied_at="2999-01-01"
            )
        )
    with pytest.raises(SegtrailError, match="upgrade segtrail"):
        Workspace.open(old_workspace)


def test_postgresql_workspace_before_step_5_gets_its_guard(
    tmp_path: Path, backend: str, database_url: str | None
) -> None:
    """Releases up to schema 4 guarded history on SQLite only; opening such a PostgreSQL
    workspace installs the triggers (step 5), and from then on the database refuses a DELETE."""
    if backend != "postgresql":
        pytest.skip("SQLite workspaces had their triggers from step 1")
    root = tmp_path / "schema4"
    with Workspace.init(root, schema_version=4, database_url=database_url) as ws:
        assert not _triggers(ws)
    with Workspace.open(root) as ws:
        assert ws.meta.schema_version() == schema.LATEST
        assert _count(ws, "events") > 0
        with pytest.raises(DBAPIError, match="append-only"), ws.meta.engine.begin() as connection:
            connection.execute(text("DELETE FROM events"))


# --- append-only at the database ----------------------------------------------------------


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory, databases) -> Iterator[Workspace]:
    """A workspace with at least one row in every history table (on the backend under test)."""
    folder = tmp_path_factory.mktemp("full")
    rows = "".join(f"C{i:03d},{i % 2 * 10 + i % 5},{i % 7}\n" for i in range(60))
    (folder / "customers.csv").write_text("customer_id,x,y\n" + rows)
    arm = ["control", "treatment", "treatment"]
    campaign = "".join(f"C{i:03d},{arm[i % 3]},{i % 2}\n" for i in range(60))
    (folder / "campaign.csv").write_text("customer_id,group,responded\n" + campaign)
    ws = Workspace.init(folder / "ws", author="tester", database_url=databases.new())
    ws.ingest(folder / "customers.csv", "customer_id")
    ref = ws.segment("customers", "marketing", "two groups on x", k=2, features=["x", "y"])[
        "version"
    ]
    ws.name(ref, 0, "Low x")
    ws.tag(ref, 1, "fit", "poor")
    ws.adopt(ref)
    ws.strategy_add("spring", "Spring offer", ["email"])
    ws.plan_map("spring", ref, "all")
    ws.campaign_import(folder / "campaign.csv", "spring-wave", "spring")
    ws.export(ref, folder / "export.csv")
    ws.lookalike("customers", folder / "audience.csv", seed=f"{ref}:0", size=10)
    ws.holdout_create(0.1, seed=1)
    ws.campaign_design("designed", "spring", out=folder / "design.csv")
    import sqlite3

    with sqlite3.connect(folder / "source.db") as source:
        source.execute("CREATE TABLE people (id TEXT, x REAL)")
        source.executemany("INSERT INTO people VALUES (?, ?)", [(f"P{i}", i) for i in range(9)])
    ws.ingest_sql("SELECT * FROM people", f"sqlite:///{folder / 'source.db'}", "id", "people")
    created = ws.user_add("ana", "analyst", ["marketing"], password="correct horse")
    ws.token_revoke(created.token_id)
    ws.dataset_retire("people", "a test table")
    yield ws
    ws.close()


def test_every_history_table_is_filled(full: Workspace) -> None:
    """The append-only tests below need a row in each table: triggers fire per row."""
    assert {t: _count(full, t) for t in HISTORY_TABLES if _count(full, t) == 0} == {}


@pytest.mark.parametrize("table", HISTORY_TABLES)
def test_history_tables_refuse_update_and_delete(full: Workspace, table: str) -> None:
    count = _count(full, table)
    column = schema.metadata.tables[table].columns.keys()[1]
    statements = [f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"]
    if full.meta.engine.dialect.name == "postgresql":
        statements.append(f"TRUNCATE {table} CASCADE")  # would skip the row triggers
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), full.meta.engine.begin() as connection:
            connection.execute(text(statement))
    assert _count(full, table) == count


def test_every_history_table_has_triggers(full: Workspace) -> None:
    triggers = _triggers(full)
    for name in HISTORY_TABLES:
        assert {f"{name}_no_update", f"{name}_no_delete"} <= triggers, name


# --- 64-bit sizes --------------------------------------------------------------------------


def test_sizes_beyond_32_bits_are_recorded_after_migration(old_workspace: Path) -> None:
    """A 5 GB object and a 3-billion-row count fit once the workspace is migrated; what the
    old schema held is kept."""
    from segtrail.store.audit import ObjectRegistry

    with Workspace.open(old_workspace) as ws:
        before = ws.meta.objects.registered()
        ws.meta.write(lambda c: ObjectRegistry.register(c, "f" * 64, "table", 5_000_000_000))
        assert ws.meta.objects.registered() == {**before, "f" * 64: 5_000_000_000}
        with ws.meta.read() as connection:
            types = {c["name"]: str(c["type"]) for c in inspect(connection).get_columns("datasets")}
        if ws.meta.dialect == "postgresql":
            assert types["rows"] == "BIGINT" and types["source_bytes"] == "BIGINT"
        assert ws.dataset("people@1")["rows"] == 3


def test_registering_the_same_object_twice_at_once_is_not_a_clash(
    tmp_path: Path, database_url: str | None
) -> None:
    """Two writers recording the same content: the second waits for the first and then does
    nothing (no unique-key error to retry), on both backends."""
    import threading

    from segtrail.store.audit import ObjectRegistry

    with Workspace.init(tmp_path / "ws", database_url=database_url) as ws:
        writer = ws.meta._writer
        first = writer.connect()
        first.begin()
        ObjectRegistry.register(first, "e" * 64, "table", 10)
        errors: list[BaseException] = []

        def second() -> None:
            try:
                with writer.begin() as connection:
                    ObjectRegistry.register(connection, "e" * 64, "table", 10)
            except BaseException as e:  # the assertion below reports it
                errors.append(e)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)  # the second writer is now waiting on the first
        first.commit()
        first.close()
        thread.join(60)
        assert not thread.is_alive()
        assert errors == []
        assert ws.meta.objects.registered()["e" * 64] == 10
