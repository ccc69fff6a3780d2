"""DBSCAN fitted from one radius graph: against scikit-learn's own DBSCAN on the customers,
for the whole sample and for the held-out check's refit on the rest of it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.cluster import DBSCAN as SkDBSCAN
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from algo_checks import record_cells
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.base import sample_rows
from segtrail.engine.algorithms.dbscan import holdout_rows


def customers(seed: int) -> np.ndarray:
    X, _ = make_blobs(1_100, n_features=5, centers=4, cluster_std=[0.4, 0.8, 1.2, 0.6],
                      random_state=seed)  # fmt: skip
    rng = np.random.default_rng(seed)
    X = np.vstack([X, rng.uniform(X.min(), X.max(), (60, 5))])  # sparse customers: noise
    X = np.vstack([X, X[rng.integers(0, len(X), 40)]])  # customers that coincide
    return X.astype(np.float32)


@pytest.mark.parametrize("seed", [0, 7])
def test_core_customers_and_held_out_agreement_are_scikit_learns(seed: int) -> None:
    X = customers(seed)
    size = 900
    result = get_algorithm("dbscan").fit(X, {"sample_size": size}, seed)
    eps, min_samples = result.params["eps"], result.params["min_samples"]
    Xf = X[sample_rows(len(X), size, seed)]
    theirs = SkDBSCAN(eps=eps, min_samples=min_samples, algorithm="brute").fit(Xf)
    core = theirs.core_sample_indices_
    # the same core customers, in the same segments (numbered by size here)
    assert np.array_equal(result.state["core_points"], Xf[core])
    assert adjusted_rand_score(theirs.labels_[core], result.state["core_labels"]) == 1.0
    assert len(set(theirs.labels_[core])) == len(set(result.state["core_labels"])) >= 3
    # the held-out check: scikit-learn's DBSCAN on the rest, the held-out customers given the
    # segment of their nearest core customer of that fit when within eps
    held = holdout_rows(size, seed)
    rest = np.setdiff1d(np.arange(size), held)
    refit = SkDBSCAN(eps=eps, min_samples=min_samples, algorithm="brute").fit(Xf[rest])
    rest_core = refit.core_sample_indices_
    d = cdist(Xf[held].astype(np.float64), Xf[rest][rest_core].astype(np.float64))
    near = d.argmin(axis=1)
    assigned = np.where(d.min(axis=1) <= eps, refit.labels_[rest_core][near], -1)
    expected = adjusted_rand_score(theirs.labels_[held], assigned)
    assert result.params["holdout_ari"] == pytest.approx(expected, abs=1e-12)


def test_the_radius_graph_holds_every_pair_within_eps_and_nothing_else() -> None:
    """Against distances computed here (float64): each customer's row holds exactly the
    customers within eps, itself and those that coincide with it included, each stored as 0,
    which scikit-learn takes as sorted by distance (it re-sorts no row of it)."""
    from sklearn.neighbors._base import _is_sorted_by_data

    from segtrail.engine.algorithms.dbscan import radius_graph

    X = customers(3)[:400]
    eps = 1.5
    graph = radius_graph(X, eps)
    near = cdist(X.astype(np.float64), X.astype(np.float64)) <= eps
    for row in range(len(X)):
        found = graph.indices[graph.indptr[row] : graph.indptr[row + 1]]
        assert sorted(found.tolist()) == np.flatnonzero(near[row]).tolist()
    assert (graph.data == 0).all() and _is_sorted_by_data(graph)
    assert len(set(np.diff(graph.indptr))) > 1  # rows of different lengths


@pytest.mark.parametrize("seed", [0, 7])
def test_the_core_customers_told_by_the_graph_are_scikit_learns(seed: int) -> None:
    from segtrail.engine.algorithms.dbscan import core_customers, radius_graph

    X = customers(seed)[:900]
    for eps in (0.3, 0.8):
        theirs = SkDBSCAN(eps=eps, min_samples=5, algorithm="brute").fit(X)
        graph = radius_graph(X, eps)
        assert np.array_equal(core_customers(graph, 5), theirs.core_sample_indices_)


def test_cells_for_other_core_customers_than_expected_are_made_again(monkeypatch) -> None:
    """The index cells computed beside the fit are used only for the core customers the fit
    keeps; otherwise they are computed again, and the fit is the same either way."""
    from segtrail.engine.algorithms import dbscan, neighbours

    monkeypatch.setattr(neighbours, "EXACT_WORK", 100_000)  # cells for this small fit
    X = customers(0)
    params = {"sample_size": 900}
    expected = get_algorithm("dbscan").fit(X, params, 0)
    assert len(expected.state["index_centres"]) > 0
    monkeypatch.setattr(dbscan, "core_customers", lambda graph, m: np.arange(3))
    again = get_algorithm("dbscan").fit(X, params, 0)
    for key in ("core_points", "core_labels", "index_centres"):
        assert np.array_equal(again.state[key], expected.state[key])
    assert np.array_equal(again.labels, expected.labels)


def test_hdbscan_cells_computed_beside_are_those_of_its_fitted_customers(monkeypatch) -> None:
    from segtrail.engine.algorithms import neighbours

    monkeypatch.setattr(neighbours, "EXACT_WORK", 100_000)  # cells for this small fit
    X = customers(0)
    state = get_algorithm("hdbscan").fit(X, {"sample_size": 900}, 0).state
    expected = neighbours.cell_centres(state["points"], 0, len(X))
    assert len(expected) > 0
    assert np.array_equal(state["index_centres"], expected)


def test_a_sampled_fit_computes_each_index_once_beside_the_fit(monkeypatch) -> None:
    """The cells of the kept core customers are computed on another thread while the sample
    is fitted, once (not again after the fit); the held-out refit's on its own thread too."""
    import threading

    from segtrail.engine.algorithms import dbscan

    calls = record_cells(monkeypatch, dbscan)
    result = get_algorithm("dbscan").fit(customers(0), {"sample_size": 900}, 3)
    assert len(calls) == 2  # the whole sample's fit and the held-out refit
    assert all(thread != threading.get_ident() for thread, _, _ in calls)
    assert [seed for _, _, seed in calls] == [3, 3]  # the fit's: reproducible cells
    cores = result.state["core_points"]
    assert sum(p.shape == cores.shape and np.array_equal(p, cores) for _, p, _ in calls) == 1


def test_a_fit_of_every_customer_computes_its_index_on_the_callers_thread(monkeypatch) -> None:
    """Bootstrap refits fit every customer they are given, several at once: such a fit starts
    no thread of its own."""
    import threading

    from segtrail.engine.algorithms import dbscan

    calls = record_cells(monkeypatch, dbscan)
    result = get_algorithm("dbscan").fit(customers(0)[:900], {}, 0)
    assert [(thread, seed) for thread, _, seed in calls] == [(threading.get_ident(), 0)]
    assert np.array_equal(calls[0][1], result.state["core_points"])


def test_a_neighbour_exactly_eps_away_makes_a_core_customer_as_in_scikit_learn() -> None:
    """Whole-number positions on a line: their distances are exact, and a neighbour exactly
    eps away counts (the middle of three customers one apart is core at min_samples 3)."""
    from segtrail.engine.algorithms.dbscan import core_customers, radius_graph

    X = np.array([[0.0], [1.0], [2.0], [5.0], [6.0], [9.0]], dtype=np.float32)
    theirs = SkDBSCAN(eps=1.0, min_samples=3, algorithm="brute").fit(X).core_sample_indices_
    assert theirs.tolist() == [1]
    assert core_customers(radius_graph(X, 1.0), 3).tolist() == [1]
