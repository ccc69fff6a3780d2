"""HDBSCAN: density segments at varying densities, plus noise (-1).

- ``min_cluster_size``: smallest segment worth reporting; default 1% of the fitted rows
  (at least ``MIN_CLUSTER_FLOOR``); at least 2 when given.
- ``min_samples``: neighbours that define a customer's core distance; default ``MIN_SAMPLES``
  (small keeps noise low on tens of features).
- ``cluster_selection_method``: "eom" (default, excess of mass) or "leaf".
- Above ``sample_size`` customers (default ``SAMPLE_SIZE``; HDBSCAN grows faster than
  linearly with rows) it fits a seeded sample.

The fit is scikit-learn's HDBSCAN (same labels) with its spanning tree built by a vectorised
Prim's (reachability.py), about four times faster on a 10,000-customer sample.

Assigning (every customer outside the fitted sample, and new customers later) follows
HDBSCAN's mutual reachability. Let p be the nearest fitted customer and core(x) the distance
from x to its ``min_samples``-th nearest fitted customer, counting x itself as the first
(so a fitted customer's core distance is the one HDBSCAN used). If p is noise, x is noise.
Otherwise x joins p's segment S when m = max(d(x, p), core(x), core(p)) <= reach(S), else x
is noise. reach(S) is the level at which S joins the rest of the fitted customers: the
smallest mutual reachability between one of S's fitted customers and a fitted customer
outside it (noise included), read off the spanning tree the labels came from (its smallest
edge leaving S). In the condensed tree (lambda = 1 / level) that is S's birth: S splits
from its parent at lambda_birth = 1 / reach(S), and each fitted customer of S has its own
lambda_p >= lambda_birth (scikit-learn's ``probabilities_`` scale lambda_p by the largest in
S). x joins S when it would join at lambda_x = 1 / m >= lambda_birth, i.e. inside S before S
meets anything else, as hdbscan's ``approximate_predict`` places a new point (which walks up
the tree from p's cluster while the cluster was born at a lambda >= lambda_x); there the
neighbour is the one nearest in mutual reachability among 2 x ``min_samples``, here the
nearest. The same holds for "leaf" (S a leaf of the tree) and for a segment whose customers
joined it one at a time: what counts is where S meets the rest, not how it grew, and
customers beyond its loosest member but before that level join it, as they would in a
refit. S's fitted customers are one group below reach(S) (S is a group of its own there),
so each has an edge inside S no longer than reach(S) and no shorter than its core distance,
whichever way a tie was broken (so also with the public-estimator fallback): a fitted
customer being its own nearest point (m = core(p)), the rule reproduces HDBSCAN's labels on
the sample. The state keeps the fitted points, their labels and core distances, reach per
segment, and the cells of the inverted-file index (neighbours.py) through which the nearest
fitted customers are found.

When a sample was fitted, the sample-fit + assign path is checked as for DBSCAN: HDBSCAN is
fitted again on the sample less a held-out share, the held-out customers are assigned by the
rule above, and their segments are compared with the full-sample fit's (``holdout_ari``).

Confidence: distance to that nearest fitted customer (nan for noise).
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from segtrail.engine.algorithms.base import (
    PLACE_BLOCK_ROWS,
    Algorithm,
    BeforePlacing,
    FitResult,
    as_matrix,
    fmt_int,
    limit_threads,
    one_thread,
    order_by_size,
    sample_rows,
    sample_size,
)
from segtrail.engine.algorithms.dbscan import holdout_ari, holdout_note, holdout_rows
from segtrail.engine.algorithms.neighbours import cell_centres, nearest
from segtrail.engine.algorithms.params import AUTO, Interval, Options, Param
from segtrail.engine.algorithms.reachability import (
    core_distances,
    core_distances_and_within,
    hdbscan_labels_and_tree,
)
from segtrail.errors import SegtrailError

MIN_SAMPLES = 5
MIN_CLUSTER_SHARE = 0.01
MIN_CLUSTER_FLOOR = 5
SAMPLE_SIZE = 10_000
METHODS = ("eom", "leaf")
STABILITY_BOOTSTRAPS = 10


class HDBSCAN(Algorithm):
    name = "hdbscan"
    confidence_meaning = "distance to the nearest fitted customer (smaller = denser)"
    # Bootstrap stability refits (compute/pipeline.py): fewer than the usual 20, as each
    # refit builds a spanning tree; the stability note says so.
    stability_bootstraps = STABILITY_BOOTSTRAPS
    parameters = (
        Param(
            "min_cluster_size",
            (Interval(int, 2, None, closed="left"),),
            AUTO,
            "smallest segment worth reporting, in customers "
            f"(default: 1% of the fitted customers, at least {MIN_CLUSTER_FLOOR})",
        ),
        Param(
            "min_samples",
            (Interval(int, 1, None, closed="left"),),
            MIN_SAMPLES,
            "neighbours, itself included, that define a customer's core distance",
        ),
        Param(
            "cluster_selection_method",
            (Options(METHODS),),
            "eom",
            "'eom' keeps the most persistent segments, 'leaf' the finest ones",
        ),
        sample_size(SAMPLE_SIZE),
    )

    def fit(
        self,
        X: np.ndarray,
        params: dict,
        seed: int,
        before_placing: BeforePlacing | None = None,
    ) -> FitResult:
        X = as_matrix(X)
        n = len(X)
        size = params["sample_size"]
        idx = sample_rows(n, size, seed)
        Xf = X[idx]
        min_samples = params["min_samples"]
        min_cluster_size = params["min_cluster_size"]
        if min_cluster_size is None:
            min_cluster_size = max(MIN_CLUSTER_FLOOR, round(MIN_CLUSTER_SHARE * len(idx)))
        method = params["cluster_selection_method"]
        if len(Xf) <= max(min_samples, min_cluster_size):
            raise SegtrailError(
                f"hdbscan needs more than {max(min_samples, min_cluster_size)} customers"
            )
        options = (min_cluster_size, min_samples, method)
        model = {
            "min_cluster_size": min_cluster_size,
            "min_samples": min_samples,
            "cluster_selection_method": method,
            "sample_size": size,
        }
        sampled = len(idx) < n
        held = rest = rest_core = None
        # core distance: to the min_samples-th nearest fitted customer, itself the first
        # (exact); computed once for the tree and for the assignment rule, and for the
        # held-out check's rest from the same search (both cores: nothing runs beside it)
        if sampled:
            held = holdout_rows(len(Xf), seed)
            rest = np.setdiff1d(np.arange(len(Xf)), held)
            core, rest_core = core_distances_and_within(Xf, min_samples, rest)
        else:
            with one_thread(len(Xf)):
                core = core_distances(Xf, min_samples)
        if len(idx) == n:
            # Every customer was fitted: HDBSCAN's own labels, which the assignment rule
            # reproduces (each is its own nearest fitted customer, at distance 0), without
            # searching for neighbours again (bootstrap refits take this path).
            fitted_labels, state = _fit_sample(Xf, core, options, seed, n)
            raw = fitted_labels
            confidence = np.where(raw >= 0, 0.0, np.nan).astype(np.float32)
        else:
            # The search for every customer's nearest fitted customers needs only the fitted
            # customers and the index's cells, not the tree: a second thread computes the
            # cells (k-means) and starts searching while this one builds the tree (Python
            # and memory-bound, beside a search that holds no GIL). Once the model is known,
            # the held-out check (a second fit on 80% of the sample) and the bootstrap refits
            # run on a third thread, which then searches too; each customer is then placed
            # by the assignment rule from its search.
            search = _SearchAhead(Xf, X, _neighbours(min_samples), seed)
            with (
                limit_threads(1, "blas"),
                ThreadPoolExecutor(2, initializer=limit_threads, initargs=(1, "openmp")) as pool,
            ):
                ahead = pool.submit(search.cells_then_run)
                # an error on any side (or Ctrl-C) stops the search after its current block
                # instead of waiting for every block
                with search.stopped_on_error():
                    fitted_labels, state = _fit_sample(Xf, core, options, seed, n, search.centres)
                    refits = before_placing(state, model) if before_placing else None

                    def alongside() -> np.ndarray:
                        with search.stopped_on_error():
                            held_out = _holdout_assignment(
                                self, Xf, held, rest, rest_core, options, seed
                            )
                            if refits is not None:
                                refits()
                            search.run()
                        return held_out

                    side = pool.submit(alongside)
                    ahead.result()  # the cells' error first: the tree waited for them
                    held_out = side.result()
            raw, confidence = _by_reach(state, *search.result())
        labels, mapping = order_by_size(raw)
        state["point_labels"] = np.array(
            [mapping.get(int(lab), -1) for lab in fitted_labels], dtype=np.int32
        )
        new_reach = np.zeros(len(mapping), dtype=np.float32)
        for old, new in mapping.items():
            new_reach[new] = state["reach"][old]
        state["reach"] = new_reach
        used = {
            **model,
            "fit_rows": len(idx),
            "n_rows": n,
            "noise_share": float((labels < 0).mean()),
        }
        notes = []
        if sampled:
            ari, _ = holdout_ari(fitted_labels, held, held_out)
            used["holdout_ari"] = ari
            notes.append(
                f"HDBSCAN fitted on a sample of {fmt_int(len(idx))} customers; the rest assigned "
                "to the segment of the nearest fitted customer when within the segment's reach"
            )
            notes.append(holdout_note(ari, len(held), len(idx)))
        if not mapping:
            notes.append("every customer is noise: try a smaller min_cluster_size")
        return FitResult(labels, confidence, used, state, notes)

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = as_matrix(X)
        # versions fitted before the index was stored have no cells: exact search
        centres = state.get("index_centres", np.zeros((0, X.shape[1]), np.float32))
        k = _neighbours(int(state["min_samples"]))
        return _by_reach(state, *nearest(state["points"], centres, X, k))


def _neighbours(min_samples: int) -> int:
    """How many nearest fitted customers the assignment rule reads: the core distance of a
    new customer is to its ``min_samples``-th nearest, itself counted as the first."""
    return max(min_samples - 1, 1)


def _by_reach(state: dict, dist: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and confidence of customers whose nearest fitted customers (``nearest``'s
    distances and indices, ``_neighbours`` of each) are known: the rule of the
    module's doc."""
    point_labels, core = state["point_labels"], state["core_distance"]
    k = int(state["min_samples"])
    nearest_point, d1 = idx[:, 0], dist[:, 0]
    # a point that coincides with a fitted one counts as that point (itself first)
    own = d1 <= 1e-6
    core_x = np.where(own, core[nearest_point], dist[:, -1] if k > 1 else 0)
    seg = point_labels[nearest_point]
    reach = np.append(state["reach"], 0.0).astype(np.float32)[seg]  # seg -1: unused
    mreach = np.maximum(np.maximum(d1, core_x), core[nearest_point])
    inside = (seg >= 0) & (mreach <= reach + 1e-5 * (1.0 + reach))  # float32 round-off
    labels = np.where(inside, seg, -1).astype(np.int32)
    return labels, np.where(inside, d1, np.nan).astype(np.float32)


