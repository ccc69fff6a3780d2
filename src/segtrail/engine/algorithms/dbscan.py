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
points are kept (a seeded subset), which bounds the cost of assigning a million customers.

Confidence: distance to the nearest core point (nan for noise).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import DBSCAN as SkDBSCAN
from sklearn.neighbors import NearestNeighbors

from segtrail.engine.algorithms.base import (
    Algorithm,
    FitResult,
    as_matrix,
    elbow_strength,
    fmt_int,
    nearest_centre,
    one_thread,
    order_by_size,
    sample_rows,
)
from segtrail.errors import SegtrailError

MIN_SAMPLES = 10
SAMPLE_SIZE = 20_000
KNEE_QUERIES = 5_000
MAX_CORE_POINTS = 10_000


class DBSCAN(Algorithm):
    name = "dbscan"
    confidence_meaning = "distance to the nearest core customer (smaller = denser)"
    model_params = ("eps", "min_samples", "sample_size")

    def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
        X = as_matrix(X)
        n = len(X)
        min_samples = int(
            MIN_SAMPLES if params.get("min_samples") is None else params["min_samples"]
        )
        sample_size = int(params.get("sample_size") or SAMPLE_SIZE)
        if min_samples < 2:
            raise SegtrailError(f"min_samples must be at least 2, got {min_samples}")
        idx = sample_rows(n, sample_size, seed)
        Xf = X[idx]
        if len(Xf) <= min_samples:
            raise SegtrailError(f"dbscan needs more than min_samples={min_samples} customers")
        notes = []
        eps = params.get("eps")
        if eps is None:
            with one_thread(len(Xf)):
                eps = knee_eps(Xf, min_samples, seed)
            notes.append(
                f"eps={eps:.3g} taken from the knee of the {min_samples}-nearest-neighbour "
                "distance curve"
            )
        eps = float(eps)
        if not eps > 0:
            raise SegtrailError(f"eps must be a positive number, got {eps}")
        with one_thread(len(Xf)):
            model = SkDBSCAN(eps=eps, min_samples=min_samples).fit(Xf)
        core = model.core_sample_indices_
        if len(core) > MAX_CORE_POINTS:
            keep = sample_rows(len(core), MAX_CORE_POINTS, seed + 1)
            core = core[keep]
            notes.append(f"{fmt_int(MAX_CORE_POINTS)} core customers kept to assign the rest")
        if len(idx) < n:
            notes.append(
                f"DBSCAN fitted on a sample of {fmt_int(len(idx))} customers; the rest assigned "
                "to the nearest core customer within eps"
            )
        state = {
            "core_points": np.ascontiguousarray(Xf[core]),
            "core_labels": model.labels_[core].astype(np.int32),
            "eps": eps,
        }
        raw, confidence = self.assign(state, X)
        labels, mapping = order_by_size(raw)
        state["core_labels"] = np.array(
            [mapping.get(int(lab), -1) for lab in state["core_labels"]], dtype=np.int32
        )
        used = {
            "eps": eps,
            "min_samples": min_samples,
            "sample_size": sample_size,
            "fit_rows": len(idx),
            "n_rows": n,
            "n_core_points": len(core),
            "noise_share": float((labels < 0).mean()),
        }
        if not mapping:
            notes.append("every customer is noise: try a larger eps or a smaller min_samples")
        return FitResult(labels, confidence, used, state, notes)

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = as_matrix(X)
        if len(state["core_points"]) == 0:
            return np.full(len(X), -1, np.int32), np.full(len(X), np.nan, np.float32)
        nearest, dist = nearest_centre(X, state["core_points"])
        inside = dist <= state["eps"]
        labels = np.where(inside, state["core_labels"][nearest], -1).astype(np.int32)
        return labels, np.where(inside, dist, np.nan).astype(np.float32)


def knee_eps(X: np.ndarray, min_samples: int, seed: int) -> float:
    """eps at the knee of the sorted k-distance curve (see module doc)."""
    queries = X[sample_rows(len(X), KNEE_QUERIES, seed + 2)]
    nn = NearestNeighbors(n_neighbors=min_samples, algorithm="brute").fit(X)
    dist = nn.kneighbors(queries, return_distance=True)[0][:, -1]  # first neighbour is itself
    curve = np.sort(dist)
    knee = int(np.argmax(elbow_strength(np.arange(len(curve)), curve)))
    eps = float(curve[knee])
    return eps if eps > 0 else float(curve[curve > 0].min(initial=1.0))
