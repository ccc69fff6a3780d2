"""Designing a campaign before it is sent (stratified control groups, power per segment) and
the workspace-wide holdout.

A design draws the strategy's audience (the customers of the segments it is mapped to in one
version, minus the holdout), assigns each customer to an arm or to control within its segment
(engine.design), reports what each segment can show, writes the assignment file and records
all of it. `campaign import` of a campaign with the same name is checked against it.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segtrail.engine.design import (
    CONTROL,
    HOLDOUT_METHOD,
    holdout_mask,
    segment_power,
    stratified_assignment,
)
from segtrail.errors import Conflict, InvalidInput, NotFound
from segtrail.services.datasets import load_table
from segtrail.services.plans import ALL, get_strategy, plan_state
from segtrail.services.refs import check_name
from segtrail.services.results import CampaignDesign, Holdout
from segtrail.services.segmentations import (
    adopted_version,
    load_assignments,
    ref_of,
    resolve_segmentation,
    segment_names,
)
from segtrail.services.use import output_format, write_frame
from segtrail.store.designs import NewDesign

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

HOLDOUT_GROUP = "holdout"  # the group name of holdout customers in a results file

MAX_SEED = 2**32 - 1
# --baseline-from uses a segment's own control rate only when its control group was this big
# (and responded at all); a smaller segment falls back on the campaign's overall control rate.
MIN_BASELINE_CONTROL = 100


# --- records ---------------------------------------------------------------------------------


def _design_rows(ws: Workspace, name: str | None = None, strategy: str | None = None) -> list:
    return ws.meta.designs.list(name=name, strategy=strategy)


def _holdout_rows(ws: Workspace) -> list[dict]:
    return ws.meta.holdouts.list()


def _latest_datasets(ws: Workspace) -> list[dict]:
    rows = ws.meta.datasets.list()  # by name, then version
    return list({r["name"]: r for r in rows}.values())  # the newest version of each name


def _mapped_versions(ws: Workspace, strategy: str) -> list[dict]:
    """Every version whose current plan maps the strategy, with that entry, most recently
    mapped last."""
    out: dict[int, dict] = {}
    out: dict[int, dict] = {}
    for sid in reversed(ws.meta.plans.versions_with(strategy)):
        version = resolve_segmentation(ws, sid)
        state = plan_state(ws, version)
        entry = next((e for e in state["entries"] if e["strategy"] == strategy), None)
        if entry is not None:  # still mapped in the version's current plan
            out[sid] = {"version": version, "entry": entry}
    return list(out.values())


# --- the holdout ---------------------------------------------------------------------------


def current_holdout(ws: Workspace) -> dict | None:
    rows = _holdout_rows(ws)
    return rows[-1] if rows else None


def in_holdout(ws: Workspace, ids: pd.Index | np.ndarray) -> np.ndarray:
    """Which of these customers are in the current holdout (all False without one)."""
    holdout = current_holdout(ws)
    if holdout is None:
        return np.zeros(len(ids), dtype=bool)
    return holdout_mask(ids, holdout["share"], holdout["seed"])


def create_holdout(
    ws: Workspace, share: float, seed: int | None = None, replace: bool = False
) -> Holdout:
    """Record the workspace-wide holdout: a share of customers excluded from every design
    and audience export from now on, and kept as the long-run control."""
    if not 0 < share < 1:
        raise InvalidInput(f"invalid --share {share!r}: a fraction between 0 and 1, e.g. 0.05")
    seed = _check_seed(seed)
    existing = current_holdout(ws)
    if existing is not None and not replace:
        raise Conflict(
            f"this workspace already has a holdout ({existing['share']:.1%}, seed "
            f"{existing['seed']}); changing it ends the long-run control: pass --replace to do so"
        )
    summary = {}
    for dataset in _latest_datasets(ws):
        ids = (
            load_table(ws, dataset, [dataset["id_column"]]).column(0).to_numpy(zero_copy_only=False)
        )
        ref = f"{dataset['name']}@{dataset['version']}"
        summary[ref] = {
            "customers": len(ids),
            "held_out": int(holdout_mask(ids, share, seed).sum()),
        }
    ws.meta.holdouts.append(share, seed, HOLDOUT_METHOD, summary, ws.author, replace)
    return show_holdout(ws)


def show_holdout(ws: Workspace) -> Holdout:
    holdout = current_holdout(ws)
    if holdout is None:
        raise NotFound("this workspace has no holdout; create one with `segtrail holdout create`")
    return Holdout(
        share=holdout["share"],
        seed=holdout["seed"],
        method=holdout["method"],
        created_at=holdout["at"],
        author=holdout["author"],
        datasets=holdout["summary"],
        replaces=len(_holdout_rows(ws)) - 1,
    )


# --- designing a campaign ------------------------------------------------------------------


def _check_seed(seed: int | None) -> int:
    if seed is None:
        # A fresh seed per design, recorded: a fixed default would give every campaign of
        # the same audience the same control group.
        return secrets.randbelow(MAX_SEED + 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"invalid --seed {seed!r}: a whole number from 0 to {MAX_SEED}")
    return seed


def _fraction(value: float | None, flag: str, example: str) -> None:
    if value is not None and not 0 < value < 1:
        raise InvalidInput(f"invalid {flag} {value!r}: a fraction between 0 and 1, e.g. {example}")


def _check_arms(arms: list[str] | None) -> list[str]:
    """Arm names as written (results files keep them so); two arms differing only in case,
    or an arm named like the control or the holdout, would be read back ambiguously."""
    arms = arms or ["treatment"]
    for arm in arms:
        check_name(arm, "arm")
    lowered = [a.lower() for a in arms]
    if len(set(lowered)) != len(lowered):
        raise InvalidInput(f"--arms names an arm twice: {', '.join(arms)}")
    for reserved in (CONTROL, HOLDOUT_GROUP):
        if reserved in lowered:
            raise InvalidInput(f"--arms: {reserved!r} is not an arm (control is added for you)")
    return list(arms)


def _version_for(ws: Workspace, strategy: str, by: str | None) -> tuple[dict, dict]:
    """The version to design on and the strategy's plan entry there: --by, else the adopted
    version of the mapped lens, else the newest mapped version."""
    mapped = _mapped_versions(ws, strategy)
    if by is not None:
        version = resolve_segmentation(ws, by)
        for m in mapped:
            if m["version"]["id"] == version["id"]:
                return version, m["entry"]
        raise InvalidInput(
            f"{strategy} is not mapped on {ref_of(version)}; map it first with "
            f"`segtrail plan map {strategy} {ref_of(version)} --segments ...`"
        )
    if not mapped:
        raise InvalidInput(
            f"{strategy} is not mapped to any segment; map it first with `segtrail plan map`"
        )
    lens = mapped[-1]["version"]["lens"]  # the lens of the latest mapping
    in_lens = [m for m in mapped if m["version"]["lens"] == lens]
    adopted = adopted_version(ws, lens)
    chosen = next((m for m in in_lens if m["version"]["version"] == adopted), None)
    chosen = chosen or max(in_lens, key=lambda m: m["version"]["version"])
    return chosen["version"], chosen["entry"]


def _baselines(
    ws: Workspace,
    labels: list[int],
    version: dict,
    baseline_rate: float | None,
    baseline_from: str | None,
) -> dict[int, tuple[float, str]]:
    """(rate, where it came from) per segment."""
    if baseline_from is None:
        rate = 0.05 if baseline_rate is None else baseline_rate
        return {label: (rate, "given") for label in labels}
    from segtrail.services.campaigns import campaign_rows

    rows = campaign_rows(ws, baseline_from)
    if not rows:
        raise NotFound(f"no campaign {baseline_from!r} for --baseline-from")
    summary = rows[0]["summary"]
    control_name = summary.get("control", CONTROL)
    frame = ws.objects.read_table(rows[0]["object_hash"]).to_pandas()
    control = frame[frame["group"] == control_name]
    if len(control) == 0 or control["responded"].sum() == 0:
        raise InvalidInput(
            f"campaign {baseline_from!r} has no control responses to take a baseline from; "
            "give --baseline-rate"
        )
    overall = float(control["responded"].mean())
    segments = _align(load_assignments(ws, version), control["customer_id"])
    by_segment = (
        control.assign(segment=segments).groupby("segment")["responded"].agg(["size", "sum"])
    )
    out = {}
    for label in labels:
        n, k = by_segment.loc[label] if label in by_segment.index else (0, 0)
        if n >= MIN_BASELINE_CONTROL and k > 0:
            out[label] = (float(k / n), f"{baseline_from} control, this segment")
        else:
            out[label] = (overall, f"{baseline_from} control, all segments")
    return out


def _align(labels: pd.Series, ids: pd.Series) -> np.ndarray:
    """The segment of each id (NaN if the version does not know it); int and text ids meet
    as text, as campaign import does."""
    index = labels.index
    if pd.api.types.is_integer_dtype(index.dtype) != pd.api.types.is_integer_dtype(ids.dtype):
        index, ids = index.astype(str), ids.astype(str)
    return pd.Series(labels.to_numpy(), index=index).reindex(ids.to_numpy()).to_numpy()


def design_campaign(
    ws: Workspace,
    name: str,
    strategy: str,
    *,
    by: str | None = None,
    control_share: float = 0.1,
    arms: list[str] | None = None,
    baseline_rate: float | None = None,
    baseline_from: str | None = None,
    mde: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int | None = None,
    out: str | Path | None = None,
    dry_run: bool = False,
) -> CampaignDesign:
    """Assign the strategy's audience to arms and control, stratified by segment; report the
    power per segment; unless `dry_run`, write `out` and record the design."""
    from segtrail.services.campaigns import campaign_rows

    check_name(name, "campaign")
    get_strategy(ws, strategy)
    _fraction(control_share, "--control-share", "0.1")
    _fraction(baseline_rate, "--baseline-rate", "0.05")
    _fraction(mde, "--mde", "0.01")
    _fraction(alpha, "--alpha", "0.05")
    _fraction(power, "--power", "0.8")
    if baseline_rate is not None and baseline_from is not None:
        raise InvalidInput("give --baseline-rate or --baseline-from, not both")
    arms = _check_arms(arms)
    seed = _check_seed(seed)
    if not dry_run:
        if out is None:
            raise InvalidInput("give --out FILE for the assignment (or --dry-run to only report)")
        output_format(out)
        if not Path(out).parent.is_dir():
            raise InvalidInput(f"{out}: folder {Path(out).parent} does not exist")
    if _design_rows(ws, name):
        raise Conflict(f"campaign {name!r} is already designed; choose another name")
    if campaign_rows(ws, name):
        raise Conflict(f"campaign {name!r} is already imported; a design comes before sending")

    version, entry = _version_for(ws, strategy, by)
    labels = load_assignments(ws, version)
    targets = sorted(set(labels.unique())) if entry["segments"] == ALL else entry["segments"]
    audience = labels[labels.isin(targets)]
    holdout = current_holdout(ws)  # read once: the design records the holdout it left out
    held = (
        holdout_mask(audience.index, holdout["share"], holdout["seed"])
        if holdout is not None
        else np.zeros(len(audience), dtype=bool)
    )
    audience = audience[~held]
    if audience.empty:
        raise InvalidInput(
            f"the audience of {strategy} on {ref_of(version)} is empty"
            + (" once the holdout is left out" if held.any() else "")
        )

    groups = [CONTROL, *arms]
    shares = [control_share, *[(1 - control_share) / len(arms)] * len(arms)]
    assigned = stratified_assignment(
        audience.index.to_numpy(), audience.to_numpy(), groups, shares, seed
    )
    names = segment_names(ws, version)
    segment_list = sorted(int(s) for s in targets)
    baselines = _baselines(ws, segment_list, version, baseline_rate, baseline_from)
    counts = (
        (pd.crosstab(audience.to_numpy(), assigned).reindex(index=segment_list, columns=groups))
        .fillna(0)
        .astype(int)
    )
    segments, overall = _power_table(counts, names, baselines, alpha, power, mde)
    result: dict[str, Any] = {
        "design": name,
        "strategy": strategy,
        "version": ref_of(version),
        "plan_status": entry["status"],
        "groups": [{"group": g, "share": s} for g, s in zip(groups, shares, strict=True)],
        "control": CONTROL,
        "seed": seed,
        "alpha": alpha,
        "power": power,
        "mde": mde,
        "baseline_rate": baseline_rate if baseline_from is None else None,
        "baseline_from": baseline_from,
        "customers": len(audience),
        "held_out": int(held.sum()),
        "segments": segments,
        "overall": overall,
        "out": None if dry_run else str(out),
        "recorded": not dry_run,
    }
    if dry_run:
        return _design_result(result)

    frame = pd.DataFrame(
        {
            "customer_id": audience.index.to_numpy(),
            "segment": audience.to_numpy().astype(np.int32),
            "segment_name": pd.Series(audience.to_numpy()).map(names).fillna("").to_numpy(),
            "group": assigned.astype(str),
        }
    )
    # the user's file first: if it cannot be written, nothing was added to the store
    result["sha256"] = write_frame(frame, out)
    stored = frame.drop(columns="segment_name")
    digest, size = ws.objects.put_table(pa.Table.from_pandas(stored, preserve_index=False))
    params = {k: result[k] for k in ("alpha", "power", "mde", "baseline_rate", "baseline_from")}
    new = NewDesign(
        name=name,
        strategy=strategy,
        segmentation_id=version["id"],
        groups=result["groups"],
        control=CONTROL,
        seed=seed,
        params=params,
        power={"segments": segments, "overall": overall},
        holdout_id=holdout["id"] if holdout else None,
        customers=len(frame),
        object=(digest, size),
    )
    details = {
        "strategy": strategy,
        "version": ref_of(version),
        "seed": seed,
        "groups": result["groups"],
        "out": str(out),
        "sha256": result["sha256"],
    }
    ws.meta.designs.append(new, ws.author, details)
    return _design_result(result)


def _design_result(data: dict) -> CampaignDesign:
    rest = {k: v for k, v in data.items() if k not in ("design", "strategy", "version")}
    return CampaignDesign(data["design"], data["strategy"], data["version"], details=rest)


def _power_table(
    counts: pd.DataFrame,
    names: dict[int, str],
    baselines: dict[int, tuple[float, str]],
    alpha: float,
    power: float,
    mde: float | None,
) -> tuple[list[dict], dict]:
    """Power figures per segment (rows of `counts`: segments, columns: groups) and overall,
    where the baseline is the segments' baselines weighted by their customers."""
    segments = []
    for label in counts.index:
        sizes = {g: int(counts.at[label, g]) for g in counts.columns}
        rate, source = baselines[label]
        segments.append(
            {
                "segment": int(label),
                "name": names.get(label),
                "groups": sizes,
                "baseline_source": source,
                **asdict(segment_power(sizes, rate, alpha, power, mde)),
            }
        )
    totals = {g: int(counts[g].sum()) for g in counts.columns}
    customers = max(1, sum(totals.values()))
    pooled = float(sum(s["baseline"] * s["customers"] for s in segments) / customers)
    overall = {
        "segment": None,
        "name": "all segments",
        "groups": totals,
        **asdict(segment_power(totals, pooled, alpha, power, mde)),
    }
    return segments, overall


