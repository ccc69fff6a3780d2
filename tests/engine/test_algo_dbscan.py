"""DBSCAN (engine/algorithms/dbscan.py) on small hand-made data: labels and confidences
against scikit-learn's own DBSCAN and the nearest-core rule written out here, the notes as
users read them, the recorded parameters, the knee of the k-distance curve against a plain
rule, and the sample-fit + assign path with its held-out agreement."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import DBSCAN as SkDBSCAN
from sklearn.metrics import adjusted_rand_score

from algo_checks import declared
from planted import small_blobs
from segtrail.engine.algorithms import dbscan as dbscan_module
from segtrail.engine.algorithms import get_algorithm, neighbours
from segtrail.engine.algorithms.dbscan import holdout_ari, holdout_note, holdout_rows, knee_eps
from segtrail.errors import InvalidInput, SegtrailError

ALGO = get_algorithm("dbscan")
USED = {"eps", "min_samples", "sample_size", "fit_rows", "n_rows", "n_core_points", "noise_share"}


# ------------------------------------------------------------------------------ references


def _distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    diff = A.astype(np.float64)[:, None, :] - B.astype(np.float64)[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def _by_size(raw: np.ndarray) -> np.ndarray:
    """Segments renumbered largest first (ties: the one seen first), noise kept at -1."""
    segs = [s for s in dict.fromkeys(raw.tolist()) if s >= 0]  # in order of first appearance
    order = sorted(segs, key=lambda s: -(raw == s).sum())  # stable: first seen wins ties
    out = np.full(len(raw), -1)
    for new, old in enumerate(order):
        out[raw == old] = new
    return out


def _nearest_core(
    cores: np.ndarray, core_labels: np.ndarray, X: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """The rule: the segment of the nearest core customer if within eps, else noise."""
    if len(cores) == 0:
        return np.full(len(X), -1), np.full(len(X), np.nan)
    d = _distances(X, cores)
    dmin = d.min(axis=1)
    inside = dmin <= eps
    return np.where(inside, core_labels[d.argmin(axis=1)], -1), np.where(inside, dmin, np.nan)


def _expected(X: np.ndarray, rows: np.ndarray, eps: float, min_samples: int):
    """scikit-learn's DBSCAN on X[rows], every row of X placed by the rule, numbered by size."""
    sk = SkDBSCAN(eps=eps, min_samples=min_samples).fit(X[rows])
    core = sk.core_sample_indices_
    raw, conf = _nearest_core(X[rows][core], sk.labels_[core], X, eps)
    return sk, _by_size(raw), conf


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _knee(X: np.ndarray, queries: np.ndarray, min_samples: int) -> float:
    """The k-distance (to the (min_samples - 1)-th other customer) at the point of the sorted
    curve farthest below its chord, both axes rescaled to 0..1; 0 -> the smallest positive."""
    kdist = np.sort(_distances(queries, X), axis=1)[:, min_samples - 1]
    curve = np.sort(kdist)
    m = len(curve)
    x = np.arange(m) / (m - 1)
    span = curve.max() - curve.min()
    y = (curve - curve.min()) / span if span > 0 else np.zeros(m)
    below = [(y[0] + (y[-1] - y[0]) * x[i]) - y[i] for i in range(m)]
    best = max(range(m), key=lambda i: (below[i], -i))  # the first of equals
    if curve[best] > 0:
        return float(curve[best])
    positive = curve[curve > 0]
    return float(positive.min()) if len(positive) else 1.0


def _blobs_and_outliers() -> tuple[np.ndarray, np.ndarray]:
    X, y = small_blobs((40, 30, 20))
    far = np.array([[30.0, 30.0], [-20.0, 5.0], [4.0, 4.0]], dtype=np.float32)
    return np.vstack([X, far]), np.concatenate([y, [-1, -1, -1]])


# ------------------------------------------------------------------------------ declared


def test_declared_parameters_as_the_cli_shows_them() -> None:
    assert declared(ALGO) == {
        "eps": (
            None,
            "a number > 0",
            "neighbourhood radius in standardized units (default: the knee of the k-distance "
            "curve)",
            True,
        ),
        "min_samples": (
            10,
            "a whole number >= 2",
            "customers within eps, itself included, that make a customer a core customer",
            True,
        ),
        "sample_size": (
            20_000,
            "a whole number >= 2",
            "above this many customers, fit a seeded sample of this size and assign the rest",
            True,
        ),
    }
    assert ALGO.confidence_meaning == "distance to the nearest core customer (smaller = denser)"
    assert not ALGO.higher_confidence_is_better


