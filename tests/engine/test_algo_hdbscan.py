"""HDBSCAN (engine/algorithms/hdbscan.py) on small hand-made data: the segments against
scikit-learn's HDBSCAN (up to their numbering), the assignment rule of the module doc written
out plainly here (brute-force distances), the defaults, the refusals and their wording, the
parameters recorded, the notes, and the held-out agreement of a sampled fit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_info

from algo_checks import (
    assert_same_segments,
    declared,
    hdbscan_reference,
    hide_private_hdbscan,
    record_cells,
)
from planted import small_blobs
from segtrail.engine.algorithms import get_algorithm, hdbscan, neighbours
from segtrail.engine.algorithms.base import sample_rows
from segtrail.engine.algorithms.dbscan import holdout_rows
from segtrail.errors import InvalidInput, SegtrailError

ALGO = get_algorithm("hdbscan")
SAMPLED_NOTE = (
    "HDBSCAN fitted on a sample of {n} customers; the rest assigned to the segment of the "
    "nearest fitted customer when within the segment's reach"
)


def groups(sizes: tuple[int, ...] = (40, 30, 20), spread: float = 0.3, seed: int = 0):
    """Tight groups (small_blobs) and two far-away customers (the last two rows)."""
    X, y = small_blobs(sizes, spread=spread, seed=seed)
    far = np.array([[30.0, 30.0], [-20.0, 5.0]], dtype=np.float32)
    return np.vstack([X, far]), np.concatenate([y, [-1, -1]])


def assert_ordered_by_size(labels: np.ndarray) -> None:
    sizes = np.bincount(labels[labels >= 0])
    assert (np.diff(sizes) <= 0).all() and (sizes > 0).all()


def core_reference(F: np.ndarray, min_samples: int) -> np.ndarray:
    """Distance to the min_samples-th nearest fitted customer, itself the first."""
    d = np.sort(cdist(F.astype(np.float64), F.astype(np.float64)), axis=1)
    return d[:, min(min_samples, len(F)) - 1]


def reach_reference(F: np.ndarray, fitted: np.ndarray, min_samples: int) -> np.ndarray:
    """Per segment of the fitted customers F (labels ``fitted``), the level at which it
    joins the rest: the smallest mutual reachability (core distances among all of F) between
    one of its customers and a customer outside it."""
    core = core_reference(F, min_samples)
    mutual = np.maximum(
        cdist(F.astype(np.float64), F.astype(np.float64)), np.maximum.outer(core, core)
    )
    return np.array([mutual[fitted == s][:, fitted != s].min() for s in range(fitted.max() + 1)])


def rule(F: np.ndarray, fitted: np.ndarray, min_samples: int, Q: np.ndarray):
    """The module doc's assignment of the customers Q from fitted customers F (labels
    ``fitted``): labels, distance to the nearest fitted customer, and how far each customer's
    mutual reachability lies within round-off of its segment's reach, not on it (cases a
    test skips)."""
    core = core_reference(F, min_samples)
    d = cdist(Q.astype(np.float64), F.astype(np.float64))
    p = d.argmin(axis=1)
    d1 = d[np.arange(len(Q)), p]
    # core(x): its min_samples-th nearest fitted customer, counting x itself as the first
    core_x = np.sort(d, axis=1)[:, min_samples - 2] if min_samples > 1 else np.zeros(len(Q))
    seg = fitted[p]
    reach = np.append(reach_reference(F, fitted, min_samples), 0.0)[seg]  # seg -1: unused
    mreach = np.maximum(np.maximum(d1, core_x), core[p])
    labels = np.where((seg >= 0) & (mreach <= reach), seg, -1)
    gap = np.abs(mreach - reach)
    return labels, d1, (seg >= 0) & (gap > 0) & (gap <= 1e-4)


# ---------------------------------------------------------------------------- declarations


def test_declared_parameters_as_the_cli_shows_them() -> None:
    assert declared(ALGO) == {
        "min_cluster_size": (
            None,
            "a whole number >= 2",
            "smallest segment worth reporting, in customers "
            "(default: 1% of the fitted customers, at least 5)",
            True,
        ),
        "min_samples": (
            5,
            "a whole number >= 1",
            "neighbours, itself included, that define a customer's core distance",
            True,
        ),
        "cluster_selection_method": (
            "eom",
            "one of 'eom', 'leaf'",
            "'eom' keeps the most persistent segments, 'leaf' the finest ones",
            True,
        ),
        "sample_size": (
            10_000,
            "a whole number >= 2",
            "above this many customers, fit a seeded sample of this size and assign the rest",
            True,
        ),
    }
    assert ALGO.confidence_meaning == "distance to the nearest fitted customer (smaller = denser)"
    assert not ALGO.higher_confidence_is_better
    assert ALGO.stability_bootstraps == 10


@pytest.mark.parametrize(
    ("param", "value", "words"),
    [
        ("min_cluster_size", 1, "a whole number >= 2"),
        ("min_cluster_size", 2.5, "a whole number >= 2"),
        ("min_samples", 0, "a whole number >= 1"),
        ("cluster_selection_method", "single", "one of 'eom', 'leaf'"),
        ("sample_size", 1, "a whole number >= 2"),
    ],
)
def test_values_outside_the_declaration_are_refused(param: str, value, words: str) -> None:
    X, _ = groups()
    with pytest.raises(InvalidInput) as caught:
        ALGO.fit(X, {param: value}, 0)
    assert str(caught.value) == f"{param} must be {words} for hdbscan, got {value!r}"


def test_the_smallest_values_declared_are_taken() -> None:
    X, _ = groups()
    result = ALGO.fit(X, {"min_cluster_size": 2, "min_samples": 1}, 0)
    assert result.params["min_cluster_size"] == 2 and result.params["min_samples"] == 1
    assert_same_segments(result.labels, hdbscan_reference(X, 2, 1))


# ---------------------------------------------------------------------------- whole fits


def test_the_segments_are_scikit_learns_ordered_by_size() -> None:
    X, y = groups()
    result = ALGO.fit(X, {}, 0)
    assert_same_segments(result.labels, hdbscan_reference(X, 5, 5))
    assert_same_segments(result.labels, y)  # the planted groups; the far two are noise
    assert result.labels.dtype == np.int32
    assert np.bincount(result.labels[:-2]).tolist() == [40, 30, 20]
    for s in range(3):  # segment 0 is the largest planted group, and so on
        assert np.all(result.labels[y == s] == s)
    # every customer was fitted: it is its own nearest fitted customer (distance 0)
    assert result.confidence.dtype == np.float32
    assert np.array_equal(result.confidence[:-2], np.zeros(90, np.float32))
    assert np.isnan(result.confidence[-2:]).all()
    assert result.params == {
        "min_cluster_size": 5,  # 1% of 92 is below the floor of 5
        "min_samples": 5,
        "cluster_selection_method": "eom",
        "sample_size": 10_000,
        "fit_rows": 92,
        "n_rows": 92,
        "noise_share": 2 / 92,
    }
    assert result.notes == []


@pytest.mark.parametrize("min_samples", [1, 2, 5, 8])
@pytest.mark.parametrize("method", ["eom", "leaf"])
def test_parameters_reach_the_fit(min_samples: int, method: str) -> None:
    """Leaf selection and the neighbourhood size change the answer on these groups."""
    X, _ = groups()
    params = {"min_samples": min_samples, "cluster_selection_method": method}
    result = ALGO.fit(X, params, 0)
    assert_same_segments(result.labels, hdbscan_reference(X, 5, min_samples, method))
    assert_ordered_by_size(result.labels)
    assert result.params["cluster_selection_method"] == method
    assert result.params["min_samples"] == min_samples
    assert result.params["noise_share"] == pytest.approx(np.mean(result.labels < 0))
    # the fit's labels are what assign gives its customers
    labels, confidence = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels)
    assert np.array_equal(np.isnan(confidence), result.labels < 0)


def test_leaf_and_min_samples_change_the_answer_here() -> None:
    """The data of the test above does tell the two selections apart."""
    X, _ = groups()
    leaf = ALGO.fit(X, {"cluster_selection_method": "leaf"}, 0)
    assert len(np.unique(leaf.labels[leaf.labels >= 0])) > 3  # eom: the 3 planted groups
    finer = ALGO.fit(X, {"cluster_selection_method": "leaf", "min_samples": 1}, 0)
    assert adjusted_rand_score(leaf.labels, finer.labels) < 1.0


def test_default_min_cluster_size_is_one_percent_of_the_fitted_customers() -> None:
    """750 customers fitted (of 900): round(7.5) = 8; a group of 7 is then noise, while
    min_cluster_size 7 keeps it."""
    X, _ = small_blobs((450, 293, 157), spread=0.5, seed=1)
    rng = np.random.default_rng(5)
    seven = np.float32([40.0, 40.0]) + rng.normal(0, 0.05, (7, 2)).astype(np.float32)
    X = np.vstack([X, seven])
    sampled = ALGO.fit(X, {"sample_size": 750}, 0)
    assert sampled.params["min_cluster_size"] == 8  # 1% of the 750 fitted, not of 907
    whole = ALGO.fit(X[:-7], {}, 0)
    assert whole.params["min_cluster_size"] == 9  # 1% of 900
    on_all = ALGO.fit(X, {}, 0)
    assert on_all.params["min_cluster_size"] == 9
    assert (on_all.labels[-7:] == -1).all()
    kept = ALGO.fit(X, {"min_cluster_size": 7}, 0)
    assert kept.params["min_cluster_size"] == 7
    assert len(set(kept.labels[-7:].tolist())) == 1 and kept.labels[-1] >= 0


def test_default_min_cluster_size_is_at_least_five() -> None:
    """Below 500 fitted customers the default is 5: a group of 5 is a segment, of 4 noise."""
    rng = np.random.default_rng(3)
    X, _ = small_blobs((60, 40), spread=0.4, seed=3)
    five = np.float32([30.0, 0.0]) + rng.normal(0, 0.05, (5, 2)).astype(np.float32)
    four = np.float32([0.0, 30.0]) + rng.normal(0, 0.05, (4, 2)).astype(np.float32)
    X = np.vstack([X, five, four])
    result = ALGO.fit(X, {"min_samples": 2}, 0)
    assert result.params["min_cluster_size"] == 5
    assert len(set(result.labels[100:105].tolist())) == 1 and result.labels[100] >= 0
    assert (result.labels[105:] == -1).all()
    assert_same_segments(result.labels, hdbscan_reference(X, 5, 2))


def test_too_few_customers_to_fit_are_refused() -> None:
    X, _ = groups()
    with pytest.raises(SegtrailError) as caught:
        ALGO.fit(X[:5], {}, 0)
    assert str(caught.value) == "hdbscan needs more than 5 customers"
    assert ALGO.fit(X[:6], {"min_cluster_size": 2}, 0).params["fit_rows"] == 6
    with pytest.raises(SegtrailError, match=r"^hdbscan needs more than 7 customers$"):
        ALGO.fit(X[:7], {"min_cluster_size": 7, "min_samples": 2}, 0)
    with pytest.raises(SegtrailError, match=r"^hdbscan needs more than 9 customers$"):
        ALGO.fit(X[:9], {"min_cluster_size": 3, "min_samples": 9}, 0)
    assert ALGO.fit(X[:10], {"min_cluster_size": 3, "min_samples": 9}, 0).params["n_rows"] == 10
    # the sample is what must be large enough, not the table
    with pytest.raises(SegtrailError, match=r"^hdbscan needs more than 6 customers$"):
        ALGO.fit(X, {"sample_size": 6, "min_cluster_size": 6, "min_samples": 2}, 0)


def test_every_customer_noise_says_what_to_try() -> None:
    """Twenty evenly spaced customers: no split leaves two parts of 11, and the whole is not a
    segment (HDBSCAN's default), so everyone is noise."""
    X = np.column_stack([np.arange(20.0), np.zeros(20)]).astype(np.float32)
    result = ALGO.fit(X, {"min_cluster_size": 11}, 0)
    assert (result.labels == -1).all() and np.isnan(result.confidence).all()
    assert result.notes == ["every customer is noise: try a smaller min_cluster_size"]
    assert result.params["noise_share"] == 1.0
    assert (hdbscan_reference(X, 11, 5) == -1).all()
    labels, confidence = ALGO.assign(result.state, X + np.float32(0.1))
    assert (labels == -1).all() and np.isnan(confidence).all()


# ---------------------------------------------------------------------------- assignment


def three_densities() -> np.ndarray:
    """A dense, a loose and a middling group, and two customers between them (noise)."""
    rng = np.random.default_rng(3)
    dense = rng.normal(0, 0.15, (30, 2))
    loose = rng.normal(0, 0.5, (30, 2)) + np.array([8, 0])
    middling = rng.normal(0, 0.3, (20, 2)) + np.array([0, 8])
    return np.vstack([dense, loose, middling, [[4, 4], [12, 8]]]).astype(np.float32)


@pytest.mark.parametrize("min_samples", [1, 2, 5])
def test_new_customers_follow_the_reachability_rule(min_samples: int) -> None:
    """New customers on a grid over groups of different density: each label is the plain
    rule's (in the fit's numbering), confidence the distance to the nearest fitted customer
    (nan for noise)."""
    X = three_densities()
    result = ALGO.fit(X, {"min_samples": min_samples}, 0)
    assert_same_segments(result.labels, hdbscan_reference(X, 5, min_samples))
    assert result.labels[-1] == -1
    axis = np.linspace(-2.0, 10.0, 61, dtype=np.float32)
    Q = np.array([[a, b] for a in axis for b in axis], dtype=np.float32)
    Q = np.vstack([Q, X[:5], X[-2:]])  # fitted customers again, a noise one included
    expected, d1, unclear = rule(X, result.labels, min_samples, Q)
    clear = ~unclear  # off the reach by more than round-off, or on it
    assert clear.mean() > 0.99
    labels, confidence = ALGO.assign(result.state, Q)
    assert labels.dtype == np.int32 and confidence.dtype == np.float32
    assert np.array_equal(labels[clear], expected[clear])
    assert 0.05 < np.mean(labels[:-7] >= 0) < 0.95  # both answers occur
    inside = labels >= 0
    assert np.allclose(confidence[inside], d1[inside], atol=1e-5)
    assert np.isnan(confidence[~inside]).all()
    assert np.array_equal(labels[-7:], result.labels[[0, 1, 2, 3, 4, -2, -1]])


def two_lines(line: list[float], min_samples: int, min_cluster_size: int, scale: float = 1.0):
    """Customers along a line at ``line`` and 20 further (all times ``scale``): two segments
    (scikit-learn's), the fit and the segment of the first line."""
    line = np.float32(line)
    X = np.column_stack([np.concatenate([line, line + 20]), np.zeros(2 * len(line))]) * scale
    X = X.astype(np.float32)
    result = ALGO.fit(X, {"min_samples": min_samples, "min_cluster_size": min_cluster_size}, 0)
    assert_same_segments(result.labels, hdbscan_reference(X, min_cluster_size, min_samples))
    assert_same_segments(result.labels, np.repeat([0, 1], len(line)))
    return X, result, result.labels[0]


def test_a_customer_at_the_reach_of_its_segment_joins_it() -> None:
    """A segment's reach is the level at which it joins the rest (here the gap of 19 from the
    first line's end at 1.0 to the second's start at 20): a customer just within it of the
    nearest customer joins that one's segment, just beyond it is noise."""
    _, result, own = two_lines([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0], 2, 3)
    assert result.state["reach"] == pytest.approx([19.0, 19.0], abs=1e-5)
    Q = np.float32([[-18.99, 0], [-19.01, 0], [21.0 + 18.99, 0], [21.0 + 19.01, 0], [10.49, 0]])
    labels, confidence = ALGO.assign(result.state, Q)
    assert labels.tolist() == [own, -1, 1 - own, -1, own]
    assert confidence[[0, 2, 4]] == pytest.approx([18.99, 18.99, 9.49], abs=1e-5)


def test_the_reach_allows_float32_round_off_only() -> None:
    """The reach comparison allows 1e-5 x (1 + reach) for float32 round-off, no more: a
    customer beyond the first customer of the line by reach + 0.9 of that allowance joins,
    by reach + 1.2 of it is noise; at min_samples 1 (every core distance 0, a reach below 1)
    too."""
    for min_samples, scale in ((2, 1.0), (1, 0.01)):
        line = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0]
        X, result, own = two_lines(line, min_samples, 3, scale)
        reach = reach_reference(X, result.labels, min_samples)[own]  # the gap, 19 x scale
        assert reach == pytest.approx(19.0 * scale, abs=1e-5 * scale)
        allowance = 1e-5 * (1.0 + reach)
        Q = np.float32([[-reach - 0.9 * allowance, 0], [-reach - 1.2 * allowance, 0]])
        assert ALGO.assign(result.state, Q)[0].tolist() == [own, -1]


