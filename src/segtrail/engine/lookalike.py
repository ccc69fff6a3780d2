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

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neighbors import NearestNeighbors

from segtrail.engine.design import id_hash
from segtrail.errors import InputError, InvalidInput

Method = Literal["centroid", "knn", "classifier"]
METHODS = ("centroid", "knn", "classifier")
KNN_MAX_SEED = 1_000
CLASSIFIER_MAX_SEED = 5_000
CLASSIFIER_NEGATIVES_PER_POSITIVE = 3
CLASSIFIER_MIN_NEGATIVES = 1_000
_CHUNK = 65_536  # rows per query batch: bounds the memory of the knn distance blocks


# The fitted model sees at most this many seed members (all of them below it), chosen by
# the seeded id hash, so that every engine fits it on the same members (centroid).
CENTROID_MAX_SEED = 100_000


@dataclass(frozen=True)
class LookalikeModel:
    """What a lookalike method learnt from the seed: plain arrays and parameters, applied to
    any batch of pool rows by ``score_lookalike`` (the rows of one batch never depend on
    another's, so an engine may split the pool as it likes).

    ``points``: the seed's centre (centroid, 1 x d) or the seed members the neighbours are
    looked for among (knn, m x d). ``classifiers``: models A and B (classifier); the pool
    rows model A was told are negatives (``second_ids``) are scored by model B.
    ``seed_rows`` / ``negatives``: how many seed members (and, classifier, non-seed rows)
    it was fitted on."""

    method: str
    k: int
    points: np.ndarray
    classifiers: tuple = ()
    second_ids: np.ndarray = field(default_factory=lambda: np.empty(0))
    seed_rows: int = 0
    negatives: int = 0

    def summary(self) -> dict[str, Any]:
        """What the record says about the fitted model."""
        out: dict[str, Any] = {"method": self.method, "seed_rows": self.seed_rows}
        if self.method == "knn":
            out["k"] = self.k
        if self.method == "classifier":
            out["negatives"] = self.negatives
        return out


def seed_cap(method: str) -> int:
    """How many seed members the model of ``method`` is fitted on at most."""
    return {"centroid": CENTROID_MAX_SEED, "knn": KNN_MAX_SEED}.get(method, CLASSIFIER_MAX_SEED)


def negatives_wanted(positives: int) -> int:
    """How many non-seed rows the classifier takes as negatives for this many positives."""
    return max(CLASSIFIER_NEGATIVES_PER_POSITIVE * positives, CLASSIFIER_MIN_NEGATIVES)


def hash_key(ids: np.ndarray | pd.Index, seed: int) -> np.ndarray:
    """A seeded, engine-independent order of customers: the top 63 bits of ``id_hash``
    (an int64, so Spark can sort by the same number). The fitted model's members are the
    customers first in this order, whatever order an engine reads them in."""
    return (id_hash(ids, seed) >> np.uint64(1)).astype(np.int64)


def first_by_hash(keys: np.ndarray, ids: np.ndarray | pd.Index, count: int) -> np.ndarray:
    """Positions of the ``count`` rows first by (hash key, id as text), in that order."""
    text = pd.Index(ids).astype(str).to_numpy()
    order = np.lexsort((text, keys))
    return order[:count]


def fit_lookalike(
    X_seed: np.ndarray,
    method: Method,
    seed: int = 0,
    k: int = 10,
    X_negatives: np.ndarray | None = None,
    negative_ids: np.ndarray | None = None,
) -> LookalikeModel:
    """Fit ``method`` on the seed members given (already capped by the caller) and, for the
    classifier, on the negatives given: the first half trains model A, the second model B;
    ``negative_ids`` names the first half's rows, which model B scores."""
    if method not in METHODS:
        raise InputError(f"unknown lookalike method {method!r}: use {', '.join(METHODS)}")
    X_seed = np.asarray(X_seed, dtype=np.float32)
    if method == "centroid":
        centre = X_seed.mean(axis=0, dtype=np.float64).astype(np.float32)
        return LookalikeModel(method, 0, centre[None, :], seed_rows=len(X_seed))
    if method == "knn":
        if k < 1:
            raise InputError(f"k must be 1 or more, not {k}")
        return LookalikeModel(method, min(k, len(X_seed)), X_seed, seed_rows=len(X_seed))
    X_neg = np.asarray(X_negatives, dtype=np.float32)
    split = (len(X_neg) + 1) // 2 if len(X_neg) >= 2 else len(X_neg)
    halves = [X_neg[:split], X_neg[split:]] if len(X_neg) >= 2 else [X_neg, X_neg]
    models = tuple(_fit_classifier(X_seed, half, seed) for half in halves)
    second = np.asarray(negative_ids)[:split] if negative_ids is not None else np.empty(0)
    return LookalikeModel(method, 0, X_seed[:0], models, second, len(X_seed), len(X_neg))


def score_lookalike(
    model: LookalikeModel, X: np.ndarray, second: np.ndarray | None = None
) -> np.ndarray:
    """Similarity to the seed of each row of ``X`` (float32, higher = more similar).
    ``second`` marks the rows model B scores (classifier: model A's own negatives)."""
    X = np.asarray(X, dtype=np.float32)
    if model.method == "centroid":
        return _centroid_scores(X, model.points[0])
    if model.method == "knn":
        return _knn_scores(X, model.points, model.k)
    model_a, model_b = model.classifiers
    scores = np.empty(X.shape[0], dtype=np.float32)
    for start in range(0, X.shape[0], _CHUNK * 4):
        block = X[start : start + _CHUNK * 4]
        scores[start : start + len(block)] = model_a.predict_proba(block)[:, 1]
    if second is not None and second.any():
        scores[second] = model_b.predict_proba(X[second])[:, 1]
    return scores


