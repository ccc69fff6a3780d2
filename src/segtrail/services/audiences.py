"""Lookalike audiences (rank a pool by similarity to a seed) and audience export for ad
platforms, each recorded in the history so an uploaded list can always be traced back."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segtrail.compute import get_engine
from segtrail.compute.base import (
    DatasetSource,
    LookalikeRanked,
    LookalikeRequest,
    LookalikeSeed,
    Progress,
)
from segtrail.compute.lookalike import HOLDOUT, ids_in
from segtrail.engine.audience import build_audience_file
from segtrail.engine.features import build_spec
from segtrail.engine.kinds import FEATURE_KINDS
from segtrail.engine.lookalike import METHODS
from segtrail.errors import Conflict, InputError, InvalidInput, NotFound, SegtrailError
from segtrail.readers import read_table
from segtrail.services.datasets import kinds_of, load_frame, resolve_dataset
from segtrail.services.designs import current_holdout, in_holdout
from segtrail.services.refs import check_name, parse_segment_ref
from segtrail.services.results import AudienceExport, AudienceSummary, Lookalike
from segtrail.services.segmentations import (
    assignments_source,
    engine_choice,
    load_assignments,
    ref_of,
    resolve_segmentation,
    segment_names,
)
from segtrail.services.use import check_output, record_export, write_frame
from segtrail.store.usage import NewAudience

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

# measured on planted seeds (bench/lookalike_methods.py, bench/RESULTS.md): knn had the best
# held-out recall (centroid fails on seeds made of two pockets) at ~1% of the classifier's time
DEFAULT_METHOD = "knn"


def _version_and_segments(ws: Workspace, target: str) -> tuple[dict, list[int]]:
    """LENS@N:S or LENS@N:S1,S2,... -> (version row, sorted segment labels)."""
    ref_text, colon, listed = target.rpartition(":")
    parts = [p.strip() for p in listed.split(",")]
    if not colon or not all(parts):
        raise InvalidInput(
            f"invalid segments {target!r}: expected LENS@N:SEGMENT[,SEGMENT...], "
            "e.g. marketing@2:4,5"
        )
    segments = sorted({parse_segment_ref(f"{ref_text}:{p}")[1] for p in parts})
    row = resolve_segmentation(ws, ref_text)
    return row, segments


def segments_members(ws: Workspace, target: str) -> tuple[dict, list[int], pd.Index]:
    """LENS@N:S or LENS@N:S1,S2,... -> (version row, segment labels, their customer ids)."""
    row, segments = _version_and_segments(ws, target)
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
    return ids_in(pool_ids, ids)


def _segment_seed(ws: Workspace, target: str) -> tuple[dict, list[int]]:
    """LENS@N:S[,S...] -> (version row, segment labels), each label checked against the
    version's segments (its recorded profile: no pass over the assignments)."""
    row, segments = _version_and_segments(ws, target)
    present = {int(p["segment"]) for p in row["profiles"]["segments"]}
    missing = [s for s in segments if s not in present]
    if missing:
        raise NotFound(f"{ref_of(row)} has no segment {missing[0]}")
    return row, segments


def _read_seed_ids(path: Path, id_column: str) -> pd.Index:
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
    return ids


def _seed(
    ws: Workspace,
    seed: str | None,
    seed_ids: str | Path | None,
    seed_top: tuple[str, float] | None,
    id_column: str,
    columns: list[str],
) -> tuple[LookalikeSeed, dict, dict | None]:
    """The seed as an engine finds it, what to record of it, and the seed's version."""
    given = [x for x in (seed, seed_ids, seed_top) if x is not None]
    if len(given) != 1:
        raise SegtrailError(
            "give exactly one seed: a segment LENS@N:SEGMENT, a file of ids, or the top share "
            "of a column"
        )
    if seed is not None:
        row, segments = _segment_seed(ws, seed)
        names = segment_names(ws, row)
        info = {"kind": "segment", "version": ref_of(row)}
        if len(segments) == 1:  # one segment: the keys a one-segment seed always had
            info.update(segment=segments[0], name=names.get(segments[0]))
        else:
            info.update(segments=segments, names=[names.get(s) for s in segments])
        source = LookalikeSeed(
            "segment", assignments=assignments_source(ws, row), segments=tuple(segments)
        )
        return source, info, row
    if seed_ids is not None:
        path = Path(seed_ids)
        ids = _read_seed_ids(path, id_column)
        info = {"kind": "ids", "file": str(path.resolve()), "seed_size": len(ids)}
        return LookalikeSeed("ids", ids=ids), info, None
    column, share = seed_top
    if not 0 < share < 1:
        raise InvalidInput(f"invalid top share {share!r} of {column!r}: between 0 and 1")
    if column not in columns:
        raise InvalidInput(f"the seed's column {column!r} is not in the pool")
    info = {"kind": "top", "column": column, "percent": share * 100}
    return LookalikeSeed("top", column=column, share=share), info, None


def _dataset_source(ws: Workspace, row: dict, columns: list[str]) -> DatasetSource:
    return DatasetSource(
        label=f"{row['name']}@{row['version']}",
        location=ws.objects.location(row["object_hash"]),
        rows=int(row["rows"]),
        columns=columns,
        read=lambda wanted: load_frame(ws, row, wanted),
    )