def test_the_reach_is_where_a_segment_joins_the_rest_not_its_largest_core_distance() -> None:
    """Three segments, each two runs of four customers 0.7 apart (each run is smaller than
    min_cluster_size), at 0, 20 and 50, and a noise customer at -45: every core distance
    is 0.1, the reaches are the gaps to the nearest segment (18.7, 18.7 and 28.7), so a
    customer 18 beyond the first segment joins it, 19 beyond is noise, and 28 beyond the
    last joins it, 29 beyond is noise."""
    one = np.float32([0.0, 0.1, 0.2, 0.3, 1.0, 1.1, 1.2, 1.3])
    line = np.concatenate([one, one + 20, one + 50, [-45.0]])
    X = np.column_stack([line, np.zeros(len(line))]).astype(np.float32)
    result = ALGO.fit(X, {"min_samples": 2, "min_cluster_size": 5}, 0)
    assert_same_segments(result.labels, hdbscan_reference(X, 5, 2))
    assert_same_segments(result.labels, np.append(np.repeat([0, 1, 2], 8), -1))
    assert core_reference(X[:24], 2).max() == pytest.approx(0.1, abs=1e-6)
    first, last = result.labels[0], result.labels[16]
    assert result.state["reach"][[first, last]] == pytest.approx([18.7, 28.7], abs=1e-5)
    Q = np.float32([[-18, 0], [-19, 0], [51.3 + 28, 0], [51.3 + 29, 0], [1.3 + 8, 0]])
    assert ALGO.assign(result.state, Q)[0].tolist() == [first, -1, last, -1, first]


