"""Lookalike audiences (rank a pool by similarity to a seed) and audience export for ad
platforms, each recorded in the history so an uploaded list can always be traced back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from segtrail.engine.audience import build_audience_file
from segtrail.engine.features import build_spec, fit_features
from segtrail.engine.kinds import FEATURE_KINDS
from segtrail.engine.lookalike import METHODS, estimate_recall, rank_lookalike, select_audience
from segtrail.errors import Conflict, InputError, InvalidInput, NotFound, SegtrailError
from segtrail.readers import read_table
from segtrail.services.datasets import kinds_of, load_frame, resolve_dataset
from segtrail.services.designs import in_holdout
from segtrail.services.refs import check_name, parse_segment_ref
from segtrail.services.results import AudienceExport, AudienceSummary, Lookalike
from segtrail.services.segmentations import (
    load_assignments,
    ref_of,
    resolve_segmentation,
    segment_names,
)
from segtrail.services.use import check_output, record_export, write_frame
from segtrail.store.usage import NewAudience

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

HOLDOUT = 0.3
# measured on planted seeds (bench/lookalike_methods.py, bench/RESULTS.md): knn had the best
# held-out recall (centroid fails on seeds made of two pockets) at ~1% of the classifier's time
DEFAULT_METHOD = "knn"


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


def segments_members(ws: Workspace, target: str) -> tuple[dict, list[int], pd.Index]:
    """LENS@N:S or LENS@N:S1,S2,... -> (version row, segment labels, their customer ids)."""
    ref_text, colon, listed = target.rpartition(":")
    parts = [p.strip() for p in listed.split(",")]
    if not colon or not all(parts):
        raise InvalidInput(
            f"invalid segments {target!r}: expected LENS@N:SEGMENT[,SEGMENT...], "
            "e.g. marketing@2:4,5"
        )
    segments = sorted({parse_segment_ref(f"{ref_text}:{p}")[1] for p in parts})
    row = resolve_segmentation(ws, ref_text)
    return row, segments, _members(ws, row, segments)


def _members(ws: Workspace, row: dict, segments: list[int]) -> pd.Index:
    labels = load_assignments(ws, row)
    present = set(labels.unique())
    missing = [s for s in segments if s not in present]
    if missing:
        raise NotFound(f"{ref_of(row)} has no segment {missing[0]}")
    return labels.index[np.isin(labels.to_numpy(), segments)]


def strategy_members(ws: Workspace, strategy: str) -> tuple[dict, list[int], pd.Index]:
    """A strategy's current audience: the segments it targets in the plan of the adopted
    version of the lens it was mapped on most recently (else that newest mapped version)."""
    from segtrail.services.campaigns import default_version
    from segtrail.services.plans import get_strategy, plan_state

    get_strategy(ws, strategy)
    row = default_version(ws, strategy)
    if row is None:
        raise InvalidInput(f"strategy {strategy} is not mapped to any version; map it first")
    state = plan_state(ws, row)
    entries = [e for e in (state["entries"] if state else []) if e["strategy"] == strategy]
    if not entries:
        raise InvalidInput(
            f"strategy {strategy} is not in the plan of {ref_of(row)}, the version it is "
            "broken down by; carry it forward or map it there"
        )
    segments = entries[0]["segments"]
    if segments == "all":
        segments = sorted(int(s) for s in load_assignments(ws, row).unique() if s >= 0)
    return row, list(segments), _members(ws, row, list(segments))


def _ids_in_pool(pool_ids: pd.Index, ids: pd.Index) -> np.ndarray:
    if pd.api.types.is_integer_dtype(pool_ids.dtype) != pd.api.types.is_integer_dtype(ids.dtype):
        pool_ids, ids = pool_ids.astype(str), ids.astype(str)
    return pool_ids.isin(ids)


def _seed_mask(
    ws: Workspace,
    frame: pd.DataFrame,
    id_column: str,
    seed: str | None,
    seed_ids: str | Path | None,
    seed_top: tuple[str, float] | None,
) -> tuple[np.ndarray, dict, dict | None, pd.Index | None]:
    given = [x for x in (seed, seed_ids, seed_top) if x is not None]
    if len(given) != 1:
        raise SegtrailError(
            "give exactly one seed: a segment LENS@N:SEGMENT, a file of ids, or the top share "
            "of a column"
        )
    pool_ids = pd.Index(frame[id_column].to_numpy())
    if seed is not None:
        row, segments, members = segments_members(ws, seed)
        mask = _ids_in_pool(pool_ids, members)
        names = segment_names(ws, row)
        info = {"kind": "segment", "version": ref_of(row)}
        if len(segments) == 1:  # one segment: the keys a one-segment seed always had
            info.update(segment=segments[0], name=names.get(segments[0]))
        else:
            info.update(segments=segments, names=[names.get(s) for s in segments])
        info["seed_size"] = len(members)
        return mask, info, row, members
    if seed_ids is not None:
        path = Path(seed_ids)
        # ids read as text, as ingest reads them: '00123' must not become the number 123
        table = read_table(path, "customer_id").table
        column = "customer_id" if "customer_id" in table.column_names else id_column
        if column not in table.column_names:
            raise InputError(f"{path.name}: no column 'customer_id' or '{id_column}'")
        if column != "customer_id":
            table = read_table(path, column).table
        ids = pd.Index(table[column].drop_null().to_numpy(zero_copy_only=False))
        if not pd.api.types.is_integer_dtype(ids.dtype):
            ids = ids.astype(str).str.strip()
        mask = _ids_in_pool(pool_ids, ids)
        return mask, {"kind": "ids", "file": str(path.resolve()), "seed_size": len(ids)}, None, None
    column, share = seed_top
    if not 0 < share < 1:
        raise InvalidInput(f"invalid top share {share!r} of {column!r}: between 0 and 1")
    if column not in frame.columns:
        raise InvalidInput(f"the seed's column {column!r} is not in the pool")
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.notna().sum() == 0:
        raise InvalidInput(f"the seed's column {column!r} is not numeric")
    threshold = values.quantile(1 - share)
    mask = (values >= threshold).fillna(False).to_numpy(dtype=bool)
    return (
        mask,
        {
            "kind": "top",
            "column": column,
            "percent": share * 100,
            "threshold": float(threshold),
            "seed_size": int(mask.sum()),
        },
        None,
        None,
    )


def _profile_comparison(
    frame: pd.DataFrame,
    columns: list[str],
    seed: np.ndarray,
    audience: np.ndarray,
    pool: np.ndarray,
) -> tuple[list[dict], dict]:
    """How the audience compares with the seed and the pool, on every numeric feature.

    Returns the six traits that set the seed apart most (for display) and the audience's mean
    distance to the seed and to the pool, each trait in units of the pool's spread: an
    audience closer to the pool than to the seed resembles the pool, whatever its recall.
    """
    rows = []
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        pool_values = values[pool]
        spread = np.nanstd(pool_values) if np.isfinite(pool_values).any() else np.nan
        means = [
            float(np.nanmean(values[m])) if np.isfinite(values[m]).any() else None
            for m in (seed, audience, pool)
        ]
        rows.append((column, spread, *means))
    usable = [r for r in rows if r[1] and np.isfinite(r[1]) and None not in r[2:]]
    to_seed = [abs(a - s) / sd for _, sd, s, a, _p in usable]
    to_pool = [abs(a - p) / sd for _, sd, _s, a, p in usable]
    ranked = sorted(usable, key=lambda r: -abs(r[2] - r[4]) / r[1])[:6]
    profile = [
        {"column": c, "seed_mean": s, "audience_mean": a, "pool_mean": p}
        for c, _sd, s, a, p in ranked
    ]
    closeness = {
        "audience_to_seed": float(np.mean(to_seed)) if to_seed else None,
        "audience_to_pool": float(np.mean(to_pool)) if to_pool else None,
    }
    return profile, closeness


def _seed_rows(
    ws: Workspace,
    version: dict,
    members: pd.Index,
    pool_frame: pd.DataFrame,
    pool_id: str,
    columns: list[str],
) -> pd.DataFrame:
    """The seed segment's customers that are not in the pool, read from the dataset the
    seed's version was built on, under the pool's id column name, with the feature columns."""
    source = resolve_dataset(ws, version["dataset_id"])
    missing = [c for c in columns if c not in kinds_of(source)]
    if missing:
        raise InvalidInput(
            f"the seed's dataset {source['name']}@{source['version']} lacks the pool's "
            f"columns {', '.join(missing)}: choose shared ones with --features"
        )
    frame = load_frame(ws, source, [source["id_column"], *columns])
    frame = frame.rename(columns={source["id_column"]: pool_id})
    ids = pd.Index(frame[pool_id].to_numpy())
    keep = _ids_in_pool(ids, members) & ~_ids_in_pool(ids, pd.Index(pool_frame[pool_id].to_numpy()))
    return frame[keep]


def _excluded(ws: Workspace, exclude: str, frame: pd.DataFrame, id_column: str) -> np.ndarray:
    """Pool rows whose id is in dataset `exclude` (e.g. existing customers among prospects)."""
    other = resolve_dataset(ws, exclude)
    ids = load_frame(ws, other, [other["id_column"]])[other["id_column"]]
    return _ids_in_pool(pd.Index(frame[id_column].to_numpy()), pd.Index(ids.to_numpy()))


def lookalike(
    ws: Workspace,
    pool: str,
    out: str | Path,
    *,
    seed: str | None = None,
    seed_ids: str | Path | None = None,
    seed_top: tuple[str, float] | None = None,
    features: list[str] | None = None,
    method: str = DEFAULT_METHOD,
    size: int | float = 0.05,
    name: str | None = None,
    exclude: str | None = None,
    random_seed: int = 0,
    raw: bool = False,
    include_holdout: bool = False,
) -> Lookalike:
    """Rank `pool` by similarity to a seed and record the best `size` as an audience.

    A segment seed may come from another dataset than the pool (customers as seed, prospects
    as pool) as long as both have the feature columns; seed customers that are in the pool
    are never in the audience, and `exclude` leaves out every pool row whose id is in that
    dataset (existing customers among prospects).
    """
    if method not in METHODS:
        raise InvalidInput(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    existing = ws.meta.audiences.names()
    name = check_name(name, "audience") if name else f"lookalike-{len(existing) + 1}"
    if name in existing:  # checked before the (long) ranking, not after
        raise Conflict(f"an audience named {name!r} already exists")
    check_output(ws, out)
    dataset = resolve_dataset(ws, pool)
    kinds = kinds_of(dataset)
    id_column = dataset["id_column"]
    wanted = [c for c, k in kinds.items() if k in FEATURE_KINDS or c == id_column]
    frame = load_frame(ws, dataset, wanted)
    mask, seed_info, version, members = _seed_mask(ws, frame, id_column, seed, seed_ids, seed_top)
    excluded = 0
    if exclude is not None:
        drop = _excluded(ws, exclude, frame, id_column) & ~mask
        excluded = int(drop.sum())
        frame, mask = frame[~drop].reset_index(drop=True), mask[~drop]
    if features is None and version is not None:
        spec = version["feature_spec"]["spec"]
        features = [f["column"] for f in spec["features"] if f["column"] in frame.columns]
    spec = build_spec(frame, kinds, id_column, features)
    if seed_info["kind"] == "top":  # the seed's defining column would make the task trivial
        spec["features"] = [f for f in spec["features"] if f["column"] != seed_info["column"]]
    columns = [f["column"] for f in spec["features"]]
    in_pool = len(frame)
    seed_info["in_pool"] = int(mask.sum())
    if version is not None and version["dataset_id"] != dataset["id"]:
        # the seed's customers outside the pool join the ranking as seed rows only
        outside = _seed_rows(ws, version, members, frame, id_column, columns)
        frame = pd.concat([frame, outside], ignore_index=True)
        mask = np.concatenate([mask, np.ones(len(outside), dtype=bool)])
        seed_info["outside_pool"] = len(outside)
    if mask.sum() < 5:
        raise InvalidInput(
            f"the seed has only {int(mask.sum())} customers with the pool's columns; need 5 or more"
        )
    pool_rows = np.zeros(len(frame), dtype=bool)
    pool_rows[:in_pool] = True
    X, _fitted = fit_features(frame, spec)
    n_size = audience_size(size, int((~mask).sum()))
    scores = rank_lookalike(X, mask, method, seed=random_seed)
    # the workspace holdout is never chosen (unless asked): it is the long-run control
    held = np.zeros(len(frame), dtype=bool) if include_holdout else in_holdout(ws, frame[id_column])
    chosen = select_audience(scores, mask | held, n_size)
    quality = estimate_recall(X, mask, method, n_size, holdout=HOLDOUT, seed=random_seed)
    numeric = [c for c in columns if kinds.get(c) in ("numeric", "boolean")]
    chosen_rows = np.zeros(len(frame), dtype=bool)
    chosen_rows[chosen] = True
    quality["profile"], closeness = _profile_comparison(
        frame, numeric, mask, chosen_rows, pool_rows & ~mask
    )
    quality.update(closeness)
    warnings = []
    near_seed, near_pool = closeness["audience_to_seed"], closeness["audience_to_pool"]
    if near_seed is not None and near_pool is not None and near_pool < near_seed:
        warnings.append(
            "the audience looks more like the pool than like the seed "
            f"(mean distance {near_pool:.2f} vs {near_seed:.2f} pool standard deviations): "
            "the pool has few customers like the seed; a smaller --size or another seed helps"
        )
    result = pd.DataFrame(
        {
            "customer_id": frame[id_column].to_numpy()[chosen],
            "score": scores[chosen].astype(np.float32),
            "rank": np.arange(1, len(chosen) + 1, dtype=np.int64),
        }
    )
    # the user's file first: if it cannot be written, nothing was added to the store
    file_digest = write_frame(result, out, raw=raw)
    digest, nbytes = ws.objects.put_table(pa.Table.from_pandas(result, preserve_index=False))
    params = {
        "size": n_size,
        "features": columns,
        "random_seed": random_seed,
        "holdout": HOLDOUT,
        "workspace_holdout_left_out": None if include_holdout else int((held & ~mask).sum()),
    }
    if exclude is not None:
        params["exclude"] = exclude
        params["excluded"] = excluded
    new = NewAudience(
        name=name,
        kind="lookalike",
        dataset_id=dataset["id"],
        seed=seed_info,
        method=method,
        params=params,
        quality=quality,
        object=(digest, nbytes),
    )
    details = {
        "pool": f"{dataset['name']}@{dataset['version']}",
        "seed": seed_info,
        "method": method,
        "out": str(out),
        "sha256": file_digest,
    }
    ws.meta.audiences.append(new, ws.author, details)
    return Lookalike(
        audience=name,
        pool=f"{dataset['name']}@{dataset['version']}",
        seed=seed_info,
        method=method,
        size=len(result),
        params=params,
        quality=quality,
        out=str(out),
        warnings=warnings,
    )


def _audience_row(ws: Workspace, name: str) -> dict:
    rows = ws.meta.audiences.list(name)
    if not rows:
        raise NotFound(f"no audience {name!r}; `segtrail audience list` shows them")
    return rows[0]


def list_audiences(ws: Workspace) -> list[AudienceSummary]:
    return [
        AudienceSummary(
            audience=r["name"],
            kind=r["kind"],
            method=r["method"],
            seed=r["seed"],
            quality=r["quality"],
            created_at=r["at"],
            author=r["author"],
        )
        for r in ws.meta.audiences.list()
    ]


def export_audience(
    ws: Workspace,
    target: str | None,
    fmt: str,
    out: str | Path,
    *,
    raw: bool = False,
    strategy: str | None = None,
    include_holdout: bool = False,
) -> AudienceExport:
    """Write an audience (segments LENS@N:S[,S...], a lookalike audience by name, or a
    strategy's current segments) for an ad platform, and record where it came from next to
    the file and in the history. The workspace holdout is left out unless `include_holdout`."""
    if fmt not in ("csv", "meta", "google"):
        raise InvalidInput(f"unknown audience format {fmt!r}: use csv, meta or google")
    if (target is None) == (strategy is None):
        raise InvalidInput("give either segments / an audience name, or a strategy, not both")
    check_output(ws, out, {".csv": "csv"})
    out = Path(out)
    if strategy is not None or ":" in target:
        if strategy is not None:
            row, segments, ids = strategy_members(ws, strategy)
            target = f"{ref_of(row)}:{','.join(map(str, segments))}"
        else:
            row, segments, ids = segments_members(ws, target)
        dataset = resolve_dataset(ws, row["dataset_id"])
        names = segment_names(ws, row)
        provenance = {"kind": "segment", "version": ref_of(row)}
        if len(segments) == 1:  # one segment: the keys a single-segment export always had
            provenance.update(segment=segments[0], segment_name=names.get(segments[0]))
        else:
            provenance.update(segments=segments, segment_names=[names.get(s) for s in segments])
        provenance["hypothesis"] = row["hypothesis"]
        if strategy is not None:
            provenance["strategy"] = strategy
    else:
        audience = _audience_row(ws, target)
        ids = pd.Index(
            ws.objects.read_table(audience["object_hash"], ["customer_id"])
            .column(0)
            .to_numpy(zero_copy_only=False)
        )
        dataset = resolve_dataset(ws, audience["dataset_id"])
        provenance = {
            "kind": "audience",
            "audience": target,
            "method": audience["method"],
            "seed": audience["seed"],
        }
    provenance["dataset"] = f"{dataset['name']}@{dataset['version']}"
    id_column = dataset["id_column"]
    kinds = kinds_of(dataset)
    contact = [c for c in kinds if c.lower() in ("email", "phone")]
    frame = load_frame(ws, dataset, [id_column, *contact])
    frame = frame[_ids_in_pool(pd.Index(frame[id_column]), ids)]
    held = np.zeros(len(frame), dtype=bool) if include_holdout else in_holdout(ws, frame[id_column])
    frame = frame[~held]
    provenance["holdout_left_out"] = None if include_holdout else int(held.sum())
    frame = frame.rename(columns={id_column: "customer_id", **{c: c.lower() for c in contact}})
    written, stats = build_audience_file(frame, fmt)
    provenance.update(format=fmt, stats=stats, workspace=str(ws.root))
    digest = write_frame(written, out, raw=raw)
    sidecar = out.with_name(out.name + ".provenance.json")
    sidecar.write_text(
        json.dumps({**provenance, "file": out.name, "sha256": digest}, indent=2, default=str) + "\n"
    )
    record_export(ws, target, fmt, out, len(written), digest, provenance)
    return AudienceExport(
        target=target,
        format=fmt,
        out=str(out),
        provenance_file=str(sidecar),
        rows=len(written),
        stats=stats,
        provenance=provenance,
    )