class _SearchAhead:
    """The nearest fitted customers (``points``) of every customer (rows of ``X``), searched
    in blocks of PLACE_BLOCK_ROWS by whichever thread runs ``run`` next, once the index's
    cells are known: ``cells_then_run`` computes them (``cell_centres``) and publishes them
    in ``centres`` before it searches. Each row's search is its own, so the result is the
    same whichever thread searched which block."""

    def __init__(self, points: np.ndarray, X: np.ndarray, k: int, seed: int) -> None:
        self.points, self.X, self.k, self.seed = points, X, k, seed
        self.centres: Future = Future()
        self._starts: queue.SimpleQueue[int] = queue.SimpleQueue()
        for start in range(0, len(X), PLACE_BLOCK_ROWS):
            self._starts.put(start)
        self._found: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def cells_then_run(self) -> None:
        try:
            centres = cell_centres(self.points, self.seed, len(self.X))
        except BaseException as error:
            self.centres.set_exception(error)  # the fit, waiting for them, raises it
            raise
        self.centres.set_result(centres)
        self.run()

    def run(self) -> None:
        centres = self.centres.result()
        while True:
            try:
                start = self._starts.get_nowait()
            except queue.Empty:
                return
            block = self.X[start : start + PLACE_BLOCK_ROWS]
            self._found[start] = nearest(self.points, centres, block, self.k)

    @contextlib.contextmanager
    def stopped_on_error(self) -> Iterator[None]:
        """On an error in the block, leave the blocks not yet taken (each ``run`` ends after
        the block it searches), then raise it."""
        try:
            yield
        except BaseException:
            while not self._starts.empty():
                with contextlib.suppress(queue.Empty):  # another thread took the last one
                    self._starts.get_nowait()
            raise

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of every row, in row order (once every ``run`` ended)."""
        starts = sorted(self._found)
        return (
            np.concatenate([self._found[start][0] for start in starts]),
            np.concatenate([self._found[start][1] for start in starts]),
        )


def _fit_sample(
    Xf: np.ndarray,
    core: np.ndarray,
    options: tuple[int, int, str],
    seed: int,
    to_place: int,
    cells: Future | None = None,
) -> tuple[np.ndarray, dict]:
    """HDBSCAN's own labels of the fitted customers (whose core distances are ``core``)
    and the state that assigns ``to_place`` customers."""
    min_cluster_size, min_samples, method = options
    with one_thread(len(Xf)):
        fitted_labels, edges = hdbscan_labels_and_tree(
            Xf, core, min_cluster_size, min_samples, method
        )
    core = core.astype(np.float32)
    reach = _reach(fitted_labels, edges)
    points = np.ascontiguousarray(Xf)
    state = {
        "points": points,
        "point_labels": fitted_labels,
        "core_distance": core,
        "reach": reach,
        "min_samples": min_samples,
        # computed by the caller for these customers (``cells``), or here
        "index_centres": cell_centres(points, seed, to_place) if cells is None else cells.result(),
    }
    return fitted_labels, state


def _reach(labels: np.ndarray, edges: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Per segment (float32), the level at which it joins the rest: the smallest edge of the
    spanning tree (``edges``: from, to, mutual reachability) between one of its fitted
    customers (``labels``) and a fitted customer outside it (every segment has one: the
    whole sample is never one segment)."""
    frm, to, weight = edges
    weight = weight.astype(np.float32)
    reach = np.full(int(labels.max()) + 1, np.inf, dtype=np.float32)
    apart = labels[frm] != labels[to]
    for end in (labels[frm], labels[to]):
        leaving = apart & (end >= 0)
        np.minimum.at(reach, end[leaving], weight[leaving])
    return reach


def _holdout_assignment(
    algo: HDBSCAN,
    Xf: np.ndarray,
    held: np.ndarray,
    rest: np.ndarray,
    rest_core: np.ndarray,
    options: tuple[int, int, str],
    seed: int,
) -> np.ndarray:
    """The segments of the ``held`` rows of the sample when assigned from a fit on the
    ``rest`` (whose core distances among themselves are ``rest_core``)."""
    _, state = _fit_sample(Xf[rest], rest_core, options, seed, len(held))
    return algo.assign(state, Xf[held])[0]