# --- reading designs -----------------------------------------------------------------------


def _public_design(ws: Workspace, row: dict) -> dict:
    params, power = row["params"], row["power"]
    return {
        "design": row["name"],
        "strategy": row["strategy"],
        "version": ref_of(resolve_segmentation(ws, row["segmentation_id"])),
        "groups": row["groups"],
        "control": row["control"],
        "seed": row["seed"],
        **params,
        "customers": row["customers"],
        "holdout": row["holdout_id"] is not None,
        "segments": power["segments"],
        "overall": power["overall"],
        "designed_at": row["at"],
        "author": row["author"],
    }


def get_design(ws: Workspace, name: str) -> dict | None:
    """A recorded design by campaign name, or None."""
    rows = _design_rows(ws, name)
    return _public_design(ws, rows[0]) if rows else None


def list_designs(
    ws: Workspace, name: str | None = None, strategy: str | None = None
) -> list[CampaignDesign]:
    rows = _design_rows(ws, name, strategy)
    if name is not None and not rows:
        raise NotFound(f"no design {name!r}; `segtrail campaign designs` lists them")
    return [_design_result(_public_design(ws, row)) for row in rows]


def design_assignment(ws: Workspace, name: str) -> pd.DataFrame | None:
    """customer_id, segment, group of a recorded design (None if not designed)."""
    rows = _design_rows(ws, name)
    if not rows:
        return None
    return ws.objects.read_table(rows[0]["object_hash"]).to_pandas()


