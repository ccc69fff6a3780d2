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
from segtrail.engine.profiles import profile_segments
from segtrail.errors import Conflict, InputError, InvalidInput, NotFound, SegtrailError
from segtrail.readers import read_table
from segtrail.services.datasets import kinds_of, load_frame, resolve_dataset
from segtrail.services.refs import check_name, parse_segment_ref
from segtrail.services.segmentations import (
    load_assignments,
    ref_of,
    resolve_segmentation,
    segment_names,
)
from segtrail.services.use import output_format, record_export, write_frame
from segtrail.store.usage import NewAudience

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

HOLDOUT = 0.3


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


def segment_members(ws: Workspace, target: str) -> tuple[dict, int, pd.Index]:
    """LENS@N:SEGMENT -> (version row, segment label, customer ids in that segment)."""
    ref, segment = parse_segment_ref(target)
    row = resolve_segmentation(ws, str(ref))
    labels = load_assignments(ws, row)
    if segment not in set(labels.unique()):
        raise SegtrailError(f"{ref_of(row)} has no segment {segment}")
    return row, segment, labels.index[labels.to_numpy() == segment]


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
) -> tuple[np.ndarray, dict, dict | None]:
    given = [x for x in (seed, seed_ids, seed_top) if x is not None]
    if len(given) != 1:
        raise SegtrailError(
            "give exactly one seed: a segment LENS@N:SEGMENT, a file of ids, or the top share "
            "of a column"
        )
    pool_ids = pd.Index(frame[id_column].to_numpy())
    if seed is not None:
        row, segment, members = segment_members(ws, seed)
        mask = _ids_in_pool(pool_ids, members)
        info = {
            "kind": "segment",
            "version": ref_of(row),
            "segment": segment,
            "name": segment_names(ws, row).get(segment),
            "seed_size": len(members),
        }
        return mask, info, row
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
        return mask, {"kind": "ids", "file": str(path.resolve()), "seed_size": len(ids)}, None
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
    )


def _profile_comparison(
    frame: pd.DataFrame, kinds: dict, seed: np.ndarray, audience: np.ndarray
) -> list[dict]:
    """How the audience compares with the seed and the pool on the seed's top traits."""
    labels = np.full(len(frame), -1, dtype=np.int64)
    labels[audience] = 1
    labels[seed] = 0
    columns = [c for c, k in kinds.items() if k in ("numeric", "boolean") and c in frame.columns]
    profile = profile_segments(frame, kinds, labels, columns=columns)
    by = {s["segment"]: s for s in profile["segments"]}
    seed_numeric = {n["column"]: n for n in by[0]["numeric"]}
    audience_numeric = {n["column"]: n for n in by.get(1, {"numeric": []})["numeric"]}
    ranked = sorted(seed_numeric.values(), key=lambda n: -abs(n["std_diff"] or 0))[:6]
    return [
        {
            "column": n["column"],
            "seed_mean": n["mean"],
            "audience_mean": audience_numeric.get(n["column"], {}).get("mean"),
            "pool_mean": n["overall_mean"],
        }
        for n in ranked
    ]


