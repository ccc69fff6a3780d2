"""Core distances of a sample and of its rest (the held-out check) from one neighbour search,
against an independent brute-force reference (scipy's cdist, sorted)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from segtrail.engine.algorithms.reachability import core_distances_and_within


def kth_nearest(X: np.ndarray, k: int) -> np.ndarray:
    d = np.sort(cdist(X.astype(np.float64), X.astype(np.float64)), axis=1)
    return d[:, min(k, len(X)) - 1]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 150),
    min_samples=st.integers(1, 9),
    share=st.floats(0.02, 1.0),
    clumped=st.booleans(),
)
def test_core_distances_of_the_sample_and_of_its_rest(
    seed: int, n: int, min_samples: int, share: float, clumped: bool
) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    if clumped:  # customers that coincide, and a far clump the rest barely reaches
        X[: n // 4] = X[0]
        X[n // 2 :] += np.float32(40.0)
    rows = np.sort(rng.choice(n, max(1, round(share * n)), replace=False))
    whole, within = core_distances_and_within(X, min_samples, rows)
    assert np.allclose(whole, kth_nearest(X, min_samples), rtol=0, atol=1e-9)
    assert np.allclose(within, kth_nearest(X[rows], min_samples), rtol=0, atol=1e-9)


def test_a_rest_far_from_its_neighbours_is_searched_again() -> None:
    """Rows whose nearest customers are almost all outside ``rows``: their neighbour lists
    hold too few rows of ``rows``, and the answer is still the k-th nearest among ``rows``."""
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(size=(300, 4)), rng.normal(size=(10, 4)) + 30.0])
    rows = np.arange(280, 310)  # 20 of the first clump, 10 far away
    _, within = core_distances_and_within(X.astype(np.float32), 5, rows)
    assert np.allclose(within, kth_nearest(X[rows].astype(np.float32), 5), rtol=0, atol=1e-9)
