"""Helpers for the store's own tests: a metadata store on a SQLite file with a short busy
timeout, and another writer holding that file's write lock, so a test can see what a
command says when the database stays busy; and a segmentation version (with made-up objects)
for the record groups that hang off one."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from segtrail.store import metadata
from segtrail.store.datasets import NewDataset
from segtrail.store.metadata import MetadataStore
from segtrail.store.segmentations import NewSegmentation


@pytest.fixture(scope="session")
def migrated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated, closed metadata database file, made once per session: migrating
    commits (and syncs) every step, a second of wall time per database on a busy disk."""
    path = tmp_path_factory.mktemp("migrated") / "segtrail.db"
    store = MetadataStore(f"sqlite:///{path}")
    store.migrate()
    store.dispose()  # the last connection closed: the WAL is checkpointed into the file
    assert not path.with_name("segtrail.db-wal").exists()
    return path


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_file: Path) -> MetadataStore:
    """A migrated metadata store in tmp_path/segtrail.db (a copy of `migrated_file`); a busy
    database is given up on after 50 ms (the setting is read when a connection opens)."""
    monkeypatch.setattr(metadata, "BUSY_TIMEOUT_MS", 50)
    shutil.copyfile(migrated_file, tmp_path / "segtrail.db")
    return MetadataStore(f"sqlite:///{tmp_path / 'segtrail.db'}")


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Another writer holding the database's write lock meanwhile."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


SEGMENTATION = NewSegmentation(
    lens="marketing",
    dataset_id=0,  # set by the fixture below
    hypothesis="spend splits the base",
    algorithm="kmeans",
    params={"k": 3, "n_init": 4},
    feature_spec={"features": ["x", "y"]},
    seed=11,
    k=3,
    metrics={"silhouette": 0.5},
    profiles={"0": {"x": 1.5}},
    assignments=("a" * 64, 120),
    state=("b" * 64, 340),
    segtrail_version="1.2.3",
    labels=((0, "Big spenders", "spend high"), (1, "Sleepers", None), (2, "New", "joined")),
)


@pytest.fixture
def new_segmentation(db: MetadataStore) -> NewSegmentation:
    """A version to record in `db` (with made-up objects), of a dataset recorded there."""
    dataset, _ = db.datasets.append(
        NewDataset("customers", "d" * 64, 10, "id", "c.csv", 20, "csv", 3, []), "ana", {}
    )
    return replace(SEGMENTATION, dataset_id=dataset["id"])
