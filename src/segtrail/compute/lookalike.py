"""The steps of `lookalike` both engines share, as pure functions over customer frames.

The model is fitted on the driver: the preprocessing on the pool (the local engine) or a
seeded sample of it (Spark), the method on the seed members first in the seeded id-hash
order (``engine.lookalike.first_by_hash``) and, for the classifier, on the non-seed
customers first in that order as negatives. So both engines fit the same model on the
same members whatever order they read the pool in, and score every pool customer with
``score_frame``, batch by batch. The audience is the best-scored candidates (neither seed
nor workspace holdout), ties going to the customer earlier in the pool's file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segtrail.compute.base import LookalikeRanked, LookalikeRequest, Progress
from segtrail.engine.design import holdout_mask
from segtrail.engine.features import fit_features, transform_features
from segtrail.engine.lookalike import (
    LookalikeModel,
    TraitMeans,
    audience_size,
    compare_profiles,
    estimate_recall,
    first_by_hash,
    fit_lookalike,
    hash_key,
    negatives_wanted,
    score_lookalike,
    seed_cap,
    select_audience,
)
from segtrail.errors import InvalidInput

HOLDOUT = 0.3  # share of the seed hidden among the candidates to measure recall
MIN_SEED = 5


def ids_in(pool_ids: pd.Index, ids: pd.Index) -> np.ndarray:
    """Which of ``pool_ids`` are in ``ids`` (numbers on one side and text on the other are
    compared as text)."""
    if pd.api.types.is_integer_dtype(pool_ids.dtype) != pd.api.types.is_integer_dtype(ids.dtype):
        pool_ids, ids = pool_ids.astype(str), ids.astype(str)
    return pool_ids.isin(ids)


def feature_columns(spec: dict) -> list[str]:
    return [f["column"] for f in spec["features"]]


def profiled_columns(request: LookalikeRequest) -> list[str]:
    """The features compared between seed, audience and pool: numbers and yes/no."""
    kinds = request.kinds
    return [c for c in feature_columns(request.spec) if kinds.get(c) in ("numeric", "boolean")]


def check_seed(rows: int) -> None:
    if rows < MIN_SEED:
        raise InvalidInput(
            f"the seed has only {rows} customers with the pool's columns; need {MIN_SEED} or more"
        )


def fit_model(
    seed_rows: pd.DataFrame,
    negatives: pd.DataFrame | None,
    fitted: dict,
    request: LookalikeRequest,
) -> LookalikeModel:
    """The method fitted on the seed members and negatives given, each already in hash
    order and capped (``engine.lookalike.first_by_hash``)."""
    X_negatives = negative_ids = None
    if negatives is not None:
        X_negatives = transform_features(negatives, fitted)
        negative_ids = negatives[request.id_column].to_numpy()
    return fit_lookalike(
        transform_features(seed_rows, fitted),
        request.method,  # type: ignore[arg-type]
        seed=request.random_seed,
        X_negatives=X_negatives,
        negative_ids=negative_ids,
    )


def seed_count(request: LookalikeRequest) -> int:
    """How many seed members the model is fitted on, at most."""
    return seed_cap(request.method)


def negatives_count(seed_rows: int) -> int:
    return negatives_wanted(seed_rows)


def score_frame(
    model: LookalikeModel, fitted: dict, frame: pd.DataFrame, id_column: str
) -> np.ndarray:
    """Every row's similarity to the seed (float32): the fitted preprocessing, then the
    model. The same on the whole pool or one batch of it."""
    second = None
    if len(model.second_ids):
        second = ids_in(pd.Index(frame[id_column].to_numpy()), pd.Index(model.second_ids))
    return score_lookalike(model, transform_features(frame, fitted), second)


def held_out(ids: np.ndarray | pd.Index, holdout: tuple[float, int] | None) -> np.ndarray:
    if holdout is None:
        return np.zeros(len(ids), dtype=bool)
    return holdout_mask(ids, *holdout)


def quality_on(
    X: np.ndarray, mask: np.ndarray, request: LookalikeRequest, size: int, candidates: int
) -> dict:
    """Held-out recall on the rows given (the whole pool, or the driver's sample of it with
    the audience size scaled to the sample's candidates)."""
    sample_candidates = int((~mask).sum())
    scaled = max(1, round(size * sample_candidates / candidates)) if candidates else size
    quality = estimate_recall(
        X, mask, request.method, scaled, holdout=HOLDOUT, seed=request.random_seed
    )  # type: ignore[arg-type]
    quality["measured_on"] = len(X)
    return quality


def quality_report(quality: dict, traits: list[TraitMeans]) -> dict:
    """The recall estimate with the audience's profile against the seed and the pool."""
    profile, closeness = compare_profiles(traits)
    return {**quality, "profile": profile, **closeness}


def local_traits(
    frame: pd.DataFrame,
    columns: list[str],
    seed: np.ndarray,
    audience: np.ndarray,
    pool: np.ndarray,
) -> list[TraitMeans]:
    """Each column's means over the three groups of rows and its spread over the pool."""
    out = []
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        pool_values = values[pool]
        spread = np.nanstd(pool_values) if np.isfinite(pool_values).any() else np.nan
        means = [
            float(np.nanmean(values[m])) if np.isfinite(values[m]).any() else None
            for m in (seed, audience, pool)
        ]
        out.append(TraitMeans(column, float(spread), *means))
    return out


# --- the local engine: the whole pool in memory ---------------------------------------------


def rank_in_memory(request: LookalikeRequest, progress: Progress) -> LookalikeRanked:
    """Today's path: the pool read whole, ranked and cut on one machine."""
    import pyarrow as pa

    id_column = request.id_column
    frame = request.pool.read(request.pool.columns)
    pool_ids = pd.Index(frame[id_column].to_numpy())
    mask, info, members = _seed_mask(request, frame, pool_ids)
    excluded = 0
    if request.exclude is not None:
        other = request.exclude.read(request.exclude.columns)
        drop = ids_in(pool_ids, pd.Index(other.iloc[:, 0].to_numpy())) & ~mask
        excluded = int(drop.sum())
        frame, mask = frame[~drop].reset_index(drop=True), mask[~drop]
    info["in_pool"] = int(mask.sum())
    in_pool = len(frame)
    outside = request.seed.outside
    if outside is not None and members is not None:
        # the seed's customers outside the pool join the ranking as seed rows only
        rows = outside.read(outside.columns)
        rows = rows.rename(columns={rows.columns[0]: id_column})
        ids = pd.Index(rows[id_column].to_numpy())
        keep = ids_in(ids, members) & ~ids_in(ids, pd.Index(frame[id_column].to_numpy()))
        rows = rows[keep]
        frame = pd.concat([frame, rows], ignore_index=True)
        mask = np.concatenate([mask, np.ones(len(rows), dtype=bool)])
        info["outside_pool"] = len(rows)
    check_seed(int(mask.sum()))
    progress(f"preparing features of {len(frame):,} customers", None)
    X, fitted = fit_features(frame, request.spec)
    ids = frame[id_column].to_numpy()
    keys = hash_key(ids, request.random_seed)
    seed_rows = np.flatnonzero(mask)
    chosen = seed_rows[first_by_hash(keys[seed_rows], ids[seed_rows], seed_count(request))]
    negatives = None
    if request.method == "classifier":
        others = np.flatnonzero(~mask)
        wanted = negatives_count(len(chosen))
        negatives = frame.iloc[others[first_by_hash(keys[others], ids[others], wanted)]]
    model = fit_model(frame.iloc[chosen], negatives, fitted, request)
    progress(f"scoring {in_pool:,} customers", None)
    scores = score_frame(model, fitted, frame, id_column)
    held = held_out(ids, request.holdout)
    candidates = int((~mask).sum())
    size = audience_size(request.size, candidates)
    picked = select_audience(scores, mask | held, size)
    quality = quality_on(X, mask, request, size, candidates)
    audience = np.zeros(len(frame), dtype=bool)
    audience[picked] = True
    pool_rows = np.zeros(len(frame), dtype=bool)
    pool_rows[:in_pool] = True
    traits = local_traits(frame, profiled_columns(request), mask, audience, pool_rows & ~mask)
    quality = quality_report(quality, traits)
    table = pa.table(
        {
            "customer_id": pa.array(ids[picked]),
            "score": pa.array(scores[picked].astype(np.float32)),
            "rank": pa.array(np.arange(1, len(picked) + 1, dtype=np.int64)),
        }
    )
    return LookalikeRanked(
        seed=info,
        size=size,
        excluded=excluded,
        held_out=int((held & ~mask).sum()),
        quality=quality,
        model=model.summary(),
        table=table,
        rows=len(picked),
        engine="local",
    )


def _seed_mask(
    request: LookalikeRequest, frame: pd.DataFrame, pool_ids: pd.Index
) -> tuple[np.ndarray, dict, pd.Index | None]:
    """The pool rows in the seed, what to record of the seed, and the segment's members."""
    seed = request.seed
    if seed.kind == "segment":
        labels = seed.assignments.read()
        members = labels.index[np.isin(labels.to_numpy(), list(seed.segments))]
        return ids_in(pool_ids, members), {"seed_size": len(members)}, members
    if seed.kind == "ids":
        return ids_in(pool_ids, seed.ids), {}, None
    values = pd.to_numeric(frame[seed.column], errors="coerce")
    if values.notna().sum() == 0:
        raise InvalidInput(f"the seed's column {seed.column!r} is not numeric")
    threshold = values.quantile(1 - seed.share)
    mask = (values >= threshold).fillna(False).to_numpy(dtype=bool)
    return mask, {"threshold": float(threshold), "seed_size": int(mask.sum())}, None