def check_against_design(ws: Workspace, name: str, frame: pd.DataFrame) -> dict | None:
    """Compare a campaign's results (customer_id, group) with its design: customers the design
    did not include, customers in another group than designed, designed customers missing.
    Holdout customers reported under the group 'holdout' are expected, not mismatches."""
    design = design_assignment(ws, name)
    if design is None:
        return None
    planned = design.set_index("customer_id")["group"]
    ids = frame["customer_id"]
    if pd.api.types.is_integer_dtype(planned.index.dtype) != pd.api.types.is_integer_dtype(
        ids.dtype
    ):
        planned.index = planned.index.astype(str)
        ids = ids.astype(str)
    got = pd.Series(frame["group"].to_numpy(), index=ids.to_numpy())
    expected = planned.reindex(got.index)
    holdout_rows = (got == HOLDOUT_GROUP).to_numpy()
    outside = expected.isna().to_numpy() & ~holdout_rows
    wrong = expected.notna().to_numpy() & (expected.to_numpy() != got.to_numpy())
    missing = ~planned.index.isin(got.index)
    bad_holdout = holdout_rows & ~in_holdout(ws, got.index)

    def examples(values: Any) -> list:
        return [v.item() if hasattr(v, "item") else v for v in list(values[:5])]

    wrong_pairs = pd.DataFrame(
        {
            "customer_id": got.index[wrong],
            "designed": expected[wrong].to_numpy(),
            "imported": got[wrong].to_numpy(),
        }
    )
    return {
        "design": name,
        "designed": len(planned),
        "matched": int((~outside & ~wrong & ~holdout_rows).sum()),
        "unknown": int(outside.sum()),
        "wrong_group": int(wrong.sum()),
        "missing": int(missing.sum()),
        "holdout_rows": int(holdout_rows.sum()),
        "not_in_holdout": int(bad_holdout.sum()),
        "examples": {
            "unknown": examples(got.index[outside]),
            "wrong_group": wrong_pairs.head(5).to_dict("records"),
            "missing": examples(planned.index[missing]),
            "not_in_holdout": examples(got.index[bad_holdout]),
        },
        "clean": not (outside.any() or wrong.any() or missing.any() or bad_holdout.any()),
    }


