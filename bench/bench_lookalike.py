"""Lookalike over a 1M-row pool from a 10k seed, against bare scikit-learn of the same method."""

from __future__ import annotations

import numpy as np
from common import Figure, best_of, time_call
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

NOTES = (
    "Both sides start from the same float32 feature matrix (preprocessing is measured in the "
    "segment benchmark). The knn baseline queries all 10,000 seed members with scikit-learn's "
    "NearestNeighbors; segtrail sub-samples the seed (KNN_MAX_SEED in engine/lookalike.py), "
    "which is where its speed comes from."
)


def run(repeats: int = 2) -> list[Figure]:
    from segtrail.engine.lookalike import rank_lookalike, select_audience

    rng = np.random.default_rng(0)
    n, d = 1_000_000, 26
    X = rng.normal(size=(n, d)).astype(np.float32)
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, 10_000, replace=False)] = True
    X[mask] += 1.5
    size = 50_000

    def ours(method: str) -> None:
        select_audience(rank_lookalike(X, mask, method), mask, size)

    def bare_centroid() -> None:
        d = pairwise_distances(X, X[mask].mean(axis=0, keepdims=True)).ravel()
        d[mask] = np.inf
        np.argsort(d)[:size]

    def bare_knn() -> None:
        nn = NearestNeighbors(n_neighbors=10).fit(X[mask])
        dist, _ = nn.kneighbors(X)
        score = dist.mean(axis=1)
        score[mask] = np.inf
        np.argsort(score)[:size]

    figures = []
    for method, bare in (("centroid", bare_centroid), ("knn", bare_knn)):
        mine = best_of(repeats, lambda m=method: time_call(lambda: ours(m)))
        base = best_of(repeats, lambda b=bare: time_call(b))
        figures.append(
            Figure(
                f"lookalike {method}, 1M pool, 10k seed",
                f"segtrail {method}",
                mine,
                f"bare scikit-learn {method}",
                base,
            )
        )
    return figures