def test_versions_fitted_before_the_index_still_assign() -> None:
    """States stored before the index cells existed have no `index_centres`: exact search."""
    X, _ = groups()
    result = ALGO.fit(X, {}, 0)
    old = {k: v for k, v in result.state.items() if k != "index_centres"}
    Q = X + np.float32(0.05)
    labels, confidence = ALGO.assign(old, Q)
    again, confidence_again = ALGO.assign(result.state, Q)
    assert np.array_equal(labels, again)
    assert np.array_equal(confidence, confidence_again, equal_nan=True)
    assert_same_segments(labels, result.labels)


# ---------------------------------------------------------------------------- sampled fits


def sampled_data() -> np.ndarray:
    X, _ = small_blobs((150, 110, 70), spread=0.6, seed=0)
    noise = np.random.default_rng(0).uniform(-3, 11, (30, 2)).astype(np.float32)
    return np.vstack([X, noise])


@pytest.mark.parametrize(("seed", "method"), [(0, "eom"), (3, "leaf")])
def test_a_sampled_fit_assigns_the_rest_and_measures_the_agreement(seed: int, method) -> None:
    """Sampled: the sample's segments are scikit-learn's, the rest follow the rule, and
    the held-out agreement is the adjusted Rand index between the held-out customers'
    segments in the sample's fit and as assigned by the rule from a fit on the rest."""
    X = sampled_data()
    params = {"sample_size": 250, "min_cluster_size": 8, "cluster_selection_method": method}
    result = ALGO.fit(X, params, seed)
    idx = sample_rows(len(X), 250, seed)
    F = X[idx]
    fitted = hdbscan_reference(F, 8, 5, method)
    expected, d1, unclear = rule(F, fitted, 5, X)
    assert not unclear.any()
    assert_same_segments(result.labels, expected)
    assert_ordered_by_size(result.labels)
    inside = result.labels >= 0
    assert np.allclose(result.confidence[inside], d1[inside], atol=1e-5)
    assert np.isnan(result.confidence[~inside]).all()
    # the held-out check
    held = holdout_rows(250, seed)
    assert len(held) == 50
    rest = np.setdiff1d(np.arange(250), held)
    assigned, _, _ = rule(F[rest], hdbscan_reference(F[rest], 8, 5, method), 5, F[held])
    ari = adjusted_rand_score(fitted[held], assigned)
    assert result.params["holdout_ari"] == pytest.approx(ari, abs=1e-12)
    assert ari < 1.0  # a check that can tell
    assert result.params == {
        "min_cluster_size": 8,
        "min_samples": 5,
        "cluster_selection_method": method,
        "sample_size": 250,
        "fit_rows": 250,
        "n_rows": 360,
        "noise_share": pytest.approx(np.mean(result.labels < 0)),
        "holdout_ari": pytest.approx(ari, abs=1e-12),
    }
    assert result.notes == [
        SAMPLED_NOTE.format(n=250),
        f"sample fit + assign agreement: adjusted Rand index {ari:.2f} between the segments "
        "of 50 held-out sampled customers when fitted with the sample and when assigned from "
        "a fit on the other 200 (1 = the same)",
    ]
    # the state assigns every customer as the fit did
    labels, confidence = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels)
    assert np.array_equal(confidence, result.confidence, equal_nan=True)