def test_bad_parameters_are_refused_in_words() -> None:
    X, _ = small_blobs()
    with pytest.raises(InvalidInput, match=r"^min_samples must be a whole number >= 2"):
        ALGO.fit(X, {"min_samples": 1}, 0)
    with pytest.raises(InvalidInput, match=r"^eps must be a number > 0"):
        ALGO.fit(X, {"eps": 0.0}, 0)


# ------------------------------------------------------------------------------ whole fits


def test_dense_groups_become_segments_largest_first_and_far_customers_noise() -> None:
    X, y = _blobs_and_outliers()
    result = ALGO.fit(X, {"eps": 1.0, "min_samples": 5}, 0)
    assert result.labels.dtype == np.int32 and result.confidence.dtype == np.float32
    assert result.labels.tolist() == y.tolist()  # planted 0, 1, 2 are 40, 30, 20 customers
    sk, labels, conf = _expected(X, np.arange(len(X)), 1.0, 5)
    assert adjusted_rand_score(sk.labels_, result.labels) == 1.0
    assert result.labels.tolist() == labels.tolist()
    assert np.isnan(result.confidence[-3:]).all()
    assert np.allclose(result.confidence, conf, atol=1e-5, equal_nan=True)
    assert result.notes == []


def test_records_what_the_fit_used() -> None:
    X, _ = _blobs_and_outliers()
    result = ALGO.fit(X, {"eps": 1.0, "min_samples": 5, "sample_size": 500}, 0)
    sk = SkDBSCAN(eps=1.0, min_samples=5).fit(X)
    assert result.params == {
        "eps": 1.0,
        "min_samples": 5,
        "sample_size": 500,
        "fit_rows": 93,
        "n_rows": 93,
        "n_core_points": len(sk.core_sample_indices_),
        "noise_share": pytest.approx(3 / 93),
    }
    assert isinstance(result.params["noise_share"], float)
    assert ALGO.refit_params(result.params) == {"eps": 1.0, "min_samples": 5, "sample_size": 500}
    state = result.state
    assert np.array_equal(state["core_points"], X[sk.core_sample_indices_])
    assert state["eps"] == 1.0 and isinstance(state["eps"], float)
    assert state["core_labels"].dtype == np.int32
    # the cores carry the segment numbers the customers got (largest first)
    assert state["core_labels"].tolist() == result.labels[sk.core_sample_indices_].tolist()
    assert state["index_centres"].shape == (0, 2)  # 93 x cores is far below EXACT_WORK


def test_min_samples_counts_the_customer_itself() -> None:
    """Four customers within eps of each other (each counts itself): core at min_samples 4,
    noise at 5; customers far from every other one are noise."""
    X = np.array(
        [[0.0, 0.0], [0.5, 0.0], [0.0, 0.5], [0.5, 0.5], [2.0, 2.0], [5.0, 5.0]], dtype=np.float32
    )
    four = ALGO.fit(X, {"eps": 0.75, "min_samples": 4}, 0)
    assert four.labels.tolist() == [0, 0, 0, 0, -1, -1]
    assert four.params["n_core_points"] == 4
    five = ALGO.fit(X, {"eps": 0.75, "min_samples": 5}, 0)
    assert five.labels.tolist() == [-1] * 6


def test_a_border_customer_goes_to_the_nearer_core() -> None:
    """On a line: a border customer at 1.3 is within eps (1.25) of A's core at 0.3 (1.0 away)
    and of B's core at 2.5 (1.2 away) without being a core itself. scikit-learn gives it to
    the segment that reached it first (B, listed first); the rule gives it to the nearer."""
    B = [2.5, 2.8, 3.1, 3.4]
    A = [0.3, 0.0, -0.3, -0.6, -0.9]
    line = np.array([*B, 1.3, *A, 10.0], dtype=np.float32)
    X = np.column_stack([line, np.zeros_like(line)])
    result = ALGO.fit(X, {"eps": 1.25, "min_samples": 4}, 0)
    assert result.labels.tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, -1]
    assert result.params["n_core_points"] == 9
    assert result.confidence[4] == pytest.approx(1.0)
    assert np.allclose(result.confidence[:4], 0.0) and np.allclose(result.confidence[5:10], 0)
    theirs = SkDBSCAN(eps=1.25, min_samples=4).fit(X).labels_
    assert theirs[4] == theirs[0] != theirs[5]


