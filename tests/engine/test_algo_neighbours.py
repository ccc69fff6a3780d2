"""The nearest kept customers of the density methods (engine/algorithms/neighbours.py) on
small hand-made data: exact search against scikit-learn's brute-force NearestNeighbors and a
plain distance table, the inverted-file path with cells the test chooses (what it reaches and
what it leaves as missing), and the seeded cell centres against scikit-learn's KMeans."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans as SkKMeans
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from segtrail.engine.algorithms.neighbours import EXACT_WORK, NPROBE, cell_centres, nearest


def _table(points: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Every query's Euclidean distance to every point (float64)."""
    diff = X.astype(np.float64)[:, None, :] - points.astype(np.float64)[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def _no_cells(d: int) -> np.ndarray:
    return np.zeros((0, d), dtype=np.float32)


def test_exact_search_gives_the_k_nearest_in_order() -> None:
    rng = np.random.default_rng(1)
    points = rng.normal(size=(40, 3))
    X = rng.normal(size=(25, 3)).astype(np.float32)
    dist, idx = nearest(points, _no_cells(3), X, 4)
    assert dist.shape == idx.shape == (25, 4)
    assert dist.dtype == np.float32 and idx.dtype == np.int64
    table = _table(points, X)
    assert np.array_equal(idx, np.argsort(table, axis=1)[:, :4])  # no ties in random data
    assert np.allclose(dist, np.sort(table, axis=1)[:, :4], atol=1e-5)
    theirs = NearestNeighbors(n_neighbors=4).fit(points).kneighbors(X)
    assert np.allclose(dist, theirs[0], atol=1e-5) and np.array_equal(idx, theirs[1])


def test_exact_search_of_the_points_themselves_finds_each_first() -> None:
    points = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]], dtype=np.float32)
    dist, idx = nearest(points, _no_cells(2), points, 2)
    assert idx.tolist() == [[0, 1], [1, 0], [2, 1]]
    assert dist.tolist() == [[0.0, 5.0], [0.0, 5.0], [0.0, 5.0]]


def test_k_beyond_the_points_gives_every_point() -> None:
    points = np.array([[0.0], [2.0], [7.0]], dtype=np.float32)
    dist, idx = nearest(points, _no_cells(1), np.array([[1.5]], dtype=np.float32), 10)
    assert idx.tolist() == [[1, 0, 2]]
    assert dist.tolist() == [[0.5, 1.5, 5.5]]


def test_the_index_searches_nearby_cells_only_and_marks_the_rest_missing() -> None:
    """Cells along a line, a point in each (point i at x = i, the centre of cell i): a query
    at an end searches the NPROBE cells nearest to it (its own and the next ones along the
    line); neighbours in cells beyond are missing: distance inf, index 0."""
    n = NPROBE + 3
    line = np.array([[float(i), 0.0] for i in range(n)], dtype=np.float32)
    X = np.array([[0.0, 0.0], [n - 1.0, 0.0]], dtype=np.float32)
    dist, idx = nearest(line, line, X, NPROBE + 2)
    assert dist.dtype == np.float32 and idx.dtype == np.int64
    reached = [float(i) for i in range(NPROBE)]
    assert dist.tolist() == [[*reached, np.inf, np.inf]] * 2
    assert idx[0].tolist() == [*range(NPROBE), 0, 0]
    assert idx[1].tolist() == [*range(n - 1, n - 1 - NPROBE, -1), 0, 0]
    one_dist, one_idx = nearest(line, line, X + np.float32([0.25, 0]), 1)  # the nearest only
    assert one_idx.tolist() == [[0], [n - 1]]
    assert np.allclose(one_dist, 0.25)