def _outside_source(ws: Workspace, version: dict, columns: list[str]) -> DatasetSource:
    """The dataset the seed's version was built on, when it is not the pool: its id column
    and the pool's feature columns (its seed customers outside the pool join as seed rows)."""
    source = resolve_dataset(ws, version["dataset_id"])
    missing = [c for c in columns if c not in kinds_of(source)]
    if missing:
        raise InvalidInput(
            f"the seed's dataset {source['name']}@{source['version']} lacks the pool's "
            f"columns {', '.join(missing)}: choose shared ones with --features"
        )
    return _dataset_source(ws, source, [source["id_column"], *columns])


def _holdout(ws: Workspace, include_holdout: bool) -> tuple[float, int] | None:
    holdout = None if include_holdout else current_holdout(ws)
    return None if holdout is None else (float(holdout["share"]), int(holdout["seed"]))


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
    engine: str | None = None,
    spark_master: str | None = None,
    progress: Progress | None = None,
) -> Lookalike:
    """Rank `pool` by similarity to a seed and record the best `size` as an audience.

    A segment seed may come from another dataset than the pool (customers as seed, prospects
    as pool) as long as both have the feature columns; seed customers that are in the pool
    are never in the audience, and `exclude` leaves out every pool row whose id is in that
    dataset (existing customers among prospects). The ranking runs on `engine` (the
    workspace's default, else local): Spark scores the pool where it lives.
    """
    if method not in METHODS:
        raise InvalidInput(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    existing = ws.meta.audiences.names()
    name = check_name(name, "audience") if name else f"lookalike-{len(existing) + 1}"
    if name in existing:  # checked before the (long) ranking, not after
        raise Conflict(f"an audience named {name!r} already exists")
    check_output(ws, out)
    engine_name, master = engine_choice(ws, engine, spark_master)
    dataset = resolve_dataset(ws, pool)
    kinds = kinds_of(dataset)
    id_column = dataset["id_column"]
    wanted = [id_column, *(c for c, k in kinds.items() if k in FEATURE_KINDS and c != id_column)]
    source, seed_info, version = _seed(ws, seed, seed_ids, seed_top, id_column, wanted)
    if features is None and version is not None:
        spec = version["feature_spec"]["spec"]
        features = [f["column"] for f in spec["features"] if f["column"] in wanted]
    spec = build_spec(pd.DataFrame(columns=wanted), kinds, id_column, features)
    if seed_info["kind"] == "top":  # the seed's defining column would make the task trivial
        spec["features"] = [f for f in spec["features"] if f["column"] != seed_info["column"]]
    columns = [f["column"] for f in spec["features"]]
    if version is not None and version["dataset_id"] != dataset["id"]:
        source = replace(source, outside=_outside_source(ws, version, columns))
    other = resolve_dataset(ws, exclude) if exclude is not None else None
    request = LookalikeRequest(
        pool=_dataset_source(ws, dataset, wanted),
        kinds=kinds,
        id_column=id_column,
        seed=source,
        spec=spec,
        method=method,
        size=size,
        random_seed=random_seed,
        exclude=_dataset_source(ws, other, [other["id_column"]]) if other else None,
        holdout=_holdout(ws, include_holdout),
    )
    scratch_folder = (
        tempfile.TemporaryDirectory(prefix="spark-", dir=ws.dir)
        if engine_name == "spark"
        else contextlib.nullcontext(str(ws.dir))
    )
    with scratch_folder as scratch:
        ranked = get_engine(engine_name, master).lookalike(
            request, Path(scratch), progress or _noop
        )
        result = _audience_frame(ranked)
        # the user's file first: if it cannot be written, nothing was added to the store
        file_digest = write_frame(result, out, raw=raw)
        digest, nbytes = _store_audience(ws, ranked)
    seed_info.update(ranked.seed)
    quality = ranked.quality
    warnings = []
    near_seed, near_pool = quality["audience_to_seed"], quality["audience_to_pool"]
    if near_seed is not None and near_pool is not None and near_pool < near_seed:
        warnings.append(
            "the audience looks more like the pool than like the seed "
            f"(mean distance {near_pool:.2f} vs {near_seed:.2f} pool standard deviations): "
            "the pool has few customers like the seed; a smaller --size or another seed helps"
        )
    params = {
        "size": ranked.size,
        "features": columns,
        "random_seed": random_seed,
        "holdout": HOLDOUT,
        "workspace_holdout_left_out": None if include_holdout else ranked.held_out,
        "engine": ranked.engine,  # where it ran; the audience does not depend on it
        "model": ranked.model,  # what it learnt from: the seed members it saw (capped)
    }
    if exclude is not None:
        params["exclude"] = exclude
        params["excluded"] = ranked.excluded
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


def _noop(_message: str, _fraction: float | None = None) -> None:
    pass


def _audience_frame(ranked: LookalikeRanked) -> pd.DataFrame:
    """The audience (customer_id, score, rank), best first: audience-sized, never the pool."""
    import pyarrow.parquet as pq

    table = ranked.table if ranked.table is not None else pq.read_table(ranked.file)
    return table.to_pandas()


def _store_audience(ws: Workspace, ranked: LookalikeRanked) -> tuple[str, int]:
    if ranked.table is not None:
        return ws.objects.put_table(ranked.table)

    def write(target) -> None:  # the Parquet file Spark's parts were merged into
        with open(ranked.file, "rb") as f:
            shutil.copyfileobj(f, target, 1 << 22)

    return ws.objects.put_stream(write)


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
