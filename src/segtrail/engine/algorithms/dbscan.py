"""DBSCAN: segments are dense regions; customers in sparse regions are noise (-1).

- ``min_samples`` (default ``MIN_SAMPLES``): points, itself included, within ``eps`` that
  make a customer a core point.
- ``eps`` when not given: the knee of the sorted k-distance curve (k = ``min_samples``,
  the distance from a customer to its (min_samples - 1)-th other neighbour), measured for up
  to ``KNEE_QUERIES`` customers. The knee is the point farthest below the chord from the
  smallest to the largest k-distance, both axes rescaled to 0..1 (the "hockey stick" bend).
- Above ``sample_size`` customers (default ``SAMPLE_SIZE``; DBSCAN keeps every
  neighbourhood in memory) it fits a seeded sample.

Every customer, sampled or not, is then labelled by one rule, which is also how new
customers are assigned: the label of the nearest core point if that point is within
``eps``, else noise. (This equals DBSCAN's own result except that a border point within
reach of two segments goes to the nearer core point.) At most ``MAX_CORE_POINTS`` core
points are kept (a seeded subset), and the nearest one is found through an inverted-file
index (neighbours.py), which bounds the cost of assigning a million customers.

The neighbourhoods of the fitted customers (every pair within ``eps``) are computed once, by
scikit-learn's own brute-force radius search (float64, so the same pairs its DBSCAN finds),
and given to scikit-learn's DBSCAN as a precomputed sparse graph (its documented input); the
labels are those of ``DBSCAN(algorithm="brute")`` on the customers.

When a sample was fitted, the sample-fit + assign path is checked: DBSCAN is fitted again on
the sample less a held-out ``HOLDOUT_SHARE`` (on the same graph less the held-out rows and
columns: no distance is computed twice), the held-out customers are assigned by the rule
above, and their segments are compared with the ones the full-sample fit gave them
(adjusted Rand index, ``holdout_ari`` in the parameters and a note).

Confidence: distance to the nearest core point (nan for noise).
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING

import numpy as np

from segtrail.engine.algorithms.base import (
    Algorithm,
    BeforePlacing,
    FitResult,
    as_matrix,
    beside,
    elbow_strength,
    fmt_int,
    one_thread,
    order_by_size,
    place_in_blocks,
    sample_rows,
    sample_size,
)
from segtrail.engine.algorithms.neighbours import cell_centres, nearest
from segtrail.engine.algorithms.params import AUTO, Interval, Param
from segtrail.errors import SegtrailError

if TYPE_CHECKING:
    from scipy import sparse

MIN_SAMPLES = 10
SAMPLE_SIZE = 20_000
KNEE_QUERIES = 5_000
MAX_CORE_POINTS = 10_000
HOLDOUT_SHARE = 0.2


class DBSCAN(Algorithm):
    name = "dbscan"
    confidence_meaning = "distance to the nearest core customer (smaller = denser)"
    parameters = (
        Param(
            "eps",
            (Interval(float, 0, None, closed="neither"),),
            AUTO,
            "neighbourhood radius in standardized units "
            "(default: the knee of the k-distance curve)",
        ),
        Param(
            "min_samples",
            (Interval(int, 2, None, closed="left"),),
            MIN_SAMPLES,
            "customers within eps, itself included, that make a customer a core customer",
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
        min_samples, size = params["min_samples"], params["sample_size"]
        idx = sample_rows(n, size, seed)
        Xf = X[idx]
        if len(Xf) <= min_samples:
            raise SegtrailError(f"dbscan needs more than min_samples={min_samples} customers")
        notes = []
        eps = params["eps"]
        if eps is None:
            # on both cores: nothing runs beside it, and the search is the same on one or
            # two threads (each query's neighbours are computed on their own)
            eps = knee_eps(Xf, min_samples, seed)
            notes.append(
                f"eps={eps:.3g} taken from the knee of the {min_samples}-nearest-neighbour "
                "distance curve"
            )
        sampled = len(idx) < n
        graph = radius_graph(Xf, eps)
        # The cells of the index over the core customers to keep (which the graph tells) and
        # the held-out check (a second fit on 80% of the sample) run on two more threads
        # while this one fits the whole sample: each is single-threaded and independent.
        kept = kept_core(core_customers(graph, min_samples), seed)
        with (
            beside(cell_centres if sampled else None, Xf[kept], seed, n) as cells,
            beside(
                self._holdout_agreement if sampled else None, Xf, graph, eps, min_samples, seed
            ) as holdout,
        ):
            centres = None if cells is None else (kept, cells)
            fitted_labels, state, n_core = _fit_sample(
                Xf, graph, eps, min_samples, seed, n, centres
            )
        if n_core > MAX_CORE_POINTS:
            notes.append(f"{fmt_int(MAX_CORE_POINTS)} core customers kept to assign the rest")
        model = {"eps": eps, "min_samples": min_samples, "sample_size": size}
        alongside = before_placing(state, model) if sampled and before_placing else None
        raw, confidence = place_in_blocks(self.assign, state, X, alongside)
        labels, mapping = order_by_size(raw)
        state["core_labels"] = np.array(
            [mapping.get(int(lab), -1) for lab in state["core_labels"]], dtype=np.int32
        )
        used = {
            **model,
            "fit_rows": len(idx),
            "n_rows": n,
            "n_core_points": len(state["core_points"]),
            "noise_share": float((labels < 0).mean()),
        }
        if sampled:
            ari, held = holdout_ari(fitted_labels, *holdout.result())
            used["holdout_ari"] = ari
            notes.append(
                f"DBSCAN fitted on a sample of {fmt_int(len(idx))} customers; the rest assigned "
                "to the nearest core customer within eps"
            )
            notes.append(holdout_note(ari, held, len(idx)))
        if not mapping:
            notes.append("every customer is noise: try a larger eps or a smaller min_samples")
        return FitResult(labels, confidence, used, state, notes)

    def _holdout_agreement(
        self, Xf: np.ndarray, graph: sparse.csr_matrix, eps: float, min_samples: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The held-out rows of the sample, and their segments when assigned from a fit on
        the rest (compared with the whole sample's fit by ``holdout_ari``)."""
        held = holdout_rows(len(Xf), seed)
        rest = np.setdiff1d(np.arange(len(Xf)), held)
        rest_graph = graph[rest][:, rest]  # the rest's neighbourhoods among it
        _, state, _ = _fit_sample(Xf[rest], rest_graph, eps, min_samples, seed, len(held))
        return held, self.assign(state, Xf[held])[0]

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = as_matrix(X)
        if len(state["core_points"]) == 0:
            return np.full(len(X), -1, np.int32), np.full(len(X), np.nan, np.float32)
        # versions fitted before the index was stored have no cells: exact search
        centres = state.get("index_centres", np.zeros((0, X.shape[1]), np.float32))
        dist, idx = nearest(state["core_points"], centres, X, 1)
        dist, nearest_core = dist[:, 0], idx[:, 0]
        inside = dist <= state["eps"]
        labels = np.where(inside, state["core_labels"][nearest_core], -1).astype(np.int32)
        return labels, np.where(inside, dist, np.nan).astype(np.float32)