def test_a_customer_exactly_eps_away_is_within_reach() -> None:
    """Whole-number positions, so the distances are exact: a neighbour at exactly eps counts
    (DBSCAN's own definition), for the core test and for placing a customer."""
    X = np.array([[0, 0], [1, 0], [2, 0], [2, 1], [9, 9]], dtype=np.float32)
    result = ALGO.fit(X, {"eps": 1.0, "min_samples": 3}, 0)
    assert result.labels.tolist() == [0, 0, 0, 0, -1]
    assert result.params["n_core_points"] == 2  # (1, 0) and (2, 0)
    assert result.confidence[:4].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert SkDBSCAN(eps=1.0, min_samples=3).fit(X).labels_.tolist() == [0, 0, 0, 0, -1]
    labels, confidence = ALGO.assign(result.state, np.array([[1, 1], [3, 1]], np.float32))
    assert labels.tolist() == [0, -1] and confidence[0] == 1.0 and np.isnan(confidence[1])


def test_customers_that_coincide_are_neighbours() -> None:
    """Distance 0 is within eps: five customers at one spot make each other core customers
    (each counting itself), in the fit and in the held-out fit of a sample."""
    spots = np.repeat(np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 5.0]]), [8, 6, 1], axis=0)
    X = spots.astype(np.float32)
    result = ALGO.fit(X, {"eps": 0.5, "min_samples": 5}, 0)
    assert result.labels.tolist() == [0] * 8 + [1] * 6 + [-1]
    assert result.confidence[:14].tolist() == [0.0] * 14
    sampled = ALGO.fit(X, {"eps": 0.5, "min_samples": 5, "sample_size": 14}, 2)
    rows = _sample(15, 14, 2)
    _, ari = _holdout_reference(X[rows], 0.5, 5, 2)
    assert sampled.params["holdout_ari"] == pytest.approx(ari)
    assert sampled.params["n_core_points"] == len(
        SkDBSCAN(eps=0.5, min_samples=5).fit(X[rows]).core_sample_indices_
    )


def test_every_customer_noise_is_said() -> None:
    X, _ = small_blobs()
    result = ALGO.fit(X, {"eps": 1e-4, "min_samples": 3}, 0)
    assert (result.labels == -1).all() and np.isnan(result.confidence).all()
    assert result.params["n_core_points"] == 0 and result.params["noise_share"] == 1.0
    assert result.notes == ["every customer is noise: try a larger eps or a smaller min_samples"]
    labels, confidence = ALGO.assign(result.state, X[:5])
    assert labels.tolist() == [-1] * 5 and labels.dtype == np.int32
    assert np.isnan(confidence).all() and confidence.dtype == np.float32


def test_needs_more_customers_than_min_samples() -> None:
    X, _ = small_blobs((6, 5))
    with pytest.raises(SegtrailError) as caught:
        ALGO.fit(X, {"eps": 1.0, "min_samples": 11}, 0)
    assert str(caught.value) == "dbscan needs more than min_samples=11 customers"
    with pytest.raises(SegtrailError, match="more than min_samples=11 customers"):
        ALGO.fit(X[:11], {"eps": 1.0, "min_samples": 11}, 0)
    assert ALGO.fit(X, {"eps": 20.0, "min_samples": 10}, 0).labels.tolist() == [0] * 11


def test_assign_places_new_customers_by_the_nearest_core_within_eps() -> None:
    X, _ = _blobs_and_outliers()
    result = ALGO.fit(X, {"eps": 1.0, "min_samples": 5}, 0)
    labels, confidence = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels)
    assert np.array_equal(confidence, result.confidence, equal_nan=True)
    new = np.array([[0.1, 0.1], [8.2, 0.0], [0.0, 7.9], [4.0, 4.0], [8.0, 8.0]], np.float32)
    labels, confidence = ALGO.assign(result.state, new)
    ref, ref_conf = _nearest_core(result.state["core_points"], result.state["core_labels"], new, 1)
    assert labels.tolist() == ref.tolist() == [0, 1, 2, -1, -1]
    assert np.allclose(confidence, ref_conf, atol=1e-5, equal_nan=True)
    old = {k: v for k, v in result.state.items() if k != "index_centres"}  # stored before cells
    assert np.array_equal(ALGO.assign(old, new)[0], labels)


