"""Segmentation versions and their names, tags and statuses in the metadata store itself
(store/segmentations.py), with made-up objects: versions count up per lens with their
parents, every annotation is a new row with its event, the latest row wins, and adopting a
version supersedes the lens's adopted one in the same transaction. SQLite here, a fresh
database per test; tests/services/test_segmentations.py runs the same SQL on PostgreSQL
through the services (with real segmentations, seconds each)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import insert
from tests.store.conftest import write_locked

from segtrail.errors import Conflict, InvalidInput
from segtrail.store import schema
from segtrail.store.metadata import MetadataStore
from segtrail.store.segmentations import NewSegmentation


@pytest.fixture
def new(new_segmentation: NewSegmentation) -> NewSegmentation:
    return new_segmentation


def _append(db: MetadataStore, new: NewSegmentation, **changes) -> dict:
    return db.segmentations.append(
        replace(new, **changes), "ana", "segment", {"rows": 3, "parent": "ignored"}
    )


def _events(db: MetadataStore) -> list[tuple[str, str, str, dict]]:
    """(author, action, subject, details) of every event, oldest first."""
    return [(e["author"], e["action"], e["subject"], e["details"]) for e in db.events.list()][::-1]


def test_a_version_records_everything_with_its_event(
    db: MetadataStore, new: NewSegmentation
) -> None:
    row = _append(db, new)
    event = db.events.list()[0]
    assert (event["action"], event["subject"], event["author"]) == ("segment", "marketing@1", "ana")
    assert event["details"] == {"rows": 3, "parent": None}
    expected = {
        "id": row["id"],
        "lens": "marketing",
        "version": 1,
        "parent_id": None,
        "dataset_id": new.dataset_id,
        "hypothesis": "spend splits the base",
        "algorithm": "kmeans",
        "params": {"k": 3, "n_init": 4},
        "feature_spec": {"features": ["x", "y"]},
        "seed": 11,
        "k": 3,
        "metrics": {"silhouette": 0.5},
        "profiles": {"0": {"x": 1.5}},
        "assignments_hash": "a" * 64,
        "state_hash": "b" * 64,
        "segtrail_version": "1.2.3",
        "event_id": event["id"],
        "created_at": event["at"],
        "author": "ana",
    }
    assert row == expected
    assert db.segmentations.by_id(row["id"]) == expected
    assert db.segmentations.get("marketing", 1) == expected
    assert db.segmentations.newest("marketing") == expected
    assert db.objects.registered() == {"d" * 64: 10, "a" * 64: 120, "b" * 64: 340}
    assert (db.objects.kind("a" * 64), db.objects.kind("b" * 64)) == ("assignments", "fitted-state")
    assert db.segmentations.statuses() == {
        row["id"]: [{"status": "draft", "at": event["at"], "author": "ana"}]
    }
    labels = db.segmentations.labels(row["id"])
    assert {s: [(n["name"], n["description"]) for n in names] for s, names in labels.items()} == {
        0: [("Big spenders", "spend high")],
        1: [("Sleepers", None)],
        2: [("New", "joined")],
    }
    assert labels[0] == [
        {
            "name": "Big spenders",
            "description": "spend high",
            "at": event["at"],
            "author": "ana",
            "automatic": True,
            "carried_from": None,
        }
    ]


def test_versions_count_up_per_lens_and_follow_the_newest(
    db: MetadataStore, new: NewSegmentation
) -> None:
    first = _append(db, new)
    second = _append(db, new)
    other = _append(db, new, lens="service")
    third = _append(db, new, parent_id=first["id"])  # a branch off version 1
    assert [(r["lens"], r["version"]) for r in (first, second, other, third)] == [
        ("marketing", 1),
        ("marketing", 2),
        ("service", 1),
        ("marketing", 3),
    ]
    assert [second["parent_id"], other["parent_id"], third["parent_id"]] == [
        first["id"],
        None,
        first["id"],
    ]
    assert [d["parent"] for *_, d in _events(db)[1:]] == [None, "marketing@1", None, "marketing@1"]
    assert db.segmentations.newest("marketing")["version"] == 3  # type: ignore[index]
    assert db.segmentations.get("marketing", 2)["id"] == second["id"]  # type: ignore[index]
    assert db.segmentations.get("marketing", 4) is None
    assert db.segmentations.get("service", 2) is None
    assert db.segmentations.newest("nothing") is None
    assert db.segmentations.by_id(third["id"] + 1) is None


def test_list_is_newest_first_without_the_large_columns(
    db: MetadataStore, new: NewSegmentation
) -> None:
    ids = [_append(db, new, lens=lens)["id"] for lens in ("marketing", "service", "marketing")]
    everything = db.segmentations.list()
    assert [r["id"] for r in everything] == ids[::-1]
    assert [r["id"] for r in db.segmentations.list("marketing")] == [ids[2], ids[0]]
    assert db.segmentations.list("nothing") == []
    row = everything[0]
    assert set(row) == {
        "id", "lens", "version", "parent_id", "dataset_id", "hypothesis", "algorithm", "seed",
        "k", "segtrail_version", "event_id", "created_at", "author",
    }  # fmt: skip
    assert (row["lens"], row["version"], row["parent_id"], row["k"]) == ("marketing", 2, ids[0], 3)


def test_names_given_by_a_revisit_are_automatic_too(
    db: MetadataStore, new: NewSegmentation
) -> None:
    sid = db.segmentations.append(new, "ana", "revisit", {})["id"]
    db.annotations.name(sid, 0, "Whales", None, "bo", "m")
    assert [n["automatic"] for n in db.segmentations.labels(sid)[0]] == [True, False]


def test_renames_keep_their_history_and_the_description(
    db: MetadataStore, new: NewSegmentation
) -> None:
    sid = _append(db, new)["id"]
    assert db.annotations.name(sid, 0, "Whales", None, "bo", "marketing@1:0") == "Big spenders"
    assert _events(db)[-1] == (
        "bo",
        "name",
        "marketing@1:0",
        {"name": "Whales", "previous": "Big spenders", "description": None},
    )
    assert db.annotations.name(sid, 0, "Orcas", "spend highest", "cy", "m") == "Whales"
    assert db.annotations.name(sid, 1, "Dozers", None, "cy", "m") == "Sleepers"
    history = db.segmentations.labels(sid)
    assert [(n["name"], n["description"], n["author"], n["automatic"]) for n in history[0]] == [
        ("Big spenders", "spend high", "ana", True),
        ("Whales", "spend high", "bo", False),  # None kept the description
        ("Orcas", "spend highest", "cy", False),
    ]
    assert [(n["name"], n["description"]) for n in history[1]] == [
        ("Sleepers", None),
        ("Dozers", None),
    ]
    assert db.segmentations.segment_numbers(sid) == {0, 1, 2}
    assert db.segmentations.segment_numbers(sid + 1) == set()


def test_a_rename_reads_the_previous_name_of_that_version(
    db: MetadataStore, new: NewSegmentation
) -> None:
    sid = _append(db, new)["id"]
    _append(db, new, labels=((0, "Elsewhere", "another version's"),))
    assert db.annotations.name(sid, 0, "Whales", None, "bo", "m") == "Big spenders"
    assert db.segmentations.labels(sid)[0][-1]["description"] == "spend high"


def test_names_at_an_event(db: MetadataStore, new: NewSegmentation) -> None:
    sid = _append(db, new)["id"]
    created = db.events.newest_id()
    db.annotations.name(sid, 0, "Whales", None, "bo", "m")
    renamed = db.events.newest_id()
    db.annotations.name(sid, 0, "Orcas", None, "bo", "m")
    other = _append(db, new)["id"]
    assert db.segmentations.names_at(sid, created) == {0: "Big spenders", 1: "Sleepers", 2: "New"}
    assert db.segmentations.names_at(sid, renamed) == {0: "Whales", 1: "Sleepers", 2: "New"}
    assert db.segmentations.names_at(sid, created - 1) == {}
    assert db.segmentations.names_at(other, renamed) == {}


def test_recent_labels_are_bounded_and_count_every_name(
    db: MetadataStore, new: NewSegmentation
) -> None:
    sid = _append(db, new)["id"]
    other = _append(db, new)["id"]
    for n in range(4):
        db.annotations.name(sid, 0, f"name {n}", None, "bo", "m")
    db.annotations.name(other, 0, "elsewhere", None, "bo", "m")
    recent = db.segmentations.recent_labels(sid, 2)
    assert {s: ([n["name"] for n in r.names], r.total) for s, r in recent.items()} == {
        0: (["name 1", "name 2", "name 3"], 5),
        1: (["Sleepers"], 1),
        2: (["New"], 1),
    }
    assert recent[0].names[-1] == db.segmentations.labels(sid)[0][-1]
    none_earlier = db.segmentations.recent_labels(sid, 0)
    assert [n["name"] for n in none_earlier[0].names] == ["name 3"]
    assert none_earlier[0].total == 5


def test_inherited_names_and_tags_say_where_they_came_from(
    db: MetadataStore, new: NewSegmentation
) -> None:
    sid = _append(db, new, labels=((0, "Segment 0", None), (1, "Segment 1", None)))["id"]
    db.annotations.inherit(
        sid,
        {1: ("Whales", "spend high", "marketing@1:0")},
        {1: {"tier": "gold", "fit": "good"}, 0: {"fit": "poor"}},
        "bo",
        "marketing@2",
    )
    assert _events(db)[-1] == (
        "bo",
        "inherit-names",
        "marketing@2",
        {"carried_from": {"1": "marketing@1:0"}},
    )
    labels = db.segmentations.labels(sid)
    assert [(n["name"], n["carried_from"], n["automatic"]) for n in labels[1]] == [
        ("Segment 1", None, True),
        ("Whales", "marketing@1:0", False),
    ]
    assert labels[1][-1]["description"] == "spend high"
    assert [n["carried_from"] for n in labels[0]] == [None]
    assert db.segmentations.tags(sid) == {1: {"tier": "gold", "fit": "good"}, 0: {"fit": "poor"}}
    assert len(_events(db)) == 3  # dataset, version and one event for all the inherited


def test_tags_latest_value_wins_and_none_removes(db: MetadataStore, new: NewSegmentation) -> None:
    sid = _append(db, new)["id"]
    other = _append(db, new)["id"]
    db.annotations.tag(sid, 0, "tier", "gold", "bo", "marketing@1:0")
    assert _events(db)[-1] == ("bo", "tag", "marketing@1:0", {"key": "tier", "value": "gold"})
    db.annotations.tag(sid, 0, "fit", "poor", "bo", "m")
    db.annotations.tag(sid, 0, "tier", "silver", "bo", "m")
    db.annotations.tag(sid, 1, "fit", "good", "bo", "m")
    db.annotations.tag(other, 0, "tier", "lead", "bo", "m")
    assert db.segmentations.tags(sid) == {0: {"tier": "silver", "fit": "poor"}, 1: {"fit": "good"}}
    db.annotations.tag(sid, 0, "tier", None, "bo", "m")
    db.annotations.tag(sid, 1, "never-set", None, "bo", "m")
    assert _events(db)[-1][3] == {"key": "never-set", "value": None}
    assert db.segmentations.tags(sid) == {0: {"fit": "poor"}, 1: {"fit": "good"}}
    assert db.segmentations.tags(other) == {0: {"tier": "lead"}}
    assert db.segmentations.tags(other + 1) == {}


def test_adopting_supersedes_the_adopted_version_of_the_lens_only(
    db: MetadataStore, new: NewSegmentation
) -> None:
    elsewhere = _append(db, new, lens="awareness")["id"]  # recorded first, named first
    one, two, three = (_append(db, new)["id"] for _ in range(3))
    assert db.annotations.set_status(elsewhere, "adopted", "bo", "awareness@1") == ("draft", None)
    assert db.segmentations.adopted_version("marketing") is None
    assert db.annotations.set_status(one, "adopted", "bo", "marketing@1") == ("draft", None)
    assert _events(db)[-1] == (
        "bo",
        "adopt",
        "marketing@1",
        {"previous": "draft", "superseded": None},
    )
    assert db.segmentations.adopted_version("marketing") == 1
    assert db.annotations.set_status(two, "adopted", "cy", "marketing@2") == ("draft", one)
    assert _events(db)[-1] == (
        "cy",
        "adopt",
        "marketing@2",
        {"previous": "draft", "superseded": "marketing@1"},
    )
    statuses = db.segmentations.statuses()
    assert [s["status"] for s in statuses[one]] == ["draft", "adopted", "superseded"]
    assert statuses[one][-1]["author"] == "cy"
    assert [s["status"] for s in statuses[two]] == ["draft", "adopted"]
    assert [s["status"] for s in statuses[three]] == ["draft"]
    assert [s["status"] for s in statuses[elsewhere]] == ["draft", "adopted"]  # another lens
    assert db.segmentations.adopted_version("marketing") == 2
    assert db.segmentations.adopted_version("awareness") == 1
    assert set(db.segmentations.statuses([one, three])) == {one, three}


def test_retiring_and_a_status_already_held(db: MetadataStore, new: NewSegmentation) -> None:
    one, two = (_append(db, new)["id"] for _ in range(2))
    db.annotations.set_status(one, "adopted", "bo", "marketing@1")
    recorded = len(_events(db))
    with pytest.raises(InvalidInput, match=r"^marketing@1 is already adopted$"):
        db.annotations.set_status(one, "adopted", "bo", "marketing@1")
    with pytest.raises(InvalidInput, match=r"^marketing@2 is already draft$"):
        db.annotations.set_status(two, "draft", "bo", "marketing@2")
    assert len(_events(db)) == recorded
    assert db.annotations.set_status(one, "retired", "bo", "marketing@1") == ("adopted", None)
    assert _events(db)[-1] == (
        "bo",
        "retire",
        "marketing@1",
        {"previous": "adopted", "superseded": None},
    )
    assert [s["status"] for s in db.segmentations.statuses([one, two])[one]] == [
        "draft",
        "adopted",
        "retired",
    ]
    assert db.segmentations.adopted_version("marketing") is None


def test_two_adopted_versions_from_an_older_release_are_both_superseded(
    db: MetadataStore, new: NewSegmentation
) -> None:
    """An older release could leave two adopted versions of one lens: the one adopted last
    is the adopted version (not the one adopted first), and the next adopt supersedes both
    (reporting the later version)."""
    one, two, three = (_append(db, new)["id"] for _ in range(3))
    db.annotations.set_status(one, "adopted", "bo", "marketing@1")
    db.annotations.set_status(two, "adopted", "bo", "marketing@2")  # one superseded

    def older_release_adopts(connection) -> None:
        event_id = db.record_event(connection, "old", "adopt", "marketing@1", {})
        connection.execute(
            insert(schema.segmentation_status).values(
                segmentation_id=one, status="adopted", event_id=event_id
            )
        )

    db.write(older_release_adopts)
    assert db.segmentations.adopted_version("marketing") == 1  # adopted last, first earlier
    assert db.annotations.set_status(three, "adopted", "cy", "marketing@3") == ("draft", two)
    assert _events(db)[-1][3] == {"previous": "draft", "superseded": "marketing@2"}
    statuses = db.segmentations.statuses()
    assert [statuses[i][-1]["status"] for i in (one, two, three)] == [
        "superseded",
        "superseded",
        "adopted",
    ]


BUSY_CHANGES = {
    "the new version of marketing": lambda db, new, sid: _append(db, new),
    "the name of marketing@1:0": lambda db, new, sid: db.annotations.name(
        sid, 0, "Whales", None, "bo", "marketing@1:0"
    ),
    "the names carried onto marketing@1": lambda db, new, sid: db.annotations.inherit(
        sid, {0: ("Whales", None, "m@0:0")}, {}, "bo", "marketing@1"
    ),
    "the tag on marketing@1:0": lambda db, new, sid: db.annotations.tag(
        sid, 0, "tier", "gold", "bo", "marketing@1:0"
    ),
    "the status of marketing@1": lambda db, new, sid: db.annotations.set_status(
        sid, "adopted", "bo", "marketing@1"
    ),
}


@pytest.mark.parametrize("what", BUSY_CHANGES)
def test_a_busy_database_says_what_was_not_recorded(
    db: MetadataStore, new: NewSegmentation, tmp_path: Path, what: str
) -> None:
    sid = _append(db, new)["id"]
    recorded = len(_events(db))
    with (
        write_locked(tmp_path / "segtrail.db"),
        pytest.raises(Conflict, match=rf"\(another writer\); {what} was not recorded, try again$"),
    ):
        BUSY_CHANGES[what](db, new, sid)
    assert len(_events(db)) == recorded