def radius_graph(X: np.ndarray, eps: float) -> sparse.csr_matrix:
    """Every pair of rows within ``eps`` (each row with itself too): scikit-learn's
    brute-force radius search, the one its DBSCAN(algorithm="brute") runs, done once for the
    fit and the held-out refit. Both cores: nothing runs beside it.

    Each pair is stored with distance 0. DBSCAN uses only which customers are within eps
    of each other (its labels do not depend on the order of a neighbourhood), and a graph of
    equal values is already "sorted by distance": scikit-learn sorts any other precomputed
    graph row by row in Python, which took a third of a bootstrap refit's time."""
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(radius=eps, algorithm="brute").fit(X)
    graph = search.radius_neighbors_graph(X, mode="connectivity")
    graph.data[:] = 0.0
    return graph


def _fit_sample(
    Xf: np.ndarray,
    graph: sparse.csr_matrix,
    eps: float,
    min_samples: int,
    seed: int,
    to_place: int,
    centres: tuple[np.ndarray, Future] | None = None,
) -> tuple[np.ndarray, dict, int]:
    """DBSCAN's own labels of the fitted customers (whose neighbourhoods within ``eps`` are
    ``graph``), the state that assigns ``to_place`` customers, and how many core customers
    DBSCAN found (before keeping MAX_CORE_POINTS). ``centres``: the core customers the
    caller expected to keep, and the index cells it is computing for them."""
    from sklearn.cluster import DBSCAN as SkDBSCAN

    with one_thread(len(Xf)):
        # every stored pair is a pair of neighbours (its stored 0 is within eps)
        model = SkDBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(graph)
    found = model.core_sample_indices_
    core = kept_core(found, seed)
    points = np.ascontiguousarray(Xf[core])
    if centres is not None and np.array_equal(centres[0], core):
        cells = centres[1].result()
    else:  # none computed, or for other customers (DBSCAN counts them as core_customers)
        cells = cell_centres(points, seed, to_place)
    state = {
        "core_points": points,
        "core_labels": model.labels_[core].astype(np.int32),
        "index_centres": cells,
        "eps": float(eps),
    }
    return model.labels_.astype(np.int32), state, len(found)


