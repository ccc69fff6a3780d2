"""HDBSCAN's vectorised Prim's against scikit-learn's HDBSCAN and scipy's spanning tree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import minimum_spanning_tree as scipy_mst
from scipy.spatial.distance import cdist
from sklearn.cluster import HDBSCAN
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segtrail.engine.algorithms import reachability
from segtrail.engine.algorithms.reachability import (
    core_distances,
    hdbscan_labels,
    minimum_spanning_tree,
)


def data(n: int, seed: int, d: int = 6, duplicates: int = 0) -> np.ndarray:
    X, _ = make_blobs(n, n_features=d, centers=4, cluster_std=[0.5, 1.0, 1.5, 0.8],
                      random_state=seed)  # fmt: skip
    rng = np.random.default_rng(seed)
    X = np.vstack([X, rng.uniform(X.min(), X.max(), (n // 20, d))])  # some noise
    if duplicates:
        X = np.vstack([X, X[rng.integers(0, len(X), duplicates)]])
    return X.astype(np.float32)


def numbered_as(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """`ours` with each segment renumbered as the segment of `theirs` it shares most customers
    with (one to one, by the assignment problem; noise stays noise; a segment left over
    becomes -2): the segments' numbering is an order of discovery, not part of the result."""
    mine, their = np.unique(ours[ours >= 0]), np.unique(theirs[theirs >= 0])
    out = np.where(ours < 0, -1, -2)
    if len(mine) and len(their):
        shared = np.array([[np.sum((ours == a) & (theirs == b)) for b in their] for a in mine])
        rows, cols = linear_sum_assignment(-shared)
        for r, c in zip(rows, cols, strict=True):
            out[ours == mine[r]] = their[c]
    return out


def tied(X: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Customers with a spanning-tree edge whose weight another edge shares: where HDBSCAN
    itself depends on the order in which equal edges are merged."""
    frm, to, weight = minimum_spanning_tree(X, core)
    _, inverse, counts = np.unique(np.round(weight, 9), return_inverse=True, return_counts=True)
    shared = counts[inverse] > 1
    return np.unique(np.concatenate([frm[shared], to[shared]]))


# "leaf" is checked apart below: with min_samples >= 4 its leaves can differ well beyond the
# tied customers (a sweep of 480 cases: 11 with 2-25% of customers in another segment, up to
# label numbering; "eom" agreed within 1% in all 480). The spanning trees are both minimal
# (test below), so the difference is which of several minimal trees each side builds.
@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    min_samples=st.integers(1, 8),
    method=st.just("eom"),
    duplicates=st.sampled_from([0, 40]),
)
def test_labels_are_scikit_learns(
    seed: int, min_samples: int, method: str, duplicates: int
) -> None:
    """The same labels as scikit-learn's HDBSCAN (excess of mass, the default), but for the
    odd customer at a tie (equal mutual reachabilities, merged in another order)."""
    X = data(400, seed, duplicates=duplicates)
    min_cluster_size = 10
    core = core_distances(X, min_samples)
    ours = hdbscan_labels(X, core, min_cluster_size, min_samples, method)
    theirs = HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        cluster_selection_method=method,
        copy=True,
    ).fit(X)
    differ = np.flatnonzero(numbered_as(ours, theirs.labels_) != theirs.labels_)
    assert len(differ) <= 0.01 * len(X)
    assert np.isin(differ, tied(X, core)).all()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), min_samples=st.integers(1, 2))
def test_leaf_selection_is_scikit_learns_with_few_ties(seed: int, min_samples: int) -> None:
    """Leaf selection, where neighbourhoods are small (few equal mutual reachabilities): the
    same segments as scikit-learn's, up to their numbering, but for the odd tied customer."""
    X = data(400, seed)
    core = core_distances(X, min_samples)
    ours = hdbscan_labels(X, core, 10, min_samples, "leaf")
    theirs = HDBSCAN(
        min_cluster_size=10, min_samples=min_samples, cluster_selection_method="leaf", copy=True
    ).fit(X)
    assert adjusted_rand_score(ours, theirs.labels_) >= 0.97
    assert np.array_equal(ours < 0, theirs.labels_ < 0) or (
        np.count_nonzero((ours < 0) != (theirs.labels_ < 0)) <= 0.01 * len(X)
    )


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 120), min_samples=st.integers(1, 5))
def test_the_tree_is_a_minimum_spanning_tree_of_mutual_reachability(
    seed: int, n: int, min_samples: int
) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    X[: n // 4] = X[0]  # ties: a quarter of the customers coincide
    core = core_distances(X, min_samples)
    frm, to, weight = minimum_spanning_tree(X, core)
    assert len(frm) == n - 1
    # spanning: every customer reached, no edge repeated
    assert sorted({0, *to.tolist()}) == list(range(n))
    d = cdist(X.astype(np.float64), X.astype(np.float64))
    reach = np.maximum(d, np.maximum(core[:, None], core[None, :]))
    assert np.allclose(weight, reach[frm, to], atol=1e-6)
    # as light as scipy's tree (off-diagonal zeros are real ties: shift them off zero)
    reference = scipy_mst(np.triu(reach + 1.0, 1)).sum() - (n - 1)
    assert weight.sum() == pytest.approx(reference, abs=1e-5)


def test_without_scikit_learns_private_steps_the_public_estimator_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    X = data(300, 3)
    core = core_distances(X, 5)
    real_import = builtins.__import__

    def no_private(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.startswith("sklearn.cluster._hdbscan"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(reachability, "minimum_spanning_tree", None)  # must not be reached
    monkeypatch.setattr(builtins, "__import__", no_private)
    labels = hdbscan_labels(X, core, 9, 5, "eom")
    monkeypatch.undo()
    assert np.array_equal(
        labels, HDBSCAN(min_cluster_size=9, min_samples=5, copy=True).fit(X).labels_
    )