def test_a_sampled_fit_is_reproducible_and_the_sample_follows_the_seed() -> None:
    X = sampled_data()
    params = {"sample_size": 250, "min_cluster_size": 8}
    one = ALGO.fit(X, params, 3)
    again = ALGO.fit(X.copy(), params, 3)
    assert np.array_equal(one.labels, again.labels)
    assert np.array_equal(one.state["points"], X[sample_rows(len(X), 250, 3)])
    other = ALGO.fit(X, params, 4)
    assert np.array_equal(other.state["points"], X[sample_rows(len(X), 250, 4)])


def test_min_samples_one_assigns_the_customers_outside_the_sample() -> None:
    """At min_samples 1 every core distance is 0; a segment's reach is still the level at
    which its customers are connected (it was 0 until 2026-12-02: every customer outside
    the sample was noise, held-out agreement 0)."""
    X = sampled_data()
    result = ALGO.fit(X, {"sample_size": 250, "min_samples": 1, "min_cluster_size": 8}, 0)
    fitted = sample_rows(len(X), 250, 0)
    outside = np.setdiff1d(np.arange(len(X)), fitted)
    # customers outside the sample are noise about as often as the sampled ones
    assert np.mean(result.labels[outside] < 0) < np.mean(result.labels[fitted] < 0) + 0.1
    assert result.params["holdout_ari"] > 0.5


