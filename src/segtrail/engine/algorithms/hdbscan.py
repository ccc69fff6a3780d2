"""HDBSCAN (scikit-learn): density segments at varying densities, plus noise (-1).

- ``min_cluster_size``: smallest segment worth reporting; default 1% of the fitted rows
  (at least ``MIN_CLUSTER_FLOOR``).
- ``min_samples``: neighbours that define a customer's core distance; default ``MIN_SAMPLES``
  (small keeps noise low on tens of features).
- ``cluster_selection_method``: "eom" (default, excess of mass) or "leaf".
- Above ``sample_size`` customers (default ``SAMPLE_SIZE``; HDBSCAN grows faster than
  linearly with rows) it fits a seeded sample.

Assigning (every customer outside the fitted sample, and new customers later) follows
HDBSCAN's mutual reachability. Let p be the nearest fitted customer and core(x) the distance
from x to its ``min_samples``-th nearest fitted customer, counting x itself as the first
(so a fitted customer's core distance is the one HDBSCAN used). If p is noise, x is noise.
Otherwise x joins p's segment S when max(d(x, p), core(x), core(p)) <= reach(S), the
largest core distance among S's fitted customers (the density level at which S exists);
else x is noise. A fitted customer is its own nearest point, so the rule reproduces
HDBSCAN's labels on the sample. The state keeps the fitted points, their labels and core
distances, and reach per segment.

Confidence: distance to that nearest fitted customer (nan for noise).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import HDBSCAN as SkHDBSCAN
from sklearn.neighbors import NearestNeighbors

from segtrail.engine.algorithms.base import (
    CHUNK_ROWS,
    Algorithm,
    FitResult,
    as_matrix,
    fmt_int,
    one_thread,
    order_by_size,
    sample_rows,
)
from segtrail.errors import SegtrailError

MIN_SAMPLES = 5
MIN_CLUSTER_SHARE = 0.01
MIN_CLUSTER_FLOOR = 5
SAMPLE_SIZE = 10_000
METHODS = ("eom", "leaf")


class HDBSCAN(Algorithm):
    name = "hdbscan"
    confidence_meaning = "distance to the nearest fitted customer (smaller = denser)"
    model_params = ("min_cluster_size", "min_samples", "cluster_selection_method", "sample_size")

    def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
        X = as_matrix(X)
        n = len(X)
        sample_size = int(params.get("sample_size") or SAMPLE_SIZE)
        idx = sample_rows(n, sample_size, seed)
        Xf = X[idx]
        min_samples = int(
            MIN_SAMPLES if params.get("min_samples") is None else params["min_samples"]
        )
        min_cluster_size = int(
            params.get("min_cluster_size")
            or max(MIN_CLUSTER_FLOOR, round(MIN_CLUSTER_SHARE * len(idx)))
        )
        method = params.get("cluster_selection_method") or "eom"
        if method not in METHODS:
            raise SegtrailError(f"cluster_selection_method must be one of {', '.join(METHODS)}")
        if min_cluster_size < 2 or min_samples < 1:
            raise SegtrailError("min_cluster_size must be >= 2 and min_samples >= 1")
        if len(Xf) <= max(min_samples, min_cluster_size):
            raise SegtrailError(
                f"hdbscan needs more than {max(min_samples, min_cluster_size)} customers"
            )
        model = SkHDBSCAN(
            min_cluster_size=min_cluster_size,
            min_samples=min_samples,
            cluster_selection_method=method,
            copy=True,
        )
        with one_thread(len(Xf)):
            model.fit(Xf)
        fitted_labels = model.labels_.astype(np.int32)
        core = _neighbours(Xf, Xf, min_samples)[0][:, -1]  # itself is the first neighbour
        n_seg = int(fitted_labels.max()) + 1
        reach = np.zeros(n_seg, dtype=np.float32)
        np.maximum.at(reach, fitted_labels[fitted_labels >= 0], core[fitted_labels >= 0])
        state = {
            "points": np.ascontiguousarray(Xf),
            "point_labels": fitted_labels,
            "core_distance": core,
            "reach": reach,
            "min_samples": min_samples,
        }
        raw, confidence = self.assign(state, X)
        labels, mapping = order_by_size(raw)
        state["point_labels"] = np.array(
            [mapping.get(int(lab), -1) for lab in fitted_labels], dtype=np.int32
        )
        new_reach = np.zeros(len(mapping), dtype=np.float32)
        for old, new in mapping.items():
            new_reach[new] = reach[old]
        state["reach"] = new_reach
        notes = []
        if len(idx) < n:
            notes.append(
                f"HDBSCAN fitted on a sample of {fmt_int(len(idx))} customers; the rest assigned "
                "to the segment of the nearest fitted customer when within the segment's reach"
            )
        if not mapping:
            notes.append("every customer is noise: try a smaller min_cluster_size")
        used = {
            "min_cluster_size": min_cluster_size,
            "min_samples": min_samples,
            "cluster_selection_method": method,
            "sample_size": sample_size,
            "fit_rows": len(idx),
            "n_rows": n,
            "noise_share": float((labels < 0).mean()),
        }
        return FitResult(labels, confidence, used, state, notes)

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = as_matrix(X)
        points, point_labels = state["points"], state["point_labels"]
        k = int(state["min_samples"])
        labels = np.full(len(X), -1, dtype=np.int32)
        confidence = np.full(len(X), np.nan, dtype=np.float32)
        for start in range(0, len(X), CHUNK_ROWS):
            part = X[start : start + CHUNK_ROWS]
            dist, idx = _neighbours(points, part, max(k - 1, 1))
            nearest, d1 = idx[:, 0], dist[:, 0]
            # a point that coincides with a fitted one counts as that point (itself first)
            own = d1 <= 1e-6
            core_x = np.where(own, state["core_distance"][nearest], dist[:, -1] if k > 1 else 0)
            seg = point_labels[nearest]
            reach = np.append(state["reach"], 0.0).astype(np.float32)[seg]  # seg -1: unused
            mreach = np.maximum(np.maximum(d1, core_x), state["core_distance"][nearest])
            inside = (seg >= 0) & (mreach <= reach + 1e-5 * (1.0 + reach))  # float32 round-off
            rows = slice(start, start + len(part))
            labels[rows] = np.where(inside, seg, -1)
            confidence[rows] = np.where(inside, d1, np.nan)
        return labels, confidence


def _neighbours(points: np.ndarray, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices of the k nearest ``points`` for each row of X (brute force)."""
    nn = NearestNeighbors(n_neighbors=min(k, len(points)), algorithm="brute").fit(points)
    dist, idx = nn.kneighbors(X)
    return dist.astype(np.float32), idx
