"""Agglomerative clustering with Ward linkage: a tree of merges cut at k segments.

Ward's method merges, at each step, the two groups whose union increases the
within-segment sum of squares least. It needs all pairwise distances, so memory grows with
the square of the rows: above ``max_rows`` (default ``MAX_ROWS``) it refuses and suggests
kmeans. The tree is computed once (SciPy ``linkage``), so choosing k cuts the same tree at
every k of the range.

New customers go to the nearest segment centre (the mean of its members); confidence is
the distance to the own segment's centre.
"""

from __future__ import annotations

import numpy as np

from segtrail.engine.algorithms.base import (
    Algorithm,
    FitResult,
    K,
    as_matrix,
    centroids,
    distance_to_own,
    fmt_int,
    k_range,
    nearest_centre,
    order_by_size,
    resolve_k,
)
from segtrail.engine.algorithms.params import Interval, Param
from segtrail.errors import SegtrailError

MAX_ROWS = 20_000


class Agglomerative(Algorithm):
    name = "agglomerative"
    confidence_meaning = "distance to the segment centre (smaller = more typical)"
    parameters = (
        K,
        k_range((2, 12)),
        Param(
            "max_rows",
            (Interval(int, 2, None, closed="left"),),
            MAX_ROWS,
            "refuse tables larger than this (memory grows with the square of the rows)",
            model=False,
        ),
    )

    def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
        X = as_matrix(X)
        _check_size(len(X), params)
        k, selection, notes = resolve_k(self.name, X, params, seed)
        labels, _ = order_by_size(_cut(_tree(X), k))
        centres = centroids(X, labels, int(labels.max()) + 1)
        used = {"k": k, "linkage": "ward", "max_rows": params["max_rows"], "n_rows": len(X)}
        if selection is not None:
            used["k_range"] = params["k_range"]
            used["k_selection"] = selection
        confidence = distance_to_own(X, centres, labels)
        return FitResult(labels, confidence, used, {"centres": centres}, notes)

    def sweep(self, X: np.ndarray, ks, params: dict, seed: int) -> dict[int, dict]:
        X = as_matrix(X)
        _check_size(len(X), params)
        tree = _tree(X)
        return {k: {"labels": order_by_size(_cut(tree, k))[0]} for k in ks}

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return nearest_centre(as_matrix(X), state["centres"])


def _check_size(n: int, params: dict) -> None:
    limit = int(params.get("max_rows") or MAX_ROWS)  # sweeps pass no parameters
    if n > limit:
        raise SegtrailError(
            f"agglomerative (Ward) is limited to {fmt_int(limit)} customers, got {fmt_int(n)} "
            "(its memory grows with the square of the rows); use kmeans instead"
        )


def _tree(X: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import linkage

    return linkage(X.astype(np.float64), method="ward")


def _cut(tree: np.ndarray, k: int) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster

    return fcluster(tree, t=k, criterion="maxclust").astype(np.int32) - 1
