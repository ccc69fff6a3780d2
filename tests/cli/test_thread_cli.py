"""The thread through the command line: plan map/show/history, diff, carry (merge, split,
vanish), compare with a flagged segment, and why.

One small customer table with planted groups gives segmentations whose segments we know:

    group  customers  x    y      marketing@1,@3  marketing@2  product@1  marketing@4
    A      18         0    0      1               0            0          1
    B      15         0    10     2               0            1          2
    C      12         0    20     3               0            2          3
    D      24         100  0      0               1            0          (gone)
    E      24         100  0      (not in shop@1)                         0

marketing@1 and @3 cluster on x and y (four segments), @2 on x alone (A, B and C merge),
product@1 on y alone (A and D together); shop@2 replaces the customers of D by E, and
marketing@4 clusters it. Labels follow size (0 = largest). Customer ids start with their
group letter. Counts the tests expect are computed from the assignment series, not from the
command under test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from threadpoolctl import threadpool_limits

from segtrail.services.workspace import Workspace

Runner = Callable[..., object]

GROUPS = {"A": ((0, 0), 18), "B": ((0, 10), 15), "C": ((0, 20), 12), "D": ((100, 0), 24)}
LABELS = {
    "marketing@1": {"A": 1, "B": 2, "C": 3, "D": 0},
    "marketing@2": {"A": 0, "B": 0, "C": 0, "D": 1},
    "marketing@3": {"A": 1, "B": 2, "C": 3, "D": 0},
    "marketing@4": {"A": 1, "B": 2, "C": 3, "E": 0},
    "product@1": {"A": 0, "B": 1, "C": 2, "D": 0},
}
HYPOTHESES = {
    "marketing@1": "Where they live (x) and how they shop (y) set four groups apart",
    "marketing@2": "Only location matters: two groups",
    "marketing@3": "Back to four groups, y first",
    "marketing@4": "Four groups again after the D customers left",
    "product@1": "Product usage (y) alone",
}
STRATEGIES = ("welcome-a", "bundle-ab", "d-loyalty", "newsletter", "abc-push")
WIDE = {"COLUMNS": "250"}  # for the subprocess runs: tables on one line per row


def group_rows(rng: np.random.Generator, group: str, centre: tuple[int, int], n: int):
    return pd.DataFrame(
        {
            "customer_id": [f"{group}{i:02d}" for i in range(n)],
            "x": (centre[0] + rng.normal(0, 1, n)).round(2),
            "y": (centre[1] + rng.normal(0, 1, n)).round(2),
        }
    )


@pytest.fixture(scope="module")
def shop_base(tmp_path_factory: pytest.TempPathFactory, databases) -> Path:
    """The workspace described in the module docstring, built once through the Python API."""
    root = tmp_path_factory.mktemp("shop-base")
    rng = np.random.default_rng(7)
    shop1 = pd.concat([group_rows(rng, g, c, n) for g, (c, n) in GROUPS.items()])
    csv = root / "shop.csv"
    # One OpenMP thread: on a loaded 2-core machine spinning threads make k-means ~20x slower.
    with (
        threadpool_limits(1),
        Workspace.init(root / "ws", author="builder", database_url=databases.new()) as ws,
    ):
        shop1.to_csv(csv, index=False)
        ws.ingest(csv, "customer_id")
        ws.segment("shop", "marketing", HYPOTHESES["marketing@1"], k=4, features=["x", "y"])
        ws.segment("shop", "marketing", HYPOTHESES["marketing@2"], k=2, features=["x"])
        ws.segment("shop", "marketing", HYPOTHESES["marketing@3"], k=4, features=["y", "x"], seed=3)
        ws.segment("shop", "product", HYPOTHESES["product@1"], k=3, features=["y"])
        gone = shop1["customer_id"].str.startswith("D")
        pd.concat([shop1[~gone], group_rows(rng, "E", (100, 0), 24)]).to_csv(csv, index=False)
        assert ws.ingest(csv, "customer_id")["version"] == 2
        ws.segment("shop@2", "marketing", HYPOTHESES["marketing@4"], k=4, features=["x", "y"])
        leads = pd.concat([group_rows(rng, "L", (0, 0), 10), group_rows(rng, "M", (50, 50), 10)])
        leads.to_csv(root / "leads.csv", index=False)
        ws.ingest(root / "leads.csv", "customer_id")
        ws.segment("leads", "sales", "Leads nobody else has seen", k=2)
        for s in STRATEGIES:
            ws.strategy_add(s, f"the {s} message", ["email", "app"], owner="crm")
    return root / "ws"


@pytest.fixture
def shop(tmp_path: Path, shop_base: Path, test_databases) -> Path:
    """A fresh copy of the shop workspace (and of its database) for one test."""
    return test_databases.copy_workspace(shop_base, tmp_path / "shop")


@pytest.fixture
def sh(cli: Runner, shop: Path) -> Runner:
    """Run a command in the shop workspace; it must succeed."""

    def _sh(*args: str) -> object:
        result = cli(*args, cwd=shop)
        assert result.code == 0, (args, result.err)
        return result

    return _sh


@pytest.fixture
def ws(shop: Path) -> Iterator[Workspace]:
    """Read access for the independent computations."""
    with Workspace.open(shop) as workspace:
        yield workspace


def series(ws: Workspace, ref: str) -> pd.Series:
    return ws.assignments(ref)


def customers(
    ws: Workspace, ref: str, labels: list[int] | str, among: pd.Index | None = None
) -> set[str]:
    s = series(ws, ref)
    if among is not None:
        s = s.loc[s.index.intersection(among)]
    return set(s.index if labels == "all" else s.index[s.isin(labels)])


def row_of(text: str, *first: str) -> list[str]:
    """The words of the one table row (or line) whose first words are `first`."""
    rows = [w for w in map(str.split, text.splitlines()) if w[: len(first)] == list(first)]
    assert len(rows) == 1, (first, text)
    return rows[0]


def test_segmentations_hold_the_planted_groups(ws: Workspace) -> None:
    """The labels every other test relies on."""
    for ref, labels in LABELS.items():
        s = series(ws, ref)
        by_group = s.groupby(s.index.str[0]).agg(lambda v: sorted(set(v))).to_dict()
        assert by_group == {g: [label] for g, label in labels.items()}, ref


# --- plan map, show, history -----------------------------------------------------------------


def coverage_of(ws: Workspace, ref: str, entries: list[tuple[str, object, str]]) -> dict:
    """reached / none / more than one, counted from the assignments."""
    s = series(ws, ref).to_numpy()
    hits = np.zeros(len(s), dtype=int)
    for _, segments, status in entries:
        if status == "active":
            hits += np.ones(len(s), dtype=bool) if segments == "all" else np.isin(s, segments)
    return {
        "customers": len(s),
        "reached": int((hits >= 1).sum()),
        "unreached": int((hits == 0).sum()),
        "overlapping": int((hits > 1).sum()),
    }


PLAN = [
    ("welcome-a", [1], "active"),
    ("bundle-ab", [1, 2], "active"),
    ("d-loyalty", [0], "paused"),
    ("newsletter", "all", "not-viable"),
    ("abc-push", [3], "active"),
]


def map_args(strategy: str, ref: str, segments, status: str) -> list[str]:
    target = ["--all"] if segments == "all" else ["--segments", ",".join(map(str, segments))]
    return ["plan", "map", strategy, ref, *target, "--status", status]


def test_plan_map_one_several_all_with_matrix_and_coverage(sh: Runner, ws: Workspace) -> None:
    for strategy, segments, status in PLAN:
        out = sh(*map_args(strategy, "marketing@1", segments, status), "-r", f"why {strategy}")
        assert out.out.startswith("marketing@1 plan r")
    plan = sh("plan", "show", "marketing@1", "--json").json()
    assert plan["revision"] == len(PLAN)
    assert [
        (e["strategy"], e["segments"], e["status"], e["rationale"]) for e in plan["entries"]
    ] == [(s, seg, st, f"why {s}") for s, seg, st in PLAN]
    labels = [0, 1, 2, 3]
    assert [s["segment"] for s in plan["segments"]] == labels
    sizes = series(ws, "marketing@1").value_counts()
    assert [s["customers"] for s in plan["segments"]] == [int(sizes[s]) for s in labels]
    for row, (strategy, segments, status) in zip(plan["matrix"], PLAN, strict=True):
        targets = labels if segments == "all" else segments
        assert row["strategy"] == strategy and row["status"] == status
        assert row["segments"] == {str(s): s in targets for s in labels}
        assert row["audience"] == len(customers(ws, "marketing@1", targets))
    expected = coverage_of(ws, "marketing@1", PLAN)
    assert expected == {"customers": 69, "reached": 45, "unreached": 24, "overlapping": 18}
    assert plan["coverage"] == expected

    text = sh("plan", "show", "marketing@1").out
    assert (
        "coverage: 45 of 69 customers reached by an active strategy, 24 by none, "
        "18 by more than one"
    ) in text
    assert row_of(text, "bundle-ab")[:6] == ["bundle-ab", "active", ".", "x", "x", "."]
    assert row_of(text, "newsletter")[:6] == ["newsletter", "not-viable", "x", "x", "x", "x"]

    # Remapping replaces the entry in a new revision; coverage follows.
    sh("plan", "map", "d-loyalty", "marketing@1", "--segments", "0")
    plan = sh("plan", "show", "marketing@1", "--json").json()
    assert plan["change"] == "remapped d-loyalty to segments 0 (active)"
    assert plan["coverage"] == coverage_of(
        ws, "marketing@1", [*PLAN[:2], ("d-loyalty", [0], "active"), *PLAN[3:]]
    )
    assert plan["coverage"]["unreached"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "map", "nosuch", "marketing@1", "-s", "0"], "no strategy 'nosuch'"),
        (["plan", "map", "welcome-a", "marketing@1", "-s", "7"], "has no segment 7"),
        (["plan", "map", "welcome-a", "marketing@1", "-s", "0,9"], "has no segment 9"),
        (["plan", "map", "welcome-a", "marketing@9", "-s", "0"], "marketing@9"),
        (["plan", "map", "welcome-a", "nolens", "--all"], "nolens"),
        (["plan", "map", "welcome-a", "marketing@1", "-s", "a"], "invalid --segments"),
        (["plan", "map", "welcome-a", "marketing@1", "-s", "0", "--all"], "not both"),
        (["plan", "map", "welcome-a", "marketing@1"], "--segments"),
        (["plan", "map", "welcome-a", "marketing@1", "--all", "--status", "done"], "status"),
        (["plan", "unmap", "welcome-a", "marketing@1"], "not mapped"),
        (["plan", "show", "marketing@1", "--revision", "3"], "no plan revision 3"),
        (["plan", "history", "nolens"], "nolens"),
        (["carry", "marketing@1", "marketing@2"], "no plan"),
        (["carry", "marketing@1", "marketing@1"], "two different versions"),
        (["carry", "marketing@1", "marketing@9"], "marketing@9"),
        (["diff", "marketing@1", "product@7"], "product@7"),
        (["why", "nosuch"], "no strategy 'nosuch'"),
        (["compare", "marketing@1", "product", "--flag", "fit"], "KEY=VALUE"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    cli: Runner, shop: Path, tree_hash: Callable, args: list[str], message: str
) -> None:
    before = tree_hash(shop)
    result = cli(*args, cwd=shop)
    assert result.code == 2, result.err
    assert result.out == ""
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert message in result.err
    assert tree_hash(shop) == before


def test_plan_history_authors_times_and_past_revisions(sh: Runner, ws: Workspace) -> None:
    steps = [
        ("alice", ["plan", "map", "welcome-a", "marketing@1", "-s", "1"]),
        ("bob", ["plan", "map", "bundle-ab", "marketing@1", "-s", "1,2", "--status", "paused"]),
        ("alice", ["plan", "map", "welcome-a", "marketing@1", "-s", "2"]),
        ("carol", ["plan", "map", "abc-push", "marketing@2", "-s", "0"]),
        ("bob", ["plan", "unmap", "bundle-ab", "marketing@1"]),
    ]
    shown = []
    for author, args in steps:
        sh("--author", author, *args)
        ref = args[3]
        shown.append(sh("plan", "show", ref, "--json").json())

    history = sh("plan", "history", "marketing", "--json").json()
    assert [(h["version"], h["revision"], h["author"], h["change"]) for h in history] == [
        ("marketing@1", 1, "alice", "mapped welcome-a to segments 1 (active)"),
        ("marketing@1", 2, "bob", "mapped bundle-ab to segments 1, 2 (paused)"),
        ("marketing@1", 3, "alice", "remapped welcome-a to segments 2 (active)"),
        ("marketing@2", 1, "carol", "mapped abc-push to segments 0 (active)"),
        ("marketing@1", 4, "bob", "unmapped bundle-ab"),
    ]
    times = [datetime.fromisoformat(h["at"]) for h in history]
    assert times == sorted(times)
    text = sh("plan", "history", "marketing").out.splitlines()
    assert text == [
        f"{h['at'][:19]}  {h['author']}  {h['version']} r{h['revision']}: {h['change']}"
        for h in history
    ]

    # Every past revision shows again exactly as it was shown when it was made.
    for state in shown:
        again = sh("plan", "show", state["version"], "--revision", str(state["revision"]), "--json")
        assert again.json() == state
    r2 = sh("plan", "show", "marketing@1", "--revision", "2", "--json").json()
    assert [(e["strategy"], e["segments"], e["status"]) for e in r2["entries"]] == [
        ("welcome-a", [1], "active"),
        ("bundle-ab", [1, 2], "paused"),
    ]
    assert r2["coverage"] == coverage_of(
        ws, "marketing@1", [("welcome-a", [1], "active"), ("bundle-ab", [1, 2], "paused")]
    )
    text = sh("plan", "show", "marketing@1", "--revision", "2").out
    assert text.startswith(f"marketing@1 plan r2 (bob, {r2['at'][:19]}): mapped bundle-ab")
    assert row_of(text, "bundle-ab")[:2] == ["bundle-ab", "paused"]
    assert sh("plan", "show", "marketing@1", "--json").json()["entries"] == [
        {
            "strategy": "welcome-a",
            "segments": [2],
            "status": "active",
            "rationale": None,
            "carry": None,
        }
    ]


# --- diff --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("marketing@1", "marketing@2"),
        ("marketing@2", "marketing@1"),
        ("marketing@3", "marketing@4"),
        ("marketing@1", "product@1"),
    ],
)
def test_diff_json_has_one_transition_per_nonzero_cell(
    sh: Runner, ws: Workspace, a: str, b: str
) -> None:
    result = sh("diff", a, b, "--json").json()
    sa, sb = series(ws, a), series(ws, b)
    common = sa.index.intersection(sb.index)
    pairs = pd.DataFrame({"a": sa.loc[common].to_numpy(), "b": sb.loc[common].to_numpy()})
    cells = pairs.value_counts().to_dict()  # only the non-zero cells
    assert result["common_customers"] == len(common)
    assert result["ari"] == pytest.approx(adjusted_rand_score(pairs["a"], pairs["b"]))
    assert result["nmi"] == pytest.approx(normalized_mutual_info_score(pairs["a"], pairs["b"]))
    assert all(set(t) == {"from", "to", "customers"} for t in result["transitions"])
    got = [(t["from"], t["to"]) for t in result["transitions"]]
    assert len(got) == len(set(got))
    assert {(t["from"], t["to"]): t["customers"] for t in result["transitions"]} == cells

    text = sh("diff", a, b).out.splitlines()[0]
    assert text.startswith(
        f"{a} -> {b}: {len(common)} customers in both, {len(sa) - len(common)} only in A, "
        f"{len(sb) - len(common)} only in B; ARI {result['ari']:.3f}"
    )


# --- carry forward -------------------------------------------------------------------------------


def carried(result: dict) -> dict[str, tuple]:
    return {
        e["strategy"]: (
            e["old_segments"],
            e["new_segments"],
            e["fate"],
            e["status"],
            e["old_audience"],
            e["carried_audience"],
            e["new_audience"],
        )
        for e in result["strategies"]
    }


def merge_plan(sh: Runner) -> None:
    sh("plan", "map", "welcome-a", "marketing@1", "-s", "1", "-r", "A customers are new")
    sh("plan", "map", "bundle-ab", "marketing@1", "-s", "1,2", "--status", "paused")
    sh("plan", "map", "d-loyalty", "marketing@1", "-s", "0", "-r", "D buys a lot")
    sh("plan", "map", "newsletter", "marketing@1", "--all")


def test_carry_merge(
    sh: Runner, run: Runner, shop: Path, ws: Workspace, tree_hash: Callable
) -> None:
    merge_plan(sh)
    before = tree_hash(shop)
    result = sh("carry", "marketing@1", "marketing@2", "--json").json()
    assert (result["old"], result["new"], result["old_revision"]) == (
        "marketing@1",
        "marketing@2",
        4,
    )
    assert result["common_customers"] == 69 and result["applied"] is False
    a = len(customers(ws, "marketing@1", [1]))
    ab = len(customers(ws, "marketing@1", [1, 2]))
    abc = len(customers(ws, "marketing@2", [0]))
    d = len(customers(ws, "marketing@2", [1]))
    assert (a, ab, abc, d) == (18, 33, 45, 24)
    assert carried(result) == {
        "welcome-a": ([1], [0], "merged", "needs-review", a, a, abc),
        "bundle-ab": ([1, 2], [0], "merged", "needs-review", ab, ab, abc),
        "d-loyalty": ([0], [1], "kept", "active", d, d, d),
        "newsletter": ("all", "all", "all", "active", 69, 69, 69),
    }
    assert result["needs_review"] == ["welcome-a", "bundle-ab"]
    by_name = {e["strategy"]: e for e in result["strategies"]}
    assert by_name["welcome-a"]["explanation"] == (
        f"audience merged into segment 0 together with {abc - a} customers from outside it "
        f"({a} customers from the old audience)"
    )
    assert by_name["welcome-a"]["rationale"] == "A customers are new"

    text = run("carry", "marketing@1", "marketing@2", cwd=shop, env=WIDE)
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == "carry marketing@1 (plan r4) -> marketing@2  " + (
        f"(ARI {result['ari']:.3f} on 69 common customers)"
    )
    assert " ".join(row_of(text.out, "welcome-a")) == (
        "welcome-a 1 0 merged needs-review " + by_name["welcome-a"]["explanation"]
    )
    assert row_of(text.out, "bundle-ab")[:5] == ["bundle-ab", "1,2", "0", "merged", "needs-review"]
    assert row_of(text.out, "d-loyalty")[:5] == ["d-loyalty", "0", "1", "kept", "active"]
    assert row_of(text.out, "newsletter")[:5] == ["newsletter", "all", "all", "all", "active"]
    assert lines[-2:] == [
        "needs review: welcome-a, bundle-ab",
        "(proposal only; add --apply to record it)",
    ]
    assert tree_hash(shop) == before  # a proposal records nothing


def test_carry_split(sh: Runner, run: Runner, shop: Path, ws: Workspace) -> None:
    sh("plan", "map", "abc-push", "marketing@2", "-s", "0", "--status", "paused")
    sh("plan", "map", "d-loyalty", "marketing@2", "-s", "1")
    result = sh("carry", "marketing@2", "marketing@3", "--json").json()
    parts = [len(customers(ws, "marketing@3", [s])) for s in (1, 2, 3)]
    assert parts == [18, 15, 12]
    assert carried(result) == {
        "abc-push": ([0], [1, 2, 3], "split", "needs-review", 45, 45, 45),
        "d-loyalty": ([1], [0], "kept", "active", 24, 24, 24),
    }
    assert result["needs_review"] == ["abc-push"]
    assert result["strategies"][0]["explanation"] == (
        "audience split across segments 1, 2 and 3 (18, 15 and 12 customers)"
    )
    text = run("carry", "marketing@2", "marketing@3", cwd=shop, env=WIDE).out
    assert " ".join(row_of(text, "abc-push")) == (
        "abc-push 0 1,2,3 split needs-review audience split across segments 1, 2 and 3 "
        "(18, 15 and 12 customers)"
    )
    assert "needs review: abc-push" in text.splitlines()


def test_carry_vanish_keeps_the_strategy_for_review(
    sh: Runner, run: Runner, shop: Path, ws: Workspace
) -> None:
    sh("plan", "map", "d-loyalty", "marketing@3", "-s", "0", "-r", "D buys a lot")
    sh("plan", "map", "welcome-a", "marketing@3", "-s", "1", "--status", "paused")
    sh("plan", "map", "newsletter", "marketing@3", "--all")
    common = series(ws, "marketing@3").index.intersection(series(ws, "marketing@4").index)
    assert customers(ws, "marketing@3", [0], among=common) == set()
    result = sh("carry", "marketing@3", "marketing@4", "--json").json()
    assert result["common_customers"] == len(common) == 45
    assert carried(result) == {
        "d-loyalty": ([0], [], "vanished", "needs-review", 24, 0, 0),
        "welcome-a": ([1], [1], "kept", "paused", 18, 18, 18),
        "newsletter": ("all", "all", "all", "active", 69, 45, 69),
    }
    assert result["needs_review"] == ["d-loyalty"]
    assert result["strategies"][0]["explanation"] == (
        "audience vanished: none of its customers are in the new version"
    )
    text = run("carry", "marketing@3", "marketing@4", cwd=shop, env=WIDE).out
    assert row_of(text, "d-loyalty")[:5] == ["d-loyalty", "0", "-", "vanished", "needs-review"]
    assert "needs review: d-loyalty" in text.splitlines()

    # Applied: the vanished strategy stays in the new plan, targeting nothing, for review.
    assert (
        "recorded as marketing@4 plan r1"
        in sh("carry", "marketing@3", "marketing@4", "--apply").out
    )
    plan = sh("plan", "show", "marketing@4", "--json").json()
    entries = {e["strategy"]: e for e in plan["entries"]}
    assert set(entries) == {"d-loyalty", "welcome-a", "newsletter"}
    assert (entries["d-loyalty"]["segments"], entries["d-loyalty"]["status"]) == (
        [],
        "needs-review",
    )
    assert entries["d-loyalty"]["carry"]["fate"] == "vanished"
    assert entries["d-loyalty"]["rationale"] == "D buys a lot"
    text = sh("plan", "show", "marketing@4").out
    assert row_of(text, "d-loyalty", "needs-review")[2:6] == [".", ".", ".", "."]
    assert (
        "  d-loyalty carried from marketing@3: audience vanished: none of its customers are in "
        "the new version"
    ) in text.splitlines()
    why = sh("why", "d-loyalty").out
    assert "marketing@4 [draft] plan r1: needs-review on no segment" in why


def test_carry_apply_links_the_new_plan_to_the_old_plan_and_the_diff(
    cli: Runner, sh: Runner, shop: Path
) -> None:
    merge_plan(sh)
    old_plan = sh("plan", "show", "marketing@1", "--json").json()
    proposal = sh("carry", "marketing@1", "marketing@2", "--json").json()
    applied = cli("--author", "alice", "carry", "marketing@1", "marketing@2", "--apply", cwd=shop)
    assert applied.code == 0, applied.err
    assert applied.out.splitlines()[-1] == "recorded as marketing@2 plan r1"

    plan = sh("plan", "show", "marketing@2", "--json").json()
    assert (plan["revision"], plan["author"]) == (1, "alice")
    assert plan["carried_from"] == {"version": "marketing@1", "revision": 4}
    assert plan["change"] == "carried forward 4 strategies from marketing@1 r4; 2 need review"
    diff = sh("diff", "marketing@1", "marketing@2", "--json").json()
    assert (plan["diff"]["a"], plan["diff"]["b"]) == ("marketing@1", "marketing@2")
    assert plan["diff"]["transitions"] == diff["transitions"]
    assert plan["diff"]["common_customers"] == diff["common_customers"] == 69
    assert plan["diff"]["ari"] == pytest.approx(diff["ari"])
    assert plan["diff"]["fates"] == {str(s["segment"]): s["fate"] for s in diff["segments_a"]}
    assert [
        (e["strategy"], e["segments"], e["status"], e["carry"]["from"], e["carry"]["fate"])
        for e in plan["entries"]
    ] == [
        (e["strategy"], e["new_segments"], e["status"], "marketing@1", e["fate"])
        for e in proposal["strategies"]
    ]
    assert all(e["carry"]["from_revision"] == 4 for e in plan["entries"])

    text = sh("plan", "show", "marketing@2").out.splitlines()
    assert text[0].startswith("marketing@2 plan r1 (alice, ")
    assert "carried forward from marketing@1 r4" in text
    assert (
        f"justified by the diff marketing@1 -> marketing@2: 69 common customers, "
        f"ARI {diff['ari']:.3f}"
    ) in text
    history = sh("plan", "history", "marketing", "--json").json()
    assert history[-1]["carried_from"] == {"version": "marketing@1", "revision": 4}
    assert history[-1]["author"] == "alice"
    # The old plan is untouched.
    assert sh("plan", "show", "marketing@1", "--json").json() == old_plan


def test_why_shows_every_mapping_newest_first(sh: Runner) -> None:
    merge_plan(sh)
    sh("carry", "marketing@1", "marketing@2", "--apply")
    result = sh("why", "welcome-a", "--json").json()
    assert result["strategy"]["name"] == "welcome-a"
    newest, oldest = result["mappings"]
    assert (newest["version"], oldest["version"]) == ("marketing@2", "marketing@1")
    assert newest["at"] >= oldest["at"]
    assert newest["hypothesis"] == HYPOTHESES["marketing@2"]
    assert oldest["hypothesis"] == HYPOTHESES["marketing@1"]
    assert newest["dataset"] == oldest["dataset"] == "shop@1"
    assert (newest["status"], oldest["status"]) == ("needs-review", "active")
    assert newest["rationale"] == oldest["rationale"] == "A customers are new"
    assert (newest["segments"], oldest["segments"]) == ([0], [1])
    assert newest["carry"]["from"] == "marketing@1" and newest["carry"]["fate"] == "merged"
    assert oldest["carry"] is None

    text = sh("why", "welcome-a").out
    assert text.splitlines()[0] == "welcome-a: the welcome-a message (email, app), owner crm"
    blocks = re.split(r"\n(?=marketing@\d )", text)
    assert [b.split()[0] for b in blocks[1:]] == ["marketing@2", "marketing@1"]
    new_block, old_block = blocks[1], blocks[2]
    assert new_block.startswith("marketing@2 [draft] plan r1: needs-review on 0 ")
    assert f"  hypothesis: {HYPOTHESES['marketing@2']}" in new_block.splitlines()
    assert "  dataset: shop@1" in new_block.splitlines()
    assert "  rationale: A customers are new" in new_block.splitlines()
    assert (
        f"  carried from marketing@1 r4: {newest['carry']['explanation']}" in new_block.splitlines()
    )
    assert old_block.startswith("marketing@1 [draft] plan r4: active on 1 ")
    assert f"  hypothesis: {HYPOTHESES['marketing@1']}" in old_block.splitlines()
    assert "carried from" not in old_block


def test_why_segment_tells_its_story(sh: Runner, ws: Workspace) -> None:
    """`why --segment`: size, names and every plan revision that targeted it, newest first."""
    merge_plan(sh)
    sh("name", "marketing@1", "1", "New A customers")
    a = customers(ws, "marketing@1", [1])
    assert a == {f"A{i:02d}" for i in range(18)}  # segment 1 is group A (module docstring)
    result = sh("why", "--segment", "marketing@1:1", "--json").json()
    assert (result["version"], result["segment"], result["size"]) == ("marketing@1", 1, len(a))
    assert result["name"] == "New A customers"
    assert result["hypothesis"] == HYPOTHESES["marketing@1"]
    plans = [i for i in result["timeline"] if i["kind"] == "plan"]
    # four revisions; segment 1 is targeted by welcome-a (r1), bundle-ab (r2) and --all (r4)
    assert [p["title"].split(":")[0] for p in plans] == [f"plan revision {r}" for r in (4, 3, 2, 1)]
    assert plans[0]["strategies"] == ["welcome-a", "bundle-ab", "newsletter"]
    assert plans[-1]["strategies"] == ["welcome-a"]
    stamps = [i["at"] for i in result["timeline"]]
    assert stamps == sorted(stamps, reverse=True)

    text = sh("why", "--segment", "marketing@1:1").out.splitlines()
    assert text[0] == f"marketing@1 segment 1 “New A customers”: {len(a)} customers"
    assert f"  hypothesis: {HYPOTHESES['marketing@1']}" in text
    assert any(line.endswith("named “New A customers”") for line in text)
    assert "  targeted by welcome-a (active: A customers are new)" in text


def test_why_customer_across_lenses(sh: Runner, ws: Workspace) -> None:
    """`why --customer`: the customer's segment in every version that holds them, and the
    strategies of that version's plan that reach them."""
    merge_plan(sh)
    result = sh("why", "--customer", "A03", "--json").json()
    seen = {v["version"]: v for v in result["versions"]}
    expected = {ref: int(series(ws, ref)["A03"]) for ref in LABELS}
    assert {ref: v["segment"] for ref, v in seen.items()} == expected
    reached = [s["strategy"] for s in seen["marketing@1"]["strategies"]]
    assert reached == ["welcome-a", "bundle-ab", "newsletter"]
    assert seen["product@1"]["strategies"] == []
    gone = sh("why", "--customer", "D00", "--json").json()  # not in shop@2's versions
    assert "marketing@4" not in {v["version"] for v in gone["versions"]}

    text = sh("why", "--customer", "A03").out
    assert text.splitlines()[0] == "customer A03"
    assert "  strategies: welcome-a (active), bundle-ab (paused), newsletter (active)" in text


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "give one of: a strategy name, --segment LENS@N:SEGMENT, --customer ID"),
        (("welcome-a", "--customer", "A03"), "give one of: a strategy name"),
        (("--segment", "marketing@1"), "invalid --segment 'marketing@1': expected LENS@N:SEGMENT"),
        (("--segment", "marketing@1:x"), "invalid --segment 'marketing@1:x'"),
        (("--segment", "marketing@1:9"), "marketing@1 has no segment 9"),
        (("--customer", "nobody"), "no customer 'nobody' in any segmentation or campaign"),
    ],
)
def test_why_bad_input_is_one_line(
    cli: Runner, shop: Path, tree_hash: Callable, args: tuple, message: str
) -> None:
    before = tree_hash(shop)
    result = cli("why", *args, cwd=shop)
    assert result.code == 2
    assert result.err.startswith("error: ") and message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert tree_hash(shop) == before


