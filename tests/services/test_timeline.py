"""Why for a segment and for a customer, on planted data whose moves are known: four tight
blobs on (x, y); v1 splits on x only (two halves), v2 on x and y (four corners), so every
half of v1 splits into two corners of v2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segtrail.errors import InvalidInput, NotFound
from segtrail.services.workspace import Workspace

BLOB = 100


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, databases) -> tuple[Workspace, dict]:
    root = tmp_path_factory.mktemp("timeline")
    rng = np.random.default_rng(2)
    corners = [(0, 0), (0, 10), (10, 0), (10, 10)]
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + 4 * BLOB),  # numeric ids
            "x": np.repeat([c[0] for c in corners], BLOB) + rng.normal(0, 0.2, 4 * BLOB),
            "y": np.repeat([c[1] for c in corners], BLOB) + rng.normal(0, 0.2, 4 * BLOB),
        }
    )
    frame.to_csv(root / "c.csv", index=False)
    ws = Workspace.init(root / "ws", author="ana", database_url=databases.new())
    ws.ingest(root / "c.csv", "customer_id", name="c")
    ws.segment("c", "mkt", "halves", features=["x"], k=2)
    ws.segment("c", "mkt", "corners", features=["x", "y"], k=4)
    v1, v2 = ws.assignments("mkt@1"), ws.assignments("mkt@2")
    left = int(v1.loc[1000])  # customer 1000 sits in corner (0, 0)
    corner = int(v2.loc[1000])
    ws.name("mkt@1", left, "Left half")
    ws.strategy_add("push", "Hello", ["push"])
    ws.plan_map("push", "mkt@1", [left], rationale="left is app-first")
    sends = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "group": np.where(np.arange(4 * BLOB) % 2 == 0, "treatment", "control"),
            "responded": (np.arange(4 * BLOB) % 3 == 0).astype(int),
        }
    )
    sends.to_csv(root / "s.csv", index=False)
    ws.campaign_import(root / "s.csv", "q1", "push")
    return ws, {"left": left, "corner": corner, "v1": v1, "v2": v2, "sends": sends}


def test_segment_timeline_follows_its_split(planted) -> None:
    ws, known = planted
    thread = ws.why_segment("mkt@1", known["left"])
    assert thread["name"] == "Left half" and thread["size"] == 2 * BLOB
    kinds = [i["kind"] for i in thread["timeline"]]
    assert kinds.count("fate") == 1 and "plan" in kinds and "name" in kinds
    times = [i["at"] for i in thread["timeline"]]
    assert times == sorted(times, reverse=True)
    fate = next(i for i in thread["timeline"] if i["kind"] == "fate")
    assert fate["title"] == "in mkt@2: split"
    # the two corners of the left half, each half of it (checked against the assignments)
    left_ids = known["v1"].index[known["v1"] == known["left"]]
    corners = sorted(set(known["v2"].loc[left_ids]))
    assert len(corners) == 2
    for c in corners:
        assert f"{c} “" in fate["text"] and "(50%)" in fate["text"]
    plan = next(i for i in thread["timeline"] if i["kind"] == "plan")
    assert plan["strategies"] == ["push"]
    named = [i["title"] for i in thread["timeline"] if i["kind"] == "name"]
    assert "named “Left half”" in named


def test_segment_timeline_names_its_origin(planted) -> None:
    ws, known = planted
    thread = ws.why_segment("mkt@2", known["corner"])
    made = next(i for i in thread["timeline"] if i["kind"] == "version")
    assert f"came from mkt@1: 100% from {known['left']} “Left half”" in made["text"]
    assert not [i for i in thread["timeline"] if i["kind"] == "fate"]  # no later version
    with pytest.raises(NotFound):
        ws.why_segment("mkt@2", 9)


def test_customer_timeline(planted) -> None:
    ws, known = planted
    thread = ws.why_customer("1000")
    assert [v["version"] for v in thread["versions"]] == ["mkt@1", "mkt@2"]
    first, second = thread["versions"]
    assert first["segment"] == known["left"] and first["name"] == "Left half"
    assert [s["strategy"] for s in first["strategies"]] == ["push"]
    assert second["segment"] == known["corner"] and second["strategies"] == []
    sent = known["sends"].set_index("customer_id").loc[1000]
    assert thread["campaigns"] == [
        {
            "campaign": "q1",
            "strategy": "push",
            "at": thread["campaigns"][0]["at"],
            "group": sent["group"],
            "responded": bool(sent["responded"]),
        }
    ]
    # a customer of the right half: reached by no strategy in either version
    other = ws.why_customer(str(1000 + 3 * BLOB))
    assert all(v["strategies"] == [] for v in other["versions"])


@pytest.mark.parametrize("customer", ["999999", "abc", "1000.5"])
def test_unknown_customer(planted, customer: str) -> None:
    ws, _ = planted
    with pytest.raises(NotFound):
        ws.why_customer(customer)


def test_empty_customer_is_bad_input(planted) -> None:
    with pytest.raises(InvalidInput):
        planted[0].why_customer("  ")


def test_text_ids_match_as_typed(tmp_path: Path) -> None:
    """Ids kept as text ('00123') match only as typed, never as the number 123."""
    frame = pd.DataFrame({"customer_id": [f"{i:05d}" for i in range(30)], "x": range(30)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    ws = Workspace.init(tmp_path / "ws", author="a")
    ws.ingest(tmp_path / "t.csv", "customer_id", name="t")
    ws.segment("t", "l", "h", features=["x"], k=2)
    assert ws.why_customer("00012")["versions"][0]["version"] == "l@1"
    with pytest.raises(NotFound):
        ws.why_customer("12")
