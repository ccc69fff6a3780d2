"""Helpers for the store's own tests: a metadata store on a SQLite file with a short busy
timeout, and another writer holding that file's write lock, so a test can see what a
command says when the database stays busy."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from segtrail.store import metadata
from segtrail.store.metadata import MetadataStore


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MetadataStore:
    """A migrated metadata store in tmp_path/segtrail.db; a busy database is given up on
    after 50 ms (the setting is read when a connection opens)."""
    monkeypatch.setattr(metadata, "BUSY_TIMEOUT_MS", 50)
    store = MetadataStore(f"sqlite:///{tmp_path / 'segtrail.db'}")
    store.migrate()
    return store


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
