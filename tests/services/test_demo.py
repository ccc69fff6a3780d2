"""The demo tells both essays' stories end to end (small sample for speed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from segtrail.services.demo import build_demo


# SQLite only: `build_demo` makes its own workspace and takes no database URL (yet); every
# action it runs is covered on PostgreSQL by the other service and CLI tests.
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("demo") / "ws"
    lines: list[str] = []
    ws = build_demo(root, customers=4_000, say=lines.append)
    yield ws, lines
    ws.close()


def test_ten_companies_story(demo) -> None:
    ws, _ = demo
    first = ws.plan_show("accounts@1")
    statuses = {e["strategy"]: e["status"] for e in first["entries"]}
    assert statuses["one-message"] == "paused"  # Team A's message for everyone
    assert statuses["s2-self-serve"] == "not-viable"
    spanning = next(e for e in first["entries"] if e["strategy"] == "s4-community")
    assert len(spanning["segments"]) == 2
    one = next(e for e in first["entries"] if e["strategy"] == "one-message")
    assert one["segments"] == "all"

    carried = ws.plan_show("accounts@2")
    assert carried["carried_from"] == {"version": "accounts@1", "revision": first["revision"]}
    assert {e["strategy"] for e in carried["entries"]} == set(statuses)
    assert ws.diff("accounts@1", "accounts@2")["ari"] < 1.0  # the re-segmentation moved companies

    why = ws.why("s3-adoption")
    assert [m["version"] for m in why["mappings"]] == ["accounts@2", "accounts@1"]
    assert "Flaw found" in why["mappings"][0]["hypothesis"]
    assert why["mappings"][0]["carry"]["from"] == "accounts@1"


def test_product_lens_is_compared(demo) -> None:
    ws, lines = demo
    compared = ws.compare("accounts", "accounts-product", {"fit": "poor"})
    assert compared["a"] == "accounts@2"  # the adopted version
    assert any(item["warnings"] for item in compared["complement"])
    assert any("rates fit=poor" in line for line in lines)


def test_customer_lenses_campaign_lookalike_and_reports(demo) -> None:
    ws, _ = demo
    lenses = {}
    for row in ws.log():
        lenses.setdefault(row["lens"], []).append(row["version"])
    assert len(lenses["marketing"]) >= 2 and len(lenses["product"]) >= 2
    names = [s["name"] for s in ws.show("marketing@1")["segments"]]
    assert "Younger, tech-savvy" in names and "Older, tech-casual" in names
    report = ws.campaign_report("app-push-q1")
    assert report["overall"]["control_n"] > 0 and report["overall"]["treatment_n"] > 0
    assert [a["audience"] for a in ws.audiences()] == ["vip-lookalike"]
    # the version report draws plotly charts; the diff report is SVG and tables only
    version = (Path(ws.root) / "reports" / "marketing-1.html").read_text()
    assert "Plotly.newPlot" in version and 'id="summary"' in version
    moves = (Path(ws.root) / "reports" / "accounts-diff.html").read_text()
    assert '<svg class="sankey"' in moves and 'id="carry"' in moves
    assert ws.fsck()["clean"]


def test_a_campaign_designed_before_it_is_sent(demo) -> None:
    ws, lines = demo
    design = ws.campaign_designs("email-guide-q2")[0]
    assert design["strategy"] == "email-guide" and design["holdout"]
    report = ws.campaign_report("email-guide-q2")
    assert report["design_check"]["clean"] and report["design"]["design"] == "email-guide-q2"
    assert report["overall"]["control_n"] == sum(s["control"] for s in design["segments"])
    held = ws.campaign_report("email-guide-q2", vs_holdout=True)
    assert held["overall"]["control_n"] == report["holdout"]["holdout_rows_left_out"] > 0
    assert any("designed email-guide-q2" in line for line in lines)
