"""Nearest retained customers for the density methods: an inverted-file index (faiss).

DBSCAN and HDBSCAN fit a sample and keep up to ten thousand of its customers; every other
customer (a million, say) is then placed by its nearest kept ones. Brute force costs
rows x kept x features (about 30 s at 1M x 10k x 38 here), and scikit-learn's KD and ball
trees are slower still on 38 features (measured 2.5x and 5x brute force: in that many
dimensions a tree prunes almost nothing). An inverted file prunes by region instead: the
kept customers are split into ``2 sqrt(kept)`` cells by k-means, and each query compares
itself with the customers of its ``NPROBE`` nearest cells only (faiss ``IndexIVFFlat``).

The result is approximate only when a customer's true nearest kept customer lies outside
its ``NPROBE`` nearest cells, i.e. far from the query, where the density rules usually say
"noise" anyway; the agreement of the whole sample-fit + assign path is measured on a held-out
part of each fit and reported in the version's notes. ``NPROBE`` trades that for time: the
search of 1M customers is the largest step of a density fit, and its cost grows with the
cells probed. With 4 of 200 cells (1M x 10k x 38, bench_density's data), 99.8% find the
exact nearest and 98.7% the exact 4th nearest (8 cells: 100% and 99.9%, at 1.8x the time);
on isotropic blobs, the hard case in tests/engine/test_algorithms.py, 86% find the exact
nearest, always of the same segment, and the one found is at most 1.23x farther for 99%.

Deterministic: the cell centres are a seeded k-means of the kept customers, stored with the
fitted state, and the index is rebuilt from the stored arrays in the same order, so the fit
and a later ``assign`` search the same index and give the same answer. Up to
``EXACT_WORK`` distance computations (customers to place x kept customers, e.g. 50k x 10k)
the search is exact instead (brute force, scikit-learn): bootstrap refits and held-out checks
place a few thousand customers, where building cells would cost more than it saves. Such a
state stores no cells, so a later ``assign`` is exact too and gives the same labels.
"""

from __future__ import annotations

import numpy as np

from segtrail.engine.algorithms.base import one_thread, quiet_convergence

EXACT_WORK = 500_000_000  # rows to place x kept customers up to which brute force is used
NPROBE = 4  # cells each query searches (of 2 sqrt(kept)); see the module doc
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
    # imported here: only the density methods need it
    from segtrail.engine.algorithms.faiss_import import faiss

    quantizer = faiss.IndexFlatL2(points.shape[1])
    quantizer.add(np.ascontiguousarray(centres, dtype=np.float32))
    index = faiss.IndexIVFFlat(quantizer, points.shape[1], len(centres))
    index.is_trained = True  # the cells are ours (seeded, stored): no faiss training
    index.add(np.ascontiguousarray(points, dtype=np.float32))
    index.nprobe = min(NPROBE, len(centres))
    squared, idx = index.search(np.ascontiguousarray(X, dtype=np.float32), k)
    missing = idx < 0
    dist = np.sqrt(np.maximum(squared, 0), dtype=np.float32)
    dist[missing] = np.inf
    idx[missing] = 0
    return dist, idx
