"""HDBSCAN's steps (engine/algorithms/reachability.py) on small hand-made data: core distances
against a plain sort of all distances, the spanning tree against scipy's on the same mutual
reachability graph, and the labels against scikit-learn's HDBSCAN (up to their numbering),
for both selections and for the fallback to the public estimator."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.sparse.csgraph import minimum_spanning_tree as scipy_mst
from scipy.spatial.distance import cdist

from algo_checks import assert_same_segments, hdbscan_reference, hide_private_hdbscan
from planted import small_blobs
from segtrail.engine.algorithms import reachability
from segtrail.engine.algorithms.reachability import (
    core_distances,
    core_distances_and_within,
    hdbscan_labels,
    hdbscan_labels_and_tree,
    minimum_spanning_tree,
)

LINE = np.array([[0.0], [1.0], [3.0], [6.0], [10.0]])


def plain_core(X: np.ndarray, min_samples: int) -> np.ndarray:
    """The min_samples-th smallest distance of each row to every row (itself the first)."""
    d = np.sort(cdist(X.astype(np.float64), X.astype(np.float64)), axis=1)
    return d[:, min(min_samples, len(X)) - 1]


def mutual_reachability(X: np.ndarray, core: np.ndarray) -> np.ndarray:
    d = cdist(X.astype(np.float64), X.astype(np.float64))
    return np.maximum(d, np.maximum(core[:, None], core[None, :]))


def scipy_weights(reach: np.ndarray) -> np.ndarray:
    """The sorted edge weights of scipy's minimum spanning tree (the same for every minimum
    spanning tree of a graph). scipy reads zeros as missing edges: shifted off zero."""
    n = len(reach)
    tree = scipy_mst(np.triu(reach + 1.0, 1)).tocoo()
    assert tree.nnz == n - 1
    return np.sort(tree.data - 1.0)


def assert_spanning_tree(frm: np.ndarray, to: np.ndarray, n: int) -> None:
    assert len(frm) == len(to) == n - 1
    graph = coo_matrix((np.ones(n - 1), (frm, to)), shape=(n, n))
    assert connected_components(graph, directed=False)[0] == 1


def groups() -> np.ndarray:
    X, _ = small_blobs((40, 30, 20))
    return np.vstack([X, np.float32([[30.0, 30.0], [-20.0, 5.0]])])


# ---------------------------------------------------------------------------- core distances


def test_core_distances_on_a_line() -> None:
    """Customers at 0, 1, 3, 6 and 10: the distance to the k-th nearest, itself the first."""
    assert core_distances(LINE, 1).tolist() == [0, 0, 0, 0, 0]
    assert core_distances(LINE, 2).tolist() == [1, 1, 2, 3, 4]
    assert core_distances(LINE, 3).tolist() == [3, 2, 3, 4, 7]
    assert core_distances(LINE, 5).tolist() == [10, 9, 7, 6, 10]
    # more neighbours asked than customers: the farthest one
    assert core_distances(LINE, 9).tolist() == [10, 9, 7, 6, 10]
    # float64, whatever the customers' type
    assert core_distances(LINE.astype(np.float32), 2).dtype == np.float64


@pytest.mark.parametrize("min_samples", [1, 2, 4, 7])
def test_core_distances_are_the_plain_sorts(min_samples: int) -> None:
    rng = np.random.default_rng(min_samples)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    X[:10] = X[0]  # ten customers at one place: zero distances
    core = core_distances(X, min_samples)
    assert core.shape == (60,)
    assert np.allclose(core, plain_core(X, min_samples), atol=1e-5)
    assert (core[:10] == 0).all() == (min_samples <= 10)


# ---------------------------------------------------------------------------- spanning tree


def test_the_tree_of_a_line_links_neighbours() -> None:
    frm, to, weight = minimum_spanning_tree(LINE, np.zeros(5))
    assert_spanning_tree(frm, to, 5)
    assert {frozenset(e) for e in zip(frm.tolist(), to.tolist(), strict=True)} == {
        frozenset((0, 1)),
        frozenset((1, 2)),
        frozenset((2, 3)),
        frozenset((3, 4)),
    }
    edge_weight = {
        frozenset(e): w for *e, w in zip(frm.tolist(), to.tolist(), weight.tolist(), strict=True)
    }
    assert edge_weight[frozenset((3, 4))] == pytest.approx(4.0)
    assert sorted(weight.tolist()) == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_edges_come_in_the_order_prims_adds_them() -> None:
    """Prim's starts from the first customer and adds the nearest one outside each time."""
    frm, to, weight = minimum_spanning_tree(LINE[[2, 0, 4, 1, 3]], np.zeros(5))
    # at 3, 0, 10, 1, 6: from 3 to 1, from 1 to 0, from 3 to 6, from 6 to 10
    assert frm.tolist() == [0, 3, 0, 4]
    assert to.tolist() == [3, 1, 4, 2]
    assert weight.tolist() == pytest.approx([2.0, 1.0, 3.0, 4.0])


