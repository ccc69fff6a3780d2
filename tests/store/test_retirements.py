"""Retiring and restoring datasets and strategies in the metadata store itself: one row and
one event per change, the latest row per name is the current state, and the checks (the name
exists, the change changes something) are made in the writing transaction. SQLite here: the
store's SQL is the same on PostgreSQL (the CLI and web tests run both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.store.conftest import write_locked

from segtrail.errors import Conflict, InvalidInput, NotFound
from segtrail.store.datasets import NewDataset
from segtrail.store.metadata import MetadataStore


@pytest.fixture
def db(db: MetadataStore) -> MetadataStore:
    """The store of tests/store/conftest.py, with two datasets and two strategies."""
    store = db
    for name, digest in (("customers", "a" * 64), ("prospects", "b" * 64)):
        store.datasets.append(
            NewDataset(name, digest, 10, "id", f"{name}.csv", 20, "csv", 3, []), "ana", {}
        )
    store.strategies.add("winback", "come back", ["email"], None, None, "ana")
    store.strategies.add("upsell", "more", ["sms"], None, None, "ana")
    return store


def _events(db: MetadataStore, action: str) -> list[dict]:
    return [e for e in reversed(db.events.list()) if e["action"] == action]


def test_retire_records_a_row_and_an_event(db: MetadataStore) -> None:
    row = db.retirements.set("dataset", "customers", True, "wrong export", "bea")
    assert set(row) == {"id", "kind", "name", "retired", "reason", "event_id", "at", "author"}
    assert row["kind"] == "dataset" and row["name"] == "customers"
    assert row["retired"] is True and row["reason"] == "wrong export"
    assert row["author"] == "bea" and row["at"] is not None
    (event,) = _events(db, "dataset-retire")
    assert event["subject"] == "customers" and event["author"] == "bea"
    assert event["details"] == {"reason": "wrong export"}
    assert row["event_id"] == event["id"]
    assert set(db.retirements.retired("dataset")) == {"customers"}
    assert db.retirements.retired("dataset")["customers"]["reason"] == "wrong export"
    assert db.retirements.retired("strategy") == {}


def test_restore_brings_it_back_and_keeps_the_history(db: MetadataStore) -> None:
    db.retirements.set("strategy", "winback", True, None, "ana")
    db.retirements.set("strategy", "upsell", True, "dropped", "ana")
    restored = db.retirements.set("strategy", "winback", False, None, "bea")
    assert restored["retired"] is False and restored["reason"] is None
    (event,) = _events(db, "strategy-restore")
    assert event["subject"] == "winback" and event["details"] == {}  # no reason: no key
    assert set(db.retirements.retired("strategy")) == {"upsell"}
    history = db.retirements.history("strategy", "winback")
    assert [(h["retired"], h["author"]) for h in history] == [(True, "ana"), (False, "bea")]
    assert all(isinstance(h["retired"], bool) for h in history)
    assert db.retirements.history("strategy", "nothing") == []
    assert db.retirements.history("dataset", "winback") == []  # kinds are kept apart
    # and again: retire, restore, retire; the latest row decides
    db.retirements.set("strategy", "winback", True, "again", "ana")
    assert set(db.retirements.retired("strategy")) == {"upsell", "winback"}
    assert db.retirements.retired("strategy")["winback"]["reason"] == "again"


def test_same_name_as_dataset_and_strategy_is_two_things(db: MetadataStore) -> None:
    db.strategies.add("customers", "hello", ["email"], None, None, "ana")
    db.retirements.set("dataset", "customers", True, None, "ana")
    assert db.retirements.retired("strategy") == {}
    db.retirements.set("strategy", "customers", True, None, "ana")
    db.retirements.set("dataset", "customers", False, None, "ana")
    assert db.retirements.retired("dataset") == {}
    assert set(db.retirements.retired("strategy")) == {"customers"}


def test_retiring_twice_is_refused_and_says_how_to_restore(db: MetadataStore) -> None:
    db.retirements.set("dataset", "customers", True, None, "ana")
    before = db.events.count()
    with pytest.raises(
        InvalidInput,
        match=r"^dataset customers is retired already; `segtrail dataset restore customers` "
        r"brings it back$",
    ):
        db.retirements.set("dataset", "customers", True, None, "ana")
    db.retirements.set("strategy", "winback", True, None, "ana")
    with pytest.raises(InvalidInput, match=r"`segtrail strategy restore winback`"):
        db.retirements.set("strategy", "winback", True, None, "ana")
    assert db.events.count() == before + 1
    assert len(db.retirements.history("dataset", "customers")) == 1


def test_restoring_what_is_not_retired_is_refused(db: MetadataStore) -> None:
    with pytest.raises(InvalidInput, match=r"^strategy upsell is not retired; nothing to restore$"):
        db.retirements.set("strategy", "upsell", False, None, "ana")
    db.retirements.set("dataset", "prospects", True, None, "ana")
    db.retirements.set("dataset", "prospects", False, None, "ana")
    with pytest.raises(InvalidInput, match="not retired"):
        db.retirements.set("dataset", "prospects", False, None, "ana")
    assert db.retirements.history("strategy", "upsell") == []


@pytest.mark.parametrize(
    ("kind", "listing"),
    [("dataset", "segtrail datasets --all"), ("strategy", "segtrail strategy list --all")],
)
def test_unknown_name_is_not_found_and_names_the_listing(
    db: MetadataStore, kind: str, listing: str
) -> None:
    before = db.events.count()
    with pytest.raises(NotFound, match=rf"^no {kind} 'nope'; `{listing}` lists them$"):
        db.retirements.set(kind, "nope", True, None, "ana")
    assert db.events.count() == before


def test_a_strategy_name_is_not_a_dataset_name(db: MetadataStore) -> None:
    with pytest.raises(NotFound):
        db.retirements.set("dataset", "winback", True, None, "ana")
    with pytest.raises(NotFound):
        db.retirements.set("strategy", "customers", True, None, "ana")


def test_unknown_kind_is_a_programming_error(db: MetadataStore) -> None:
    with pytest.raises(ValueError, match="unknown kind 'segment'"):
        db.retirements.set("segment", "customers", True, None, "ana")


def test_a_busy_database_says_what_was_not_recorded(db: MetadataStore, tmp_path: Path) -> None:
    busy = r"; retiring customers was not recorded, try again$"
    with write_locked(tmp_path / "segtrail.db"), pytest.raises(Conflict, match=busy):
        db.retirements.set("dataset", "customers", True, None, "ana")
    db.retirements.set("dataset", "customers", True, None, "ana")
    busy = r"; restoring customers was not recorded, try again$"
    with write_locked(tmp_path / "segtrail.db"), pytest.raises(Conflict, match=busy):
        db.retirements.set("dataset", "customers", False, None, "ana")
    assert len(db.retirements.history("dataset", "customers")) == 1
