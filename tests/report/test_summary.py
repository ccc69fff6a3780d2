"""The top of the reports (what a manager reads first), the diff report's carry impact, the
Sankey's colours and names, and the size of the page."""

from __future__ import annotations

import hashlib
import html
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from plotly.offline import get_plotlyjs_version
from tests.report.conftest import N

from segtrail.errors import InvalidInput, SegtrailError
from segtrail.report import drawn, summary
from segtrail.report import html as reports
from segtrail.report.bundle import BUNDLE, bundle_version, plotly_js
from segtrail.services.workspace import Workspace

VENDOR = Path(reports.__file__).parent / "vendor"


def section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}"')
    return page[start : page.index("</section>", start)]


def summary_rows(page: str) -> dict[int, str]:
    """The summary table's row per segment label (its HTML)."""
    block = section(page, "summary")
    rows = re.findall(r'(<tr class="segment-row" data-segment="(-?\d+)".*?</tr>)', block, re.S)
    return {int(label): row for row, label in rows}


# --- above the fold -------------------------------------------------------------------------


def test_summary_comes_first_and_raw_parameters_last(version_report):
    _, page = version_report
    ids = re.findall(r'<section id="([\w-]+)"', page)
    assert ids[0] == "summary"
    assert ids[-1] == "parameters"
    # the nav follows the page
    nav = page[page.index("<nav>") : page.index("</nav>")]
    assert re.findall(r'href="#([\w-]+)"', nav) == [i for i in ids if f'href="#{i}"' in nav]


def test_summary_has_every_segment_with_size_value_and_strategies(ws, version_report):
    _, page = version_report
    info = ws.show("marketing@1")
    rows = summary_rows(page)
    assert sorted(rows) == sorted(s["segment"] for s in info["segments"])
    # the value is the sum of `spend` per segment, computed here from the CSV itself
    frame = pd.read_csv(ws.root.parent / "customers.csv").set_index("customer_id")
    labels = ws.assignments("marketing@1")
    spend = frame["spend"].groupby(labels.reindex(frame.index).to_numpy()).sum()
    assert "share of spend" in section(page, "summary")
    plan = ws.plan_show("marketing@1")
    for s in info["segments"]:
        row = rows[s["segment"]]
        assert str(escape(s["name"])) in row and str(escape(s["description"])) in row
        assert f'data-customers="{s["size"]}"' in row
        assert f"{s['size']:,}" in row
        shown = float(re.search(r'data-value-share="([^"]+)"', row).group(1))
        assert shown == pytest.approx(spend[s["segment"]] / spend.sum(), rel=1e-9)
        strategies = set(re.findall(r'<span class="strat[^"]*"[^>]*>([\w-]+)', row))
        expected = {m["strategy"] for m in plan["matrix"] if m["segments"][str(s["segment"])]}
        assert strategies == expected
    assert "win-back" in rows[0] and "tiktok-push" in rows[0]  # "all" reaches every row
    assert "tiktok-push" not in rows[max(rows)]


def test_value_sums_leave_out_what_is_not_a_number_and_say_so(tmp_path, test_databases):
    """A customer without a value adds 0 to the sums (the column's total is what is known);
    an infinite value is no customer's figure: left out the same way, and the page says so
    (summed, it made every share nan)."""
    x = np.r_[np.zeros(6), np.full(6, 100.0)]
    revenue = ["10", "inf", "", "2.5", "-inf", "7", "100", "", "inf", "1", "2", "3"]
    lines = [f"K{i:02d},{x[i]},{r}" for i, r in enumerate(revenue)]
    (tmp_path / "buyers.csv").write_text("customer_id,x,revenue\n" + "\n".join(lines) + "\n")
    with Workspace.init(tmp_path / "ws", author="tester", database_url=test_databases.new()) as ws:
        ws.ingest(tmp_path / "buyers.csv", "customer_id")
        ws.segment("buyers", "spenders", "two groups on x", k=2, features=["x"])
        page = Path(ws.report("spenders@1", tmp_path / "v.html")["out"]).read_text()
        labels = ws.assignments("spenders@1")
    block = html.unescape(section(page, "summary"))
    assert (
        "Value: the sum of revenue (126 in all): each segment's share of it, and per "
        "customer. 3 values are not numbers (e.g. 'inf', '-inf'): left out of the sums, as "
        "missing values are."
    ) in re.sub(r"<[^>]+>", "", block)
    known = {f"K{i:02d}": float(r) for i, r in enumerate(revenue) if r not in ("", "inf", "-inf")}
    for label, row in summary_rows(page).items():
        members = labels.index[labels.to_numpy() == label]
        expected = sum(known.get(c, 0.0) for c in members) / 125.5
        shown = float(re.search(r'data-value-share="([^"]+)"', row).group(1))
        assert shown == pytest.approx(expected, rel=1e-12)


