"""Schema migrations: an old workspace opens in the current code, migrations are atomic and
run once, and history tables refuse UPDATE and DELETE."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from segtrail.errors import SegtrailError
from segtrail.services.workspace import Workspace
from segtrail.store import schema

TreeHash = Callable[[Path], dict]


def _tables(ws: Workspace) -> set[str]:
    with ws.meta.read() as connection:
        return set(inspect(connection).get_table_names())


def _tables_of(versions: range) -> set[str]:
    return {t.name for m in schema.MIGRATIONS if m.version in versions for t in m.tables}


@pytest.fixture
def old_workspace(tmp_path: Path) -> Path:
    """A workspace made with schema 1 only, holding one dataset."""
    root = tmp_path / "old"
    source = tmp_path / "people.csv"
    source.write_text("id,age,region\n00123,30,north\n7,41,south\n8,,south\n")
    with Workspace.init(root, schema_version=1, author="old-release") as ws:
        assert ws.meta.schema_version() == 1
        assert _tables(ws) == {"schema_migrations", *_tables_of(range(1, 2))}
        ws.ingest(source, "id")
    return root


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
            assert list(versions) == [m.version for m in schema.MIGRATIONS]
        info = ws.dataset("people@1")
        assert info["rows"] == 3
        assert info["author"] == "old-release"
        frame = ws.dataset_frame("people@1")
        assert sorted(frame["id"]) == ["00123", "7", "8"]
        assert ws.fsck()["clean"]
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

    def explode(connection) -> None:
        raise RuntimeError("power cut")

    broken = tuple(
        dataclasses.replace(m, extra=explode) if m.version == 2 else m for m in schema.MIGRATIONS
    )
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
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


@pytest.mark.parametrize("table", ["events", "objects", "datasets"])
def test_history_tables_are_append_only(old_workspace: Path, table: str) -> None:
    with Workspace.open(old_workspace) as ws:
        column = schema.metadata.tables[table].columns.keys()[1]
        with ws.meta.read() as connection:
            count = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        assert count > 0  # triggers fire per row: the table must hold one
        for statement in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"):
            with (
                pytest.raises(DBAPIError, match="append-only"),
                ws.meta.engine.begin() as connection,
            ):
                connection.execute(text(statement))
        with ws.meta.read() as connection:
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == count


def test_every_history_table_has_triggers(old_workspace: Path) -> None:
    with Workspace.open(old_workspace) as ws, ws.meta.read() as connection:
        triggers = set(
            connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            .scalars()
            .all()
        )
    for name in _tables_of(range(1, schema.LATEST + 1)):
        assert {f"{name}_no_update", f"{name}_no_delete"} <= triggers, name