# ---------------------------------------------------------------------------- stored state


def test_the_stored_state_is_compact() -> None:
    """Stored with every version: float32 points, core distances and reaches, int32 labels
    in the fit's numbering."""
    X, _ = groups()
    result = ALGO.fit(X, {}, 0)
    state = result.state
    assert state["points"].dtype == np.float32 and np.array_equal(state["points"], X)
    assert state["core_distance"].dtype == np.float32
    assert np.allclose(state["core_distance"], core_reference(X, 5), atol=1e-5)
    assert state["point_labels"].dtype == np.int32
    assert np.array_equal(state["point_labels"], result.labels)
    assert state["reach"].dtype == np.float32 and state["reach"].shape == (3,)
    assert state["reach"] == pytest.approx(reach_reference(X, result.labels, 5), abs=1e-5)
    sampled = ALGO.fit(X, {"sample_size": 60}, 0)
    assert sampled.state["point_labels"].dtype == np.int32
    assert sampled.state["reach"].dtype == np.float32


def test_above_the_exact_work_the_index_cells_are_stored_and_seeded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Placing more than EXACT_WORK customer pairs goes through the inverted-file index: the
    fit stores its 2 sqrt(n) cells (seeded: the same fit gives the same cells), and assign
    gives the fit's labels again."""
    monkeypatch.setattr(neighbours, "EXACT_WORK", 0)
    X, _ = groups()
    one = ALGO.fit(X, {}, 0)
    assert one.state["index_centres"].shape == (round(2 * np.sqrt(92)), 2)
    assert np.array_equal(ALGO.fit(X, {}, 0).state["index_centres"], one.state["index_centres"])
    sampled = ALGO.fit(X, {"sample_size": 80}, 5)
    assert sampled.state["index_centres"].shape == (round(2 * np.sqrt(80)), 2)
    again = ALGO.fit(X, {"sample_size": 80}, 5)
    assert np.array_equal(again.state["index_centres"], sampled.state["index_centres"])
    assert np.array_equal(ALGO.assign(sampled.state, X)[0], sampled.labels)