def test_summary_says_what_changed_since_the_parent(ws):
    page = Path(ws.report("marketing@2", ws.root.parent / "child.html")["out"]).read_text()
    block = section(page, "summary")
    assert "<h3>Since marketing@1</h3>" in block
    delta = ws.diff("marketing@1", "marketing@2")
    names_b = {s["segment"]: s["name"] for s in delta["segments_b"]}
    verbs = {
        "kept": "is kept",
        "split": "split into",
        "merged": "merged into",
        "shrunk": "shrank",
        "vanished": "vanished",
    }
    lines = [html.unescape(x) for x in re.findall(r"<li>(.*?)</li>", block)]
    for s in delta["segments_a"]:
        line = next(x for x in lines if x.startswith(f"\u201c{s['name']}\u201d"))
        assert verbs[s["fate"]] in line
        if s["fate"] == "merged":
            assert names_b[s["best_match"]] in line
    new = [s for s in delta["segments_b"] if s["origin"] == "new"]
    assert sum("is new in marketing@2" in x for x in lines) == len(new)
    # a root version has nothing to compare with
    root = Path(ws.report("marketing@1", ws.root.parent / "root.html")["out"]).read_text()
    assert "<h3>Since" not in section(root, "summary")


def test_value_column_can_be_chosen_and_is_checked(ws, tmp_path, cli):
    result = ws.report("marketing@1", tmp_path / "age.html", value="age")
    assert result["value"] == "age"
    assert "share of age" in (tmp_path / "age.html").read_text()
    with pytest.raises(InvalidInput, match="'channel' is not a numeric column"):
        ws.report("marketing@1", tmp_path / "bad.html", value="channel")
    bad = cli("--workspace", ws.root, "report", "marketing@1", "--value", "nope", "-o",
              tmp_path / "cli.html")  # fmt: skip
    assert bad.code == 2 and "nope" in bad.err and len(bad.err.strip().splitlines()) == 1
    assert not (tmp_path / "cli.html").exists() and not (tmp_path / "bad.html").exists()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["customer_id", "avg_order_value", "annual_spend", "age"], "annual_spend"),
        (["annual_spend", "monetary", "frequency"], "monetary"),  # monetary comes first
        (["Revenue"], "Revenue"),
        (["avg_order_value", "spend_share_90d", "mean_value", "email_open_rate"], None),
        (["annual_contract_value", "seats"], "annual_contract_value"),
        (["age", "visits"], None),
    ],
)
def test_value_column_is_guessed_by_name(names, expected):
    columns = [{"name": n, "kind": "numeric"} for n in names]
    assert summary.pick_value_column(columns, None) == expected


def test_value_column_must_be_numeric():
    columns = [{"name": "spend", "kind": "categorical"}, {"name": "age", "kind": "numeric"}]
    assert summary.pick_value_column(columns, None) is None  # a category named spend
    with pytest.raises(InvalidInput, match="numeric columns: age"):
        summary.pick_value_column(columns, "spend")


def test_campaign_rows_without_sends_are_named_not_drawn():
    result = {
        "segments": [
            {"segment": 0, "name": "A", "treatment_n": 5, "control_n": 1},
            {"segment": 1, "name": "B", "treatment_n": 0, "control_n": 0},
        ]
    }
    out = reports._sent_only(result)
    assert [s["name"] for s in out["segments"]] == ["A"] and out["unsent"] == ["B"]


# --- the diff report: carry impact and the Sankey -----------------------------------------


def test_diff_report_shows_what_carrying_the_plan_does(ws, diff_report):
    _, page = diff_report
    block = section(page, "carry")
    proposal = ws.carry("marketing@1", "marketing@2")
    assert not proposal["applied"]
    rows = re.findall(r"<tr( class=\"review\")?>\s*<td><b>([\w-]+)</b>(.*?)</tr>", block, re.S)
    assert [r[1] for r in rows] == [e["strategy"] for e in proposal["strategies"]]
    for (review, _, row), entry in zip(rows, proposal["strategies"], strict=True):
        assert (entry["status"] == "needs-review") == bool(review)
        assert f"<b>{entry['fate']}</b>" in row
        assert str(escape(entry["explanation"])) in row
        assert ("needs review" in row) == (entry["status"] == "needs-review")
    if proposal["needs_review"]:
        assert f"{len(proposal['needs_review'])} of {len(proposal['strategies'])} strategies" \
            " need review" in block  # fmt: skip
    assert "not recorded" in block
    # a version without a plan: the diff still reads, and says why there is no impact
    back = Path(ws.report("marketing@2", ws.root.parent / "back.html", diff="marketing@1")["out"])
    assert "has no plan to carry" in section(back.read_text(), "carry")