def core_customers(graph: sparse.csr_matrix, min_samples: int) -> np.ndarray:
    """The fitted customers DBSCAN makes core, ascending: those with at least
    ``min_samples`` neighbours in their row of the radius ``graph`` (themselves included)."""
    return np.flatnonzero(np.diff(graph.indptr) >= min_samples)


def kept_core(found: np.ndarray, seed: int) -> np.ndarray:
    """The core customers kept to assign the rest: all, or a seeded MAX_CORE_POINTS."""
    if len(found) > MAX_CORE_POINTS:
        return found[sample_rows(len(found), MAX_CORE_POINTS, seed + 1)]
    return found


def holdout_rows(n: int, seed: int) -> np.ndarray:
    """The seeded share of a fitted sample held out to measure sample-fit + assign."""
    return sample_rows(n, max(1, round(HOLDOUT_SHARE * n)), seed + 3)


def holdout_ari(
    fitted_labels: np.ndarray, held: np.ndarray, assigned: np.ndarray
) -> tuple[float, int]:
    """Adjusted Rand index between the held-out rows' segments in the whole sample's fit
    and as assigned from the fit without them; and how many rows were held out."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(fitted_labels[held], assigned)), len(held)


def holdout_note(ari: float, held: int, fitted: int) -> str:
    return (
        f"sample fit + assign agreement: adjusted Rand index {ari:.2f} between the segments "
        f"of {fmt_int(held)} held-out sampled customers when fitted with the sample and when "
        f"assigned from a fit on the other {fmt_int(fitted - held)} (1 = the same)"
    )


def knee_eps(X: np.ndarray, min_samples: int, seed: int) -> float:
    """eps at the knee of the sorted k-distance curve (see module doc)."""
    queries = X[sample_rows(len(X), KNEE_QUERIES, seed + 2)]
    dist = nearest(X, np.zeros((0, X.shape[1]), np.float32), queries, min_samples)[0][:, -1]
    curve = np.sort(dist)  # the first neighbour is the customer itself
    knee = int(np.argmax(elbow_strength(np.arange(len(curve)), curve)))
    eps = float(curve[knee])
    return eps if eps > 0 else float(curve[curve > 0].min(initial=1.0))
