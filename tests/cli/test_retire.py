"""Retiring datasets and strategies: hidden from lists, kept in history, refused for new
work with a line that says how to restore; restoring brings them back. Both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import Runner

from segtrail.services.workspace import Workspace
from segtrail.store import schema


@pytest.fixture
def planned(populated: Path, cli: Runner, customers_csv: Path) -> Path:
    """customers@1, a mistaken re-import as customers2@1, m@1 on customers, two strategies,
    one of them mapped."""
    assert cli("ingest", customers_csv, "--id", "customer_id", "--name", "customers2").code == 0
    assert cli("segment", "-d", "customers", "-l", "m", "-m", "h", "--k", "3", "-q").code == 0
    for name in ("push", "mail"):
        assert cli("strategy", "add", name, "-m", f"{name} first", "--channel", "email").code == 0
    assert cli("plan", "map", "push", "m@1", "--segments", "0").code == 0
    return populated


def _names(cli: Runner, *args: str) -> list[str]:
    result = cli(*args, "--json")
    assert result.code == 0, result.err
    return [r["name"] for r in result.json()]


def _events(cli: Runner) -> list[dict]:
    return cli("events", "--json").json()


def test_a_retired_dataset_leaves_the_lists_and_stays_in_history(planned: Path, cli: Runner):
    result = cli("dataset", "retire", "customers2", "--reason", "wrong name")
    assert result.code == 0, result.err
    assert "dataset restore customers2" in result.out
    assert _names(cli, "datasets") == ["customers"]
    assert _names(cli, "dataset", "list") == ["customers"]
    listed = cli("datasets", "--all", "--json").json()
    assert [(r["name"], bool(r.get("retired"))) for r in listed] == [
        ("customers", False),
        ("customers2", True),
    ]
    text = cli("datasets")
    assert "customers2" not in text.out and "1 retired dataset name(s) not shown" in text.out
    assert "customers2@1 (retired)" in cli("datasets", "--all").out
    # show still shows it, marked, with who, when and why
    shown = cli("dataset", "show", "customers2", "--json").json()
    assert shown["retired"]["reason"] == "wrong name" and shown["retired"]["author"]
    assert "retired on" in cli("dataset", "show", "customers2").out
    assert "retired" not in cli("dataset", "show", "customers", "--json").json()
    event = _events(cli)[0]
    assert (event["action"], event["subject"]) == ("dataset-retire", "customers2")


def test_segmenting_a_retired_dataset_is_refused(planned: Path, cli: Runner, tree_hash):
    assert cli("dataset", "retire", "customers2").code == 0
    before = tree_hash(planned)
    refused = cli("segment", "-d", "customers2", "-l", "x", "-m", "h", "--k", "2", "-q")
    assert refused.code == 2
    lines = refused.err.strip().splitlines()
    assert len(lines) == 1 and "retired" in lines[0]
    assert "`segtrail dataset restore customers2`" in lines[0]
    assert tree_hash(planned) == before
    # a version of the retired name, and revisit onto it, are refused the same way
    assert cli("segment", "-d", "customers2@1", "-l", "x", "-m", "h", "--k", "2").code == 2
    assert cli("revisit", "m@1", "--dataset", "customers2").code == 2
    # restored: usable and listed again
    assert cli("dataset", "restore", "customers2").code == 0
    assert _names(cli, "datasets") == ["customers", "customers2"]
    assert cli("segment", "-d", "customers2", "-l", "x", "-m", "h", "--k", "2", "-q").code == 0


def test_a_retired_strategy_leaves_the_list_and_keeps_its_thread(planned: Path, cli: Runner):
    result = cli("strategy", "retire", "push", "--reason", "season over")
    assert result.code == 0, result.err
    assert _names(cli, "strategy", "list") == ["mail"]
    assert "1 retired strategies not shown" in cli("strategy", "list").out
    every = cli("strategy", "list", "--all", "--json").json()
    assert {s["name"]: bool(s.get("retired")) for s in every} == {"push": True, "mail": False}
    # why still follows the thread, marked
    why = cli("why", "push")
    assert why.code == 0 and "retired on" in why.out and "strategy restore push" in why.out
    thread = cli("why", "push", "--json").json()
    assert thread["strategy"]["retired"]["reason"] == "season over"
    assert [m["version"] for m in thread["mappings"]] == ["m@1"]
    # the plan it is in is unchanged
    plan = cli("plan", "show", "m@1", "--json").json()
    assert [e["strategy"] for e in plan["entries"]] == ["push"]


def test_mapping_a_retired_strategy_is_refused(planned: Path, cli: Runner, tree_hash):
    assert cli("strategy", "retire", "mail").code == 0
    before = tree_hash(planned)
    refused = cli("plan", "map", "mail", "m@1", "--all")
    assert refused.code == 2
    lines = refused.err.strip().splitlines()
    assert len(lines) == 1 and "`segtrail strategy restore mail`" in lines[0]
    assert tree_hash(planned) == before
    assert cli("strategy", "restore", "mail").code == 0
    assert cli("plan", "map", "mail", "m@1", "--all").code == 0


def test_retire_and_restore_refuse_what_makes_no_sense(planned: Path, cli: Runner, tree_hash):
    before = tree_hash(planned)
    for args, words in (
        (("dataset", "retire", "nosuch"), "no dataset 'nosuch'"),
        (("strategy", "retire", "nosuch"), "no strategy 'nosuch'"),
        (("dataset", "restore", "customers"), "not retired"),
        (("strategy", "restore", "push"), "not retired"),
    ):
        result = cli(*args)
        assert result.code == 2 and words in result.err, (args, result.err)
    assert tree_hash(planned) == before
    assert cli("strategy", "retire", "push").code == 0
    again = cli("strategy", "retire", "push")
    assert again.code == 2 and "retired already" in again.err


def test_retiring_is_a_new_row_each_time(planned: Path, cli: Runner):
    """Retire, restore, retire: three rows and three events; nothing is overwritten."""
    for verb in ("retire", "restore", "retire"):
        assert cli("strategy", verb, "mail").code == 0
    ws = Workspace.open(planned)
    try:
        r = schema.retirements
        rows = ws.meta.fetch(select(r.c.kind, r.c.name, r.c.retired).order_by(r.c.id))
        assert [(x["kind"], x["name"], bool(x["retired"])) for x in rows] == [
            ("strategy", "mail", True),
            ("strategy", "mail", False),
            ("strategy", "mail", True),
        ]
        assert [h["retired"] for h in ws.meta.retirements.history("strategy", "mail")] == [
            True,
            False,
            True,
        ]
        assert list(ws.meta.retirements.retired("strategy")) == ["mail"]
    finally:
        ws.close()
    actions = [e["action"] for e in _events(cli)[:3]]
    assert actions == ["strategy-retire", "strategy-restore", "strategy-retire"]


def test_the_python_api_hides_and_shows_alike(planned: Path):
    ws = Workspace.open(planned)
    try:
        ws.strategy_retire("mail")
        ws.dataset_retire("customers2")
        assert [s["name"] for s in ws.strategies()] == ["push"]
        assert {s["name"] for s in ws.strategies(include_retired=True)} == {"push", "mail"}
        assert {d["name"] for d in ws.datasets()} == {"customers"}
        assert ws.dataset("customers2")["retired"] is not None
        assert ws.dataset_restore("customers2")["retired"] is False
    finally:
        ws.close()


def test_the_reimport_note_says_how_to_hide_the_mistake(populated: Path, cli: Runner, tmp_path):
    again = tmp_path / "customers_v2.csv"
    again.write_text((tmp_path / "customers.csv").read_text())
    result = cli("ingest", again, "--id", "customer_id")
    assert result.code == 0 and "`segtrail dataset retire customers_v2` hides it" in result.err