def test_diff_report_says_when_the_plan_was_carried(tmp_path, planted_csv):
    ws = Workspace.init(tmp_path / "ws", author="tester")
    ws.ingest(planted_csv, "customer_id", name="customers")
    v1 = ws.segment("customers", "marketing", "three groups", k=3, features=["age", "spend"])
    ws.strategy_add("push", "Try the app", ["push"])
    ws.plan_map("push", v1["version"], [0])
    v2 = ws.segment("customers", "marketing", "age only", k=2, features=["age"])
    carried = ws.carry(v1["version"], v2["version"], apply=True)
    page = ws.report(v1["version"], tmp_path / "d.html", diff=v2["version"])
    block = section(Path(page["out"]).read_text(), "carry")
    assert f"plan revision {carried['revision']} came from {v1['version']}" in block
    for name in carried["needs_review"]:
        assert name in block.split("still waiting for review:")[1]


@pytest.fixture
def planted_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    group = np.repeat([0, 1, 2], 40)
    pd.DataFrame(
        {
            "customer_id": [f"P{i:03d}" for i in range(120)],
            "age": rng.normal(np.array([25, 45, 65])[group], 2),
            "spend": rng.normal(np.array([100, 500, 300])[group], 10),
        }
    ).to_csv(tmp_path / "planted.csv", index=False)
    return tmp_path / "planted.csv"


def test_sankey_nodes_have_their_segments_colour_and_name(ws, version_report, diff_report):
    _, page = diff_report
    _, version_page = version_report
    delta = ws.diff("marketing@1", "marketing@2")
    nodes = re.findall(
        r'<rect class="node" data-side="(\w)" data-segment="(-?\d+)"[^>]*fill="([^"]+)">'
        r"<title>([^<]*)</title>",
        section(page, "flow"),
    )
    assert len(nodes) == len(delta["segments_a"]) + len(delta["segments_b"])
    # A's colours are the swatches of A's own report
    swatch = {
        label: re.search(r'class="swatch" style="background: ([^"]+)"', row).group(1)
        for label, row in summary_rows(version_page).items()
    }
    colors = {(side, int(label)): fill for side, label, fill, _ in nodes}
    for s in delta["segments_a"]:
        assert colors[("a", s["segment"])] == swatch[s["segment"]]
    kept = {s["best_match"]: s["segment"] for s in delta["segments_a"] if s["fate"] == "kept"}
    used_a = {colors[("a", s["segment"])] for s in delta["segments_a"]}
    for s in delta["segments_b"]:
        fill = colors[("b", s["segment"])]
        if s["segment"] in kept:
            assert fill == colors[("a", kept[s["segment"]])]
        elif s["segment"] >= 0:
            assert fill not in used_a  # a new colour is never an A segment's colour
    # every node is titled with its segment's name; the same colours in the tables below
    names = {("a", s["segment"]): s["name"] for s in delta["segments_a"]}
    names |= {("b", s["segment"]): s["name"] for s in delta["segments_b"]}
    for side, label, fill, title in nodes:
        assert html.unescape(title).startswith(names[(side, int(label))] + ": ")
        assert f'style="background: {fill}"' in section(page, "contingency")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 400), min_size=1, max_size=6), min_size=1, max_size=6)
    .filter(lambda m: len({len(r) for r in m}) == 1)
    .filter(lambda m: sum(map(sum, m)) > 0),
    st.text(min_size=1, max_size=60),
)
def test_sankey_bands_add_up_and_labels_never_collide(matrix, name):
    """Reference: geometry checked directly on the drawing of the counts given: every node
    inside the picture, the bands leaving or reaching a node adding up to its height, and the
    label lines of a column at least one line apart."""
    transitions = [
        {"from": i, "to": j, "customers": n}
        for i, row in enumerate(matrix)
        for j, n in enumerate(row)
    ]
    rows, cols = len(matrix), len(matrix[0])
    nodes_a = [drawn.Node(i, f"{name} {i}", "#1f77b4", sum(matrix[i])) for i in range(rows)]
    nodes_b = [
        drawn.Node(j, f"{name} {j}", "#ff7f0e", sum(r[j] for r in matrix)) for j in range(cols)
    ]
    svg = str(drawn.sankey_svg(transitions, nodes_a, nodes_b, "A@1", "B@1"))
    height = float(re.search(r'viewBox="0 0 \d+ ([\d.]+)"', svg).group(1))
    rects = {
        (side, int(label)): (float(y), float(h))
        for side, label, y, h in re.findall(
            r'data-side="(\w)" data-segment="(\d+)" x="[\d.]+" y="([\d.]+)" width="\d+" '
            r'height="([\d.]+)"',
            svg,
        )
    }
    bands: dict[tuple[str, int], float] = {}
    for src, dst, y1, y1h in re.findall(
        r'data-from="(\d+)" data-to="(\d+)" d="M[^ ]+ C[^ ]+ [^ ]+ [\d.]+,([\d.]+) '
        r"L[\d.]+,([\d.]+)",
        svg,
    ):
        h = float(y1h) - float(y1)
        bands[("a", int(src))] = bands.get(("a", int(src)), 0.0) + h
        bands[("b", int(dst))] = bands.get(("b", int(dst)), 0.0) + h
    for key, (y, h) in rects.items():
        assert y >= 0 and y + h <= height + 0.1
        if key in bands and h > drawn.MIN_NODE:  # a tiny segment is drawn at least 4 px
            assert bands[key] == pytest.approx(h, abs=0.5)  # each figure rounded to 0.1
    # label lines of one column are in separate slots: no two overlap
    for anchor in ("end", "start"):
        ys = sorted(
            float(y)
            for block in re.findall(rf'text-anchor="{anchor}">(.*?)</text>', svg)
            for y in re.findall(r'y="([\d.]+)"', block)
        )
        assert all(b - a >= drawn.LINE - 0.2 for a, b in itertools.pairwise(ys))
        assert all(drawn.LINE <= y <= height for y in ys)


