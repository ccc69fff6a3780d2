"""HDBSCAN's segments from core distances: a vectorised Prim's on mutual reachability.

HDBSCAN (Campello et al. 2013) links customers by their mutual reachability
max(d(a, b), core(a), core(b)), takes the minimum spanning tree of that graph, and reads the
segments off the condensed single-linkage tree. scikit-learn computes the tree with a Prim's
loop that measures one pair of customers at a time (about 3.5 CPU s for 10,000 x 38 here),
and its own k-NN search for the core distances, which the density assignment needs too.

Here the core distances come from the caller (computed once, kept in the fitted state) and
Prim's adds one customer per step, measuring it against all customers not yet in the tree
with one matrix-vector product. The customers still outside the tree are kept at the front
of the arrays (the one just added is swapped to the end), so each step works on a shrinking
contiguous block: about 0.8 CPU s for 10,000 x 38, most of it that product, which reads the
block from memory at every step. Distances are squared until the edge is recorded (the
maximum is the same on squares). The loop's Python work holds the GIL, and the held-out
refit runs its own Prim's beside this one: per-step work is kept to a few whole-array calls
(two Prim's on two threads took 1.7-2.3 s, 1.2-1.4 s since). The tree is then turned into labels by
scikit-learn's own single-linkage and condensed-tree steps (``make_single_linkage``,
``tree_to_labels``), private functions of ``sklearn.cluster._hdbscan``: if they move, the
public ``sklearn.cluster.HDBSCAN`` is used instead (slower). The labels are scikit-learn's
except, rarely, for a customer at a tie (equal mutual reachabilities, which HDBSCAN merges in
whatever order its tree lists them); tested against scikit-learn's estimator.
"""

from __future__ import annotations

import numpy as np

WITHIN_EXTRA = 8  # neighbours listed beyond 2 x min_samples (core_distances_and_within)


def core_distances(X: np.ndarray, min_samples: int) -> np.ndarray:
    """Distance (float64) from each row to its ``min_samples``-th nearest row, itself the
    first: HDBSCAN's core distance."""
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    k = min(min_samples, len(X))
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X)
    return nn.kneighbors(X)[0][:, -1]