def test_assign_searches_the_stored_cells() -> None:
    """With one cell per fitted customer (cells a stored version could hold) a search probes
    NPROBE cells, so it finds NPROBE fitted customers at most: fewer than min_samples asks
    for here. A new customer's core distance is then unknown and it is noise; a fitted
    customer, its own nearest, keeps its segment (its core distance is stored)."""
    X, _ = groups()
    result = ALGO.fit(X, {"min_samples": neighbours.NPROBE + 4}, 0)
    assert (result.labels[:-2] >= 0).all()
    state = {**result.state, "index_centres": X.copy()}
    labels, _ = ALGO.assign(state, X)
    assert np.array_equal(labels, result.labels)
    nearby = X[:-2] + np.float32(0.01)
    exact, _ = ALGO.assign(result.state, nearby)
    assert (exact >= 0).all()
    assert (ALGO.assign(state, nearby)[0] == -1).all()


def test_without_scikit_learns_private_steps_the_fit_is_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If scikit-learn moves its private steps the public estimator fits instead, and the
    reaches are the spanning tree's as before."""
    X, _ = groups()
    hide_private_hdbscan(monkeypatch)
    result = ALGO.fit(X, {"min_samples": 2, "cluster_selection_method": "leaf"}, 0)
    monkeypatch.undo()
    assert_same_segments(result.labels, hdbscan_reference(X, 5, 2, "leaf"))
    assert result.state["reach"] == pytest.approx(
        reach_reference(X, result.state["point_labels"], 2), abs=1e-5
    )


