"""Strategies and plans: which strategy targets which segments of which version, and why.

A plan belongs to one segmentation version. Every change (map, unmap, carry forward) writes
a whole new plan state, a numbered revision holding all entries, so any past state reads
back exactly and `plan history` is a plain list of states.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import insert, select

from segtrail.errors import NotFound, SegtrailError
from segtrail.services.refs import check_name
from segtrail.services.segmentations import (
    load_assignments,
    ref_of,
    resolve_segmentation,
    segment_labels,
)
from segtrail.store import schema

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

STATUSES = ("active", "paused", "not-viable")
ALL = "all"


# --- strategies --------------------------------------------------------------------------


def add_strategy(
    ws: Workspace,
    name: str,
    message: str,
    channels: list[str],
    offer: str | None = None,
    owner: str | None = None,
) -> dict:
    check_name(name, "strategy")
    if not message or not message.strip():
        raise SegtrailError("a strategy needs a --message")
    if not channels:
        raise SegtrailError("a strategy needs at least one --channel")
    if _strategy_rows(ws, name):
        raise SegtrailError(f"strategy {name!r} already exists; `segtrail strategy list`")
    with ws.meta.begin() as connection:
        event_id = ws.meta.record_event(
            connection, ws.author, "strategy-add", name, {"channels": channels}
        )
        connection.execute(
            insert(schema.strategies).values(
                name=name,
                revision=1,
                message=message.strip(),
                channels=json.dumps(channels),
                offer=offer,
                owner=owner,
                event_id=event_id,
            )
        )
    return get_strategy(ws, name)


def _strategy_rows(ws: Workspace, name: str | None = None) -> list[dict]:
    st, e = schema.strategies, schema.events
    query = select(st, e.c.at.label("created_at"), e.c.author).join(e, st.c.event_id == e.c.id)
    if name is not None:
        query = query.where(st.c.name == name)
    return ws.meta.fetch(query.order_by(st.c.name, st.c.revision))


def _public_strategy(row: dict) -> dict:
    return {
        "name": row["name"],
        "message": row["message"],
        "channels": json.loads(row["channels"]),
        "offer": row["offer"],
        "owner": row["owner"],
        "created_at": row["created_at"],
        "author": row["author"],
    }


def get_strategy(ws: Workspace, name: str) -> dict:
    rows = _strategy_rows(ws, name)
    if not rows:
        raise NotFound(f"no strategy {name!r}; add it with `segtrail strategy add`")
    return _public_strategy(rows[-1])


def list_strategies(ws: Workspace) -> list[dict]:
    latest: dict[str, dict] = {}
    for row in _strategy_rows(ws):
        latest[row["name"]] = row
    return [_public_strategy(r) for r in latest.values()]


# --- plan states ---------------------------------------------------------------------------


def plan_state_rows(ws: Workspace, segmentation_ids: list[int]) -> list[dict]:
    ps, e = schema.plan_states, schema.events
    query = (
        select(ps, e.c.at, e.c.author)
        .join(e, ps.c.event_id == e.c.id)
        .where(ps.c.segmentation_id.in_(segmentation_ids))
        .order_by(ps.c.id)
    )
    return ws.meta.fetch(query)


def entries_of(ws: Workspace, plan_state_id: int) -> list[dict]:
    pe = schema.plan_entries
    rows = ws.meta.fetch(select(pe).where(pe.c.plan_state_id == plan_state_id).order_by(pe.c.id))
    return [
        {
            "strategy": r["strategy"],
            "segments": json.loads(r["segments"]),
            "status": r["status"],
            "rationale": r["rationale"],
            "carry": json.loads(r["carry"]) if r["carry"] else None,
        }
        for r in rows
    ]


def plan_state(ws: Workspace, row: dict, revision: int | None = None) -> dict | None:
    """The plan of one version at `revision` (default: latest); None if never planned."""
    states = plan_state_rows(ws, [row["id"]])
    if revision is not None:
        states = [s for s in states if s["revision"] == revision]
        if not states:
            raise NotFound(f"{ref_of(row)} has no plan revision {revision}")
    if not states:
        return None
    state = states[-1]
    return {
        "version": ref_of(row),
        "revision": state["revision"],
        "change": state["change"],
        "at": state["at"],
        "author": state["author"],
        "carried_from": _carried_from(ws, state["carried_from_id"]),
        "diff": json.loads(state["diff"]) if state["diff"] else None,
        "entries": entries_of(ws, state["id"]),
        "id": state["id"],
        "event_id": state["event_id"],
    }


def _carried_from(ws: Workspace, plan_state_id: int | None) -> dict | None:
    if plan_state_id is None:
        return None
    ps = schema.plan_states
    state = ws.meta.fetch(select(ps).where(ps.c.id == plan_state_id))[0]
    source = resolve_segmentation(ws, state["segmentation_id"])
    return {"version": ref_of(source), "revision": state["revision"]}


def write_plan_state(
    ws: Workspace,
    row: dict,
    entries: list[dict],
    change: str,
    action: str,
    *,
    carried_from_id: int | None = None,
    diff: dict | None = None,
) -> dict:
    """Append a new plan state (all entries) for one version, with its event."""
    ps = schema.plan_states
    with ws.meta.begin() as connection:
        previous = connection.execute(
            select(ps.c.id, ps.c.revision)
            .where(ps.c.segmentation_id == row["id"])
            .order_by(ps.c.revision.desc())
            .limit(1)
        ).first()
        revision = (previous.revision if previous else 0) + 1
        event_id = ws.meta.record_event(
            connection,
            ws.author,
            action,
            f"{ref_of(row)} plan r{revision}",
            {"change": change},
        )
        result = connection.execute(
            insert(ps).values(
                segmentation_id=row["id"],
                revision=revision,
                previous_id=previous.id if previous else None,
                carried_from_id=carried_from_id,
                change=change,
                diff=json.dumps(diff, default=str) if diff is not None else None,
                event_id=event_id,
            )
        )
        state_id = int(result.inserted_primary_key[0])
        for entry in entries:
            connection.execute(
                insert(schema.plan_entries).values(
                    plan_state_id=state_id,
                    strategy=entry["strategy"],
                    segments=json.dumps(entry["segments"]),
                    status=entry["status"],
                    rationale=entry.get("rationale"),
                    carry=json.dumps(entry["carry"], default=str) if entry.get("carry") else None,
                )
            )
    return plan_state(ws, row)


def map_strategy(
    ws: Workspace,
    strategy: str,
    ref: str,
    segments: list[int] | str,
    status: str = "active",
    rationale: str | None = None,
) -> dict:
    """Target `segments` (labels, or "all") of version `ref` with `strategy`."""
    get_strategy(ws, strategy)
    if status not in STATUSES:
        raise SegtrailError(f"invalid status {status!r}; choose one of: {', '.join(STATUSES)}")
    row = resolve_segmentation(ws, ref)
    if segments != ALL:
        known = set(segment_labels(ws, row["id"]))
        segments = sorted({int(s) for s in segments})
        if not segments:
            raise SegtrailError("give --segments 0,2 or --all")
        unknown = [s for s in segments if s not in known]
        if unknown:
            raise SegtrailError(
                f"{ref_of(row)} has no segment {unknown[0]} "
                f"(segments: {', '.join(map(str, sorted(known)))})"
            )
    current = plan_state(ws, row)
    entries = [e for e in (current["entries"] if current else []) if e["strategy"] != strategy]
    replaced = current is not None and len(entries) < len(current["entries"])
    entries.append(
        {"strategy": strategy, "segments": segments, "status": status, "rationale": rationale}
    )
    target = "all segments" if segments == ALL else "segments " + ", ".join(map(str, segments))
    verb = "remapped" if replaced else "mapped"
    change = f"{verb} {strategy} to {target} ({status})"
    return write_plan_state(ws, row, entries, change, "plan-map")


def unmap_strategy(ws: Workspace, strategy: str, ref: str) -> dict:
    row = resolve_segmentation(ws, ref)
    current = plan_state(ws, row)
    entries = current["entries"] if current else []
    if not any(e["strategy"] == strategy for e in entries):
        raise SegtrailError(f"{strategy} is not mapped on {ref_of(row)}")
    remaining = [e for e in entries if e["strategy"] != strategy]
    return write_plan_state(ws, row, remaining, f"unmapped {strategy}", "plan-unmap")


def show_plan(ws: Workspace, ref: str, revision: int | None = None) -> dict:
    """The strategy map of one version: entries, the strategies x segments matrix with names,
    and coverage of customers by active strategies. A past `revision` shows the segment names
    as they were then, so it reads back exactly as it was shown when it was made."""
    row = resolve_segmentation(ws, ref)
    state = plan_state(ws, row, revision)
    if revision is not None and state is not None:
        names = _names_at(ws, row["id"], state["event_id"])
    else:
        names = {seg: history[-1]["name"] for seg, history in segment_labels(ws, row["id"]).items()}
    assignments = load_assignments(ws, row).to_numpy()
    segment_list = sorted(names, key=lambda s: (s < 0, s))
    entries = state["entries"] if state else []
    sizes = {
        int(s): int(n) for s, n in zip(*np.unique(assignments, return_counts=True), strict=True)
    }
    matrix = []
    reach = np.zeros(len(assignments), dtype=np.int32)
    for entry in entries:
        targets = segment_list if entry["segments"] == ALL else entry["segments"]
        matrix.append(
            {
                "strategy": entry["strategy"],
                "status": entry["status"],
                "segments": {str(s): s in targets for s in segment_list},
                "audience": int(sum(sizes.get(s, 0) for s in targets)),
            }
        )
        if entry["status"] == "active":
            reach += np.isin(assignments, np.asarray(targets, dtype=assignments.dtype))
    total = len(assignments)
    coverage = {
        "customers": total,
        "reached": int((reach >= 1).sum()),
        "unreached": int((reach == 0).sum()),
        "overlapping": int((reach > 1).sum()),
    }
    return {
        "version": ref_of(row),
        "revision": state["revision"] if state else 0,
        "change": state["change"] if state else None,
        "at": state["at"] if state else None,
        "author": state["author"] if state else None,
        "carried_from": state["carried_from"] if state else None,
        "diff": state["diff"] if state else None,
        "segments": [
            {"segment": s, "name": names[s], "customers": sizes.get(s, 0)} for s in segment_list
        ],
        "entries": entries,
        "matrix": matrix,
        "coverage": coverage,
    }


def _names_at(ws: Workspace, segmentation_id: int, event_id: int) -> dict[int, str]:
    """Each segment's name as of one event (names are append-only rows, newest last)."""
    sl = schema.segment_labels
    query = (
        select(sl.c.segment, sl.c.name)
        .where(sl.c.segmentation_id == segmentation_id, sl.c.event_id <= event_id)
        .order_by(sl.c.id)
    )
    return {r["segment"]: r["name"] for r in ws.meta.fetch(query)}


def plan_history(ws: Workspace, lens: str) -> list[dict]:
    """Every plan change on every version of a lens, oldest first."""
    s = schema.segmentations
    versions = ws.meta.fetch(select(s.c.id, s.c.lens, s.c.version).where(s.c.lens == lens))
    if not versions:
        raise NotFound(f"no versions in lens {lens!r}")
    by_id = {v["id"]: v for v in versions}
    out = []
    for state in plan_state_rows(ws, list(by_id)):
        out.append(
            {
                "version": ref_of(by_id[state["segmentation_id"]]),
                "revision": state["revision"],
                "change": state["change"],
                "at": state["at"],
                "author": state["author"],
                "carried_from": _carried_from(ws, state["carried_from_id"]),
                "entries": entries_of(ws, state["id"]),
            }
        )
    return out