def core_distances_and_within(
    X: np.ndarray, min_samples: int, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``core_distances(X, min_samples)`` and ``core_distances(X[rows], min_samples)``
    (``rows`` ascending, the held-out check's rest), from one neighbour search of ``X``: a
    row's nearest among ``rows`` are its nearest in ``X`` that belong to ``rows``, so each
    is read off a longer neighbour list; the few rows whose list holds too few of them are
    searched again among ``rows``."""
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    k = min(min_samples, len(X))
    listed = min(len(X), 2 * k + WITHIN_EXTRA)
    dist, idx = NearestNeighbors(n_neighbors=listed, algorithm="brute").fit(X).kneighbors(X)
    k_rows = min(min_samples, len(rows))
    inside = np.zeros(len(X), dtype=bool)
    inside[rows] = True
    counted = np.cumsum(inside[idx[rows]], axis=1)  # neighbours in ``rows`` so far
    within = dist[rows, np.argmax(counted >= k_rows, axis=1)]
    short = counted[:, -1] < k_rows
    if short.any():
        search = NearestNeighbors(n_neighbors=k_rows, algorithm="brute").fit(X[rows])
        within[short] = search.kneighbors(X[rows][short])[0][:, -1]
    return dist[:, k - 1], within


def hdbscan_labels(
    X: np.ndarray, core: np.ndarray, min_cluster_size: int, min_samples: int, method: str
) -> np.ndarray:
    """HDBSCAN's labels (int32, -1 = noise; scikit-learn's numbering) of the rows of ``X``
    whose core distances (to the ``min_samples``-th nearest, itself first) are ``core``."""
    steps = _private_steps()
    if steps is None:  # scikit-learn moved its private steps: the public estimator
        return _public_hdbscan(X, min_cluster_size, min_samples, method)
    return _tree_labels(steps, minimum_spanning_tree(X, core), min_cluster_size, method)


def hdbscan_labels_and_tree(
    X: np.ndarray, core: np.ndarray, min_cluster_size: int, min_samples: int, method: str
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``hdbscan_labels`` and the spanning tree (``minimum_spanning_tree``'s edges) they
    were read from, built once; with the public estimator, the tree is built beside it."""
    steps = _private_steps()
    edges = minimum_spanning_tree(X, core)
    if steps is None:
        return _public_hdbscan(X, min_cluster_size, min_samples, method), edges
    return _tree_labels(steps, edges, min_cluster_size, method), edges


def _private_steps() -> tuple | None:
    """scikit-learn's private single-linkage and condensed-tree steps, or None if moved."""
    try:
        from sklearn.cluster._hdbscan._linkage import MST_edge_dtype, make_single_linkage
        from sklearn.cluster._hdbscan._tree import tree_to_labels
    except ImportError:
        return None
    return MST_edge_dtype, make_single_linkage, tree_to_labels


def _tree_labels(
    steps: tuple,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    min_cluster_size: int,
    method: str,
) -> np.ndarray:
    MST_edge_dtype, make_single_linkage, tree_to_labels = steps
    tree = np.empty(len(edges[0]), dtype=MST_edge_dtype)
    tree["current_node"], tree["next_node"], tree["distance"] = edges
    tree = tree[np.argsort(tree["distance"], kind="stable")]
    labels, _ = tree_to_labels(make_single_linkage(tree), min_cluster_size, method, False, 0.0)
    return np.asarray(labels, dtype=np.int32)


def minimum_spanning_tree(
    X: np.ndarray, core: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (from, to, mutual reachability) of a minimum spanning tree of the mutual
    reachability graph of the rows of ``X`` (n - 1 edges, in the order Prim's added them)."""
    X = np.asarray(X, dtype=np.float64)
    n, dims = X.shape
    # Each row holds a customer's features, its squared norm and 1, so that one
    # matrix-vector product with (-2 x_b, 1, |x_b|^2) gives |a|^2 + |b|^2 - 2 a.b, the
    # squared distances to b: the product (memory-bound) does what three passes did.
    rows = np.empty((n, dims + 2))
    rows[:, :dims] = X
    rows[:, dims] = np.einsum("ij,ij->i", X, X)
    rows[:, dims + 1] = 1.0
    scale = np.zeros(dims + 2)
    scale[:dims] = -2.0
    query = np.empty(dims + 2)
    core2 = np.square(np.asarray(core, dtype=np.float64))
    ids = np.arange(n)
    best = np.full(n, np.inf)  # squared reachability to the tree, rows not yet in it
    source = np.zeros(n, dtype=np.int64)  # the tree customer that reaches it so
    work = np.empty(n)
    closer = np.empty(n, dtype=bool)
    frm = np.empty(max(n - 1, 0), dtype=np.int64)
    to = np.empty(max(n - 1, 0), dtype=np.int64)
    weight = np.empty(max(n - 1, 0))
    pick = 0
    for active in range(n - 1, -1, -1):  # rows 0..active-1 stay outside the tree
        if pick != active:  # move the customer joining the tree to the end of the block
            # element by element: a fancy-indexed swap of a few values costs microseconds
            # holding the GIL (a third of the loop's time, and the held-out refit beside it
            # waited for it)
            moved = rows[pick].copy()
            rows[pick] = rows[active]
            rows[active] = moved
            for array in (core2, ids, best, source):
                array[pick], array[active] = array[active], array[pick]
        if active < n - 1:
            step = n - 2 - active
            frm[step], to[step], weight[step] = source[active], ids[active], best[active]
        if active == 0:
            break
        # squared distances from the new tree customer to every customer outside the tree
        np.multiply(rows[active], scale, out=query)
        query[dims] = 1.0
        query[dims + 1] = rows[active, dims]
        d = work[:active]
        np.dot(rows[:active], query, out=d)
        np.maximum(d, core2[:active], out=d)
        np.maximum(d, core2[active], out=d)
        np.less(d, best[:active], out=closer[:active])
        np.minimum(best[:active], d, out=best[:active])
        np.putmask(source[:active], closer[:active], ids[active])
        pick = int(np.argmin(best[:active]))
    return frm, to, np.sqrt(weight)


def _public_hdbscan(
    X: np.ndarray, min_cluster_size: int, min_samples: int, method: str
) -> np.ndarray:
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    model = SkHDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        cluster_selection_method=method,
        copy=True,
    )
    return model.fit(X).labels_.astype(np.int32)