# --- the holdout in campaign reports -------------------------------------------------------


def drop_holdout(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict | None]:
    """A campaign's own report: rows reported under the group 'holdout' are not part of it."""
    holdout_rows = (frame["group"] == HOLDOUT_GROUP).to_numpy()
    if not holdout_rows.any():
        return frame, None
    return frame[~holdout_rows], {"holdout_rows_left_out": int(holdout_rows.sum())}


def against_holdout(
    ws: Workspace, frame: pd.DataFrame, name: str, control: str = CONTROL
) -> tuple[pd.DataFrame, dict]:
    """The results re-read with the workspace holdout as the control: every untreated row of a
    holdout customer (group 'holdout' or the campaign's control) becomes control; the
    campaign's own control outside the holdout, and any treated holdout customer (the holdout
    was broken for them), are left out and counted."""
    holdout = current_holdout(ws)
    if holdout is None:
        raise InvalidInput(
            "this workspace has no holdout; create one with `segtrail holdout create`"
        )
    member = in_holdout(ws, frame["customer_id"].to_numpy())
    untreated = frame["group"].isin([control, HOLDOUT_GROUP]).to_numpy()
    comparison = member & untreated
    if not comparison.any():
        raise InvalidInput(
            f"campaign {name!r} has no results for holdout customers; include them in the "
            "results file with group 'holdout'"
        )
    kept = frame[comparison | (~member & ~untreated)].copy()
    kept.loc[member[comparison | (~member & ~untreated)], "group"] = control
    return kept, {
        "share": holdout["share"],
        "seed": holdout["seed"],
        "holdout_customers": int(comparison.sum()),
        "treated_holdout_left_out": int((member & ~untreated).sum()),
        "campaign_control_left_out": int((~member & untreated).sum()),
    }