def test_core_distances_raise_the_edges() -> None:
    """Core distances [3, 2, 3, 4, 7]: every edge weighs at least both ends' core distance."""
    core = np.array([3.0, 2.0, 3.0, 4.0, 7.0])
    frm, to, weight = minimum_spanning_tree(LINE, core)
    assert_spanning_tree(frm, to, 5)
    reach = mutual_reachability(LINE, core)
    assert np.allclose(weight, reach[frm, to])
    assert np.allclose(np.sort(weight), scipy_weights(reach))
    assert sorted(weight.tolist()) == pytest.approx([3.0, 3.0, 4.0, 7.0])


@pytest.mark.parametrize(("n", "min_samples"), [(2, 1), (3, 2), (25, 1), (40, 3), (40, 6)])
def test_the_tree_is_as_light_as_scipys(n: int, min_samples: int) -> None:
    rng = np.random.default_rng(n + min_samples)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    X[: n // 4] = X[0]  # a quarter of the customers coincide (ties and zero distances)
    core = plain_core(X, min_samples)
    frm, to, weight = minimum_spanning_tree(X, core)
    assert_spanning_tree(frm, to, n)
    reach = mutual_reachability(X, core)
    assert np.allclose(weight, reach[frm, to], atol=1e-6)
    assert np.allclose(np.sort(weight), scipy_weights(reach), atol=1e-6)


def test_one_customer_or_none_has_no_edges() -> None:
    for n in (0, 1):
        frm, to, weight = minimum_spanning_tree(np.zeros((n, 3)), np.zeros(n))
        assert len(frm) == len(to) == len(weight) == 0


def test_the_callers_arrays_are_left_alone() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    core = plain_core(X, 3)
    X_before, core_before = X.copy(), core.copy()
    minimum_spanning_tree(X, core)
    assert np.array_equal(X, X_before) and np.array_equal(core, core_before)


# ---------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("method", "min_samples"),
    [("eom", 1), ("eom", 2), ("eom", 5), ("eom", 8), ("leaf", 1), ("leaf", 2), ("leaf", 5)],
)
def test_labels_are_scikit_learns(method: str, min_samples: int) -> None:
    X = groups()
    labels = hdbscan_labels(X, core_distances(X, min_samples), 5, min_samples, method)
    assert labels.dtype == np.int32
    assert_same_segments(labels, hdbscan_reference(X, 5, min_samples, method))
    assert (labels[-2:] == -1).all()


def test_leaf_selection_finds_finer_segments_than_excess_of_mass() -> None:
    X = groups()
    core = core_distances(X, 5)
    eom = hdbscan_labels(X, core, 5, 5, "eom")
    leaf = hdbscan_labels(X, core, 5, 5, "leaf")
    assert len(set(eom.tolist()) - {-1}) == 3
    assert len(set(leaf.tolist()) - {-1}) > 3