# --- compare -------------------------------------------------------------------------------------


def test_compare_flags_customers_another_lens_rates_poor(sh: Runner, ws: Workspace) -> None:
    sh("tag", "product@1", "0", "fit=poor")
    sh("tag", "product@1", "2", "fit=good")
    sh("plan", "map", "welcome-a", "marketing@1", "-s", "1")  # A: all in product 0
    sh("plan", "map", "abc-push", "marketing@1", "-s", "0,2")  # D (poor) and B (not)
    sh("plan", "map", "newsletter", "marketing@1", "-s", "3")  # C: rated good, not poor
    sh("plan", "map", "d-loyalty", "marketing@1", "-s", "0", "--status", "paused")
    sh("adopt", "marketing@1")  # "marketing" now means marketing@1, not the newest @4

    marketing, product = series(ws, "marketing@1"), series(ws, "product@1")
    common = marketing.index.intersection(product.index)
    poor = set(product.index[product == 0])

    def reach(segments: list[int]) -> int:
        return len(customers(ws, "marketing@1", segments, among=common) & poor)

    assert (reach([1]), reach([0, 2]), reach([3])) == (18, 24, 0)

    result = sh("compare", "marketing", "product", "--flag", "fit=poor", "--json").json()
    assert (result["a"], result["b"]) == ("marketing@1", "product@1")
    flagged = {c["strategy"]: c["flagged_customers"] for c in result["complement"]}
    assert flagged == {"welcome-a": reach([1]), "abc-push": reach([0, 2]), "newsletter": 0}

    text = sh("compare", "marketing", "product", "--flag", "fit=poor").out
    warnings = [line.strip() for line in text.splitlines() if line.strip().startswith("!")]
    assert len(warnings) == 2
    assert warnings[0].startswith(
        f"! welcome-a reaches {reach([1])} customers that product rates fit=poor (segment 0 "
    )
    assert warnings[1].startswith(
        f"! abc-push reaches {reach([0, 2])} customers that product rates fit=poor (segment 0 "
    )
    assert "d-loyalty" not in text  # paused strategies land nowhere


