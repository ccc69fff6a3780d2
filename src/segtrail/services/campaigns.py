"""Campaigns: who got which strategy (treatment or control) and who responded; reports of
response per segment with intervals and tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segtrail.engine.features import read_numbers
from segtrail.engine.responses import GROUPS, not_numbers, segment_responses
from segtrail.errors import Conflict, Damaged, InputError, NotFound, SegtrailError
from segtrail.readers import check_columns, normalize_ids, read_table, row_words
from segtrail.services.datasets import load_table, newest_dataset, resolve_dataset
from segtrail.services.designs import (
    HOLDOUT_GROUP,
    against_holdout,
    check_against_design,
    drop_holdout,
    get_design,
)
from segtrail.services.plans import get_strategy
from segtrail.services.refs import check_name
from segtrail.services.results import CampaignImport, CampaignReport, CampaignSummary
from segtrail.services.segmentations import (
    assignments_source,
    engine_for,
    ref_of,
    resolve_segmentation,
    segment_names,
)
from segtrail.store.usage import NewCampaign

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

REQUIRED = ("customer_id", "group", "responded")
FLAGS = ("responded", "opened", "clicked")


def _validate(
    table: pa.Table,
    name: str,
    line_offset: int | None,
    ids_from_text: bool,
    control: str | None = None,
    arms: list[str] | None = None,
) -> pd.DataFrame:
    """Check a campaign file and return it as a clean frame; errors name the row.
    Without `control` and `arms`, groups are 'treatment' and 'control' (case-insensitive);
    otherwise see `_arm_groups`."""
    where = row_words(line_offset)

    check_columns(table, name)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise InputError(
            f"{name}: missing column {', '.join(missing)} (required: {', '.join(REQUIRED)}; "
            "optional: revenue, opened, clicked)"
        )
    # the same id rules as ingest (no empty or repeated id; '00123' stays text), so that
    # campaign ids compare equal to the dataset's
    table = normalize_ids(table, "customer_id", name, line_offset, ids_from_text=ids_from_text)
    frame = table.to_pandas()
    if control is not None or arms is not None:
        frame["group"] = _arm_groups(frame["group"], name, where, control or "control", arms)
        group = frame["group"]
    else:
        group = frame["group"].astype("string").str.strip().str.lower()
        bad = ~group.isin((*GROUPS, HOLDOUT_GROUP)).fillna(False).to_numpy(dtype=bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name}: {where(i)}, column 'group': {frame['group'].iloc[i]!r} is not "
                "'treatment', 'control' or 'holdout'"
            )
    frame["group"] = group.astype(str)
    for column in FLAGS:
        if column not in frame.columns:
            continue
        values = frame[column]
        as_text = values.astype("string").str.strip().str.lower()
        mapped = as_text.map({"1": 1, "0": 0, "true": 1, "false": 0, "1.0": 1, "0.0": 0})
        bad = mapped.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name}: {where(i)}, column '{column}': {values.iloc[i]!r} is not 0 or 1"
            )
        frame[column] = mapped.astype("int64")
    if "revenue" in frame.columns:
        # amounts as spreadsheets write them ("$1,234.00", "1,234", "12 €") are read; a blank
        # cell is no revenue; anything else refuses the file, nothing is recorded
        revenue, unread = read_numbers(frame["revenue"])
        if unread is not None:
            first = where(int(np.flatnonzero(unread)[0]))
            raise InputError(
                f"{name}: column 'revenue': {not_numbers(frame['revenue'], unread)}, first at "
                f"{first}; write amounts as 1234.5 or $1,234.50, or leave the cell blank"
            )
        negative = np.flatnonzero(revenue < 0)
        if negative.size:
            i = int(negative[0])
            raise InputError(
                f"{name}: {where(i)}, column 'revenue': {frame['revenue'].iloc[i]!r} is not an "
                "amount >= 0"
            )
        frame["revenue"] = revenue
    keep = [c for c in (*REQUIRED, "revenue", "opened", "clicked") if c in frame.columns]
    return frame[keep]


def _arm_groups(
    values: pd.Series, name: str, where: Any, control: str, arms: list[str] | None
) -> pd.Series:
    """Arms named freely: any non-empty text (kept as written, trimmed); with `arms`, only
    those and the control. The control arm must have at least one customer."""
    group = values.astype("string").str.strip()
    empty = (group.isna() | (group == "")).to_numpy(dtype=bool)
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(f"{name}: {where(i)}, column 'group': empty arm")
    if arms is not None:
        allowed = {control, *arms}
        bad = ~group.isin(allowed).to_numpy(dtype=bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name}: {where(i)}, column 'group': {values.iloc[i]!r} is not one of the "
                f"arms ({', '.join(sorted(allowed))})"
            )
    if not (group == control).any():
        found = ", ".join(sorted(group.unique())[:10])
        raise InputError(f"{name}: no customer is in the control arm {control!r} (arms: {found})")
    return group.astype(str)


def default_version(ws: Workspace, strategy: str) -> dict | None:
    """The version a campaign of `strategy` is broken down by: the adopted version of the
    lens the strategy was mapped on most recently, else that newest mapped version (a draft
    mapped later must not replace what the team adopted). None if never mapped."""
    versions = ws.meta.plans.versions_with(strategy)
    if not versions:
        return None
    newest = resolve_segmentation(ws, versions[0])
    adopted = ws.meta.segmentations.adopted_version(newest["lens"])
    if adopted is None or adopted == newest["version"]:
        return newest
    return resolve_segmentation(ws, f"{newest['lens']}@{adopted}")


def _dataset_ids(ws: Workspace, dataset: dict) -> pd.Index:
    ids = load_table(ws, dataset, [dataset["id_column"]]).column(0)
    return pd.Index(ids.to_numpy(zero_copy_only=False))


def _unknown(ws: Workspace, version: dict, ids: pd.Series) -> int:
    """Campaign customers that are not in the dataset `version` was built on."""
    known = _dataset_ids(ws, resolve_dataset(ws, version["dataset_id"]))
    if pd.api.types.is_integer_dtype(known.dtype) != pd.api.types.is_integer_dtype(ids.dtype):
        known, ids = known.astype(str), ids.astype(str)
    return int((~ids.isin(known)).sum())


def import_campaign(
    ws: Workspace,
    path: str | Path,
    name: str,
    strategy: str,
    control: str | None = None,
    arms: list[str] | None = None,
) -> CampaignImport:
    """Record a campaign file. Two arms by default ('treatment' and 'control'); with
    `control` (the arm that got nothing) and/or `arms` (the others), any arm names."""
    check_name(name, "campaign")
    get_strategy(ws, strategy)
    design = get_design(ws, name)
    if design is not None and design["strategy"] != strategy:
        raise InputError(
            f"campaign {name!r} was designed for strategy {design['strategy']}, not {strategy}",
            field="strategy",
        )
    if ws.meta.campaigns.exists(name):
        raise Conflict(f"campaign {name!r} already exists")
    path = Path(path)
    source = read_table(path, "customer_id")
    frame = _validate(
        source.table,
        path.name,
        1 if source.format == "csv" else None,
        ids_from_text=source.format in ("csv", "excel"),
        control=control,
        arms=arms,
    )
    if control is None and arms is None:
        arm_names = sorted(GROUPS)
    else:
        arm_names = sorted(set(frame["group"]) | {control or "control", *(arms or [])})
    control = control or "control"
    version = default_version(ws, strategy)
    if version is not None:
        known = _dataset_ids(ws, resolve_dataset(ws, version["dataset_id"]))
        reference = ref_of(version)
    else:
        dataset = newest_dataset(ws)
        if dataset is None:
            raise SegtrailError("ingest a dataset before importing campaigns")
        known = _dataset_ids(ws, dataset)
        reference = f"{dataset['name']}@{dataset['version']}"
    ids = frame["customer_id"]
    if pd.api.types.is_integer_dtype(known.dtype) != pd.api.types.is_integer_dtype(ids.dtype):
        known = known.astype(str)
        ids = ids.astype(str)
        frame["customer_id"] = ids
    unknown = int((~ids.isin(known)).sum())
    table = pa.Table.from_pandas(frame, preserve_index=False)
    digest, size = ws.objects.put_table(table)
    counts = frame.groupby("group").agg(n=("responded", "size"), responders=("responded", "sum"))
    summary = {
        "checked_against": reference,
        # a designed campaign: who is not where the design put them (reported, not refused)
        "design_check": check_against_design(ws, name, frame),
        "groups": {g: {k: int(v) for k, v in counts.loc[g].items()} for g in counts.index},
        "columns": list(frame.columns),
        "control": control,
        "arms": arm_names,
    }
    new = NewCampaign(
        name=name,
        strategy=strategy,
        source=str(path.resolve()),
        rows=len(frame),
        unknown_customers=unknown,
        summary=summary,
        object=(digest, size),
    )
    details = {"strategy": strategy, "rows": len(frame), "unknown_customers": unknown}
    ws.meta.campaigns.append(new, ws.author, details)
    return CampaignImport(
        campaign=name,
        strategy=strategy,
        rows=len(frame),
        unknown_customers=unknown,
        details=summary,
    )


def campaign_rows(
    ws: Workspace, name: str | None = None, strategy: str | None = None
) -> list[dict]:
    """Recorded campaigns (optionally one by name, or those of one strategy), oldest first."""
    return ws.meta.campaigns.list(name=name, strategy=strategy)


def report(
    ws: Workspace, name: str, by: str | None = None, vs_holdout: bool = False
) -> CampaignReport:
    rows = campaign_rows(ws, name)
    if not rows:
        raise NotFound(f"no campaign {name!r}; import one with `segtrail campaign import`")
    row = rows[0]
    design = get_design(ws, name)
    if by:
        version = resolve_segmentation(ws, by)
    elif design is not None:  # a designed campaign reads by the version it was designed on
        version = resolve_segmentation(ws, design["version"])
    else:
        version = default_version(ws, row["strategy"])
    if version is None:
        raise SegtrailError(
            f"strategy {row['strategy']} is not mapped to any version; say which version "
            "(LENS@N) to break the results down by",
            field="by",
        )
    frame = ws.objects.read_table(row["object_hash"]).to_pandas()
    control = row["summary"].get("control", "control")
    if vs_holdout:
        frame, holdout_info = against_holdout(ws, frame, name, control)
    elif control != HOLDOUT_GROUP:
        # rows of measured workspace-holdout customers are not part of the campaign's own
        # report, unless the campaign named its control arm "holdout" itself
        frame, holdout_info = drop_holdout(frame)
    else:
        holdout_info = None
    # the lookup over every customer's assignment runs on the workspace's engine (Spark
    # joins the campaign's customers to the assignments where they live)
    labels, every_segment = engine_for(ws).segments_of(
        assignments_source(ws, version), frame["customer_id"]
    )
    if pd.api.types.is_integer_dtype(labels.index.dtype) != pd.api.types.is_integer_dtype(
        frame["customer_id"].dtype
    ):
        labels.index = labels.index.astype(str)
        frame["customer_id"] = frame["customer_id"].astype(str)
    summary = row["summary"]  # decoded by the store
    result = segment_responses(
        frame,
        labels,
        segment_names(ws, version),
        control=summary.get("control", "control"),
        arms=summary.get("arms"),
        segments=every_segment,
    )
    # unknown = not in the dataset this breakdown's version was built on (what the import
    # counted against another version then is not what this report shows)
    unknown = _unknown(ws, version, frame["customer_id"])
    return CampaignReport(
        campaign=name,
        strategy=row["strategy"],
        by=ref_of(version),
        imported_at=row["at"],
        author=row["author"],
        rows=row["rows"],
        unknown_customers=unknown,
        details={
            "control_kind": "holdout" if vs_holdout else "campaign control",
            "holdout": holdout_info,
            "design": design,
            "design_check": row["summary"].get("design_check"),
            **result,
        },
    )


def list_campaigns(ws: Workspace) -> list[CampaignSummary]:
    return [
        CampaignSummary(
            campaign=r["name"],
            strategy=r["strategy"],
            rows=r["rows"],
            unknown_customers=r["unknown_customers"],
            imported_at=r["at"],
            author=r["author"],
        )
        for r in campaign_rows(ws)
    ]


def campaigns_for_strategy(ws: Workspace, strategy: str) -> list[dict]:
    out = []
    for r in campaign_rows(ws, strategy=strategy):
        try:
            out.append(report(ws, r["name"]))
        except Damaged:  # a damaged workspace stops the command; it is no note
            raise
        except SegtrailError as e:
            out.append({"campaign": r["name"], "error": str(e)})
    return out


__all__ = ["campaigns_for_strategy", "import_campaign", "list_campaigns", "report"]
