"""Strategies and plans in the metadata store itself (store/plans.py): a strategy edit is a
new revision carrying over what it does not change, a plan change is a whole new numbered
state written only if the plan is still at the revision the writer read (else nothing is
recorded and the writer is told who changed it), and every past state reads back exactly.
SQLite here, a fresh database per test; tests/services/test_thread.py and test_timeline.py
run the same SQL on PostgreSQL through the services (hypothesis, minutes in all)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.store.conftest import write_locked

from segtrail.errors import Conflict, NotFound
from segtrail.store.metadata import MetadataStore
from segtrail.store.plans import StaleRevision
from segtrail.store.segmentations import NewSegmentation


@pytest.fixture
def versions(db: MetadataStore, new_segmentation: NewSegmentation) -> list[int]:
    """Ids of two versions to plan on."""
    return [db.segmentations.append(new_segmentation, "ana", "segment", {})["id"] for _ in range(2)]


def _events(db: MetadataStore) -> list[tuple[str, str, str, dict]]:
    """(author, action, subject, details) of every event, oldest first."""
    return [(e["author"], e["action"], e["subject"], e["details"]) for e in db.events.list()][::-1]


ENTRIES = [
    {
        "strategy": "winback",
        "segments": [0, 2],
        "status": "active",
        "rationale": "they left",
        "carry": {"from": "marketing@1", "jaccard": 0.8},
    },
    {"strategy": "welcome", "segments": "all", "status": "paused"},
]


def _plan(db: MetadataStore, sid: int, expected: int, entries=ENTRIES, **kwargs) -> int:
    arguments = {
        "change": f"change {expected + 1}",
        "action": "plan-map",
        "author": "ana",
        "version_ref": "marketing@1",
        **kwargs,
    }
    return db.plans.append(sid, expected, entries, **arguments)


# --- strategies ----------------------------------------------------------------------------


def test_a_new_strategy_reads_back_with_its_event(db: MetadataStore) -> None:
    db.strategies.add("winback", "Come back", ["email", "sms"], "10% off", "cy", "ana")
    event = db.events.list()[0]
    assert _events(db) == [("ana", "strategy-add", "winback", {"channels": ["email", "sms"]})]
    assert db.strategies.rows() == [
        {
            "id": 1,
            "name": "winback",
            "revision": 1,
            "message": "Come back",
            "channels": ["email", "sms"],
            "offer": "10% off",
            "owner": "cy",
            "event_id": event["id"],
            "created_at": event["at"],
            "author": "ana",
        }
    ]


def test_a_taken_strategy_name_is_refused_and_nothing_is_recorded(db: MetadataStore) -> None:
    db.strategies.add("winback", "Come back", ["email"], None, None, "ana")
    with pytest.raises(
        Conflict, match=r"^strategy 'winback' already exists; `segtrail strategy list`$"
    ):
        db.strategies.add("winback", "Other", ["sms"], None, None, "bo")
    assert [r["message"] for r in db.strategies.rows()] == ["Come back"]
    assert len(_events(db)) == 1


def test_revisions_carry_over_what_they_do_not_change(db: MetadataStore) -> None:
    db.strategies.add("winback", "Come back", ["email"], "10% off", "cy", "ana")
    assert db.strategies.revise("winback", {"offer": "20% off", "message": "Back!"}, "bo") == 2
    assert _events(db)[-1] == (
        "bo",
        "strategy-edit",
        "winback",
        {"revision": 2, "changed": ["message", "offer"]},
    )
    assert db.strategies.revise("winback", {"channels": ["sms", "push"]}, "cy") == 3
    rows = db.strategies.rows("winback")
    assert [
        (r["revision"], r["message"], r["channels"], r["offer"], r["owner"], r["author"])
        for r in rows
    ] == [
        (1, "Come back", ["email"], "10% off", "cy", "ana"),
        (2, "Back!", ["email"], "20% off", "cy", "bo"),
        (3, "Back!", ["sms", "push"], "20% off", "cy", "cy"),  # from revision 2, not 1
    ]
    assert [r["event_id"] for r in rows] == [e["id"] for e in db.events.list()][::-1]


def test_revising_an_unknown_strategy_is_not_found(db: MetadataStore) -> None:
    with pytest.raises(
        NotFound, match=r"^no strategy 'ghost'; add it with `segtrail strategy add`$"
    ):
        db.strategies.revise("ghost", {"offer": "x"}, "ana")
    assert _events(db) == []


def test_rows_are_by_name_then_revision(db: MetadataStore) -> None:
    db.strategies.add("winback", "a", ["email"], None, None, "ana")
    db.strategies.add("anniversary", "b", ["email"], None, None, "ana")
    db.strategies.revise("winback", {"owner": "bo"}, "ana")
    db.strategies.revise("anniversary", {"owner": "bo"}, "ana")
    assert [(r["name"], r["revision"]) for r in db.strategies.rows()] == [
        ("anniversary", 1),
        ("anniversary", 2),
        ("winback", 1),
        ("winback", 2),
    ]
    assert [(r["name"], r["revision"]) for r in db.strategies.rows("winback")] == [
        ("winback", 1),
        ("winback", 2),
    ]
    assert db.strategies.rows("ghost") == []


# --- plans ---------------------------------------------------------------------------------


def test_a_plan_state_reads_back_with_its_entries_and_event(
    db: MetadataStore, versions: list[int]
) -> None:
    sid, older = versions
    assert db.plans.latest_state(sid) is None
    _plan(db, older, 0, entries=[])
    source = db.plans.latest_state(older)["id"]  # type: ignore[index]
    diff = {"kept": [0], "split": []}
    assert _plan(db, sid, 0, action="plan-carry", carried_from_id=source, diff=diff) == 1
    event = db.events.list()[0]
    assert (event["author"], event["action"], event["subject"], event["details"]) == (
        "ana",
        "plan-carry",
        "marketing@1 plan r1",
        {"change": "change 1"},
    )
    state = db.plans.latest_state(sid)
    assert state == {
        "id": state["id"],  # type: ignore[index]
        "segmentation_id": sid,
        "revision": 1,
        "previous_id": None,
        "carried_from_id": source,
        "change": "change 1",
        "diff": diff,
        "event_id": event["id"],
        "at": event["at"],
        "author": "ana",
    }
    assert db.plans.state(state["id"]) == state  # type: ignore[index]
    assert db.plans.states([sid]) == [state]
    assert db.plans.entries(state["id"]) == [  # type: ignore[index]
        ENTRIES[0],
        {
            "strategy": "welcome",
            "segments": "all",
            "status": "paused",
            "rationale": None,
            "carry": None,
        },
    ]


def test_each_change_is_the_next_revision_of_that_versions_plan(
    db: MetadataStore, versions: list[int]
) -> None:
    one, two = versions
    _plan(db, one, 0)
    first = db.plans.latest_state(one)
    assert _plan(db, one, 1, entries=ENTRIES[1:], author="bo") == 2
    assert _plan(db, two, 0, entries=[]) == 1  # the other version's plan counts on its own
    assert _plan(db, one, 2, entries=[]) == 3
    states = db.plans.states([one])
    assert [(s["revision"], s["change"], s["author"], s["diff"]) for s in states] == [
        (1, "change 1", "ana", None),
        (2, "change 2", "bo", None),
        (3, "change 3", "ana", None),
    ]
    assert [s["previous_id"] for s in states] == [None, states[0]["id"], states[1]["id"]]
    assert db.plans.latest_state(one) == states[-1]
    assert db.plans.latest_state(one, revision=1) == first
    assert db.plans.latest_state(one, revision=2) == states[1]
    assert db.plans.latest_state(one, revision=4) is None
    assert db.plans.latest_state(two)["revision"] == 1  # type: ignore[index]
    assert [len(db.plans.entries(s["id"])) for s in states] == [2, 1, 0]
    assert [s["segmentation_id"] for s in db.plans.states([two, one])] == [one, one, two, one]
    assert db.plans.states([]) == []


@pytest.mark.parametrize("expected", [0, 2])
def test_a_stale_writer_records_nothing_and_learns_who_moved_the_plan(
    db: MetadataStore, versions: list[int], expected: int
) -> None:
    sid = versions[0]
    _plan(db, sid, 0, author="bo", change="map winback")
    recorded = db.plans.latest_state(sid)
    assert recorded is not None
    with pytest.raises(StaleRevision) as caught:
        _plan(db, sid, expected, version_ref="marketing@4")
    assert str(caught.value) == (
        f"the plan of marketing@4 changed while you were editing it: r1 by bo at "
        f"{recorded['at'][:19]} (map winback); nothing was recorded"
    )
    assert caught.value.current == {
        "id": recorded["id"],
        "revision": 1,
        "change": "map winback",
        "at": recorded["at"],
        "author": "bo",
    }
    assert isinstance(caught.value, Conflict)
    assert db.plans.states([sid]) == [recorded]
    assert len(_events(db)) == 4  # the dataset, two versions and the one plan change


def test_versions_with_a_strategy_most_recently_mapped_first(
    db: MetadataStore, versions: list[int]
) -> None:
    one, two = versions
    _plan(db, one, 0)
    _plan(db, two, 0, entries=ENTRIES[:1])
    _plan(db, one, 1, entries=ENTRIES[1:])  # winback unmapped from one: it held it before
    assert db.plans.versions_with("welcome") == [one]
    assert db.plans.versions_with("winback") == [two, one]
    _plan(db, one, 2, entries=ENTRIES[:1])
    assert db.plans.versions_with("winback") == [one, two]
    assert db.plans.versions_with("ghost") == []


BUSY_CHANGES = {
    "strategy winback": lambda db, sid: db.strategies.add("winback", "m", [], None, None, "a"),
    "the edit of strategy welcome": lambda db, sid: db.strategies.revise(
        "welcome", {"offer": "x"}, "a"
    ),
    "the plan change on marketing@1": lambda db, sid: _plan(db, sid, 0),
}


@pytest.mark.parametrize("what", BUSY_CHANGES)
def test_a_busy_database_says_what_was_not_recorded(
    db: MetadataStore, versions: list[int], tmp_path: Path, what: str
) -> None:
    db.strategies.add("welcome", "Hello", ["email"], None, None, "ana")
    recorded = len(_events(db))
    with (
        write_locked(tmp_path / "segtrail.db"),
        pytest.raises(Conflict, match=rf"\(another writer\); {what} was not recorded, try again$"),
    ):
        BUSY_CHANGES[what](db, versions[0])
    assert len(_events(db)) == recorded
