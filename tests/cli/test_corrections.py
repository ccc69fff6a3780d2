"""Correcting mistakes without rewriting history: strategy edit, plan revert, and a re-map
that changes nothing records nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import Runner


@pytest.fixture
def planned(populated: Path, cli: Runner) -> Path:
    assert cli("segment", "-d", "customers", "-l", "m", "-m", "h", "--k", "3", "-q").code == 0
    for name in ("push", "mail"):
        assert cli("strategy", "add", name, "-m", f"{name} first", "--channel", "email").code == 0
    return populated


def _events(cli: Runner) -> list[str]:
    return [e["action"] for e in cli("events", "--json").json()]


def test_strategy_edit_is_a_new_revision(planned: Path, cli: Runner) -> None:
    result = cli("strategy", "edit", "push", "-m", "Push, but kinder", "--channel", "push")
    assert result.code == 0, result.err
    [push] = [s for s in cli("strategy", "list", "--json").json() if s["name"] == "push"]
    assert (push["message"], push["channels"]) == ("Push, but kinder", ["push"])
    assert _events(cli)[0] == "strategy-edit"
    # only the owner changes: message and channels stay
    assert cli("strategy", "edit", "push", "--owner", "Ana").code == 0
    [push] = [s for s in cli("strategy", "list", "--json").json() if s["name"] == "push"]
    assert (push["message"], push["owner"]) == ("Push, but kinder", "Ana")


def test_strategy_edit_refuses_nothing_and_unknown(planned: Path, cli: Runner, tree_hash) -> None:
    before = tree_hash(planned)
    same = cli("strategy", "edit", "push", "-m", "push first")
    assert same.code == 2 and "nothing to change" in same.err
    unknown = cli("strategy", "edit", "nosuch", "-m", "x")
    assert unknown.code == 2 and "no strategy 'nosuch'" in unknown.err
    assert tree_hash(planned) == before


def test_a_remap_that_changes_nothing_records_nothing(planned: Path, cli: Runner) -> None:
    assert cli("plan", "map", "push", "m@1", "--segments", "0", "-r", "young").code == 0
    before = _events(cli)
    again = cli("plan", "map", "push", "m@1", "--segments", "0", "-r", "young")
    assert again.code == 0 and "unchanged" in again.out
    assert _events(cli) == before
    assert cli("plan", "show", "m@1", "--json").json()["revision"] == 1
    # a different rationale is a change
    assert cli("plan", "map", "push", "m@1", "--segments", "0", "-r", "older").code == 0
    assert cli("plan", "show", "m@1", "--json").json()["revision"] == 2


def test_plan_revert_restores_entries_as_a_new_revision(planned: Path, cli: Runner) -> None:
    assert cli("plan", "map", "push", "m@1", "--segments", "0").code == 0  # r1
    assert cli("plan", "map", "mail", "m@1", "--all").code == 0  # r2
    assert cli("plan", "unmap", "push", "m@1").code == 0  # r3
    result = cli("plan", "revert", "m@1", "--to-revision", "2")
    assert result.code == 0, result.err and "reverted to r2" in result.out
    shown = cli("plan", "show", "m@1", "--json").json()
    assert shown["revision"] == 4 and shown["change"] == "reverted to r2"
    assert sorted(e["strategy"] for e in shown["entries"]) == ["mail", "push"]
    # the revision in between is still there, exactly
    r3 = cli("plan", "show", "m@1", "--revision", "3", "--json").json()
    assert [e["strategy"] for e in r3["entries"]] == ["mail"]
    missing = cli("plan", "revert", "m@1", "--to-revision", "9")
    assert missing.code == 2 and "no plan revision 9" in missing.err


def test_kept_segments_keep_their_names_through_carry_and_revisit(
    planned: Path, cli: Runner
) -> None:
    """Re-segmenting with the same hypothesis keeps every segment: names given by a person
    and tags follow, marked as carried from the old version; automatic names do not."""
    described = ("--description", "they live in the app")
    assert cli("name", "m@1", "0", "Young app natives", *described).code == 0
    assert cli("tag", "m@1", "1", "fit=poor").code == 0
    revisited = cli("revisit", "m@1", "--json")
    assert revisited.code == 0, revisited.err
    v2 = revisited.json()
    assert v2["version"] == "m@2"
    by_segment = {s["segment"]: s for s in v2["segments"]}
    assert by_segment[0]["name"] == "Young app natives"
    assert by_segment[0]["description"] == "they live in the app"
    assert by_segment[0]["name_history"][-1]["carried_from"] == "m@1:0"
    assert by_segment[1]["tags"] == {"fit": "poor"}
    assert by_segment[2]["name_history"][-1]["automatic"]  # never named: nothing carried
    shown = cli("show", "m@2")
    assert "carried from m@1:0" in shown.out
    # carry onto a third version: the plan and the names move together
    assert cli("plan", "map", "push", "m@2", "--segments", "0").code == 0
    assert cli("segment", "-d", "customers", "-l", "m", "-m", "again", "--k", "3", "-q").code == 0
    carried = cli("carry", "m@2", "m@3", "--apply", "--json").json()
    assert carried["names"]["inherited"][0]["from"] == "m@2:0"
    assert cli("show", "m@3", "--json").json()["segments"][0]["name"] == "Young app natives"
