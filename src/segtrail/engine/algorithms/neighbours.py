"""Nearest retained customers for the density methods: an inverted file searched by matrix
products.

DBSCAN and HDBSCAN fit a sample and keep up to ten thousand of its customers; every other
customer (a million, say) is then placed by its nearest kept ones. Brute force costs
rows x kept x features (about 30 s at 1M x 10k x 38 here), and scikit-learn's KD and ball
trees are slower still on 38 features (measured 2.5x and 5x brute force: in that many
dimensions a tree prunes almost nothing). An inverted file prunes by region instead: the
kept customers are split into ``2 sqrt(kept)`` cells by k-means (each kept customer in the
cell of its nearest centre), and a customer to place compares itself only with the kept
customers of the ``NPROBE`` cells whose centres are nearest to its own cell's centre (its
own cell among them). The customers to place are grouped by their cell, so each cell's
search is one matrix product (customers of the cell x kept customers of its probed cells):
BLAS does that several times faster than faiss's per-query scan of the same inverted file
(``IndexIVFFlat``, used before; measured on bench_density's data, 1M x 10k x 38: 1.4 against
0.7-0.8 CPU s per 200,000 customers, at least as exact). The candidates are ranked by the
float32 product of centred rows; the distances returned are measured directly.

The result is approximate only when a customer's true nearest kept customer lies outside
the probed cells, i.e. far from the query, where the density rules usually say "noise"
anyway; the agreement of the whole sample-fit + assign path is measured on a held-out part
of each fit and reported in the version's notes. ``NPROBE`` trades that for time. With 12 of
200 cells (1M x 10k x 38, bench_density's data), 99.99% find the exact nearest (faiss with 4
of 200 per-query cells: 99.8%) and none is placed farther than faiss placed it; on isotropic
blobs, the hard case in tests/engine/test_algorithms.py, 87% find the exact nearest, always
of the same segment, and the one found is at most 1.29x farther for 99%.

Deterministic: the cell centres are a seeded k-means of the kept customers, stored with the
fitted state, and the cells are rebuilt from the stored arrays, so the fit and a later
``assign`` search the same cells and give the same answer. Up to ``EXACT_WORK`` distance
computations (customers to place x kept customers, e.g. 50k x 10k) the search is exact
instead (brute force, scikit-learn): bootstrap refits and held-out checks place a few
thousand customers, where building cells would cost more than it saves. Such a state stores
no cells, so a later ``assign`` is exact too and gives the same labels.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from segtrail.engine.algorithms.base import one_thread, quiet_convergence

EXACT_WORK = 500_000_000  # rows to place x kept customers up to which brute force is used
NPROBE = 12  # cells each query searches (of 2 sqrt(kept)); see the module doc
QUERY_BLOCK = 8_192  # rows per product with the cell centres (kept in cache)
ROW_BLOCK = 512  # customers to place per product within a cell
SMALL_K = 8  # up to this many neighbours, found by repeated argmin
SEARCH_THREADS = 2  # the cells are searched on two threads (the machine's cores)
CELL_KMEANS_ITER = 20  # the cells need only be reasonable, not converged


def cell_centres(points: np.ndarray, seed: int, queries: int) -> np.ndarray:
    """Centres of the index's cells for ``points``, to place ``queries`` customers: float32,
    empty when exact search is cheap enough (see EXACT_WORK). Stored with the fitted state."""
    from sklearn.cluster import KMeans as SkKMeans

    n, d = points.shape
    if n * queries <= EXACT_WORK or n < 4 * NPROBE:
        return np.zeros((0, d), dtype=np.float32)
    cells = round(2 * float(np.sqrt(n)))
    with one_thread(n), quiet_convergence():  # duplicates may give fewer distinct cells
        model = SkKMeans(cells, n_init=1, max_iter=CELL_KMEANS_ITER, random_state=seed)
        model.fit(points)
    return np.ascontiguousarray(model.cluster_centers_, dtype=np.float32)


def nearest(
    points: np.ndarray, centres: np.ndarray, X: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances (float32, ascending) and indices (int64) of the ``k`` nearest
    ``points`` for each row of ``X``. A neighbour the index did not reach has distance inf
    and index 0 (possible only for k > 1 in sparse cells)."""
    k = min(k, len(points))
    if len(centres) == 0:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(points)
        dist, idx = nn.kneighbors(X)
        return dist.astype(np.float32), idx
    points = np.ascontiguousarray(points, dtype=np.float32)
    centres = np.ascontiguousarray(centres, dtype=np.float32)
    X = np.asarray(X, dtype=np.float32)
    centre = points.mean(axis=0)  # products of centred rows lose less to float32 round-off
    cells, home = _cells_of(points - centre, X, centres - centre, centre)
    probes = _probes(centres)
    by_cell = np.argsort(cells, kind="stable")
    cell_start = np.searchsorted(cells[by_cell], np.arange(len(centres) + 1))
    queries = np.argsort(home, kind="stable")
    query_start = np.searchsorted(home[queries], np.arange(len(centres) + 1))
    dist = np.full((len(X), k), np.inf, dtype=np.float32)
    idx = np.zeros((len(X), k), dtype=np.int64)

    def search(cell: int) -> None:
        near = np.concatenate([by_cell[cell_start[c] : cell_start[c + 1]] for c in probes[cell]])
        if len(near) == 0:
            return
        found = min(k, len(near))
        P = points[near] - centre
        squares = np.einsum("ij,ij->i", P, P)
        # the cell's customers in blocks: each block's products stay in cache
        for lo in range(query_start[cell], query_start[cell + 1], ROW_BLOCK):
            rows = queries[lo : min(lo + ROW_BLOCK, query_start[cell + 1])]
            block = X[rows]
            if found < len(near):
                d = squares[None, :] - 2 * ((block - centre) @ P.T)
                chosen = near[_smallest(d, found)]  # the candidates, measured directly below
            else:
                chosen = np.broadcast_to(near, (len(rows), found))
            exact = np.linalg.norm(block[:, None, :] - points[chosen], axis=2)
            order = np.argsort(exact, axis=1, kind="stable")
            dist[rows, :found] = np.take_along_axis(exact, order, axis=1)
            idx[rows, :found] = np.take_along_axis(chosen, order, axis=1)

    # numpy releases the GIL in each cell's product: the cells are shared by two threads,
    # each with one BLAS thread (the products are small)
    with one_thread(), ThreadPoolExecutor(SEARCH_THREADS) as pool:
        list(pool.map(search, range(len(centres))))
    return dist, idx


