"""Dataset versions in the metadata store itself: the version number is allocated by the
store, re-importing the same object with the same id column records nothing, and lineage
rows point at the dataset they were derived from, all in one transaction. SQLite here: the
store's SQL is the same on PostgreSQL (the CLI tests run both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.store.conftest import write_locked

from segtrail.errors import Conflict
from segtrail.store.datasets import Lineage, NewDataset
from segtrail.store.metadata import MetadataStore

COLUMNS = [{"name": "id", "kind": "id", "type": "string", "summary": {"distinct": 3}}]


def _new(name: str, digest: str, id_column: str = "id", lineage: Lineage | None = None):
    return NewDataset(name, digest, 100, id_column, f"{name}.csv", 200, "csv", 3, COLUMNS, lineage)


def test_append_allocates_versions_and_records_an_event(db: MetadataStore) -> None:
    first, created = db.datasets.append(_new("customers", "a" * 64), "ana", {"rows": 3})
    assert created
    assert first["name"] == "customers" and first["version"] == 1
    assert first["object_hash"] == "a" * 64 and first["id_column"] == "id"
    assert first["source"] == "customers.csv" and first["source_bytes"] == 200
    assert first["source_format"] == "csv" and first["rows"] == 3
    assert first["columns"] == COLUMNS  # decoded JSON
    assert first["author"] == "ana" and first["created_at"] is not None
    event = db.events.list()[0]
    assert event["action"] == "ingest" and event["subject"] == "customers@1"
    assert event["details"] == {"rows": 3} and first["event_id"] == event["id"]
    assert db.objects.kind("a" * 64) == "dataset" and db.objects.registered()["a" * 64] == 100
    second, created = db.datasets.append(_new("customers", "b" * 64), "bea", {})
    assert created and second["version"] == 2 and second["author"] == "bea"
    other, _ = db.datasets.append(_new("prospects", "c" * 64), "ana", {})
    assert other["version"] == 1  # versions count per name
    assert db.events.list()[1]["subject"] == "customers@2"


def test_the_same_data_again_records_nothing(db: MetadataStore) -> None:
    first, _ = db.datasets.append(_new("customers", "a" * 64), "ana", {})
    events = db.events.count()
    again, created = db.datasets.append(_new("customers", "a" * 64), "bea", {})
    assert not created and again == first
    assert db.events.count() == events and db.datasets.count() == 1


def test_another_id_column_or_content_is_a_new_version(db: MetadataStore) -> None:
    db.datasets.append(_new("customers", "a" * 64), "ana", {})
    by_email, created = db.datasets.append(_new("customers", "a" * 64, "email"), "ana", {})
    assert created and by_email["version"] == 2
    # only the newest version is compared: going back to version 1's data is version 3
    back, created = db.datasets.append(_new("customers", "a" * 64), "ana", {})
    assert created and back["version"] == 3


def test_get_by_name_and_version(db: MetadataStore) -> None:
    db.datasets.append(_new("customers", "a" * 64), "ana", {})
    db.datasets.append(_new("customers", "b" * 64), "ana", {})
    db.datasets.append(_new("prospects", "c" * 64), "ana", {})
    assert db.datasets.get("customers")["version"] == 2
    assert db.datasets.get("customers", 1)["object_hash"] == "a" * 64
    assert db.datasets.get("customers", 1)["columns"] == COLUMNS
    assert db.datasets.get("customers", 3) is None
    assert db.datasets.get("nobody") is None
    assert db.datasets.newest()["name"] == "prospects"
    assert db.datasets.newest()["columns"] == COLUMNS
    assert [(d["name"], d["version"]) for d in db.datasets.list()] == [
        ("customers", 1),
        ("customers", 2),
        ("prospects", 1),
    ]
    assert db.datasets.list()[0]["columns"] == COLUMNS
    assert db.datasets.count() == 3
    first_id = db.datasets.get("customers", 1)["id"]
    assert db.datasets.by_id(first_id)["version"] == 1
    assert db.datasets.by_id(first_id)["columns"] == COLUMNS
    assert db.datasets.by_id(first_id + 100) is None


def test_an_empty_store(db: MetadataStore) -> None:
    assert db.datasets.newest() is None and db.datasets.list() == []
    assert db.datasets.count() == 0


def test_append_all_records_lineage_in_one_go(db: MetadataStore) -> None:
    spec = {"customer": "cust", "as_of": "2025-01-01"}
    written = db.datasets.append_all(
        [
            (_new("orders", "a" * 64, lineage=Lineage("sql", {"query": "select 1"})), {"n": 1}),
            (_new("customers", "b" * 64, lineage=Lineage("transactions", spec, 0)), {"n": 2}),
        ],
        "ana",
    )
    (orders, made_orders), (customers, made_customers) = written
    assert made_orders and made_customers
    assert db.datasets.lineage(orders["id"]) == {
        "id": db.datasets.lineage(orders["id"])["id"],
        "dataset_id": orders["id"],
        "derived_from_id": None,
        "kind": "sql",
        "spec": {"query": "select 1"},
    }
    derived = db.datasets.lineage(customers["id"])
    assert derived["derived_from_id"] == orders["id"]
    assert derived["kind"] == "transactions" and derived["spec"] == spec
    assert [e["details"] for e in db.events.list()] == [{"n": 2}, {"n": 1}]
    assert [e["subject"] for e in db.events.list()] == ["customers@1", "orders@1"]


def test_lineage_points_at_an_unchanged_earlier_item(db: MetadataStore) -> None:
    orders, _ = db.datasets.append(_new("orders", "a" * 64), "ana", {})
    written = db.datasets.append_all(
        [
            (_new("orders", "a" * 64), {}),  # unchanged: not recorded again
            (_new("customers", "b" * 64, lineage=Lineage("transactions", {}, 0)), {}),
        ],
        "ana",
    )
    assert [created for _, created in written] == [False, True]
    assert db.datasets.lineage(written[1][0]["id"])["derived_from_id"] == orders["id"]
    # an unchanged dataset keeps the lineage it had (none): none is added
    assert db.datasets.lineage(orders["id"]) is None


def test_an_unchanged_dataset_with_lineage_adds_no_lineage_row(db: MetadataStore) -> None:
    lineage = Lineage("sql", {"query": "select 1"})
    first, _ = db.datasets.append(_new("orders", "a" * 64, lineage=lineage), "ana", {})
    lineage_id = db.datasets.lineage(first["id"])["id"]
    again, created = db.datasets.append(_new("orders", "a" * 64, lineage=lineage), "ana", {})
    assert not created and db.datasets.lineage(again["id"])["id"] == lineage_id


def test_a_busy_database_says_what_was_not_recorded(db: MetadataStore, tmp_path: Path) -> None:
    with (
        write_locked(tmp_path / "segtrail.db"),
        pytest.raises(Conflict, match=r"; dataset orders, customers was not recorded, try again$"),
    ):
        db.datasets.append_all(
            [(_new("orders", "a" * 64), {}), (_new("customers", "b" * 64), {})], "ana"
        )
    assert db.datasets.count() == 0
