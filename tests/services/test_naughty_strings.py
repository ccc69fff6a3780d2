"""The big list of naughty strings (tests/data/naughty-strings, MIT) in every name and text
field a user writes: each is either recorded and read back exactly, or refused with one
line of InvalidInput; nothing else. Then every human-readable view of that history prints
without a raw control character, and fsck stays clean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.conftest import Runner

from segtrail.errors import SegtrailError
from segtrail.services.workspace import Workspace

STRINGS: list[str] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "naughty-strings" / "blns.json").read_text()
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def naughty(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("naughty")
    rows = "\n".join(f"C{i},{20 + i % 40},{i % 17}" for i in range(120))
    (root / "customers.csv").write_text("customer_id,age,visits\n" + rows + "\n")
    ws = Workspace.init(root / "ws", author="tester")
    ws.ingest(root / "customers.csv", "customer_id")
    ws.segment("customers", "m", "ages and visits", k=3)
    ws.strategy_add("base", "hello", ["email"])
    return ws


def _recorded_or_refused(action, read_back, expected) -> None:
    try:
        action()
    except SegtrailError as e:
        assert e.code == "invalid_input" and "\n" not in str(e)
        return
    assert read_back() == expected


def test_free_text_fields(naughty: Workspace) -> None:
    from segtrail.services.plans import get_strategy, plan_state
    from segtrail.services.segmentations import resolve_segmentation

    ws = naughty
    row = resolve_segmentation(ws, "m@1")
    # read back through the cheapest service reads (show and plan show decode much more)
    labels = ws.meta.segmentations.labels
    for i, text in enumerate(STRINGS):
        _recorded_or_refused(
            lambda t=text: ws.name("m@1", 0, t),
            lambda: labels(row["id"])[0][-1]["name"],
            text.strip(),
        )
        _recorded_or_refused(
            lambda t=text: ws.tag("m@1", 1, "note", t),
            lambda: ws.meta.segmentations.tags(row["id"])[1].get("note"),
            text,
        )
        _recorded_or_refused(
            lambda t=text: ws.plan_map("base", "m@1", [0, 1], rationale=t or None),
            lambda: plan_state(ws, row)["entries"][0]["rationale"],
            text or None,
        )
        _recorded_or_refused(
            lambda t=text, i=i: ws.strategy_add(f"s{i}", t, [t or "email"]),
            lambda i=i: get_strategy(ws, f"s{i}")["message"],
            text.strip(),
        )


@pytest.mark.parametrize("what", ["lens", "dataset", "strategy", "campaign", "audience"])
def test_names_are_recorded_exactly_or_refused(naughty: Workspace, what: str) -> None:
    from segtrail.services.refs import check_name

    accepted = 0
    for text in STRINGS:
        try:
            assert check_name(text, what) == text
            accepted += 1
        except SegtrailError as e:
            assert e.code == "invalid_input" and "\n" not in str(e), (text, e)
    assert 0 < accepted < len(STRINGS)  # plain words pass, the rest is refused


def test_hypotheses_survive(naughty: Workspace) -> None:
    for text in STRINGS[::40]:
        if not text.strip():
            with pytest.raises(SegtrailError, match="hypothesis is required"):
                naughty.segment("customers", "h", text, k=2)
            continue
        version = naughty.segment("customers", "h", text, k=2)
        assert naughty.show(version["version"])["hypothesis"] == text.strip()


def test_views_print_no_control_characters(naughty: Workspace, cli: Runner) -> None:
    root = naughty.root
    for args in (["show", "m@1"], ["log"], ["plan", "show", "m@1"], ["why", "base"]):
        result = cli("-w", root, *args)
        assert result.code == 0, (args, result.err)
        assert not CONTROL.search(result.out), args
    assert naughty.fsck()["clean"]