def test_assign_searches_the_stored_cells() -> None:
    """A state whose cells make the index miss: core A (segment 0) at the origin sits alone
    in a far cell; core B (segment 1) at (3, 0) in one of NPROBE cells close around the
    customer at (1.4, 0), who is nearer A (1.4) than B (1.6). The NPROBE cells searched are
    those close ones, so the stored cells place the customer with B, as the fit would; a
    state without cells (stored before the index existed) is searched exactly."""
    turns = np.arange(neighbours.NPROBE) * 2 * np.pi / neighbours.NPROBE
    around = np.column_stack([1.4 + 0.1 * np.cos(turns), 0.1 * np.sin(turns)])
    state = {
        "core_points": np.array([[0.0, 0.0], [3.0, 0.0]], dtype=np.float32),
        "core_labels": np.array([0, 1], dtype=np.int32),
        "index_centres": np.vstack([[[0.0, 0.0]], around]).astype(np.float32),
        "eps": 2.0,
    }
    customer = np.array([[1.4, 0.0]], dtype=np.float32)
    labels, confidence = ALGO.assign(state, customer)
    assert labels.tolist() == [1] and confidence[0] == pytest.approx(1.6)
    exact = {k: v for k, v in state.items() if k != "index_centres"}
    labels, confidence = ALGO.assign(exact, customer)
    assert labels.tolist() == [0] and confidence[0] == pytest.approx(1.4)


# ------------------------------------------------------------------------------ eps from the knee


def _scatter(seed: int, n: int = 120) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dense = rng.normal(0, 0.3, (n - 20, 2))
    sparse = rng.uniform(-6, 6, (20, 2))
    return np.vstack([dense, sparse]).astype(np.float32)


@pytest.mark.parametrize(("seed", "min_samples"), [(0, 5), (1, 10), (2, 3)])
def test_knee_eps_is_the_bend_of_the_k_distance_curve(seed: int, min_samples: int) -> None:
    X = _scatter(seed)
    assert knee_eps(X, min_samples, seed) == pytest.approx(_knee(X, X, min_samples), rel=1e-5)


def test_knee_eps_measures_a_seeded_share_of_the_customers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dbscan_module, "KNEE_QUERIES", 40)
    X = _scatter(3)
    for seed in (0, 4):
        queries = X[_sample(len(X), 40, seed + 2)]
        assert knee_eps(X, 5, seed) == pytest.approx(_knee(X, queries, 5), rel=1e-5)
    monkeypatch.setattr(dbscan_module, "KNEE_QUERIES", 120)  # all of them
    assert knee_eps(X, 5, 0) == pytest.approx(_knee(X, X, 5), rel=1e-5)


def test_a_zero_knee_falls_back_to_the_smallest_positive_distance() -> None:
    """Duplicates: most k-distances are 0 and the knee is among them; eps takes the smallest
    positive k-distance instead, and 1 when every customer has k duplicates."""
    rng = np.random.default_rng(5)
    spots = np.repeat(rng.uniform(-5, 5, (3, 2)), 30, axis=0)
    X = np.vstack([spots, rng.uniform(-5, 5, (10, 2))]).astype(np.float32)
    kdist = np.sort(_distances(X, X), axis=1)[:, 4]
    assert (kdist == 0).sum() == 90
    assert knee_eps(X, 5, 0) == pytest.approx(kdist[kdist > 0].min(), rel=1e-5)
    assert knee_eps(spots.astype(np.float32), 5, 0) == 1.0


def test_eps_left_out_comes_from_the_knee_and_says_so() -> None:
    X = _scatter(6)
    result = ALGO.fit(X, {"min_samples": 5}, 2)
    eps = _knee(X, X, 5)
    assert result.params["eps"] == pytest.approx(eps, rel=1e-5)
    assert result.notes == [
        f"eps={eps:.3g} taken from the knee of the 5-nearest-neighbour distance curve"
    ]
    _, labels, _ = _expected(X, np.arange(len(X)), result.params["eps"], 5)
    assert result.labels.tolist() == labels.tolist()


def test_the_default_min_samples_is_ten() -> None:
    X = _scatter(7)
    result = ALGO.fit(X, {}, 0)
    assert result.params["min_samples"] == 10 and result.params["sample_size"] == 20_000
    assert result.params["eps"] == pytest.approx(_knee(X, X, 10), rel=1e-5)
    assert result.notes[0].endswith("the knee of the 10-nearest-neighbour distance curve")


# ------------------------------------------------------------------------------ the sample path


def _uniform(n: int = 150) -> np.ndarray:
    return np.random.default_rng(8).uniform(0, 1, (n, 2)).astype(np.float32)