def test_matched_colours_follow_kept_segments_and_never_reuse():
    diff = {
        "segments_a": [
            {"segment": 0, "fate": "kept", "best_match": 1},
            {"segment": 1, "fate": "split", "best_match": 0},
            {"segment": -1, "fate": "noise", "best_match": None},
        ],
        "segments_b": [{"segment": s} for s in (0, 1, 2, -1)],
    }
    colors_a = drawn.colors_for([0, 1, -1])
    colors_b = drawn.matched_colors(diff, colors_a)
    assert colors_b[1] == colors_a[0]  # kept: the same colour
    assert colors_b[-1] == drawn.NOISE_COLOR
    fresh = {colors_b[0], colors_b[2]}
    assert len(fresh) == 2 and not fresh & set(colors_a.values())


# --- size and the bundle ----------------------------------------------------------------------


def test_reports_are_small(version_report, diff_report):
    version, _ = version_report
    diff, _ = diff_report
    bundle = len(plotly_js().encode())
    assert bundle < 1_300_000  # the basic bundle, not the full 4.8 MB plotly.js
    assert version["bytes"] < bundle + 250_000, version["bytes"]  # 300 customers drawn
    assert diff["bytes"] < 60_000, diff["bytes"]  # no JavaScript at all


def test_the_bundle_is_the_vendored_file_with_its_licence():
    text = (VENDOR / "README.md").read_text()
    digest = hashlib.sha256((VENDOR / BUNDLE).read_bytes()).hexdigest()
    assert digest in text
    assert "MIT License" in (VENDOR / "plotly.js-LICENSE").read_text()
    # figures are written by the plotly package for its plotly.js: same major version
    assert bundle_version().split(".")[0] == get_plotlyjs_version().split(".")[0]
    assert f"v{bundle_version()}" in text.replace("v4.1.1", f"v{bundle_version()}")


def test_report_refuses_a_version_that_does_not_exist_before_writing(ws, tmp_path):
    with pytest.raises(SegtrailError):
        ws.report("marketing@1", tmp_path / "x.html", diff="marketing@7")
    assert not (tmp_path / "x.html").exists()


def test_summary_counts_every_customer(version_report):
    _, page = version_report
    assert f"<b>{N:,}</b> customers" in page


def test_a_segment_keeps_its_colour_across_reports(ws, diff_report):
    """The child's own report colours its segments as the parent -> child diff does, so a
    kept segment is one colour in every report of the lens."""
    _, page = diff_report
    b_side = {
        int(label): fill
        for label, fill in re.findall(
            r'data-side="b" data-segment="(-?\d+)"[^>]*fill="([^"]+)"', section(page, "flow")
        )
    }
    child = Path(ws.report("marketing@2", ws.root.parent / "child-colours.html")["out"])
    rows = summary_rows(child.read_text())
    own = {
        label: re.search(r'class="swatch" style="background: ([^"]+)"', row).group(1)
        for label, row in rows.items()
    }
    assert own == b_side
    assert len(set(own.values())) == len(own)  # one colour, one segment


def test_the_team_pages_sankey_is_the_diff_reports(ws):
    """report.html.diff_sankey (the pages' Sankey) draws what the diff report draws: SVG,
    no script, every segment of both sides named."""
    delta = ws.diff("marketing@1", "marketing@2")
    svg = reports.diff_sankey(ws, delta)
    assert svg == reports._diff_context(ws, "marketing@1", "marketing@2")["figures"]["sankey"]
    assert svg.startswith("<svg") and "<script" not in svg
    for s in [*delta["segments_a"], *delta["segments_b"]]:
        assert html.escape(s["name"], quote=False) in svg
