"""Lookalike audiences: rank a pool of customers or prospects by similarity to a seed group.

``X_pool`` is the feature matrix as used for clustering (already encoded and scaled by the
features step), one row per pool member; ``seed_mask`` marks the seed rows inside the pool.
Three scorers, all "higher = more like the seed":

- ``centroid``: minus the Euclidean distance to the seed's mean. Cheap, good for compact seeds.
- ``knn``: minus the mean Euclidean distance to the ``k`` nearest seed members. Follows seeds
  made of several pockets. The seed is sub-sampled to ``KNN_MAX_SEED`` rows so that a 1M pool
  stays fast (every pool row is a query).
- ``classifier``: PU learning (positive vs unlabeled). A gradient-boosted classifier separates
  the seed from a random sample of non-seed rows taken as negatives, though some of them are
  really lookalikes; under the usual "seed picked at random among the positives" assumption
  P(seed | x) ranks rows like P(positive | x). The sampled negatives are split in two halves A
  and B with one model each: model A scores the pool except half A, which model B scores, so
  no row is scored by a model that was told it is a negative (that would bury lookalikes that
  happened to be sampled). Seed and negatives are capped (``CLASSIFIER_MAX_SEED``, 3 negatives
  per seed row) so that fitting stays a small fixed cost whatever the pool size.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neighbors import NearestNeighbors

from segtrail.errors import InputError

Method = Literal["centroid", "knn", "classifier"]
METHODS = ("centroid", "knn", "classifier")
KNN_MAX_SEED = 1_000
CLASSIFIER_MAX_SEED = 5_000
CLASSIFIER_NEGATIVES_PER_POSITIVE = 3
CLASSIFIER_MIN_NEGATIVES = 1_000
_CHUNK = 65_536  # rows per query batch: bounds the memory of the knn distance blocks


def rank_lookalike(
    X_pool: np.ndarray,
    seed_mask: np.ndarray,
    method: Method,
    seed: int = 0,
    k: int = 10,
) -> np.ndarray:
    """Similarity to the seed for every pool row (float32, higher = more similar)."""
    X, mask = _check(X_pool, seed_mask, method)
    rng = np.random.default_rng(seed)
    if method == "centroid":
        return _centroid_scores(X, mask)
    if method == "knn":
        return _knn_scores(X, mask, k, rng)
    return _classifier_scores(X, mask, rng, seed)


def select_audience(scores: np.ndarray, seed_mask: np.ndarray, size: int) -> np.ndarray:
    """Indices of the ``size`` best-scored non-seed rows, best first (ties: lower index first).

    Returns fewer rows when the pool has fewer than ``size`` non-seed rows.
    """
    scores = np.asarray(scores)
    mask = np.asarray(seed_mask, dtype=bool)
    if scores.shape != mask.shape:
        raise InputError("scores and seed mask differ in length")
    if size < 0:
        raise InputError(f"audience size must be 0 or more, not {size}")
    candidates = np.flatnonzero(~mask)
    values = scores[candidates].astype(np.float64)
    values[np.isnan(values)] = -np.inf  # unscorable rows go last
    if 0 < size < len(candidates):
        # Only the best `size` need a full sort: partition first, keeping every row tied with
        # the cut so the tie-break below still sees all of them.
        cut = np.partition(-values, size - 1)[size - 1]
        keep = np.flatnonzero(-values <= cut)
        candidates, values = candidates[keep], values[keep]
    # lexsort: last key is primary; candidates are ascending, so ties keep the lower index
    order = np.lexsort((candidates, -values))
    return candidates[order[:size]]


def estimate_recall(
    X_pool: np.ndarray,
    seed_mask: np.ndarray,
    method: Method,
    size: int,
    holdout: float = 0.3,
    seed: int = 0,
    k: int = 10,
) -> dict[str, Any]:
    """How well ``method`` finds seed members it was not shown.

    A random ``holdout`` share of the seed is hidden in the pool, the rest is used as seed,
    and the audience of ``size`` is checked for the hidden members: ``recall`` is the share of
    them it holds, ``precision`` the share of it they make up. ``lift_over_random`` is the
    recall divided by that of a random audience of the same size drawn from the same
    candidates (the pool's non-seed rows plus the hidden ones): size / candidates.
    """
    X, mask = _check(X_pool, seed_mask, method)
    if not 0 < holdout < 1:
        raise InputError(f"holdout must be between 0 and 1, not {holdout}")
    members = np.flatnonzero(mask)
    n_hidden = round(holdout * len(members))
    if n_hidden < 1 or n_hidden >= len(members):
        raise InputError(f"a seed of {len(members)} is too small to hide {holdout:.0%} of it")
    rng = np.random.default_rng(seed)
    hidden = rng.choice(members, size=n_hidden, replace=False)
    shown = mask.copy()
    shown[hidden] = False

    scores = rank_lookalike(X, shown, method, seed=seed, k=k)
    audience = select_audience(scores, shown, size)
    recovered = int(np.isin(hidden, audience).sum())
    recall = recovered / n_hidden
    random_recall = min(1.0, size / int((~shown).sum()))
    return {
        "hidden": int(n_hidden),
        "recovered": recovered,
        "recall": recall,
        "precision": recovered / len(audience) if len(audience) else None,
        "candidates": int((~shown).sum()),
        "size": int(size),
        "random_recall": random_recall,
        "lift_over_random": recall / random_recall if random_recall > 0 else None,
    }


def _check(X_pool: np.ndarray, seed_mask: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    if method not in METHODS:
        raise InputError(f"unknown lookalike method {method!r}: use {', '.join(METHODS)}")
    X = np.asarray(X_pool, dtype=np.float32)
    mask = np.asarray(seed_mask, dtype=bool)
    if X.ndim != 2 or mask.shape != (X.shape[0],):
        raise InputError("the seed mask must have one entry per pool row")
    if not np.isfinite(X).all():
        raise InputError("the pool features contain missing or infinite values")
    if not mask.any():
        raise InputError("the seed is empty: no pool row is in it")
    if mask.all():
        raise InputError("every pool row is in the seed: nothing left to rank")
    return X, mask


def _centroid_scores(X: np.ndarray, mask: np.ndarray) -> np.ndarray:
    centre = X[mask].mean(axis=0, dtype=np.float64).astype(np.float32)
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2 avoids an n x d temporary
    sq = np.einsum("ij,ij->i", X, X) - 2 * (X @ centre) + centre @ centre
    return -np.sqrt(np.maximum(sq, 0, dtype=np.float32))


def _knn_scores(X: np.ndarray, mask: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    if k < 1:
        raise InputError(f"k must be 1 or more, not {k}")
    members = np.flatnonzero(mask)
    if len(members) > KNN_MAX_SEED:
        members = np.sort(rng.choice(members, size=KNN_MAX_SEED, replace=False))
    k = min(k, len(members))
    # brute force (BLAS): measured faster than trees for 1M queries against <= 1,000 seeds,
    # and its cost does not depend on how clustered the data is
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X[members])
    scores = np.empty(X.shape[0], dtype=np.float32)
    for start in range(0, X.shape[0], _CHUNK):
        dist, _ = nn.kneighbors(X[start : start + _CHUNK])
        scores[start : start + _CHUNK] = -dist.mean(axis=1)
    return scores


def _classifier_scores(
    X: np.ndarray, mask: np.ndarray, rng: np.random.Generator, seed: int
) -> np.ndarray:
    positives = np.flatnonzero(mask)
    if len(positives) > CLASSIFIER_MAX_SEED:
        positives = np.sort(rng.choice(positives, size=CLASSIFIER_MAX_SEED, replace=False))
    others = np.flatnonzero(~mask)
    wanted = max(CLASSIFIER_NEGATIVES_PER_POSITIVE * len(positives), CLASSIFIER_MIN_NEGATIVES)
    negatives = rng.choice(others, size=min(len(others), wanted), replace=False)
    halves = np.array_split(negatives, 2) if len(negatives) >= 2 else [negatives, negatives]

    # model A scores the pool; the half it trained on as negatives is scored by model B
    model_a, model_b = (_fit_classifier(X, positives, half, seed) for half in halves)
    scores = np.empty(X.shape[0], dtype=np.float32)
    for start in range(0, X.shape[0], _CHUNK * 4):
        block = X[start : start + _CHUNK * 4]
        scores[start : start + len(block)] = model_a.predict_proba(block)[:, 1]
    scores[halves[0]] = model_b.predict_proba(X[halves[0]])[:, 1]
    return scores


def _fit_classifier(
    X: np.ndarray, positives: np.ndarray, negatives: np.ndarray, seed: int
) -> HistGradientBoostingClassifier:
    rows = np.concatenate([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    # small trees and few rounds: seed-vs-rest is an easy, noisy target, and fit time matters
    model = HistGradientBoostingClassifier(
        max_iter=60,
        max_leaf_nodes=15,
        early_stopping=False,
        class_weight="balanced",
        random_state=seed,
    )
    return model.fit(X[rows], y)