# ------------------------------------------------------------------------------ threads


def test_a_sampled_fit_computes_each_index_once_beside_the_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cells of the fitted customers are computed on another thread while the sample is
    fitted, once; the held-out refit's on its own thread too."""
    import threading

    calls = record_cells(monkeypatch, hdbscan)
    result = ALGO.fit(sampled_data(), {"sample_size": 250, "min_cluster_size": 8}, 3)
    assert len(calls) == 2  # the whole sample's fit and the held-out refit
    assert all(thread != threading.get_ident() for thread, _, _ in calls)
    assert [seed for _, _, seed in calls] == [3, 3]  # the fit's: reproducible cells
    points = result.state["points"]
    assert sum(p.shape == points.shape and np.array_equal(p, points) for _, p, _ in calls) == 1


def test_a_fit_of_every_customer_computes_its_index_on_the_callers_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bootstrap refits fit every customer they are given, several at once: such a fit starts
    no thread of its own."""
    import threading

    calls = record_cells(monkeypatch, hdbscan)
    X, _ = groups()
    ALGO.fit(X, {}, 0)
    assert [(thread, seed) for thread, _, seed in calls] == [(threading.get_ident(), 0)]
    assert np.array_equal(calls[0][1], X)


def test_the_held_out_check_runs_only_when_a_sample_was_fitted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fit of every customer (bootstrap refits) has nothing held out: no refit for it."""
    refits = []
    check = hdbscan._holdout_assignment

    def seen(*args):
        refits.append(args[2])  # the held-out rows
        return check(*args)

    monkeypatch.setattr(hdbscan, "_holdout_assignment", seen)
    X = sampled_data()
    ALGO.fit(X, {"min_cluster_size": 8}, 0)
    assert refits == []
    ALGO.fit(X, {"sample_size": 250, "min_cluster_size": 8}, 0)
    assert [len(held) for held in refits] == [50]


