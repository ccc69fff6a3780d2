"""Campaign designs and the workspace's holdout rule in the metadata store itself: each is
one row with its event (a design's assignment object registered) in one transaction, a
campaign is designed once, and a second holdout needs an explicit replace. SQLite here: the
store's SQL is the same on PostgreSQL (tests/services/test_designs.py runs the services)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.store.conftest import write_locked

from segtrail.errors import Conflict
from segtrail.store.datasets import NewDataset
from segtrail.store.designs import NewDesign
from segtrail.store.metadata import MetadataStore
from segtrail.store.segmentations import NewSegmentation


def _segmentation(db: MetadataStore) -> int:
    dataset, _ = db.datasets.append(
        NewDataset("customers", "a" * 64, 10, "id", "c.csv", 20, "csv", 3, []), "ana", {}
    )
    row = db.segmentations.append(
        NewSegmentation(
            lens="marketing",
            dataset_id=dataset["id"],
            hypothesis="h",
            algorithm="kmeans",
            params={},
            feature_spec={},
            seed=0,
            k=2,
            metrics={},
            profiles={},
            assignments=("b" * 64, 5),
            state=("c" * 64, 5),
            segtrail_version="0",
            labels=((0, "one", "d"), (1, "two", "d")),
        ),
        "ana",
        "segment",
        {},
    )
    return int(row["id"])


def _design(
    name: str, segmentation_id: int, strategy: str = "winback", holdout_id: int | None = None
) -> NewDesign:
    return NewDesign(
        name=name,
        strategy=strategy,
        segmentation_id=segmentation_id,
        groups=[{"group": "control", "share": 0.2}, {"group": "a", "share": 0.8}],
        control="control",
        seed=7,
        params={"alpha": 0.05, "power": 0.8},
        power={"segments": [{"segment": 0, "mde": 0.03}], "overall": {"mde": 0.02}},
        holdout_id=holdout_id,
        customers=500,
        object=("d" * 64, 1234),
    )


def _events(db: MetadataStore, action: str) -> list[dict]:
    return [e for e in reversed(db.events.list()) if e["action"] == action]


def test_design_append_and_list(db: MetadataStore) -> None:
    version = _segmentation(db)
    db.designs.append(_design("spring", version), "ana", {"arms": ["a"]})
    db.designs.append(_design("summer", version, "upsell"), "bea", {})
    spring, summer = db.designs.list()
    assert spring["name"] == "spring" and spring["strategy"] == "winback"
    assert spring["segmentation_id"] == version
    assert spring["groups"] == [{"group": "control", "share": 0.2}, {"group": "a", "share": 0.8}]
    assert spring["control"] == "control" and spring["seed"] == 7
    assert spring["params"] == {"alpha": 0.05, "power": 0.8}
    assert spring["power"]["overall"] == {"mde": 0.02}
    assert spring["holdout_id"] is None and spring["customers"] == 500
    assert spring["object_hash"] == "d" * 64
    assert spring["author"] == "ana" and spring["at"] is not None
    assert summer["author"] == "bea"
    (event, _) = _events(db, "campaign-design")
    assert event["subject"] == "spring" and event["details"] == {"arms": ["a"]}
    assert spring["event_id"] == event["id"]
    assert db.objects.kind("d" * 64) == "design"
    assert db.objects.registered()["d" * 64] == 1234
    assert [d["name"] for d in db.designs.list(name="summer")] == ["summer"]
    assert [d["name"] for d in db.designs.list(strategy="winback")] == ["spring"]
    assert db.designs.list(name="spring", strategy="upsell") == []


def test_a_campaign_is_designed_once(db: MetadataStore) -> None:
    version = _segmentation(db)
    db.designs.append(_design("spring", version), "ana", {})
    events = db.events.count()
    with pytest.raises(Conflict, match=r"^campaign 'spring' is already designed$"):
        db.designs.append(_design("spring", version, "upsell"), "bea", {})
    assert db.events.count() == events
    assert [d["strategy"] for d in db.designs.list()] == ["winback"]


def test_holdout_append_list_and_replace(db: MetadataStore) -> None:
    assert db.holdouts.list() == []
    db.holdouts.append(0.05, 11, "hash", {"customers": 40}, "ana", replace=False)
    (first,) = db.holdouts.list()
    assert first["share"] == 0.05 and first["seed"] == 11 and first["method"] == "hash"
    assert first["summary"] == {"customers": 40}
    assert first["author"] == "ana" and first["at"] is not None
    (event,) = _events(db, "holdout-create")
    assert event["subject"] == "holdout" and event["details"] == {"share": 0.05, "seed": 11}
    assert first["event_id"] == event["id"]
    events = db.events.count()
    refused = (
        "this workspace already has a holdout; changing it ends the long-run control: replace "
        "it explicitly to do so"
    )
    with pytest.raises(Conflict, match=f"^{re.escape(refused)}$"):
        db.holdouts.append(0.1, 12, "hash", {}, "bea", replace=False)
    assert db.events.count() == events and len(db.holdouts.list()) == 1
    db.holdouts.append(0.1, 12, "hash", {"customers": 80}, "bea", replace=True)
    old, new = db.holdouts.list()  # oldest first: the last one is current
    assert (old["seed"], new["seed"]) == (11, 12) and new["author"] == "bea"


def test_the_first_holdout_may_be_made_with_replace(db: MetadataStore) -> None:
    db.holdouts.append(0.05, 1, "hash", {}, "ana", replace=True)
    assert [h["seed"] for h in db.holdouts.list()] == [1]


def test_a_design_may_name_its_holdout(db: MetadataStore) -> None:
    version = _segmentation(db)
    db.holdouts.append(0.05, 11, "hash", {}, "ana", replace=False)
    holdout_id = db.holdouts.list()[0]["id"]
    db.designs.append(_design("spring", version, holdout_id=holdout_id), "ana", {})
    assert db.designs.list()[0]["holdout_id"] == holdout_id


def test_a_busy_database_says_what_was_not_recorded(db: MetadataStore, tmp_path: Path) -> None:
    version = _segmentation(db)
    with write_locked(tmp_path / "segtrail.db"):
        with pytest.raises(
            Conflict, match=r"; the design of campaign spring was not recorded, try again$"
        ):
            db.designs.append(_design("spring", version), "ana", {})
        with pytest.raises(Conflict, match=r"; the holdout was not recorded, try again$"):
            db.holdouts.append(0.05, 1, "hash", {}, "ana", replace=False)
    assert db.designs.list() == [] and db.holdouts.list() == []
