"""The event log and the object registry in the metadata store itself. Event search is
compared with a plain Python filter over the whole log written here (the independent
reference); object references are checked against the records made. SQLite here:
tests/services/test_event_search.py runs the search on PostgreSQL too."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.store.conftest import write_locked

from segtrail.errors import Conflict
from segtrail.store import audit, schema
from segtrail.store.audit import ObjectRegistry
from segtrail.store.datasets import NewDataset
from segtrail.store.metadata import MetadataStore
from segtrail.store.usage import NewCampaign

SUBJECTS = ["50% off", "a_b", "back\\slash", "Café crème", "plain", 'QUOTE"d', "AbBa", "axb"]


@pytest.fixture
def log(db: MetadataStore) -> MetadataStore:
    for i, subject in enumerate(SUBJECTS):
        author = ("ana", "bo", "cy")[i % 3]
        action = ("name", "tag")[i % 2]
        db.events.append(author, action, subject, {"note": SUBJECTS[-1 - i], "i": i})
    return db


def _reference(db: MetadataStore, text: str | None, action: str | None, author: str | None):
    def fold(s: str) -> str:
        return "".join(c.lower() if c.isascii() else c for c in s)

    out = []
    for e in db.events.list():
        details = json.dumps(e["details"], sort_keys=True)
        if text and not (
            fold(text) in fold(e["subject"]) or fold(json.dumps(text)[1:-1]) in fold(details)
        ):
            continue
        if (action and e["action"] != action) or (author and e["author"] != author):
            continue
        out.append(e["id"])
    return out


def test_append_and_list_newest_first(log: MetadataStore) -> None:
    events = log.events.list()
    assert [e["subject"] for e in events] == SUBJECTS[::-1]
    assert events[-1]["author"] == "ana" and events[-1]["action"] == "name"
    assert events[-1]["details"] == {"note": SUBJECTS[-1], "i": 0}
    assert events[0]["at"] >= events[-1]["at"]
    assert [e["subject"] for e in log.events.list(limit=2)] == SUBJECTS[:-3:-1]
    assert len(log.events.list(limit=0)) == len(SUBJECTS)  # 0: no limit
    assert log.events.count() == len(SUBJECTS)


def test_append_returns_the_new_events_id(db: MetadataStore) -> None:
    first = db.events.append("ana", "init", "workspace", {})
    second = db.events.append("ana", "note", "x", {"a": 1})
    assert second == first + 1
    assert [e["id"] for e in db.events.list()] == [second, first]


@pytest.mark.parametrize(
    "text", ["%", "_", "\\", "50%", "a_b", "a", "CAFÉ", "Café", "é", '"', "QUOTE", "zzz", None]
)
@pytest.mark.parametrize("action", [None, "name", "tag", "missing"])
def test_search_matches_a_plain_filter(log: MetadataStore, text, action) -> None:
    for author in (None, "bo"):
        rows, total = log.events.search(text=text, action=action, author=author, limit=100)
        expected = _reference(log, text, action, author)
        assert [r["id"] for r in rows] == expected
        assert total == len(expected)


def test_search_pages_and_counts_all_matches(log: MetadataStore) -> None:
    everything = _reference(log, None, None, None)
    rows, total = log.events.search(limit=3, offset=2)
    assert [r["id"] for r in rows] == everything[2:5] and total == len(SUBJECTS)
    rows, total = log.events.search()
    assert [r["id"] for r in rows] == everything  # default page of 50 holds them all
    assert rows[0]["details"] == {"note": SUBJECTS[0], "i": len(SUBJECTS) - 1}
    rows, total = log.events.search(text="a", limit=1)
    assert len(rows) == 1 and total == len(_reference(log, "a", None, None)) > 1


def test_wildcards_are_taken_literally(log: MetadataStore) -> None:
    for text, literal in (("0% o", "50% off"), ("a_b", "a_b"), ("k\\s", "back\\slash")):
        rows, _ = log.events.search(text=text)
        # the event named so, and the one whose note names it; not "axb" for a_b
        assert {r["subject"] for r in rows} == {literal, SUBJECTS[-1 - SUBJECTS.index(literal)]}


def test_kinds_lists_actions_and_authors_sorted(log: MetadataStore) -> None:
    log.events.append("al", "adopt", "x", {})
    assert log.events.kinds() == {
        "actions": ["adopt", "name", "tag"],
        "authors": ["al", "ana", "bo", "cy"],
    }


def test_an_empty_log(db: MetadataStore) -> None:
    assert db.events.list() == [] and db.events.count() == 0
    assert db.events.search(text="x") == ([], 0)
    assert db.events.kinds() == {"actions": [], "authors": []}


# --- object registry -------------------------------------------------------------------


def _register(db: MetadataStore, digest: str, kind: str, size: int) -> None:
    db.write(lambda c: ObjectRegistry.register(c, digest, kind, size))


def test_register_once_per_content(db: MetadataStore) -> None:
    _register(db, "a" * 64, "dataset", 10)
    _register(db, "a" * 64, "assignments", 99)  # the same content again: a no-op
    _register(db, "b" * 64, "assignments", 20)
    assert db.objects.registered() == {"a" * 64: 10, "b" * 64: 20}
    assert db.objects.kind("a" * 64) == "dataset"
    assert db.objects.kind("b" * 64) == "assignments"
    assert db.objects.kind("c" * 64) is None
    (row,) = db.fetch(select(schema.objects).where(schema.objects.c.hash == "b" * 64))
    assert row["created_at"].endswith("Z")


def test_register_once_per_content_on_both_backends(
    tmp_path: Path, database_url: str | None
) -> None:
    # each backend needs its own INSERT ... ON CONFLICT construct
    db = MetadataStore(database_url or f"sqlite:///{tmp_path / 'both.db'}")
    try:
        db.migrate()
        _register(db, "a" * 64, "dataset", 10)
        _register(db, "a" * 64, "assignments", 99)
        assert db.objects.registered() == {"a" * 64: 10}
        assert db.objects.kind("a" * 64) == "dataset"
    finally:
        db.dispose()


def test_a_busy_database_says_what_was_not_recorded(db: MetadataStore, tmp_path: Path) -> None:
    with (
        write_locked(tmp_path / "segtrail.db"),
        pytest.raises(Conflict, match=r"; note was not recorded, try again$"),
    ):
        db.events.append("ana", "note", "x", {})
    assert db.events.count() == 0


def test_an_older_schema_has_its_own_references_and_uses(tmp_path: Path) -> None:
    # schema 1 has datasets (pointing at objects) and none of the later tables; the dataset
    # points at an object never registered (damage, written with foreign keys off)
    db = MetadataStore(f"sqlite:///{tmp_path / 'v1.db'}")
    db.migrate(target=1)
    db.write(lambda c: ObjectRegistry.register(c, "a" * 64, "dataset", 1))
    event = db.events.append("ana", "ingest", "customers@1", {})
    db.dispose()
    with sqlite3.connect(tmp_path / "v1.db") as raw:
        raw.execute(
            "INSERT INTO datasets (name, version, object_hash, id_column, source, source_bytes,"
            " source_format, rows, columns, event_id) VALUES"
            " ('customers', 1, ?, 'id', 'c.csv', 1, 'csv', 1, '[]', ?)",
            ("b" * 64, event),
        )
    assert db.objects.references() == [("datasets.object_hash", "b" * 64)]
    assert db.objects.in_use(["a" * 64, "b" * 64, "c" * 64]) == {"a" * 64, "b" * 64}


def _dataset(db: MetadataStore, name: str, digest: str) -> None:
    db.datasets.append(NewDataset(name, digest, 10, "id", "c.csv", 20, "csv", 3, []), "ana", {})


def _campaign(db: MetadataStore, name: str, digest: str) -> None:
    db.campaigns.append(NewCampaign(name, "s", "c.csv", 1, 0, {}, (digest, 5)), "ana", {})


def test_references_name_every_record_pointing_at_an_object(db: MetadataStore) -> None:
    assert db.objects.references() == []
    _dataset(db, "customers", "a" * 64)
    _dataset(db, "prospects", "b" * 64)
    _campaign(db, "spring", "c" * 64)
    _register(db, "d" * 64, "dataset", 1)  # registered, referenced by nothing
    assert sorted(db.objects.references()) == [
        ("campaigns.object_hash", "c" * 64),
        ("datasets.object_hash", "a" * 64),
        ("datasets.object_hash", "b" * 64),
    ]
    assert db.objects.referenced("a" * 64) and db.objects.referenced("c" * 64)
    assert not db.objects.referenced("d" * 64)
    assert not db.objects.referenced("e" * 64)


def test_object_references_are_found_from_the_schema() -> None:
    found = {f"{t.name}.{c}" for t, c in audit.OBJECT_REFERENCES}
    assert {"datasets.object_hash", "campaigns.object_hash", "audiences.object_hash"} <= found
    assert "objects.hash" not in found and "events.id" not in found
    assert all(
        any(fk.target_fullname == "objects.hash" for fk in t.c[c].foreign_keys)
        for t, c in audit.OBJECT_REFERENCES
    )


def test_references_skip_tables_an_older_schema_does_not_have(tmp_path: Path) -> None:
    db = MetadataStore(f"sqlite:///{tmp_path / 'old.db'}")
    db.migrate(target=1)
    assert db.schema_version() == 1
    later = {t.name for m in schema.migrations() if m.version > 1 for t in m.tables}
    assert any(t.name in later for t, _ in audit.OBJECT_REFERENCES)  # the case is real
    assert db.objects.references() == []  # reading a missing table would fail


@pytest.mark.parametrize("chunk", [1, 2, 500])
def test_in_use_finds_registered_and_referenced_digests(
    db: MetadataStore, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(audit, "IN_CHUNK", chunk)
    _dataset(db, "customers", "a" * 64)
    _campaign(db, "spring", "c" * 64)
    _register(db, "d" * 64, "dataset", 1)
    asked = ["e" * 64, "a" * 64, "f" * 64, "c" * 64, "d" * 64, "a" * 64]
    assert db.objects.in_use(asked) == {"a" * 64, "c" * 64, "d" * 64}
    assert db.objects.in_use(iter(["e" * 64])) == set()
    assert db.objects.in_use([]) == set()


def test_in_use_finds_a_reference_without_a_registration(db: MetadataStore, tmp_path: Path) -> None:
    # a damaged workspace may point at an object it never registered: still in use
    _dataset(db, "customers", "a" * 64)
    db.dispose()
    with sqlite3.connect(tmp_path / "segtrail.db") as raw:  # foreign keys off by default
        raw.execute("DROP TRIGGER objects_no_delete")  # the damage normal use cannot do
        raw.execute("DELETE FROM objects WHERE hash = ?", ("a" * 64,))
    assert db.objects.registered() == {}
    assert db.objects.in_use(["a" * 64, "8" * 64]) == {"a" * 64}


def test_in_use_before_any_schema_is_nothing(tmp_path: Path) -> None:
    db = MetadataStore(f"sqlite:///{tmp_path / 'empty.db'}")
    assert db.schema_version() == 0
    assert db.objects.in_use(["a" * 64]) == set()


def test_newest_id_stamps_the_history(db: MetadataStore) -> None:
    assert db.events.newest_id() == 0
    first = db.events.append("ana", "note", "a", {})
    second = db.events.append("ana", "note", "b", {})
    assert db.events.newest_id() == second == max(first, second)
    assert db.events.newest_id() == db.events.list()[0]["id"]