def _holdout_reference(Xf: np.ndarray, eps: float, min_samples: int, seed: int):
    """The held-out rows of the sample and the ARI of their segments fitted with the sample
    against assigned from a fit on the rest, all from scikit-learn."""
    n = len(Xf)
    held = _sample(n, max(1, round(0.2 * n)), seed + 3)
    rest = np.setdiff1d(np.arange(n), held)
    whole = SkDBSCAN(eps=eps, min_samples=min_samples).fit(Xf).labels_
    part = SkDBSCAN(eps=eps, min_samples=min_samples).fit(Xf[rest])
    core = part.core_sample_indices_
    assigned, _ = _nearest_core(Xf[rest][core], part.labels_[core], Xf[held], eps)
    return held, adjusted_rand_score(whole[held], assigned)


@pytest.mark.parametrize("seed", [0, 3])
def test_a_sample_is_fitted_and_every_customer_placed_by_the_rule(seed: int) -> None:
    X = _uniform()
    result = ALGO.fit(X, {"eps": 0.1, "min_samples": 4, "sample_size": 100}, seed)
    rows = _sample(150, 100, seed)
    sk, labels, conf = _expected(X, rows, 0.1, 4)
    assert result.labels.tolist() == labels.tolist()
    assert np.allclose(result.confidence, conf, atol=1e-5, equal_nan=True)
    assert np.array_equal(result.state["core_points"], X[rows][sk.core_sample_indices_])
    used = result.params
    assert set(used) == USED | {"holdout_ari"}
    assert (used["fit_rows"], used["n_rows"], used["sample_size"]) == (100, 150, 100)
    assert used["noise_share"] == pytest.approx(float((labels < 0).mean()))
    held, ari = _holdout_reference(X[rows], 0.1, 4, seed)
    assert len(held) == 20
    assert isinstance(used["holdout_ari"], float)
    assert used["holdout_ari"] == pytest.approx(ari)
    assert 0 < ari < 0.99  # a real disagreement, so the figure says something
    assert result.notes == [
        "DBSCAN fitted on a sample of 100 customers; the rest assigned to the nearest core "
        "customer within eps",
        holdout_note(ari, 20, 100),
    ]


def test_a_sample_with_eps_from_the_knee_notes_both() -> None:
    X = _uniform()
    result = ALGO.fit(X, {"min_samples": 4, "sample_size": 100}, 1)
    rows = _sample(150, 100, 1)
    eps = _knee(X[rows], X[rows], 4)
    assert result.params["eps"] == pytest.approx(eps, rel=1e-5)
    _, ari = _holdout_reference(X[rows], result.params["eps"], 4, 1)
    assert result.notes == [
        f"eps={eps:.3g} taken from the knee of the 4-nearest-neighbour distance curve",
        "DBSCAN fitted on a sample of 100 customers; the rest assigned to the nearest core "
        "customer within eps",
        holdout_note(ari, 20, 100),
    ]


def test_the_whole_table_fitted_has_no_held_out_check() -> None:
    X = _uniform()
    result = ALGO.fit(X, {"eps": 0.1, "min_samples": 4, "sample_size": 150}, 0)
    assert "holdout_ari" not in result.params and result.params["fit_rows"] == 150
    assert result.notes == []


def test_core_customers_beyond_the_limit_are_a_seeded_subset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dbscan_module, "MAX_CORE_POINTS", 30)
    X, y = small_blobs((40, 30, 20))
    result = ALGO.fit(X, {"eps": 1.0, "min_samples": 5}, 2)
    sk = SkDBSCAN(eps=1.0, min_samples=5).fit(X)
    assert len(sk.core_sample_indices_) == 90
    kept = sk.core_sample_indices_[_sample(90, 30, 3)]  # seed + 1
    assert np.array_equal(result.state["core_points"], X[kept])
    assert result.params["n_core_points"] == 30
    assert result.notes == ["30 core customers kept to assign the rest"]
    ref, conf = _nearest_core(X[kept], y[kept], X, 1.0)
    assert adjusted_rand_score(ref, result.labels) == 1.0
    assert np.allclose(result.confidence, conf, atol=1e-5)
    monkeypatch.setattr(dbscan_module, "MAX_CORE_POINTS", 90)
    at_limit = ALGO.fit(X, {"eps": 1.0, "min_samples": 5}, 2)
    assert at_limit.params["n_core_points"] == 90 and at_limit.notes == []


