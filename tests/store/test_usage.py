"""Campaigns, lookalike audiences and exports in the metadata store itself: each append is
one row with its event (and its object registered) in one transaction, names are unique, and
the lists read back what was written, oldest first. SQLite here: the store's SQL is the same
on PostgreSQL (the CLI and web tests run both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from tests.store.conftest import write_locked

from segtrail.errors import Conflict
from segtrail.store import schema
from segtrail.store.datasets import NewDataset
from segtrail.store.metadata import MetadataStore, loads
from segtrail.store.usage import NewAudience, NewCampaign


def _campaign(name: str, strategy: str = "winback", digest: str = "c" * 64) -> NewCampaign:
    return NewCampaign(
        name=name,
        strategy=strategy,
        source=f"{name}.csv",
        rows=120,
        unknown_customers=3,
        summary={"treatment": 100, "control": 20},
        object=(digest, 4321),
    )


def _events(db: MetadataStore, action: str) -> list[dict]:
    return [e for e in reversed(db.events.list()) if e["action"] == action]


def test_campaign_append_and_list(db: MetadataStore) -> None:
    db.campaigns.append(_campaign("spring"), "ana", {"rows": 120})
    db.campaigns.append(_campaign("summer", "upsell", "d" * 64), "bea", {})
    spring, summer = db.campaigns.list()
    assert spring["name"] == "spring" and spring["strategy"] == "winback"
    assert spring["source"] == "spring.csv" and spring["rows"] == 120
    assert spring["unknown_customers"] == 3
    assert spring["summary"] == {"treatment": 100, "control": 20}  # decoded JSON
    assert spring["object_hash"] == "c" * 64
    assert spring["author"] == "ana" and spring["at"] is not None
    assert summer["author"] == "bea" and summer["strategy"] == "upsell"
    (event, _) = _events(db, "campaign-import")
    assert event["subject"] == "spring" and event["details"] == {"rows": 120}
    assert spring["event_id"] == event["id"]
    assert db.objects.registered() == {"c" * 64: 4321, "d" * 64: 4321}
    assert db.objects.kind("c" * 64) == "campaign"
    assert [c["name"] for c in db.campaigns.list(name="summer")] == ["summer"]
    assert [c["name"] for c in db.campaigns.list(strategy="winback")] == ["spring"]
    assert db.campaigns.list(name="spring", strategy="upsell") == []
    assert db.campaigns.exists("spring") and not db.campaigns.exists("autumn")


def test_a_campaign_name_is_used_once(db: MetadataStore) -> None:
    db.campaigns.append(_campaign("spring"), "ana", {})
    events = db.events.count()
    with pytest.raises(Conflict, match=r"^campaign 'spring' already exists$"):
        db.campaigns.append(_campaign("spring", digest="e" * 64), "bea", {})
    assert db.events.count() == events
    assert len(db.campaigns.list()) == 1
    assert "e" * 64 not in db.objects.registered()  # the failed append left nothing


def test_two_campaigns_may_share_one_object(db: MetadataStore) -> None:
    db.campaigns.append(_campaign("a"), "ana", {})
    db.campaigns.append(_campaign("b"), "ana", {})  # same content: registered once
    assert db.objects.registered() == {"c" * 64: 4321}
    assert [c["object_hash"] for c in db.campaigns.list()] == ["c" * 64] * 2


def _dataset(db: MetadataStore) -> int:
    row, _ = db.datasets.append(
        NewDataset("customers", "a" * 64, 10, "id", "c.csv", 20, "csv", 3, []), "ana", {}
    )
    return int(row["id"])


def _audience(name: str, dataset_id: int, digest: str = "f" * 64) -> NewAudience:
    return NewAudience(
        name=name,
        kind="lookalike",
        dataset_id=dataset_id,
        seed={"segment": 2},
        method="centroid",
        params={"size": 500},
        quality={"auc": 0.8},
        object=(digest, 999),
    )


def test_audience_append_and_list(db: MetadataStore) -> None:
    dataset_id = _dataset(db)
    db.audiences.append(_audience("best", dataset_id), "ana", {"seed": "marketing@1:2"})
    db.audiences.append(_audience("next", dataset_id, "9" * 64), "bea", {})
    best, nxt = db.audiences.list()
    assert best["name"] == "best" and best["kind"] == "lookalike"
    assert best["dataset_id"] == dataset_id and best["method"] == "centroid"
    assert best["seed"] == {"segment": 2} and best["params"] == {"size": 500}
    assert best["quality"] == {"auc": 0.8}
    assert best["object_hash"] == "f" * 64 and best["author"] == "ana"
    assert best["at"] is not None and nxt["author"] == "bea"
    (event, _) = _events(db, "lookalike")
    assert event["subject"] == "best" and event["details"] == {"seed": "marketing@1:2"}
    assert best["event_id"] == event["id"]
    assert db.objects.kind("f" * 64) == "audience"
    assert db.objects.registered()["f" * 64] == 999
    assert [a["name"] for a in db.audiences.list(name="next")] == ["next"]
    assert db.audiences.list(name="none") == []
    assert db.audiences.names() == {"best", "next"}


def test_an_audience_name_is_used_once(db: MetadataStore) -> None:
    dataset_id = _dataset(db)
    db.audiences.append(_audience("best", dataset_id), "ana", {})
    with pytest.raises(Conflict, match=r"^an audience named 'best' already exists$"):
        db.audiences.append(_audience("best", dataset_id, "8" * 64), "ana", {})
    assert db.audiences.names() == {"best"}
    assert "8" * 64 not in db.objects.registered()


def test_export_append_records_its_provenance(db: MetadataStore) -> None:
    db.exports.append(
        "marketing@2", "csv", "/tmp/out.csv", 42, "0" * 64, {"version": "marketing@2"}, "ana"
    )
    (event,) = _events(db, "export")
    assert event["subject"] == "marketing@2" and event["author"] == "ana"
    assert event["details"] == {"path": "/tmp/out.csv", "format": "csv", "version": "marketing@2"}
    (row,) = db.fetch(select(schema.exports))
    assert row["target"] == "marketing@2" and row["format"] == "csv"
    assert row["path"] == "/tmp/out.csv" and row["rows"] == 42 and row["sha256"] == "0" * 64
    assert row["event_id"] == event["id"]
    assert loads(row["provenance"]) == {"version": "marketing@2"}


def test_a_busy_database_says_what_was_not_recorded(db: MetadataStore, tmp_path: Path) -> None:
    dataset_id = _dataset(db)
    with write_locked(tmp_path / "segtrail.db"):
        with pytest.raises(Conflict, match=r"; campaign spring was not recorded, try again$"):
            db.campaigns.append(_campaign("spring"), "ana", {})
        with pytest.raises(Conflict, match=r"; audience best was not recorded, try again$"):
            db.audiences.append(_audience("best", dataset_id), "ana", {})
        with pytest.raises(Conflict, match=r"; the export of m@1 was not recorded, try again$"):
            db.exports.append("m@1", "csv", "/tmp/x.csv", 1, "0" * 64, {}, "ana")
    assert db.campaigns.list() == [] and db.audiences.list() == []