def _smallest(d: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` smallest of each row of ``d`` (any order; ``d`` is overwritten):
    repeated argmin for a few (cheaper than a partition of every row), else a partition."""
    if k > SMALL_K:
        return np.argpartition(d, k - 1, axis=1)[:, :k]
    rows = np.arange(len(d))
    out = np.empty((len(d), k), dtype=np.int64)
    for j in range(k):
        out[:, j] = np.argmin(d, axis=1)
        d[rows, out[:, j]] = np.inf
    return out


def _cells_of(
    points: np.ndarray, X: np.ndarray, centres: np.ndarray, centre: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The cell (nearest of ``centres``) of each of the centred ``points``, and of each row
    of ``X`` once centred by ``centre``: matrix products of ``QUERY_BLOCK`` rows."""
    squares = np.einsum("ij,ij->i", centres, centres)

    def nearest_centre(rows: np.ndarray) -> np.ndarray:
        return np.argmin(squares[None, :] - 2 * (rows @ centres.T), axis=1)

    home = np.empty(len(X), dtype=np.int64)
    with one_thread():
        cells = np.concatenate(
            [
                nearest_centre(points[lo : lo + QUERY_BLOCK])
                for lo in range(0, len(points), QUERY_BLOCK)
            ]
        )
        for lo in range(0, len(X), QUERY_BLOCK):
            home[lo : lo + QUERY_BLOCK] = nearest_centre(X[lo : lo + QUERY_BLOCK] - centre)
    return cells, home


def _probes(centres: np.ndarray) -> np.ndarray:
    """For each cell, the ``NPROBE`` cells whose centres are nearest to its centre (itself
    among them): the cells its customers search."""
    squares = np.einsum("ij,ij->i", centres, centres)
    between = squares[:, None] + squares[None, :] - 2 * (centres @ centres.T)
    np.fill_diagonal(between, -np.inf)  # its own cell first, even beside a duplicate centre
    m = min(NPROBE, len(centres))
    return np.argsort(between, axis=1, kind="stable")[:, :m]