def rank_lookalike(
    X_pool: np.ndarray,
    seed_mask: np.ndarray,
    method: Method,
    seed: int = 0,
    k: int = 10,
) -> np.ndarray:
    """Similarity to the seed for every pool row (float32, higher = more similar); the seed
    members and negatives are drawn by position with a seeded generator (the quality
    estimate's path; `lookalike` itself draws them by id hash, see ``first_by_hash``)."""
    X, mask = _check(X_pool, seed_mask, method)
    rng = np.random.default_rng(seed)
    members = np.flatnonzero(mask)
    if method == "centroid":
        return score_lookalike(fit_lookalike(X[members], method), X)
    if method == "knn":
        if k < 1:
            raise InputError(f"k must be 1 or more, not {k}")
        if len(members) > KNN_MAX_SEED:
            members = np.sort(rng.choice(members, size=KNN_MAX_SEED, replace=False))
        return score_lookalike(fit_lookalike(X[members], method, seed, k), X)
    if len(members) > CLASSIFIER_MAX_SEED:
        members = np.sort(rng.choice(members, size=CLASSIFIER_MAX_SEED, replace=False))
    others = np.flatnonzero(~mask)
    wanted = negatives_wanted(len(members))
    negatives = rng.choice(others, size=min(len(others), wanted), replace=False)
    model = fit_lookalike(
        X[members], method, seed, X_negatives=X[negatives], negative_ids=negatives
    )
    second = np.zeros(len(X), dtype=bool)
    second[model.second_ids.astype(np.int64)] = True
    return score_lookalike(model, X, second)


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


def _centroid_scores(X: np.ndarray, centre: np.ndarray) -> np.ndarray:
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2 avoids an n x d temporary
    sq = np.einsum("ij,ij->i", X, X) - 2 * (X @ centre) + centre @ centre
    return -np.sqrt(np.maximum(sq, 0, dtype=np.float32))


def _knn_scores(X: np.ndarray, points: np.ndarray, k: int) -> np.ndarray:
    # brute force (BLAS): measured faster than trees for 1M queries against <= 1,000 seeds,
    # and its cost does not depend on how clustered the data is
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(points)
    scores = np.empty(X.shape[0], dtype=np.float32)
    for start in range(0, X.shape[0], _CHUNK):
        dist, _ = nn.kneighbors(X[start : start + _CHUNK])
        scores[start : start + _CHUNK] = -dist.mean(axis=1)
    return scores


def _fit_classifier(
    X_positives: np.ndarray, X_negatives: np.ndarray, seed: int
) -> HistGradientBoostingClassifier:
    rows = np.concatenate([X_positives, X_negatives])
    y = np.concatenate([np.ones(len(X_positives)), np.zeros(len(X_negatives))])
    # small trees and few rounds: seed-vs-rest is an easy, noisy target, and fit time matters
    model = HistGradientBoostingClassifier(
        max_iter=60,
        max_leaf_nodes=15,
        early_stopping=False,
        class_weight="balanced",
        random_state=seed,
    )
    return model.fit(rows, y)


def audience_size(size: int | float, pool: int) -> int:
    """`size` customers (an int), or that share of the pool (a float in (0, 1])."""
    if isinstance(size, bool) or not isinstance(size, int | float):
        raise InvalidInput(f"invalid audience size {size!r}: a number of customers or a share")
    if isinstance(size, float):
        if not 0 < size <= 1:
            raise InvalidInput(f"invalid audience share {size!r}: between 0 and 1")
        value = round(pool * size)
    else:
        value = size
    if value < 1:
        raise InvalidInput(f"an audience size of {size!r} gives an empty audience")
    return value


@dataclass(frozen=True)
class TraitMeans:
    """One numeric column's means over the seed, the audience and the rest of the pool, and
    its spread (population standard deviation) over the rest of the pool; None / NaN when
    the rows have no value. Counted by whichever engine holds the rows."""

    column: str
    spread: float
    seed: float | None
    audience: float | None
    pool: float | None


def compare_profiles(traits: list[TraitMeans]) -> tuple[list[dict], dict]:
    """How the audience compares with the seed and the pool, on every numeric feature.

    Returns the six traits that set the seed apart most (for display) and the audience's mean
    distance to the seed and to the pool, each trait in units of the pool's spread: an
    audience closer to the pool than to the seed resembles the pool, whatever its recall.
    """
    usable = [
        t
        for t in traits
        if t.spread and np.isfinite(t.spread) and None not in (t.seed, t.audience, t.pool)
    ]
    to_seed = [abs(t.audience - t.seed) / t.spread for t in usable]
    to_pool = [abs(t.audience - t.pool) / t.spread for t in usable]
    ranked = sorted(usable, key=lambda t: -abs(t.seed - t.pool) / t.spread)[:6]
    profile = [
        {
            "column": t.column,
            "seed_mean": t.seed,
            "audience_mean": t.audience,
            "pool_mean": t.pool,
        }
        for t in ranked
    ]
    closeness = {
        "audience_to_seed": float(np.mean(to_seed)) if to_seed else None,
        "audience_to_pool": float(np.mean(to_pool)) if to_pool else None,
    }
    return profile, closeness