def test_a_query_searches_the_cells_nearest_its_own() -> None:
    """Cells along a line, spaced wider and wider (no two at the same distance), a point at
    each centre: a query at a centre finds the points of the NPROBE cells nearest to it,
    nearest first, and nothing of the cells beyond."""
    n = NPROBE + 6
    at = np.array([i + 0.02 * i**2 for i in range(n)])
    line = np.column_stack([at, np.zeros(n)]).astype(np.float32)
    for m in (0, 3, n // 2, n - 2, n - 1):
        dist, idx = nearest(line, line, line[m : m + 1], n)
        gaps = np.abs(at - at[m])
        searched = np.argsort(gaps)[:NPROBE]  # no ties
        assert idx[0, :NPROBE].tolist() == searched.tolist()
        assert np.allclose(dist[0, :NPROBE], gaps[searched], atol=1e-5)
        assert np.isinf(dist[0, NPROBE:]).all() and (idx[0, NPROBE:] == 0).all()


def test_the_index_gives_distances_not_squared_distances() -> None:
    points = np.array([[0.0, 0.0], [3.0, 4.0], [20.0, 0.0], [26.0, 8.0]], dtype=np.float32)
    cells = np.array([[1.0, 1.0], [22.0, 3.0]], dtype=np.float32)
    X = np.array([[0.0, 0.0], [23.0, 4.0]])
    for dtype in (np.float32, np.float64):  # float64 arrays are read as float32
        dist, idx = nearest(points.astype(dtype), cells.astype(dtype), X.astype(dtype), 2)
        assert idx.tolist() == [[0, 1], [2, 3]]  # both cells probed (fewer than NPROBE)
        assert dist.tolist() == [[0.0, 5.0], [5.0, 5.0]] and dist.dtype == np.float32


def test_the_index_with_every_cell_probed_is_exact() -> None:
    rng = np.random.default_rng(2)
    points = rng.normal(size=(60, 3)).astype(np.float32)
    cells = points[:NPROBE]  # at most NPROBE cells: all of them are searched
    X = rng.normal(size=(30, 3)).astype(np.float32)
    table = _table(points, X)
    for k in (1, 3, 10, 60):
        dist, idx = nearest(points, cells, X, k)
        assert np.array_equal(idx, np.argsort(table, axis=1)[:, :k])
        assert np.allclose(dist, np.sort(table, axis=1)[:, :k], atol=1e-4)


def test_no_cells_while_exact_search_is_cheap_enough() -> None:
    points = np.random.default_rng(3).normal(size=(100, 4))
    at_limit = cell_centres(points, 0, EXACT_WORK // 100)
    assert at_limit.shape == (0, 4) and at_limit.dtype == np.float32
    assert len(cell_centres(points, 0, EXACT_WORK // 100 + 1)) == 20  # 2 sqrt(100)
    few = points[: 4 * NPROBE - 1]  # too few points to split into cells
    assert cell_centres(few, 0, 10 * EXACT_WORK).shape == (0, 4)
    enough = len(cell_centres(points[: 4 * NPROBE], 0, 10 * EXACT_WORK))
    assert enough == round(2 * np.sqrt(4 * NPROBE))


def test_cell_centres_are_a_short_seeded_kmeans() -> None:
    """2 sqrt(n) cells from one k-means start of at most 20 iterations (these points take
    26 to converge), the same for the same seed."""
    points = np.random.default_rng(0).normal(size=(1600, 10))
    centres = cell_centres(points, 0, EXACT_WORK)
    assert centres.shape == (80, 10) and centres.dtype == np.float32
    assert centres.flags["C_CONTIGUOUS"]
    with threadpool_limits(1):
        short = SkKMeans(80, n_init=1, max_iter=20, random_state=0).fit(points)
        converged = SkKMeans(80, n_init=1, max_iter=300, random_state=0).fit(points)
    assert np.allclose(centres, short.cluster_centers_, atol=1e-5)
    assert converged.n_iter_ > 21
    assert not np.allclose(centres, converged.cluster_centers_, atol=1e-5)
    assert np.array_equal(cell_centres(points.copy(), 0, EXACT_WORK), centres)
    assert not np.allclose(cell_centres(points, 1, EXACT_WORK), centres)


def test_cells_found_by_the_centres_place_queries_exactly_on_separate_groups() -> None:
    """Four far-apart groups, 2 sqrt(n) cells: each query's own group lies in the cells it
    searches, so the index finds the true nearest kept customers."""
    rng = np.random.default_rng(5)
    n = 4 * NPROBE
    corners = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], dtype=np.float64)
    points = (corners[rng.integers(0, 4, n)] + rng.normal(0, 1, (n, 2))).astype(np.float32)
    centres = cell_centres(points, 0, EXACT_WORK)
    assert len(centres) == round(2 * np.sqrt(n))
    X = (corners[rng.integers(0, 4, 40)] + rng.normal(0, 1, (40, 2))).astype(np.float32)
    table = _table(points, X)
    for k in (1, 2):
        dist, idx = nearest(points, centres, X, k)
        assert np.array_equal(idx, np.argsort(table, axis=1)[:, :k])
        assert np.allclose(dist, np.sort(table, axis=1)[:, :k], atol=1e-4)


def test_the_index_is_exact_far_from_the_origin() -> None:
    """Customers close together far from the origin (at 10,000 and -10,000, a hundredth
    apart): float32 round-off of the large coordinates must not change which kept customer
    is nearest, nor its distance."""
    rng = np.random.default_rng(6)
    offset = np.array([10_000.0, -10_000.0])
    points = (offset + rng.uniform(0, 1, (4 * NPROBE, 2))).astype(np.float32)
    X = (offset + rng.uniform(0, 1, (50, 2))).astype(np.float32)
    centres = points[:NPROBE]  # every cell searched: the answer is the exact one
    table = _table(points, X)
    for k in (1, 3):
        dist, idx = nearest(points, centres, X, k)
        assert np.array_equal(idx, np.argsort(table, axis=1)[:, :k])
        assert np.allclose(dist, np.sort(table, axis=1)[:, :k], atol=2e-3)