def test_the_held_out_fit_keeps_a_seeded_subset_of_its_core_customers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dbscan_module, "MAX_CORE_POINTS", 25)
    X = _uniform()
    seed = 1
    result = ALGO.fit(X, {"eps": 0.12, "min_samples": 3, "sample_size": 100}, seed)
    Xf = X[_sample(150, 100, seed)]
    held = _sample(100, 20, seed + 3)
    rest = np.setdiff1d(np.arange(100), held)
    part = SkDBSCAN(eps=0.12, min_samples=3).fit(Xf[rest])
    assert len(part.core_sample_indices_) > 25
    kept = part.core_sample_indices_[_sample(len(part.core_sample_indices_), 25, seed + 1)]
    assigned, _ = _nearest_core(Xf[rest][kept], part.labels_[kept], Xf[held], 0.12)
    whole = SkDBSCAN(eps=0.12, min_samples=3).fit(Xf).labels_
    assert result.params["holdout_ari"] == pytest.approx(adjusted_rand_score(whole[held], assigned))
    assert result.notes[0] == "25 core customers kept to assign the rest"


def test_the_held_out_check_runs_only_when_a_sample_was_fitted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn = []

    def holdout_rows_seen(n: int, seed: int) -> np.ndarray:
        drawn.append((n, seed))
        return holdout_rows(n, seed)

    monkeypatch.setattr(dbscan_module, "holdout_rows", holdout_rows_seen)
    X = _uniform()
    ALGO.fit(X, {"eps": 0.1, "min_samples": 4, "sample_size": 150}, 0)
    assert drawn == []
    ALGO.fit(X, {"eps": 0.1, "min_samples": 4, "sample_size": 149}, 5)
    assert drawn == [(149, 5)]


def test_the_limit_note_counts_with_separators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbscan_module, "MAX_CORE_POINTS", 1_000)
    X = np.random.default_rng(9).normal(0, 0.05, (1_100, 2)).astype(np.float32)
    result = ALGO.fit(X, {"eps": 1.0, "min_samples": 3}, 0)
    assert result.notes == ["1,000 core customers kept to assign the rest"]


def test_the_index_cells_are_stored_for_the_customers_to_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cells are built when the customers to place x the core customers pass EXACT_WORK:
    for the fit, every customer of the table; for the held-out check, the held-out ones."""
    X = _uniform()
    monkeypatch.setattr(neighbours, "EXACT_WORK", 150 * 40)
    result = ALGO.fit(X, {"eps": 0.2, "min_samples": 3, "sample_size": 100}, 0)
    n_core = result.params["n_core_points"]
    assert n_core > 40
    assert len(result.state["index_centres"]) == round(2 * np.sqrt(n_core))
    same = ALGO.fit(X.copy(), {"eps": 0.2, "min_samples": 3, "sample_size": 100}, 0)
    assert np.array_equal(same.state["index_centres"], result.state["index_centres"])
    assert np.array_equal(same.labels, result.labels)
    monkeypatch.setattr(neighbours, "EXACT_WORK", 150 * n_core)
    again = ALGO.fit(X, {"eps": 0.2, "min_samples": 3, "sample_size": 100}, 0)
    assert len(again.state["index_centres"]) == 0
    labels, _ = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels)


# ------------------------------------------------------------------------------ held-out helpers


def test_holdout_rows_are_a_seeded_fifth() -> None:
    for n, seed, size in ((100, 0, 20), (12, 4, 2), (2, 1, 1), (1, 0, 1), (1_003, 9, 201)):
        rows = holdout_rows(n, seed)
        assert rows.tolist() == _sample(n, size, seed + 3).tolist()
    assert not np.array_equal(holdout_rows(100, 0), holdout_rows(100, 1))


def test_holdout_ari_compares_the_held_out_rows_only() -> None:
    fitted = np.array([0, 0, 1, 1, 2, 2, -1, 0])
    held = np.array([1, 2, 3, 5, 7])
    assigned = np.array([4, 3, 3, 3, 4])
    ari, count = holdout_ari(fitted, held, assigned)
    assert count == 5 and isinstance(ari, float)
    assert ari == pytest.approx(adjusted_rand_score([0, 1, 1, 2, 0], assigned))
    assert holdout_ari(fitted, held, np.array([7, 5, 5, 8, 7])) == (1.0, 5)


def test_holdout_note_wording() -> None:
    assert holdout_note(0.8765, 1_200, 6_000) == (
        "sample fit + assign agreement: adjusted Rand index 0.88 between the segments of "
        "1,200 held-out sampled customers when fitted with the sample and when assigned from "
        "a fit on the other 4,800 (1 = the same)"
    )