def test_min_cluster_size_decides_what_is_a_segment() -> None:
    """Groups of 6 and 30: with a minimum of 7 the small one is noise."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 0.3, (30, 2)), rng.normal(0, 0.05, (6, 2)) + np.array([6, 0])])
    X = np.vstack([X, rng.normal(0, 0.3, (30, 2)) + np.array([0, 6])])
    core = core_distances(X, 3)
    six = hdbscan_labels(X, core, 6, 3, "eom")
    seven = hdbscan_labels(X, core, 7, 3, "eom")
    assert_same_segments(six, hdbscan_reference(X, 6, 3, "eom"))
    assert_same_segments(seven, hdbscan_reference(X, 7, 3, "eom"))
    assert len(set(six[30:36].tolist())) == 1 and six[30] >= 0
    assert (seven[30:36] == -1).all()


def test_one_group_alone_is_noise() -> None:
    """As scikit-learn's default, the whole data is never one segment: twenty evenly spaced
    customers, where no split leaves two parts of 11, are all noise."""
    X = np.column_stack([np.arange(20.0), np.zeros(20)])
    labels = hdbscan_labels(X, core_distances(X, 5), 11, 5, "eom")
    assert (hdbscan_reference(X, 11, 5, "eom") == -1).all()
    assert (labels == -1).all()


def test_close_groups_stay_apart() -> None:
    """Two tight groups half a unit apart are two segments (no merging epsilon)."""
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(0, 0.02, (20, 2)), rng.normal(0, 0.02, (20, 2)) + np.array([0.5, 0])])
    labels = hdbscan_labels(X, core_distances(X, 3), 5, 3, "eom")
    assert_same_segments(labels, np.repeat([0, 1], 20))


@pytest.mark.parametrize(("method", "min_samples"), [("eom", 5), ("leaf", 2), ("eom", 3)])
def test_without_scikit_learns_private_steps_the_public_estimator_is_used(
    monkeypatch: pytest.MonkeyPatch, method: str, min_samples: int
) -> None:
    X = groups()
    core = core_distances(X, min_samples)
    monkeypatch.setattr(reachability, "minimum_spanning_tree", None)  # must not be reached
    hide_private_hdbscan(monkeypatch)
    labels = hdbscan_labels(X, core, 7, min_samples, method)
    monkeypatch.undo()
    assert labels.dtype == np.int32
    assert np.array_equal(labels, hdbscan_reference(X, 7, min_samples, method))


@pytest.mark.parametrize(("method", "min_samples"), [("eom", 1), ("eom", 5), ("leaf", 2)])
@pytest.mark.parametrize("private", [True, False])
def test_the_labels_come_with_the_spanning_tree_they_were_read_from(
    monkeypatch: pytest.MonkeyPatch, method: str, min_samples: int, private: bool
) -> None:
    """The labels are scikit-learn's (read off the tree, the public estimator unused, while
    scikit-learn's private steps are there) and the tree is a minimum spanning tree of the
    mutual reachability (scipy's weights), also when the public estimator gives the labels."""
    X = groups()
    core = plain_core(X, min_samples)
    if private:
        monkeypatch.setattr(reachability, "_public_hdbscan", None)  # must not be reached
        alone = hdbscan_labels(X, core, 7, min_samples, method)
    else:
        hide_private_hdbscan(monkeypatch)
        alone = hdbscan_reference(X, 7, min_samples, method)
    labels, (frm, to, weight) = hdbscan_labels_and_tree(X, core, 7, min_samples, method)
    monkeypatch.undo()
    assert np.array_equal(labels, alone)
    assert labels.dtype == np.int32
    assert_same_segments(labels, hdbscan_reference(X, 7, min_samples, method))
    assert_spanning_tree(frm, to, len(X))
    reach = mutual_reachability(X, core)
    assert np.allclose(weight, reach[frm, to], atol=1e-9)
    assert np.allclose(np.sort(weight), scipy_weights(reach), atol=1e-9)


# ---------------------------------------------------------------------------- the held-out rest


@pytest.mark.parametrize("min_samples", [1, 2, 5, 9])
def test_core_distances_within_rows_are_the_plain_sorts(min_samples: int) -> None:
    """Core distances of all rows, and of a subset of rows among themselves alone."""
    rng = np.random.default_rng(min_samples)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    X[:10] = X[0]  # ten customers at one place: zero distances
    rows = np.sort(rng.choice(80, 60, replace=False))
    core, within = core_distances_and_within(X, min_samples, rows)
    assert core.shape == (80,) and within.shape == (60,)
    assert np.allclose(core, plain_core(X, min_samples), atol=1e-5)
    assert np.allclose(within, plain_core(X[rows], min_samples), atol=1e-5)


@pytest.mark.parametrize("min_samples", [2, 5])
def test_a_row_crowded_by_other_customers_is_searched_among_the_rows(min_samples: int) -> None:
    """The first customer sits in a crowd of 40 that are not among the rows: its nearest
    rows are the far ones."""
    rng = np.random.default_rng(0)
    crowd = rng.normal(0, 0.01, (41, 2))
    far = rng.normal(0, 1.0, (20, 2)) + np.array([10.0, 0.0])
    X = np.vstack([crowd, far])
    rows = np.concatenate([[0], np.arange(41, 61)])
    core, within = core_distances_and_within(X, min_samples, rows)
    assert np.allclose(core, plain_core(X, min_samples))
    assert np.allclose(within, plain_core(X[rows], min_samples))
    assert within[0] > 5  # its nearest rows are far


def test_fewer_rows_than_neighbours_asked() -> None:
    core, within = core_distances_and_within(LINE, 4, np.array([1, 3]))
    assert core.tolist() == [6, 5, 3, 5, 9]
    assert within.tolist() == [5, 5]  # of 1 and 6: the farthest of the two


def test_one_customer_alone() -> None:
    core, within = core_distances_and_within(np.zeros((1, 2)), 5, np.array([0]))
    assert core.tolist() == [0.0] and within.tolist() == [0.0]