def lookalike(
    ws: Workspace,
    pool: str,
    out: str | Path,
    *,
    seed: str | None = None,
    seed_ids: str | Path | None = None,
    seed_top: tuple[str, float] | None = None,
    features: list[str] | None = None,
    method: str = "centroid",
    size: int | float = 0.05,
    name: str | None = None,
    random_seed: int = 0,
) -> dict:
    if method not in METHODS:
        raise SegtrailError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    existing = ws.meta.audiences.names()
    name = check_name(name, "audience") if name else f"lookalike-{len(existing) + 1}"
    if name in existing:  # checked before the (long) ranking, not after
        raise Conflict(f"an audience named {name!r} already exists")
    _check_out(out)
    dataset = resolve_dataset(ws, pool)
    kinds = kinds_of(dataset)
    id_column = dataset["id_column"]
    wanted = [c for c, k in kinds.items() if k in FEATURE_KINDS or c == id_column]
    frame = load_frame(ws, dataset, wanted)
    mask, seed_info, version = _seed_mask(ws, frame, id_column, seed, seed_ids, seed_top)
    if mask.sum() < 5:
        raise SegtrailError(
            f"the seed has only {int(mask.sum())} customers in {pool}; need 5 or more"
        )
    seed_info["in_pool"] = int(mask.sum())
    if features is None and version is not None:
        spec = version["feature_spec"]["spec"]
        features = [f["column"] for f in spec["features"] if f["column"] in frame.columns]
    spec = build_spec(frame, kinds, id_column, features)
    if seed_info["kind"] == "top":  # the seed's defining column would make the task trivial
        spec["features"] = [f for f in spec["features"] if f["column"] != seed_info["column"]]
    X, _fitted = fit_features(frame, spec)
    n_size = audience_size(size, int((~mask).sum()))
    scores = rank_lookalike(X, mask, method, seed=random_seed)
    chosen = select_audience(scores, mask, n_size)
    quality = estimate_recall(X, mask, method, n_size, holdout=HOLDOUT, seed=random_seed)
    quality["profile"] = _profile_comparison(frame, kinds, mask, chosen)
    result = pd.DataFrame(
        {
            "customer_id": frame[id_column].to_numpy()[chosen],
            "score": scores[chosen].astype(np.float32),
            "rank": np.arange(1, len(chosen) + 1, dtype=np.int64),
        }
    )
    # the user's file first: if it cannot be written, nothing was added to the store
    file_digest = write_frame(result, out)
    digest, nbytes = ws.objects.put_table(pa.Table.from_pandas(result, preserve_index=False))
    params = {
        "size": n_size,
        "features": [f["column"] for f in spec["features"]],
        "random_seed": random_seed,
        "holdout": HOLDOUT,
    }
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
    return {
        "audience": name,
        "pool": f"{dataset['name']}@{dataset['version']}",
        "seed": seed_info,
        "method": method,
        "size": len(result),
        "params": params,
        "quality": quality,
        "out": str(out),
    }


def _check_out(out: str | Path) -> None:
    """Refuse an unusable output name before any work (write_frame checks again)."""
    output_format(out)
    folder = Path(out).parent
    if not folder.is_dir():
        raise SegtrailError(f"{out}: folder {folder} does not exist")


def _audience_row(ws: Workspace, name: str) -> dict:
    rows = ws.meta.audiences.list(name)
    if not rows:
        raise NotFound(f"no audience {name!r}; `segtrail audience list` shows them")
    return rows[0]


def list_audiences(ws: Workspace) -> list[dict]:
    return [
        {
            "audience": r["name"],
            "kind": r["kind"],
            "method": r["method"],
            "seed": r["seed"],
            "quality": r["quality"],
            "created_at": r["at"],
            "author": r["author"],
        }
        for r in ws.meta.audiences.list()
    ]


def export_audience(ws: Workspace, target: str, fmt: str, out: str | Path) -> dict:
    """Write an audience (a segment LENS@N:SEGMENT, or a lookalike audience by name) for an
    ad platform, and record where it came from next to the file and in the history."""
    if fmt not in ("csv", "meta", "google"):
        raise InvalidInput(f"unknown audience format {fmt!r}: use csv, meta or google")
    out = Path(out)
    if ":" in target:
        row, segment, ids = segment_members(ws, target)
        dataset = resolve_dataset(ws, row["dataset_id"])
        provenance = {
            "kind": "segment",
            "version": ref_of(row),
            "segment": segment,
            "segment_name": segment_names(ws, row).get(segment),
            "hypothesis": row["hypothesis"],
        }
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
    frame = frame.rename(columns={id_column: "customer_id", **{c: c.lower() for c in contact}})
    written, stats = build_audience_file(frame, fmt)
    provenance.update(format=fmt, stats=stats, workspace=str(ws.root))
    if out.suffix.lower() != ".csv":
        raise SegtrailError(f"{out}: audience files are CSV; name it .csv")
    digest = write_frame(written, out)
    sidecar = out.with_name(out.name + ".provenance.json")
    sidecar.write_text(
        json.dumps({**provenance, "file": out.name, "sha256": digest}, indent=2, default=str) + "\n"
    )
    record_export(ws, target, fmt, out, len(written), digest, provenance)
    return {
        "target": target,
        "format": fmt,
        "out": str(out),
        "provenance_file": str(sidecar),
        "rows": len(written),
        "stats": stats,
        "provenance": provenance,
    }
