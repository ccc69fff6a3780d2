"""Orphans: a failing command takes back the objects it wrote; `fsck --prune` removes what
no record references once it is older than the grace period; and a database that records
nothing while objects exist is a problem, never "clean" (and never pruned)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import hash_tree

from segtrail.services.workspace import Workspace
from segtrail.store.metadata import MetadataStore
from segtrail.store.objects import TMP_PREFIX, LocalObjectStore, object_name
from segtrail.store.shared_objects import FsspecObjectStore

Runner = Callable[..., object]
DAY = 86_400


def _objects(root: Path) -> list[str]:
    return sorted(p.name.removesuffix(".parquet") for p in root.glob("??/*.parquet"))


def _age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def _refuse_datasets(workspace: Path) -> None:
    """A real database failure after the object is written: a trigger refusing the row."""
    with sqlite3.connect(workspace / ".segtrail" / "segtrail.db") as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON datasets "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )


def _sqlite_only(backend: str) -> None:
    """These tests reach into the workspace's own SQLite file (to make a write fail, or to
    lose the history); a server database is not a file in the workspace."""
    if backend != "sqlite":
        pytest.skip("SQLite only: works on the workspace's database file")


def test_a_failing_ingest_takes_back_its_object(
    workspace: Path, cli: Runner, customers_csv: Path, backend: str
) -> None:
    _sqlite_only(backend)
    _refuse_datasets(workspace)
    before = hash_tree(workspace)
    result = cli("ingest", customers_csv, "--id", "customer_id")
    assert result.code != 0  # however the store reports it (the store retries clashes)
    assert "not recorded" in result.err or "refused by the test" in result.err
    assert _objects(workspace / ".segtrail" / "objects") == []
    assert hash_tree(workspace) == before
    fsck = cli("fsck", "--json").json()
    assert fsck["clean"] and fsck["notes"] == []


def test_a_failure_keeps_an_object_a_record_already_uses(
    populated: Path, cli: Runner, customers_csv: Path, backend: str
) -> None:
    """Re-importing the same bytes under another name writes nothing new; when that insert
    fails, the object customers@1 uses must stay (content addressing: same bytes, one
    object)."""
    _sqlite_only(backend)
    objects = _objects(populated / ".segtrail" / "objects")
    _refuse_datasets(populated)
    result = cli("ingest", customers_csv, "--id", "customer_id", "--name", "again")
    assert result.code != 0
    assert _objects(populated / ".segtrail" / "objects") == objects
    assert cli("fsck").code == 0
    assert cli("dataset", "show", "customers", "--rows", "1", "--json").code == 0


def test_a_failing_python_api_call_takes_back_its_object(
    workspace: Path, customers_csv: Path, backend: str
) -> None:
    _sqlite_only(backend)
    _refuse_datasets(workspace)
    with (
        pytest.raises(Exception),  # noqa: B017  whatever the store makes of the refusal
        Workspace.open(workspace, author="tester") as ws,
    ):
        ws.ingest(customers_csv, "customer_id")
    assert _objects(workspace / ".segtrail" / "objects") == []


# --- fsck --prune --------------------------------------------------------------------------


@pytest.fixture(params=["local", "file-url"])
def shared(request: pytest.FixtureRequest, tmp_path: Path, cli: Runner, customers_csv: Path):
    """A workspace with one dataset, its objects in .segtrail/objects or in a second folder
    through `file://`; returns (workspace, objects folder)."""
    root = tmp_path / "ws"
    if request.param == "local":
        assert cli("init", root).code == 0
        folder = root / ".segtrail" / "objects"
    else:
        folder = tmp_path / "team" / "objects"
        assert cli("init", root, "--objects", folder.as_uri()).code == 0
    assert cli("ingest", customers_csv, "--id", "customer_id", cwd=root).code == 0
    return root, folder


def test_prune_removes_old_orphans_and_temporaries_only(shared, cli: Runner) -> None:
    root, folder = shared
    (recorded,) = _objects(folder)
    store = LocalObjectStore(folder)
    old_orphan, _ = store.put_bytes(b"left by a failed command last week")
    young_orphan, _ = store.put_bytes(b"written by a command still running")
    old_tmp = folder / "ab" / f"{TMP_PREFIX}killed"
    old_tmp.parent.mkdir(exist_ok=True)
    old_tmp.write_bytes(b"half")
    young_tmp = folder / "ab" / f"{TMP_PREFIX}writing"
    young_tmp.write_bytes(b"half")
    for path in (store.path(old_orphan), store.path(recorded), old_tmp):
        _age(path, 3 * DAY)

    plain = cli("fsck", cwd=root)
    assert plain.code == 0
    assert "2 object(s) not referenced" in plain.out
    assert "--prune" in plain.out
    assert _objects(folder) == sorted([recorded, old_orphan, young_orphan])

    result = cli("fsck", "--prune", cwd=root)
    assert result.code == 0, result.out
    assert f"removed: object {old_orphan[:12]}" in result.out
    assert "removed: temporary file ab/.tmp-killed" in result.out
    assert _objects(folder) == sorted([recorded, young_orphan])
    assert not old_tmp.exists() and young_tmp.exists()

    report = cli("fsck", "--prune", "--grace-hours", "0", "--json", cwd=root).json()
    assert report["clean"]
    assert report["removed"] == {
        "objects": [young_orphan],
        "temporaries": ["ab/.tmp-writing"],
    }
    assert _objects(folder) == [recorded]  # the recorded dataset is never a candidate
    assert cli("dataset", "show", "customers", "--rows", "1", "--json", cwd=root).code == 0
    again = cli("fsck", "--prune", "--grace-hours", "0", "--json", cwd=root).json()
    assert again["removed"] == {"objects": [], "temporaries": []}
    assert again["notes"] == []


def test_prune_keeps_what_a_record_references_even_when_old(populated: Path, cli: Runner) -> None:
    folder = populated / ".segtrail" / "objects"
    for path in folder.glob("??/*.parquet"):
        _age(path, 30 * DAY)
    before = hash_tree(populated)
    report = cli("fsck", "--prune", "--grace-hours", "0", "--json").json()
    assert report["removed"] == {"objects": [], "temporaries": []}
    assert hash_tree(populated) == before


def test_prune_on_a_bucket_like_store(tmp_path: Path) -> None:
    """memory:// stands for a bucket: written in place, its "rename" is a copy that resets
    the time, so "used meanwhile" is judged before moving aside."""
    store = FsspecObjectStore(f"memory://prune-{uuid.uuid4().hex}")
    digest, _ = store.put_bytes(b"orphan")
    judged = store._stat(object_name(digest)).modified
    assert store.remove_unused({digest: judged}, lambda digests: set()) == [digest]
    kept, _ = store.put_bytes(b"recorded")
    judged = store._stat(object_name(kept)).modified
    assert store.remove_unused({kept: judged}, lambda digests: {kept}) == []
    assert store.read_bytes(kept).to_pybytes() == b"recorded"
    assert store.listing() == ({kept: store._stat(object_name(kept))}, [])


def test_a_negative_grace_period_is_refused(populated: Path, cli: Runner) -> None:
    result = cli("fsck", "--prune", "--grace-hours", "-1")
    assert result.code == 2
    assert "grace period" in result.err
    assert len(result.err.strip().splitlines()) == 1


# --- a database that records nothing -------------------------------------------------------


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_objects_without_any_history_are_a_problem(
    populated: Path, run: Runner, how: str, backend: str
) -> None:
    """In fresh processes (as a user meets it): connections the in-process runner keeps
    open would still see the old file."""
    _sqlite_only(backend)
    db = populated / ".segtrail" / "segtrail.db"
    objects = _objects(populated / ".segtrail" / "objects")
    for scratch in db.parent.glob("segtrail.db-*"):  # the WAL's scratch files go with it
        scratch.unlink()
    if how == "deleted":
        db.unlink()
    else:
        db.write_bytes(b"")
    result = run("fsck")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "restore" in result.err and f"{len(objects)} data object(s)" in result.err
    pruned = run("fsck", "--prune", "--grace-hours", "0")
    assert pruned.code == 2
    assert _objects(populated / ".segtrail" / "objects") == objects


def test_a_database_replaced_by_a_fresh_schema_is_a_problem_for_fsck(
    populated: Path, backend: str
) -> None:
    """Tables but not one event (not even `init`): a fresh schema under the old objects. The
    workspace opens (the schema is segtrail's), but fsck says what happened, and prune
    removes nothing, though every object looks unreferenced."""
    _sqlite_only(backend)
    db = populated / ".segtrail" / "segtrail.db"
    objects = _objects(populated / ".segtrail" / "objects")
    for path in db.parent.glob("segtrail.db*"):
        path.unlink()
    fresh = MetadataStore(f"sqlite:///{db}")
    fresh.migrate()
    fresh.dispose()
    with Workspace.open(populated, author="tester") as ws:
        report = ws.fsck(prune=True, grace_hours=0)
    assert not report.clean
    assert any("records no history" in p for p in report.problems)
    assert report.removed == {"objects": [], "temporaries": []}
    assert _objects(populated / ".segtrail" / "objects") == objects


def test_an_empty_store_with_an_empty_history_is_clean(workspace: Path, cli: Runner) -> None:
    """A fresh workspace (only the init event, no objects) is fine."""
    result = cli("fsck", "--json")
    assert result.code == 0
    assert result.json()["problems"] == []


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from segtrail.store.objects import LocalObjectStore

os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # die with the bytes half-placed
LocalObjectStore(Path(sys.argv[1])).put_bytes(b"never finished")
"""


def test_fsck_sees_and_prunes_what_a_killed_write_left(populated: Path, cli: Runner) -> None:
    folder = populated / ".segtrail" / "objects"
    objects = _objects(folder)
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(folder)], check=False)
    assert proc.returncode == -signal.SIGKILL
    fsck = cli("fsck", "--json").json()
    assert fsck["clean"]
    assert "1 unfinished temporary file(s) (harmless)" in fsck["notes"]
    assert cli("fsck", "--prune", "--json").json()["removed"]["temporaries"] == []  # too young
    report = cli("fsck", "--prune", "--grace-hours", "0", "--json").json()
    (removed,) = report["removed"]["temporaries"]
    assert removed.split("/")[1].startswith(".tmp-")
    assert cli("fsck", "--json").json()["notes"] == []
    assert _objects(folder) == objects
