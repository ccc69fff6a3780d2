"""The thread through the Python API, on real segmentations made by `ws.segment`:

- diff: A against itself is the identity; transitions count the common customers once; B
  against A is the transpose of A against B; all checked against counts taken directly from
  the two assignment series.
- carry forward of a re-clustering that only renumbers the segments moves every strategy onto
  exactly the same customers.
- nothing in the history is updated in place: after any sequence of plan and name changes,
  every past plan revision, the plan history and every name history read back as they were.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from threadpoolctl import threadpool_limits

from segtrail.errors import SegtrailError
from segtrail.services.workspace import Workspace

STRATEGIES = [f"s{i}" for i in range(6)]
STATUSES = ("active", "paused", "not-viable")
# Blob centres far apart on both axes (values straddle 0, so no log transform applies).
CENTRES = [(-50, -50), (50, 50), (-50, 50), (50, -50)]
_counter = itertools.count()


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # On a loaded 2-core machine OpenMP threads spin against each other: one k-means start
    # on 60 rows then takes ~25 ms instead of <1 ms. One thread keeps these tests fast.
    with threadpool_limits(1):
        yield


def ingest(ws: Workspace, frame: pd.DataFrame, name: str) -> str:
    """Write `frame` as CSV and ingest it; returns NAME@N."""
    folder = ws.root.parent / "data"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    d = ws.ingest(path, "customer_id", name=name)
    return f"{d['name']}@{d['version']}"


def new_workspace(root: Path, database_url: str | None) -> Workspace:
    ws = Workspace.init(root / "ws", author="tester", database_url=database_url)
    for s in STRATEGIES:
        ws.strategy_add(s, f"message of {s}", ["email"])
    return ws


def customers_of(series: pd.Series, labels: list[int] | str, among: pd.Index) -> set[str]:
    """Ids among `among` whose label is in `labels` (a list, or "all")."""
    series = series.loc[series.index.intersection(among)]
    if labels == "all":
        return set(series.index)
    return set(series.index[series.isin(labels)])


# --- diff ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def diff_ws(tmp_path_factory: pytest.TempPathFactory, databases) -> Iterator[Workspace]:
    ws = new_workspace(tmp_path_factory.mktemp("diff"), databases.new())
    yield ws
    ws.close()


@st.composite
def version_pairs(draw: st.DrawFn) -> dict:
    """Two random tables sharing some customers (maybe none), and how to segment each."""
    n = draw(st.integers(10, 40))
    common = draw(st.integers(0, n))
    extra = draw(st.integers(max(0, 8 - common), 12))
    features = st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=3, unique=True)
    return {
        "n": n,
        "common": common,
        "extra": extra,
        "data_seed": draw(st.integers(0, 2**32 - 1)),
        "a": {
            "k": draw(st.integers(2, 4)),
            "features": draw(features),
            "seed": draw(st.integers(0, 9)),
        },
        "b": {
            "k": draw(st.integers(2, 4)),
            "features": draw(features),
            "seed": draw(st.integers(0, 9)),
        },
    }


def random_table(rng: np.random.Generator, ids: list[str]) -> pd.DataFrame:
    n = len(ids)
    centre = rng.integers(0, 3, n)  # some structure, some noise
    return pd.DataFrame(
        {
            "customer_id": ids,
            "x": (centre * 3 + rng.normal(0, 1, n)).round(3),
            "y": rng.normal(0, 1, n).round(3),
            "z": (rng.integers(0, 2, n) * 5 + rng.normal(0, 1, n)).round(3),
        }
    )


@given(case=version_pairs())
@settings(max_examples=12, deadline=None)
def test_diff_identity_sum_and_transpose(diff_ws: Workspace, case: dict) -> None:
    ws, tag = diff_ws, next(_counter)
    rng = np.random.default_rng(case["data_seed"])
    ids_a = [f"C{i:03d}" for i in range(case["n"])]
    kept = list(rng.permutation(ids_a)[: case["common"]])
    ids_b = kept + [f"N{i:03d}" for i in range(case["extra"])]
    data_a = ingest(ws, random_table(rng, ids_a), f"da{tag}")
    data_b = ingest(ws, random_table(rng, ids_b), f"db{tag}")
    lens = f"lens{tag}"
    va = ws.segment(data_a, lens, "version A", **case["a"])["version"]
    vb = ws.segment(data_b, lens, "version B", **case["b"])["version"]
    a, b = ws.assignments(va), ws.assignments(vb)

    # A against itself: every customer stays, every segment is kept, ARI and NMI are 1.
    same = ws.diff(va, va)
    assert (same["common_customers"], same["only_in_a"], same["only_in_b"]) == (len(a), 0, 0)
    assert same["ari"] == pytest.approx(1.0) and same["nmi"] == pytest.approx(1.0)
    sizes = a.value_counts().to_dict()
    assert {(t["from"], t["to"]): t["customers"] for t in same["transitions"]} == {
        (s, s): n for s, n in sizes.items()
    }
    assert {s["fate"] for s in same["segments_a"]} == {"kept"}

    # A against B: transitions are the crosstab of the two series on the common customers.
    ab, ba = ws.diff(va, vb), ws.diff(vb, va)
    common = a.index.intersection(b.index)
    assert ab["common_customers"] == len(common) == case["common"]
    assert sum(t["customers"] for t in ab["transitions"]) == ab["common_customers"]
    assert (ab["only_in_a"], ab["only_in_b"]) == (len(a) - len(common), len(b) - len(common))
    pairs = pd.DataFrame({"a": a.loc[common].to_numpy(), "b": b.loc[common].to_numpy()})
    expected = pairs.value_counts().to_dict()
    assert {(t["from"], t["to"]): t["customers"] for t in ab["transitions"]} == expected
    assert all(t["customers"] > 0 for t in ab["transitions"])
    if len(common):
        assert ab["ari"] == pytest.approx(adjusted_rand_score(pairs["a"], pairs["b"]))
        assert ab["nmi"] == pytest.approx(normalized_mutual_info_score(pairs["a"], pairs["b"]))
    else:
        assert ab["ari"] is None and ab["nmi"] is None

    # B against A is the transpose, with the same scores and the same best matches.
    assert {(t["to"], t["from"]): t["customers"] for t in ba["transitions"]} == expected
    assert ba["common_customers"] == ab["common_customers"]
    assert (ba["only_in_a"], ba["only_in_b"]) == (ab["only_in_b"], ab["only_in_a"])
    assert ba["ari"] == pytest.approx(ab["ari"]) and ba["nmi"] == pytest.approx(ab["nmi"])
    assert (ba["a"], ba["b"]) == (ab["b"], ab["a"])
    match = {s["segment"]: (s["best_match"], s["jaccard"]) for s in ab["segments_b"]}
    assert {s["segment"]: (s["best_match"], s["jaccard"]) for s in ba["segments_a"]} == match


# --- carry forward of a pure renumbering ---------------------------------------------------


@pytest.fixture(scope="module")
def carry_ws(tmp_path_factory: pytest.TempPathFactory, databases) -> Iterator[Workspace]:
    ws = new_workspace(tmp_path_factory.mktemp("carry"), databases.new())
    yield ws
    ws.close()


@st.composite
def renumberings(draw: st.DrawFn) -> dict:
    """Well separated blobs; B holds the same customers with the same values plus new
    customers in some blobs, which changes the size order and so the label numbers."""
    groups = draw(st.integers(2, 4))
    segments = st.one_of(
        st.just("all"),
        st.lists(st.integers(0, groups - 1), min_size=1, max_size=groups, unique=True),
    )
    plan = draw(st.lists(st.tuples(segments, st.sampled_from(STATUSES)), min_size=1, max_size=4))
    return {
        "sizes": draw(st.lists(st.integers(3, 12), min_size=groups, max_size=groups)),
        "extras": draw(st.lists(st.integers(0, 12), min_size=groups, max_size=groups)),
        "swap": draw(st.booleans()),
        "seeds": (draw(st.integers(0, 9)), draw(st.integers(0, 9))),
        "data_seed": draw(st.integers(0, 2**32 - 1)),
        "plan": plan,
    }


def blobs(rng: np.random.Generator, sizes: list[int], prefix: str) -> pd.DataFrame:
    frames = []
    for g, n in enumerate(sizes):
        cx, cy = CENTRES[g]
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"{prefix}{g}-{i:02d}" for i in range(n)],
                    "x": (cx + rng.normal(0, 1, n)).round(3),
                    "y": (cy + rng.normal(0, 1, n)).round(3),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def carry_renumbered(ws: Workspace, case: dict) -> dict[int, int]:
    """Segment A and its renumbered twin B, map the plan on A, carry it with --apply, check
    every strategy reaches exactly the same customers; returns the label permutation."""
    tag, rng = next(_counter), np.random.default_rng(case["data_seed"])
    table_a = blobs(rng, case["sizes"], "C")
    table_b = pd.concat([table_a, blobs(rng, case["extras"], "N")], ignore_index=True)
    data_a = ingest(ws, table_a.sample(frac=1, random_state=rng), f"pa{tag}")
    data_b = ingest(ws, table_b.sample(frac=1, random_state=rng), f"pb{tag}")
    k, lens = len(case["sizes"]), f"perm{tag}"
    va = ws.segment(data_a, lens, "blobs", k=k, features=["x", "y"], seed=case["seeds"][0])
    vb = ws.segment(
        data_b,
        lens,
        "blobs again",
        k=k,
        features=["y", "x"] if case["swap"] else ["x", "y"],
        seed=case["seeds"][1],
    )
    va, vb = va["version"], vb["version"]
    a, b = ws.assignments(va), ws.assignments(vb)

    # The premise, checked through the diff: B is A with its labels renumbered.
    delta = ws.diff(va, vb)
    permutation = {t["from"]: t["to"] for t in delta["transitions"]}
    assert len(delta["transitions"]) == k and sorted(permutation.values()) == list(range(k))
    assert delta["ari"] == pytest.approx(1.0)

    for name, (segments, status) in zip(STRATEGIES, case["plan"], strict=False):
        ws.plan_map(name, va, segments, status=status, rationale=f"why {name}")
    old = ws.plan_show(va)
    result = ws.carry(va, vb, apply=True)
    assert result["applied"] and result["needs_review"] == []
    assert len(result["strategies"]) == len(old["entries"])
    common = a.index.intersection(b.index)
    assert len(common) == len(a)
    for entry, before in zip(result["strategies"], old["entries"], strict=True):
        assert entry["strategy"] == before["strategy"]
        assert entry["old_segments"] == before["segments"]
        assert entry["status"] == before["status"] and entry["rationale"] == before["rationale"]
        assert entry["fate"] == ("all" if before["segments"] == "all" else "kept")
        assert customers_of(b, entry["new_segments"], common) == customers_of(
            a, before["segments"], common
        )
        assert entry["retained_share"] == 1.0

    recorded = ws.plan_show(vb)
    assert recorded["carried_from"] == {"version": va, "revision": old["revision"]}
    assert [(e["strategy"], e["segments"], e["status"]) for e in recorded["entries"]] == [
        (e["strategy"], e["new_segments"], e["status"]) for e in result["strategies"]
    ]
    assert recorded["diff"]["transitions"] == delta["transitions"]
    return permutation


@given(case=renumberings())
@settings(max_examples=12, deadline=None)
def test_carry_of_a_renumbering_keeps_every_audience(carry_ws: Workspace, case: dict) -> None:
    carry_renumbered(carry_ws, case)


def test_carry_follows_swapped_labels(carry_ws: Workspace) -> None:
    """Blob 1 grows past blob 0 in B, so their labels swap; strategies follow the customers."""
    case = {
        "sizes": [10, 5, 3],
        "extras": [0, 10, 0],
        "swap": False,
        "seeds": (0, 0),
        "data_seed": 1,
        "plan": [([0], "active"), ([1, 2], "paused"), ("all", "active")],
    }
    assert carry_renumbered(carry_ws, case) == {0: 1, 1: 0, 2: 2}


# --- append-only history ---------------------------------------------------------------------

HISTORY_REFS = ("m@1", "m@2")
HISTORY_K = {"m@1": 3, "m@2": 2}


@pytest.fixture(scope="module")
def history_base(tmp_path_factory: pytest.TempPathFactory, databases) -> Path:
    """A workspace with two versions of lens m (3 and 2 segments) and the strategies."""
    ws = new_workspace(tmp_path_factory.mktemp("history-base"), databases.new())
    data = ingest(ws, blobs(np.random.default_rng(3), [9, 7, 5], "C"), "people")
    ws.segment(data, "m", "three blobs", k=3, features=["x", "y"])
    ws.segment(data, "m", "x only", k=2, features=["x"])
    ws.close()
    return ws.root


NAMES = st.text("abcdefgh XYZ-", min_size=1, max_size=10).filter(lambda s: s.strip() == s != "")


def map_ops(refs: tuple[str, ...]) -> st.SearchStrategy[tuple]:
    return st.tuples(
        st.just("map"),
        st.sampled_from(STRATEGIES[:3]),
        st.sampled_from(refs),
        st.one_of(st.just("all"), st.lists(st.integers(0, 5), min_size=1, max_size=3)),
        st.sampled_from(STATUSES),
        st.one_of(st.none(), NAMES),
    )


OPS = st.one_of(
    map_ops(HISTORY_REFS),
    st.tuples(st.just("unmap"), st.sampled_from(STRATEGIES[:3]), st.sampled_from(HISTORY_REFS)),
    st.tuples(st.just("name"), st.sampled_from(HISTORY_REFS), st.integers(0, 5), NAMES),
    st.tuples(st.just("carry"), st.sampled_from([HISTORY_REFS, HISTORY_REFS[::-1]])),
)
# Both versions start with a plan, so unmap and carry usually have something to act on.
SEQUENCES = st.builds(
    lambda first, second, rest: [first, second, *rest],
    map_ops(HISTORY_REFS[:1]),
    map_ops(HISTORY_REFS[1:]),
    st.lists(OPS, min_size=1, max_size=8),
)


def snapshot(ws: Workspace) -> dict:
    """Everything the history can show: every plan revision, the plan history, every name
    history."""
    plans, names = {}, {}
    for ref in HISTORY_REFS:
        for r in range(1, ws.plan_show(ref)["revision"] + 1):
            plans[(ref, r)] = ws.plan_show(ref, revision=r)
        for seg in ws.show(ref)["segments"]:
            names[(ref, seg["segment"])] = seg["name_history"]
    return {"plans": plans, "history": ws.plan_history("m"), "names": names}


def apply_op(ws: Workspace, op: tuple) -> tuple[bool, int]:
    """Run one operation. Returns (whether it wrote a plan revision, how many names it
    added). A refused operation (bad input) and a re-map that changes nothing write
    neither; carry --apply may also carry names onto the segments it keeps."""
    kind = op[0]
    try:
        if kind == "map":
            _, strategy, ref, segments, status, rationale = op
            if segments != "all":
                segments = [s % HISTORY_K[ref] for s in segments]
            state = ws.plan_map(strategy, ref, segments, status=status, rationale=rationale)
            return not state.get("unchanged"), 0
        if kind == "unmap":
            ws.plan_unmap(op[1], op[2])
            return True, 0
        if kind == "name":
            _, ref, segment, name = op
            ws.name(ref, segment % HISTORY_K[ref], name, description=f"about {name}")
            return False, 1
        carried = ws.carry(*op[1], apply=True)
        named = carried["names"]["inherited"]
        return True, sum(1 for n in named if n["name"] is not None)
    except SegtrailError:
        return False, 0


@given(ops=SEQUENCES)
@settings(max_examples=15, deadline=None)
def test_history_is_never_updated_in_place(
    history_base: Path, tmp_path_factory: pytest.TempPathFactory, databases, ops: list[tuple]
) -> None:
    root = databases.copy_workspace(history_base, tmp_path_factory.mktemp("history"))
    ws = Workspace.open(root, author="tester")
    try:
        snapshots = [snapshot(ws)]
        for op in ops:
            plan_change, names_added = apply_op(ws, op)
            event(f"{op[0]} {'changed the plan' if plan_change else 'left the plan'}")
            after = snapshot(ws)
            before = snapshots[-1]
            # Each plan change adds exactly one plan revision; each name one name row.
            assert len(after["history"]) == len(before["history"]) + plan_change
            assert len(after["plans"]) == len(before["plans"]) + plan_change
            renamed = sum(len(h) for h in after["names"].values()) - sum(
                len(h) for h in before["names"].values()
            )
            assert renamed == names_added
            snapshots.append(after)
        final = snapshot(ws)
        for snap in snapshots:
            for key, plan in snap["plans"].items():
                assert final["plans"][key] == plan, key
            assert final["history"][: len(snap["history"])] == snap["history"]
            for key, history in snap["names"].items():
                assert final["names"][key][: len(history)] == history, key
    finally:
        ws.close()
