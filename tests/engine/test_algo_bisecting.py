"""Bisecting k-means (engine/algorithms/bisecting.py) on small data: the leaves are
scikit-learn's (widest segment split first), every customer goes to its nearest leaf, the
parameters are honoured and recorded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import BisectingKMeans
from sklearn.metrics import adjusted_rand_score

from algo_checks import declared, fit_auto_k, k_and_range
from planted import small_blobs
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.algorithms.bisecting import nearest_leaves
from segtrail.errors import InvalidInput

ALGO = get_algorithm("bisecting")


def sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


def test_declared_parameters_as_the_cli_shows_them() -> None:
    assert declared(ALGO) == {
        **k_and_range(2, 12),
        "n_init": (1, "a whole number >= 1", "2-means starts per split; the best is kept", True),
        "max_iter": (300, "a whole number >= 1", "most Lloyd iterations per split", True),
    }
    assert ALGO.confidence_meaning == "distance to the segment centre (smaller = more typical)"
    assert not ALGO.higher_confidence_is_better


def test_recovers_planted_groups_with_distances_to_the_leaf_centres() -> None:
    X, y = small_blobs((40, 30, 20, 10))
    result = ALGO.fit(X, {"k": 4}, 0)
    assert adjusted_rand_score(y, result.labels) == 1.0
    assert np.bincount(result.labels).tolist() == [40, 30, 20, 10]
    centres = result.state["centres"]
    assert centres.dtype == np.float32 and centres.shape == (4, 2)
    dist = np.linalg.norm(X - centres[result.labels], axis=1)
    assert np.allclose(result.confidence, dist, atol=1e-5)
    assert result.notes == []
    labels, again = ALGO.assign(result.state, X)
    assert np.array_equal(labels, result.labels) and np.allclose(again, result.confidence)


@pytest.mark.parametrize(("n_init", "max_iter", "seed"), [(1, 300, 0), (3, 300, 5), (1, 1, 2)])
def test_the_leaves_are_scikit_learns_widest_first_split(
    n_init: int, max_iter: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    # a wide group beside a large tight one: "largest first" would cut the tight one
    X = np.vstack([rng.normal(0, 3.0, (60, 2)), rng.normal([20, 0], 0.3, (120, 2))])
    X = X.astype(np.float32)
    params = {"k": 4, "n_init": n_init, "max_iter": max_iter}
    result = ALGO.fit(X, params, seed)
    theirs = BisectingKMeans(
        4, n_init=n_init, max_iter=max_iter, random_state=seed, bisecting_strategy="biggest_inertia"
    ).fit(X)
    assert np.allclose(sorted_rows(result.state["centres"]), sorted_rows(theirs.cluster_centers_))
    used = result.params
    assert used == {
        "k": 4,
        "n_init": n_init,
        "max_iter": max_iter,
        "n_rows": 180,
        # summed in double precision
        "inertia": float((result.confidence.astype(np.float64) ** 2).sum()),
    }
    assert isinstance(used["inertia"], float)
    assert ALGO.refit_params(used) == params


def test_bad_parameters_are_refused() -> None:
    X, _ = small_blobs()
    with pytest.raises(InvalidInput, match=r"^n_init must be a whole number >= 1 for bisecting"):
        ALGO.fit(X, {"k": 2, "n_init": 0}, 0)
    with pytest.raises(InvalidInput, match=r"^max_iter must be a whole number >= 1 for bisecting"):
        ALGO.fit(X, {"k": 2, "max_iter": 0}, 0)


def test_auto_k_records_the_range_and_the_selection() -> None:
    assert fit_auto_k(ALGO, [2, 5]).params["k"] == 4


def test_nearest_leaves_numbers_by_size_and_drops_leaves_nobody_is_nearest_to() -> None:
    X = np.array([[0], [1], [10], [11], [12]], dtype=np.float32)
    leaves = np.array([[0.5], [100.0], [11.0]], dtype=np.float64)
    centres, labels, distance = nearest_leaves(X, leaves)
    assert centres.dtype == np.float32 and centres.tolist() == [[11.0], [0.5]]
    assert labels.tolist() == [1, 1, 0, 0, 0]
    assert np.allclose(distance, [0.5, 0.5, 1, 0, 1])