def test_the_search_split_over_blocks_and_threads_places_as_one_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sampled fit searches every customer's nearest fitted customers in blocks, on two
    threads, starting before the tree is built: with blocks of 16 customers both threads
    search, and the labels, confidence and state are those of one block, and of assign."""
    import threading

    X = sampled_data()
    params = {"sample_size": 250, "min_cluster_size": 8}
    whole = ALGO.fit(X, params, 3)
    searched: list[tuple[int, int, dict]] = []
    search = hdbscan.nearest
    lock, second = threading.Lock(), threading.Event()

    def recorded(points, centres, Q, k):
        threads: dict[str, set[int]] = {}
        for pool in threadpool_info():
            threads.setdefault(pool["user_api"], set()).add(pool["num_threads"])
        with lock:
            searched.append((threading.get_ident(), len(Q), threads))
            blocks = [thread for thread, size, _ in searched if size == 16]
            first = len(Q) == 16 and len(blocks) == 1
            if len(set(blocks)) == 2:
                second.set()
        if first:  # the first block waits for the other thread's first: both search
            second.wait(5)
        return search(points, centres, Q, k)

    monkeypatch.setattr(hdbscan, "nearest", recorded)
    monkeypatch.setattr(hdbscan, "PLACE_BLOCK_ROWS", 16)
    before = {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()}
    split = ALGO.fit(X, params, 3)
    assert {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()} == before
    blocks = [(thread, size) for thread, size, _ in searched if size in (16, len(X) % 16)]
    assert sum(size for _, size in blocks) == len(X) and len(blocks) == -(-len(X) // 16)
    assert len({thread for thread, _ in blocks}) == 2
    assert threading.get_ident() not in {thread for thread, _, _ in searched}
    # each search on one BLAS and one OpenMP thread: two searches share the two cores
    assert all(threads == {"blas": {1}, "openmp": {1}} for _, _, threads in searched)
    assert np.array_equal(split.labels, whole.labels)
    assert np.array_equal(split.confidence, whole.confidence, equal_nan=True)
    assert split.params == whole.params and split.notes == whole.notes
    for name, value in whole.state.items():
        assert np.array_equal(split.state[name], value), name
    labels, confidence = ALGO.assign(split.state, X)
    assert np.array_equal(labels, split.labels)
    assert np.array_equal(confidence, split.confidence, equal_nan=True)


@pytest.mark.parametrize("failing", ["cell_centres", "nearest", "_holdout_assignment"])
def test_an_error_beside_the_tree_is_the_fits(monkeypatch: pytest.MonkeyPatch, failing) -> None:
    """The cells, the searches and the held-out check run on other threads: an error there
    ends the fit with that error (the tree waits for the cells; it must not wait forever),
    and the search stops early instead of searching every block first."""

    searched = []
    search = hdbscan.nearest

    def recorded(points, centres, Q, k):
        searched.append(len(Q))
        return search(points, centres, Q, k)

    def fail(*args, **kwargs):
        raise RuntimeError(f"{failing} failed")

    monkeypatch.setattr(hdbscan, "nearest", recorded)
    monkeypatch.setattr(hdbscan, failing, fail)
    monkeypatch.setattr(hdbscan, "PLACE_BLOCK_ROWS", 4)
    with pytest.raises(RuntimeError, match=f"{failing} failed"):
        ALGO.fit(sampled_data(), {"sample_size": 250, "min_cluster_size": 8}, 0)
    assert len(searched) < 90  # blocks of 4: the search stopped early


def search_threads() -> list[tuple]:
    """The (library, threads) each search of a sampled fit's placement ran with."""
    seen, search = [], hdbscan.nearest

    def recorded(points, centres, Q, k):
        seen.append(tuple(sorted({(p["user_api"], p["num_threads"]) for p in threadpool_info()})))
        return search(points, centres, Q, k)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hdbscan, "nearest", recorded)
        patch.setattr(hdbscan, "PLACE_BLOCK_ROWS", 16)
        ALGO.fit(sampled_data(), {"sample_size": 250, "min_cluster_size": 8}, 3)
    return sorted(set(seen))


_SEARCH_THREADS = """
from test_algo_hdbscan import search_threads
print(search_threads())
"""


def test_each_search_runs_one_blas_and_one_openmp_thread() -> None:
    """Here, and in a process with two BLAS and two OpenMP threads by default (OpenMP's
    default is read when its library loads: mutation runs set OMP_NUM_THREADS=1 for this
    process), every search beside the tree runs on one of each: two searches share the two
    cores."""
    import os
    import subprocess
    import sys

    one_each = [(("blas", 1), ("openmp", 1))]
    assert search_threads() == one_each
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    out = subprocess.run(
        [sys.executable, "-c", _SEARCH_THREADS], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(one_each)


def test_an_error_in_the_tree_stops_the_search_beside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search for every customer starts beside the tree: when the tree fails, the search
    stops after the block it is on, and the error is the fit's."""
    searched = []
    search = hdbscan.nearest

    def recorded(points, centres, Q, k):
        searched.append(len(Q))
        return search(points, centres, Q, k)

    def fail(*args, **kwargs):
        raise RuntimeError("the tree failed")

    monkeypatch.setattr(hdbscan, "nearest", recorded)
    monkeypatch.setattr(hdbscan, "PLACE_BLOCK_ROWS", 4)
    monkeypatch.setattr(hdbscan, "hdbscan_labels_and_tree", fail)
    with pytest.raises(RuntimeError, match="the tree failed"):
        ALGO.fit(sampled_data(), {"sample_size": 250, "min_cluster_size": 8}, 0)
    assert len(searched) < 90  # blocks of 4: the search stopped early
