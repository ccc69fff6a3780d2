"""Bisecting k-means (scikit-learn ``BisectingKMeans``): split the segment with the largest
sum of squares in two with a 2-means, again and again, until there are k segments.

It costs about one 2-means pass per split, so it stays fast on large tables, and it is the
divisive algorithm Spark MLlib has (``BisectingKMeans``), which the Spark engine fits on
every customer. MLlib splits every leaf of a level at once (the larger first when that would
pass k), so on data without a clear hierarchy the two engines can split differently.
Splitting the largest segment instead (scikit-learn's "largest_cluster") was tried: on
planted groups of unequal sizes it cut the largest group in two and merged two small ones,
so the widest segment is split first (scikit-learn's default).

The stored state is the leaf centres only. A customer's segment is its nearest centre, for
the customers fitted as for new ones: scikit-learn and MLlib place rows by walking down the
tree, which can send a row near a boundary to a leaf that is not its nearest centre; with
nearest-centre labels ``assign`` reproduces the recorded labels exactly. Confidence: the
distance to the own segment's centre (smaller = more typical).
"""

from __future__ import annotations

import numpy as np

from segtrail.engine.algorithms.base import (
    Algorithm,
    FitResult,
    K,
    as_matrix,
    k_range,
    nearest_centre,
    one_thread,
    order_by_size,
    quiet_convergence,
    resolve_k,
)
from segtrail.engine.algorithms.params import Interval, Param

N_INIT = 1  # 2-means starts per split (scikit-learn's and MLlib's default: one)
MAX_ITER = 300


class Bisecting(Algorithm):
    name = "bisecting"
    confidence_meaning = "distance to the segment centre (smaller = more typical)"
    parameters = (
        K,
        k_range((2, 12)),
        Param(
            "n_init",
            (Interval(int, 1, None, closed="left"),),
            N_INIT,
            "2-means starts per split; the best is kept",
        ),
        Param(
            "max_iter",
            (Interval(int, 1, None, closed="left"),),
            MAX_ITER,
            "most Lloyd iterations per split",
        ),
    )

    def fit(self, X: np.ndarray, params: dict, seed: int) -> FitResult:
        from sklearn.cluster import BisectingKMeans

        X = as_matrix(X)
        k, selection, notes = resolve_k(self.name, X, params, seed)
        n_init, max_iter = params["n_init"], params["max_iter"]
        model = BisectingKMeans(
            k,
            n_init=n_init,
            max_iter=max_iter,
            random_state=seed,
            bisecting_strategy="biggest_inertia",
        )
        with one_thread(len(X)), quiet_convergence():
            model.fit(X)
        centres, labels, confidence = nearest_leaves(X, model.cluster_centers_)
        used = {
            "k": k,
            "n_init": n_init,
            "max_iter": max_iter,
            "n_rows": len(X),
            "inertia": float(np.square(confidence, dtype=np.float64).sum()),
        }
        if selection is not None:
            used["k_range"] = params["k_range"]
            used["k_selection"] = selection
        return FitResult(labels, confidence, used, {"centres": centres}, notes)

    def assign(self, state: dict, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return nearest_centre(as_matrix(X), state["centres"])


def nearest_leaves(X: np.ndarray, leaves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres numbered by size, labels and distances: every row goes to its nearest leaf
    centre; leaves nobody is nearest to are dropped (so labels are 0..k-1 with no gap).

    Shared with the Spark engine, which gets the leaf centres from MLlib."""
    raw, _ = nearest_centre(X, leaves)
    labels, mapping = order_by_size(raw)
    centres = np.zeros((len(mapping), X.shape[1]), dtype=np.float32)
    for old, new in mapping.items():
        centres[new] = leaves[old]
    # distances again from the kept centres: the same nearest centre, so the same labels
    labels, distance = nearest_centre(X, centres)
    return centres, labels, distance
