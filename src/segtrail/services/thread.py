"""The thread between versions and tactics: diff, carry forward, compare lenses, why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segtrail.engine.carry import carry_plan
from segtrail.engine.diff import diff_assignments
from segtrail.errors import SegtrailError
from segtrail.services.annotations import inherit_names
from segtrail.services.datasets import resolve_dataset
from segtrail.services.plans import (
    ALL,
    change_plan,
    entries_of,
    get_strategy,
    plan_state,
    plan_state_rows,
)
from segtrail.services.results import Carry, Comparison, Diff, Thread
from segtrail.services.segmentations import (
    assignments_source,
    engine_for,
    load_assignments,
    ref_of,
    resolve_segmentation,
    segment_names,
    segment_tags,
    show,
)

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def _named(ws: Workspace, result: dict, row_a: dict, row_b: dict) -> dict:
    names_a, names_b = segment_names(ws, row_a), segment_names(ws, row_b)
    for s in result["segments_a"]:
        s["name"] = names_a.get(s["segment"], "unassigned")
    for s in result["segments_b"]:
        s["name"] = names_b.get(s["segment"], "unassigned")
    return result


def diff(
    ws: Workspace,
    ref_a: str,
    ref_b: str,
    min_jaccard: float = 0.5,
    engine: str | None = None,
    spark_master: str | None = None,
) -> Diff:
    """How customers moved from version A to version B (any lenses, any datasets), counted
    by the engine (``engine``: "local" or "spark"; None: the workspace's setting)."""
    row_a, row_b = resolve_segmentation(ws, ref_a), resolve_segmentation(ws, ref_b)
    runner = engine_for(ws, engine, spark_master)
    result = runner.diff(assignments_source(ws, row_a), assignments_source(ws, row_b), min_jaccard)
    return Diff(a=ref_of(row_a), b=ref_of(row_b), details=_named(ws, result, row_a, row_b))


def carry(
    ws: Workspace, ref_old: str, ref_new: str, min_jaccard: float = 0.5, apply: bool = False
) -> Carry:
    """Propose (and with `apply`, record) the plan of OLD on NEW, strategy by strategy."""
    row_old, row_new = resolve_segmentation(ws, ref_old), resolve_segmentation(ws, ref_new)
    if row_old["id"] == row_new["id"]:
        raise SegtrailError("carry needs two different versions")
    state = plan_state(ws, row_old)
    if state is None or not state["entries"]:
        raise SegtrailError(f"{ref_of(row_old)} has no plan to carry; map strategies first")
    a, b = load_assignments(ws, row_old), load_assignments(ws, row_new)
    delta = _named(ws, diff_assignments(a, b, min_jaccard), row_old, row_new)
    carried = carry_plan(delta, state["entries"], a, b, min_jaccard)
    names_new = segment_names(ws, row_new)
    for entry in carried:
        segs = entry["new_segments"]
        entry["new_segment_names"] = (
            "all" if segs == ALL else [names_new.get(s, "unassigned") for s in segs]
        )
    result = {
        "old": ref_of(row_old),
        "new": ref_of(row_new),
        "old_revision": state["revision"],
        "min_jaccard": min_jaccard,
        "ari": delta["ari"],
        "common_customers": delta["common_customers"],
        "strategies": carried,
        "needs_review": [e["strategy"] for e in carried if e["status"] == "needs-review"],
        "applied": False,
    }
    if apply:
        moved = {e["strategy"] for e in carried}
        carried_entries = [
            {
                "strategy": e["strategy"],
                "segments": e["new_segments"],
                "status": e["status"],
                "rationale": e["rationale"],
                "carry": {
                    "from": ref_of(row_old),
                    "from_revision": state["revision"],
                    "old_segments": e["old_segments"],
                    "fate": e["fate"],
                    "explanation": e["explanation"],
                    "old_audience": e["old_audience"],
                    "carried_audience": e["carried_audience"],
                    "retained_share": e["retained_share"],
                },
            }
            for e in carried
        ]
        justification = {
            "a": ref_of(row_old),
            "b": ref_of(row_new),
            **{k: delta[k] for k in ("common_customers", "ari", "nmi", "min_jaccard")},
            "transitions": delta["transitions"],
            "fates": {str(s["segment"]): s["fate"] for s in delta["segments_a"]},
        }
        review = f"; {len(result['needs_review'])} need review" if result["needs_review"] else ""
        new_state = change_plan(
            ws,
            row_new,
            lambda entries: [e for e in entries if e["strategy"] not in moved] + carried_entries,
            f"carried forward {len(carried)} strategies from {ref_of(row_old)} "
            f"r{state['revision']}{review}",
            "carry",
            touches=moved,
            carried_from_id=state["id"],
            diff=justification,
        )
        result["applied"] = True
        result["revision"] = new_state["revision"]
        result["names"] = inherit_names(ws, row_old, row_new, delta)
    return Carry(**result)


def compare(
    ws: Workspace, ref_a: str, ref_b: str, flags: dict[str, str] | None = None
) -> Comparison:
    """Two lenses' views of the same customers: contingency with names, ARI/NMI, and how each
    active strategy of A spreads over B's segments, flagging B segments with given tags."""
    row_a, row_b = resolve_segmentation(ws, ref_a), resolve_segmentation(ws, ref_b)
    a, b = load_assignments(ws, row_a), load_assignments(ws, row_b)
    delta = _named(ws, diff_assignments(a, b), row_a, row_b)
    names_a, names_b = segment_names(ws, row_a), segment_names(ws, row_b)
    tags_b = segment_tags(ws, row_b["id"])
    flags = flags or {}
    flagged = {
        seg for seg, tags in tags_b.items() if any(tags.get(k) == v for k, v in flags.items())
    }
    cells: dict[int, dict[int, int]] = {}
    for t in delta["transitions"]:
        cells.setdefault(t["from"], {})[t["to"]] = t["customers"]
    state = plan_state(ws, row_a)
    complement = []
    for entry in state["entries"] if state else []:
        if entry["status"] != "active":
            continue
        targets = set(cells) if entry["segments"] == ALL else set(entry["segments"])
        spread: dict[int, int] = {}
        for source in targets:
            for to, n in cells.get(source, {}).items():
                spread[to] = spread.get(to, 0) + n
        total = sum(spread.values())
        rows = [
            {
                "segment": seg,
                "name": names_b.get(seg, "unassigned"),
                "customers": n,
                "share": n / total if total else 0.0,
                "tags": tags_b.get(seg, {}),
                "flagged": seg in flagged,
            }
            for seg, n in sorted(spread.items(), key=lambda kv: -kv[1])
        ]
        flagged_customers = sum(r["customers"] for r in rows if r["flagged"])
        warnings = [
            f"{entry['strategy']} reaches {r['customers']:,} customers that "
            f"{row_b['lens']} rates "
            + ", ".join(f"{k}={v}" for k, v in r["tags"].items() if flags.get(k) == v)
            + f" (segment {r['segment']} {r['name']!r})"
            for r in rows
            if r["flagged"]
        ]
        complement.append(
            {
                "strategy": entry["strategy"],
                "segments": entry["segments"],
                "audience": total,
                "spread": rows,
                "flagged_customers": flagged_customers,
                "warnings": warnings,
            }
        )
    return Comparison(
        a=ref_of(row_a),
        b=ref_of(row_b),
        common_customers=delta["common_customers"],
        ari=delta["ari"],
        nmi=delta["nmi"],
        rows=[{"segment": s, "name": n} for s, n in sorted(names_a.items())],
        columns=[{"segment": s, "name": n} for s, n in sorted(names_b.items())],
        transitions=delta["transitions"],
        flags=flags,
        complement=complement,
    )


def why(ws: Workspace, strategy: str) -> Thread:
    """Every mapping of a strategy across lenses and versions, newest first, with the
    hypothesis, segments, dataset, status, rationale, carry steps and campaign results."""
    info = get_strategy(ws, strategy)
    mappings = []
    for segmentation_id in ws.meta.plans.versions_with(strategy):
        row = resolve_segmentation(ws, segmentation_id)
        states = plan_state_rows(ws, [segmentation_id])
        latest = states[-1]
        entries = {e["strategy"]: e for e in entries_of(ws, latest["id"])}
        entry = entries.get(strategy)
        history = []
        for st in states:
            e = next((x for x in entries_of(ws, st["id"]) if x["strategy"] == strategy), None)
            history.append(
                {
                    "revision": st["revision"],
                    "at": st["at"],
                    "author": st["author"],
                    "change": st["change"],
                    "mapped": e is not None,
                    "status": e["status"] if e else None,
                }
            )
        version = show(ws, ref_of(row))
        dataset = resolve_dataset(ws, row["dataset_id"])
        targets = entry["segments"] if entry else []
        by_label = {s["segment"]: s for s in version["segments"]}
        chosen = list(by_label) if targets == ALL else targets
        mappings.append(
            {
                "version": ref_of(row),
                "lens": row["lens"],
                "version_status": version["status"],
                "mapped": entry is not None,
                "plan_revision": latest["revision"],
                "at": latest["at"],
                "hypothesis": row["hypothesis"],
                "dataset": f"{dataset['name']}@{dataset['version']}",
                "status": entry["status"] if entry else "unmapped",
                "rationale": entry["rationale"] if entry else None,
                "segments": "all" if targets == ALL else targets,
                "segment_details": [
                    {
                        "segment": s,
                        "name": by_label[s]["name"],
                        "description": by_label[s]["description"],
                        "size": by_label[s]["size"],
                        "name_carried_from": (by_label[s]["name_history"] or [{}])[-1].get(
                            "carried_from"
                        ),
                    }
                    for s in chosen
                    if s in by_label
                ],
                "carry": entry.get("carry") if entry else None,
                "history": history,
            }
        )
    mappings.sort(key=lambda m: m["at"], reverse=True)
    from segtrail.services.campaigns import campaigns_for_strategy

    return Thread(
        strategy=info,
        mappings=mappings,
        campaigns=campaigns_for_strategy(ws, strategy),
        audiences=_audiences_for(ws, mappings),
    )


def _audiences_for(ws: Workspace, mappings: list[dict]) -> list[dict]:
    """Lookalike audiences seeded from segments this strategy targets."""
    rows = ws.meta.audiences.list()
    wanted = {
        (m["version"], s) for m in mappings for s in (m["segments"] if m["segments"] != ALL else [])
    }
    out = []
    for r in rows:
        seed = r["seed"]
        segments = seed.get("segments") or [seed.get("segment")]
        if seed.get("version") and any((seed["version"], s) in wanted for s in segments):
            out.append(
                {
                    "name": r["name"],
                    "seed": seed,
                    "method": r["method"],
                    "quality": r["quality"],
                }
            )
    return out