def test_versions_without_common_customers(sh: Runner, shop: Path) -> None:
    """sales@1 is on other customers: nothing to match, scores are n/a, nothing is lost."""
    sh("plan", "map", "welcome-a", "sales@1", "-s", "0")
    sh("plan", "map", "newsletter", "sales@1", "--all")
    result = sh("carry", "sales@1", "marketing@1", "--json").json()
    assert (result["common_customers"], result["ari"]) == (0, None)
    assert [(e["strategy"], e["fate"], e["status"]) for e in result["strategies"]] == [
        ("welcome-a", "vanished", "needs-review"),
        ("newsletter", "all", "active"),
    ]
    text = sh("carry", "sales@1", "marketing@1").out
    assert text.splitlines()[0] == (
        "carry sales@1 (plan r2) -> marketing@1  (ARI n/a on 0 common customers)"
    )
    assert "needs review: welcome-a" in text.splitlines()
    assert sh("diff", "sales@1", "marketing@1").out.startswith(
        "sales@1 -> marketing@1: 0 customers in both, 20 only in A, 69 only in B; ARI n/a, NMI n/a"
    )
    compare = sh("compare", "sales@1", "marketing@1").out.splitlines()
    assert compare[0] == "sales@1 vs marketing@1: 0 common customers, ARI n/a, NMI n/a"
