"""Segmentation versions through the Python API: reproducible, ordered by size, complete,
append-only (names, tags, statuses are events), revisitable on newer data, exportable, and
usable on new customers; a refused command leaves the workspace byte-for-byte as it was.

Data: 2,000 customers of the built-in sample (`generate_customers`), six planted segments.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segtrail
from segtrail.engine.algorithms import REGISTRY
from segtrail.engine.sample import generate_customers
from segtrail.errors import InputError, NotFound, SegtrailError
from segtrail.services import segmentations
from segtrail.services.workspace import Workspace

AUTHOR = "tester"
N = 2_000
HYPOTHESIS = "Spend and app use split customers; we expect young app users and lapsed buyers."
NUMERIC = [
    "age",
    "tenure_months",
    "annual_spend",
    "orders_per_year",
    "app_sessions_per_month",
    "email_open_rate",
    "days_since_last_order",
]
MIXED = [*NUMERIC, "preferred_channel", "newsletter_subscriber", "signup_date"]
EXPORT_COLUMNS = ["customer_id", "segment", "segment_name", "distance_to_centre", "confidence"]
# Property tests: few examples (each one clusters 2,000 customers), no deadline.
# k-means on few distinct customers (one boolean feature) warns that it found fewer
# clusters than asked; the version's notes say so (tested below).
CONVERGENCE = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
PROPERTY = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """customers.csv (2,000 sample customers) and customers_v2.csv (a later export: other
    customers, more of them)."""
    root = tmp_path_factory.mktemp("segdata")
    frame, _ = generate_customers(N, seed=7)
    frame.to_csv(root / "customers.csv", index=False)
    later, _ = generate_customers(N + 250, seed=8)
    later.to_csv(root / "customers_v2.csv", index=False)
    return root


def new_workspace(root: Path, data: Path, database_url: str | None) -> Workspace:
    ws = Workspace.init(root, author=AUTHOR, database_url=database_url)
    ws.ingest(data / "customers.csv", "customer_id", name="customers")
    return ws


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, data: Path, databases) -> Iterator[Workspace]:
    """marketing@1 (automatic k over 2..6, seed 11) and marketing@2 (k=4). Tests that change
    state use lenses of their own."""
    workspace = new_workspace(tmp_path_factory.mktemp("ws"), data, databases.new())
    workspace.segment(
        "customers",
        "marketing",
        HYPOTHESIS,
        k="auto",
        k_range=(2, 6),
        seed=11,
        algorithm="kmeans",
    )
    workspace.segment("customers", "marketing", HYPOTHESIS, k=4, algorithm="kmeans")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def other_ws(
    tmp_path_factory: pytest.TempPathFactory, data: Path, databases
) -> Iterator[Workspace]:
    """A second, independent workspace holding the same dataset."""
    workspace = new_workspace(tmp_path_factory.mktemp("other"), data, databases.new())
    yield workspace
    workspace.close()


def fast(**options) -> dict:
    """Options for a quick version: a few numeric features, fixed k."""
    return {"features": ["age", "annual_spend", "app_sessions_per_month"], "k": 3, **options}


def usable_columns(ws: Workspace, dataset: str) -> list[str]:
    kinds = {c["name"]: c["kind"] for c in ws.dataset(dataset)["columns"]}
    return [
        c for c, kind in kinds.items() if kind in ("numeric", "categorical", "boolean", "datetime")
    ]


def sizes(assignments: pd.Series) -> list[int]:
    """Customers per segment 0, 1, ... (noise -1 left out)."""
    counts = assignments[assignments >= 0].value_counts()
    return [int(counts[s]) for s in sorted(counts.index)]


# --- properties ---------------------------------------------------------------------------


@PROPERTY
@given(
    seed=st.integers(0, segmentations.MAX_SEED),
    k=st.one_of(st.just("auto"), st.integers(2, 6)),
    columns=st.lists(st.sampled_from(MIXED), min_size=2, max_size=5, unique=True),
)
def test_same_inputs_give_the_same_version(
    ws: Workspace, other_ws: Workspace, seed: int, k: int | str, columns: list[str]
) -> None:
    """Reference: determinism (a version is reproducible from its recorded inputs): the same
    request twice in one workspace and once in another must record the same version."""
    options = {"features": columns, "k": k, "k_range": (2, 5), "seed": seed}
    a = ws.segment("customers", "determinism", HYPOTHESIS, **options)
    b = ws.segment("customers", "determinism", HYPOTHESIS, **options)
    c = other_ws.segment("customers", "determinism", HYPOTHESIS, **options)
    assert a["version"] != b["version"]
    expected = ws.assignments(a["version"])
    assert len(expected) == N
    pd.testing.assert_series_equal(ws.assignments(b["version"]), expected)
    pd.testing.assert_series_equal(other_ws.assignments(c["version"]), expected)
    # the stored objects (ids, labels, confidences; fitted centres) are identical bytes
    assert a["assignments"] == b["assignments"] == c["assignments"]
    assert a["fitted_state"] == b["fitted_state"] == c["fitted_state"]
    for key in ("k", "parameters", "metrics", "features", "profiles"):
        assert a[key] == b[key] == c[key], key


def registered(*names: str) -> list:
    """Algorithm names as parameters, each skipped while it is not in the registry."""
    return [
        pytest.param(
            name,
            marks=pytest.mark.skipif(name not in REGISTRY, reason=f"{name} not registered yet"),
        )
        for name in names
    ]


@pytest.mark.parametrize("algorithm", registered("gmm", "agglomerative", "dbscan", "hdbscan"))
def test_other_algorithms_are_reproducible(
    ws: Workspace, other_ws: Workspace, algorithm: str
) -> None:
    options = {"algorithm": algorithm, "features": MIXED[:6], "seed": 5}
    a = ws.segment("customers", f"repro-{algorithm}", HYPOTHESIS, **options)
    b = other_ws.segment("customers", f"repro-{algorithm}", HYPOTHESIS, **options)
    pd.testing.assert_series_equal(ws.assignments(a["version"]), other_ws.assignments(b["version"]))
    assert (a["assignments"], a["fitted_state"]) == (b["assignments"], b["fitted_state"])
    for key in ("k", "parameters", "metrics", "profiles"):
        assert a[key] == b[key], key


@pytest.mark.parametrize(
    "algorithm", registered("kmeans", "gmm", "agglomerative", "dbscan", "hdbscan")
)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 1_000),
    k=st.integers(2, 6),
    columns=st.lists(st.sampled_from(MIXED), min_size=2, max_size=6, unique=True),
)
def test_segment_zero_is_the_largest(
    ws: Workspace, algorithm: str, seed: int, k: int, columns: list[str]
) -> None:
    """Reference: the sizes counted here from the stored assignments, which must not grow
    with the segment number, for every algorithm."""
    takes_k = REGISTRY[algorithm].takes_k
    result = ws.segment(
        "customers",
        f"order-{algorithm}",
        HYPOTHESIS,
        algorithm=algorithm,
        features=columns,
        k=k if takes_k else "auto",
        seed=seed,
    )
    assignments = ws.assignments(result["version"])
    labels = set(assignments.unique().tolist())
    assert labels - {-1} == set(range(result["k"]))  # 0..k-1, none empty, noise aside
    counts = sizes(assignments)
    assert counts == sorted(counts, reverse=True)
    if takes_k and algorithm == "gmm" and result["k"] < k:
        # a mixture component can end up owning no customer; the version must say so
        assert any(f"k={k} was asked, but only {result['k']}" in n for n in result["notes"])
    elif takes_k:
        assert result["k"] == k
    shown = [(s["segment"], s["size"]) for s in result["segments"] if s["segment"] >= 0]
    assert shown == list(enumerate(counts))


@CONVERGENCE
@PROPERTY
@given(
    seed=st.integers(0, segmentations.MAX_SEED),
    k=st.integers(2, 7),
    columns=st.lists(st.sampled_from(MIXED), min_size=1, max_size=6, unique=True),
)
def test_assign_puts_training_customers_back_in_their_segments(
    ws: Workspace, data: Path, seed: int, k: int, columns: list[str]
) -> None:
    """Reference: the assignments the version stored when it was fitted; `assign` (the
    stored model applied to the file read again) must put each fitted customer back there."""
    ref = ws.segment("customers", "assign-back", HYPOTHESIS, features=columns, k=k, seed=seed)[
        "version"
    ]
    out = ws.root.parent / "assigned.parquet"
    result = ws.assign(ref, data / "customers.csv", out)
    assigned = pq.read_table(out).to_pandas().set_index("customer_id")
    own = ws.assignments(ref)
    assert result["rows"] == N
    assert (assigned["segment"].reindex(own.index).to_numpy() == own.to_numpy()).all()
    exported = ws.root.parent / "exported.parquet"
    ws.export(ref, exported)
    confidence = pq.read_table(exported).to_pandas().set_index("customer_id")["confidence"]
    np.testing.assert_allclose(
        assigned["confidence"].reindex(confidence.index), confidence, rtol=1e-3, atol=1e-4
    )


# --- what a version records -----------------------------------------------------------------


def test_a_version_records_everything(ws: Workspace) -> None:
    v = ws.show("marketing@1")
    assert (v["version"], v["lens"], v["number"], v["parent"]) == (
        "marketing@1",
        "marketing",
        1,
        None,
    )
    assert v["dataset"] == "customers@1"
    assert v["hypothesis"] == HYPOTHESIS
    assert v["algorithm"] == "kmeans"
    assert v["seed"] == 11
    assert v["author"] == AUTHOR
    created = datetime.fromisoformat(v["created_at"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - created) < timedelta(hours=1)
    assert v["segtrail_version"] == segtrail.__version__
    assert v["status"] == "draft"
    # feature spec: every usable column (not the id, not the free-text email), each with
    # its transform and weight
    assert [f["column"] for f in v["features"]] == usable_columns(ws, "customers")
    assert "email" not in [f["column"] for f in v["features"]]
    assert all(f["transform"] and f["weight"] == 1.0 for f in v["features"])
    # every parameter actually used, including the chosen k
    k = v["k"]
    assert v["request"]["params"]["k"] == "auto"
    assert v["request"]["params"]["k_range"] == [2, 6]
    assert v["parameters"]["k"] == k
    assert {"n_init", "max_iter"} <= set(v["parameters"])
    # metrics: quality, the whole k curve, stability per segment
    selection = v["metrics"]["k_selection"]
    assert [row["k"] for row in selection["curve"]] == [2, 3, 4, 5, 6]
    assert all(row["inertia"] > 0 and row["silhouette"] is not None for row in selection["curve"])
    assert selection["chosen_k"] == k and selection["rule"]
    quality = v["metrics"]["quality"]
    assert quality["customers"] == N
    assert -1 <= quality["silhouette"] <= 1
    assert quality["calinski_harabasz"] > 0 and quality["davies_bouldin"] > 0
    stability = v["metrics"]["stability"]
    assert stability["n_boot"] > 0 and stability["ari_mean"] is not None
    assert set(stability["jaccard"]) == {str(s) for s in range(k)}
    for segment in v["segments"]:
        jaccard = stability["jaccard"][str(segment["segment"])]
        assert 0 <= jaccard <= 1 and segment["stability"] == jaccard
    # assignments and fitted state are stored objects; profiles cover every segment
    assignments = ws.assignments("marketing@1")
    ids = ws.dataset_frame("customers")["customer_id"]
    assert assignments.index.is_unique and set(assignments.index) == set(ids)
    assert ws.objects.path(v["assignments"]).is_file()
    centres = ws.objects.read_arrays(v["fitted_state"])["centres"]
    assert centres.shape[0] == k
    assert [s["segment"] for s in v["segments"]] == list(range(k))
    assert [s["size"] for s in v["segments"]] == sizes(assignments)
    assert sum(s["size"] for s in v["segments"]) == N
    assert all(s["name"] and s["description"] for s in v["segments"])
    assert len(v["profiles"]["segments"]) == k


def test_a_fixed_k_version(ws: Workspace) -> None:
    v = ws.show("marketing@2")
    assert v["k"] == 4 and v["parameters"]["k"] == 4 and v["request"]["params"]["k"] == 4
    assert v["metrics"]["k_selection"] is None
    assert len(v["segments"]) == 4
    assert set(ws.assignments("marketing@2").unique()) == {0, 1, 2, 3}
    assert v["parent"] == "marketing@1"


@CONVERGENCE
def test_fewer_segments_than_asked_are_explained(ws: Workspace) -> None:
    """One boolean feature holds two distinct customers' worth of values: k=5 cannot give
    five segments, and the version says so instead of silently recording k=2."""
    v = ws.segment("customers", "degenerate", HYPOTHESIS, features=["newsletter_subscriber"], k=5)
    assert v["k"] == 2 and len(v["segments"]) == 2
    assert any("k=5 was asked, but only 2 segments" in note for note in v["notes"])


def test_features_exclude_and_weights_are_recorded(ws: Workspace) -> None:
    v = ws.segment(
        "customers",
        "spec",
        HYPOTHESIS,
        features=["age", "annual_spend", "preferred_channel"],
        weights={"age": 2.5},
        k=3,
    )
    assert [(f["column"], f["weight"]) for f in v["features"]] == [
        ("age", 2.5),
        ("annual_spend", 1.0),
        ("preferred_channel", 1.0),
    ]
    assert v["request"]["weights"] == {"age": 2.5}
    excluded = ws.segment("customers", "spec", HYPOTHESIS, exclude=["region", "signup_date"], k=3)
    expected = [c for c in usable_columns(ws, "customers") if c not in ("region", "signup_date")]
    assert [f["column"] for f in excluded["features"]] == expected


def test_versions_count_up_per_lens_with_parents(ws: Workspace) -> None:
    first = ws.segment("customers", "lineage", HYPOTHESIS, **fast())
    second = ws.segment("customers", "lineage", HYPOTHESIS, **fast())
    branch = ws.segment("customers", "lineage", HYPOTHESIS, parent="lineage@1", **fast())
    after = ws.segment("customers", "lineage", HYPOTHESIS, **fast())
    other = ws.segment("customers", "lineage-other", HYPOTHESIS, **fast())
    assert [v["version"] for v in (first, second, branch, after, other)] == [
        "lineage@1",
        "lineage@2",
        "lineage@3",
        "lineage@4",
        "lineage-other@1",
    ]
    # default parent: the lens's newest version
    assert [v["parent"] for v in (first, second, branch, after, other)] == [
        None,
        "lineage@1",
        "lineage@1",
        "lineage@3",
        None,
    ]
    log = ws.log("lineage")
    assert [(r["version"], r["parent"]) for r in log] == [
        ("lineage@4", "lineage@3"),
        ("lineage@3", "lineage@1"),
        ("lineage@2", "lineage@1"),
        ("lineage@1", None),
    ]
    events = [e for e in ws.events() if e["subject"].startswith("lineage@")]
    assert {e["subject"]: e["details"]["parent"] for e in events} == {
        "lineage@1": None,
        "lineage@2": "lineage@1",
        "lineage@3": "lineage@1",
        "lineage@4": "lineage@3",
    }


# --- names, tags, statuses ------------------------------------------------------------------


def test_names_tags_and_statuses_are_events(ws: Workspace) -> None:
    one = ws.segment("customers", "annot", HYPOTHESIS, **fast())["version"]
    two = ws.segment("customers", "annot", HYPOTHESIS, **fast(seed=1))["version"]
    auto_name = ws.show(one)["segments"][0]["name"]

    assert ws.name(one, 0, "App natives")["previous"] == auto_name
    ws.name(one, 0, "Young app natives", "under 30, daily app sessions")
    ws.tag(one, 1, "fit", "poor")
    ws.tag(one, 2, "fit", "good")
    ws.tag(one, 2, "fit", None)  # removes it
    v = ws.show(one)
    segment = v["segments"][0]
    assert segment["name"] == "Young app natives"
    assert segment["description"] == "under 30, daily app sessions"
    assert segment["auto_name"] == auto_name
    history = segment["name_history"]
    assert [h["name"] for h in history] == [auto_name, "App natives", "Young app natives"]
    assert [h["automatic"] for h in history] == [True, False, False]
    assert all(h["author"] == AUTHOR for h in history)
    assert [s["tags"] for s in v["segments"]] == [{}, {"fit": "poor"}, {}]

    # lens alone: the newest version while none is adopted, then the adopted one
    assert ws.show("annot")["version"] == two
    assert ws.adopt(one)["superseded"] is None
    assert ws.show("annot")["version"] == one
    assert ws.adopt(two)["superseded"] == one
    assert ws.show("annot")["version"] == two
    first = ws.show(one)
    assert first["status"] == "superseded"
    assert [h["status"] for h in first["status_history"]] == ["draft", "adopted", "superseded"]
    assert ws.retire(one)["previous"] == "superseded"
    assert ws.show(one)["status"] == "retired"
    assert ws.show(two)["status"] == "adopted"
    assert {r["version"]: r["status"] for r in ws.log("annot")} == {
        one: "retired",
        two: "adopted",
    }

    events = [
        (e["action"], e["subject"])
        for e in reversed(ws.events())
        if e["subject"].startswith("annot@")
    ]
    assert events == [
        ("segment", one),
        ("segment", two),
        ("name", f"{one}:0"),
        ("name", f"{one}:0"),
        ("tag", f"{one}:1"),
        ("tag", f"{one}:2"),
        ("tag", f"{one}:2"),
        ("adopt", one),
        ("adopt", two),
        ("retire", one),
    ]
    assert all(e["author"] == AUTHOR for e in ws.events() if e["subject"].startswith("annot@"))


def test_annotation_mistakes_change_nothing(ws: Workspace, tree_hash) -> None:
    ref = ws.segment("customers", "mistakes", HYPOTHESIS, **fast())["version"]
    ws.adopt(ref)
    before = tree_hash(ws.root)
    mistakes = [
        (lambda: ws.name(ref, 9, "x"), SegtrailError, "no segment 9"),
        (lambda: ws.name(ref, 0, "   "), SegtrailError, "empty"),
        (lambda: ws.name("mistakes@7", 0, "x"), NotFound, "mistakes@7"),
        (lambda: ws.tag(ref, -1, "fit", "poor"), SegtrailError, "no segment -1"),
        (lambda: ws.tag(ref, 0, " ", "poor"), SegtrailError, "key"),
        (lambda: ws.adopt(ref), SegtrailError, "already adopted"),
        (lambda: ws.retire("nolens@1"), NotFound, "nolens@1"),
        (lambda: ws.show("mistakes@2"), NotFound, "mistakes@2"),
    ]
    for action, error, words in mistakes:
        with pytest.raises(error) as caught:
            action()
        assert words in str(caught.value) and "\n" not in str(caught.value)
    assert tree_hash(ws.root) == before


# --- revisit ------------------------------------------------------------------------------


def test_revisit_runs_the_same_hypothesis_on_newer_data(ws: Workspace, data: Path) -> None:
    ws.ingest(data / "customers.csv", "customer_id", name="shop")
    old = ws.segment(
        "shop", "revisit", HYPOTHESIS, features=NUMERIC, weights={"age": 2.0}, k=5, seed=9
    )
    old_assignments = ws.assignments(old["version"])
    assert ws.ingest(data / "customers_v2.csv", "customer_id", name="shop")["dataset"] == "shop@2"

    new = ws.revisit(old["version"])
    assert new["version"] == "revisit@2" and new["parent"] == old["version"]
    assert new["dataset"] == "shop@2"
    for key in ("request", "seed", "algorithm", "k"):
        assert new[key] == old[key], key
    assert [(f["column"], f["weight"]) for f in new["features"]] == [
        (f["column"], f["weight"]) for f in old["features"]
    ]
    assert old["hypothesis"] in new["hypothesis"]
    assert len(ws.assignments(new["version"])) == N + 250
    event = next(e for e in ws.events() if e["subject"] == new["version"])
    assert (event["action"], event["details"]["parent"]) == ("revisit", old["version"])
    # the old version is untouched
    pd.testing.assert_series_equal(ws.assignments(old["version"]), old_assignments)
    assert ws.show(old["version"])["dataset"] == "shop@1"
    # an explicit dataset version and hypothesis
    again = ws.revisit(old["version"], "shop@1", hypothesis="same data, same result?")
    assert (again["dataset"], again["hypothesis"]) == ("shop@1", "same data, same result?")
    pd.testing.assert_series_equal(ws.assignments(again["version"]), old_assignments)


# --- export and assign ----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_has_every_customer_once(ws: Workspace, tmp_path: Path, suffix: str) -> None:
    ref = ws.segment("customers", "export", HYPOTHESIS, **fast())["version"]
    ws.name(ref, 1, "Renamed, with a comma")
    out = tmp_path / f"segments{suffix}"
    result = ws.export(ref, out)
    frame = (
        pd.read_csv(out, dtype={"customer_id": str})
        if suffix == ".csv"
        else pq.read_table(out).to_pandas()
    )
    assert list(frame.columns) == EXPORT_COLUMNS
    assert result["rows"] == len(frame) == N
    assert frame["customer_id"].is_unique
    assert set(frame["customer_id"]) == set(ws.dataset_frame("customers")["customer_id"])
    own = ws.assignments(ref)
    assert (frame.set_index("customer_id")["segment"].reindex(own.index) == own).all()
    names = {s["segment"]: s["name"] for s in ws.show(ref)["segments"]}
    assert names[1] == "Renamed, with a comma"
    assert (frame["segment_name"] == frame["segment"].map(names)).all()
    assert (frame["confidence"] >= 0).all()
    event = ws.events(1)[0]
    assert (event["action"], event["subject"]) == ("export", ref)


def test_assign_accepts_extra_and_reordered_columns(ws: Workspace, tmp_path: Path) -> None:
    frame = ws.dataset_frame("customers").sample(frac=0.25, random_state=1)
    shuffled = frame[list(reversed(frame.columns))].assign(notes="called twice")
    shuffled.to_csv(tmp_path / "new.csv", index=False)
    result = ws.assign("marketing@2", tmp_path / "new.csv", tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv", dtype={"customer_id": str})
    assert list(out.columns) == EXPORT_COLUMNS
    assert list(out["customer_id"]) == list(frame["customer_id"])  # input order kept
    own = ws.assignments("marketing@2")
    assert (out["segment"].to_numpy() == own.reindex(out["customer_id"]).to_numpy()).all()
    assert result["rows"] == len(frame)
    assert sum(result["segments"].values()) == len(frame)


def test_assign_keeps_ids_as_written(tmp_path: Path, database_url: str | None) -> None:
    """Ids such as '00042' stay text in the output, as in the dataset and in export."""
    frame, _ = generate_customers(300, seed=3)
    frame["customer_id"] = [f"{i:05d}" for i in range(300)]
    frame.to_csv(tmp_path / "zeros.csv", index=False)
    with Workspace.init(tmp_path / "ws", author=AUTHOR, database_url=database_url) as ws:
        ws.ingest(tmp_path / "zeros.csv", "customer_id")
        ref = ws.segment("zeros", "ids", HYPOTHESIS, **fast())["version"]
        ws.export(ref, tmp_path / "export.csv")
        ws.assign(ref, tmp_path / "zeros.csv", tmp_path / "assigned.csv")
    exported = pd.read_csv(tmp_path / "export.csv", dtype=str)
    assigned = pd.read_csv(tmp_path / "assigned.csv", dtype=str)
    assert list(assigned["customer_id"]) == list(frame["customer_id"])
    assert list(assigned["customer_id"]) == list(exported["customer_id"])
    assert list(assigned["segment"]) == list(exported["segment"])


def test_a_failed_assign_changes_nothing(
    ws: Workspace, data: Path, tmp_path: Path, tree_hash
) -> None:
    frame = pd.read_csv(data / "customers.csv")
    frame.drop(columns=["age"]).to_csv(tmp_path / "no_age.csv", index=False)
    frame.drop(columns=["customer_id"]).to_csv(tmp_path / "no_id.csv", index=False)
    before = tree_hash(ws.root)
    with pytest.raises(InputError) as caught:
        ws.assign("marketing@2", tmp_path / "no_age.csv", tmp_path / "out.csv")
    message = str(caught.value)
    assert "no_age.csv" in message and "'age'" in message and "\n" not in message
    with pytest.raises(InputError, match=r"no_id\.csv: no id column 'customer_id'"):
        ws.assign("marketing@2", tmp_path / "no_id.csv", tmp_path / "out.csv")
    with pytest.raises(SegtrailError, match=r"\.csv or \.parquet"):
        ws.assign("marketing@2", data / "customers.csv", tmp_path / "out.txt")
    assert not (tmp_path / "out.csv").exists()
    assert tree_hash(ws.root) == before


# --- refused segment requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"dataset": "nosuch"}, "no dataset nosuch"),
        ({"dataset": "customers@9"}, "customers@9"),
        ({"features": ["age", "nosuch"]}, "unknown column 'nosuch' in features"),
        ({"exclude": ["nosuch"]}, "unknown column 'nosuch' in exclude"),
        ({"weights": {"nosuch": 2.0}}, "unknown column 'nosuch' in weights"),
        ({"weights": {"age": -1.0}}, "'age'"),
        ({"features": ["age"], "weights": {"annual_spend": 2.0}}, "not a feature"),
        ({"features": ["email"]}, "'email' is text"),
        ({"features": ["customer_id"]}, "customer id"),
        ({"features": ["age"], "exclude": ["age"]}, "no feature columns left"),
        ({"algorithm": "nosuch"}, "unknown algorithm 'nosuch'"),
        ({"k": 1}, "k must be 'auto' or a whole number >= 2 for kmeans, got 1"),
        ({"k": "four"}, "k must be 'auto' or a whole number >= 2 for kmeans, got 'four'"),
        ({"k": N + 1}, "more than the 2,000 customers"),
        ({"k_range": (5, 2)}, "k_range must be two whole numbers low <= high, each >= 2"),
        ({"k_range": (1, 4)}, "k_range must be two whole numbers low <= high, each >= 2"),
        ({"seed": -1}, "invalid seed"),
        ({"seed": 2**40}, "invalid seed"),
        ({"parent": "marketing@99"}, "no segmentation marketing@99"),
        ({"lens": "two words"}, "invalid lens name"),
        ({"hypothesis": "  "}, "a hypothesis is required"),
    ],
)
def test_a_refused_segment_changes_nothing(
    ws: Workspace, tree_hash, options: dict, words: str
) -> None:
    args = {"dataset": "customers", "lens": "refused", "hypothesis": HYPOTHESIS}
    args.update({key: value for key, value in options.items() if key in args})
    rest = {key: value for key, value in options.items() if key not in args}
    before = tree_hash(ws.root)
    with pytest.raises(SegtrailError) as caught:
        ws.segment(args["dataset"], args["lens"], args["hypothesis"], **rest)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert tree_hash(ws.root) == before


@pytest.mark.skipif("dbscan" not in REGISTRY, reason="dbscan not registered yet")
def test_k_is_refused_for_an_algorithm_that_finds_it(ws: Workspace, tree_hash) -> None:
    before = tree_hash(ws.root)
    with pytest.raises(SegtrailError, match="finds the number of segments itself"):
        ws.segment("customers", "refused", HYPOTHESIS, algorithm="dbscan", k=4)
    assert tree_hash(ws.root) == before
