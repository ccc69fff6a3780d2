"""Strategies and plans: which strategy targets which segments of which version, and why.

A plan belongs to one segmentation version. Every change (map, unmap, carry forward) writes
a whole new plan state, a numbered revision holding all entries, so any past state reads
back exactly and `plan history` is a plain list of states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from segtrail.errors import Conflict, InvalidInput, NotFound, SegtrailError
from segtrail.services.refs import check_name
from segtrail.services.results import PlanChange, PlanState, PlanView, Strategy
from segtrail.services.segmentations import (
    load_assignments,
    ref_of,
    resolve_segmentation,
    segment_labels,
)
from segtrail.store.plans import StaleRevision

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

STATUSES = ("active", "paused", "not-viable")
PLAN_ATTEMPTS = 20  # re-applications of one plan change over concurrent writers
ALL = "all"


# --- strategies --------------------------------------------------------------------------


def add_strategy(
    ws: Workspace,
    name: str,
    message: str,
    channels: list[str],
    offer: str | None = None,
    owner: str | None = None,
) -> Strategy:
    check_name(name, "strategy")
    if not message or not message.strip():
        raise InvalidInput("a strategy needs a message", field="message")
    if not channels:
        raise InvalidInput("a strategy needs at least one channel", field="channel")
    ws.meta.strategies.add(name, message.strip(), channels, offer, owner, ws.author)
    return get_strategy(ws, name)


def edit_strategy(
    ws: Workspace,
    name: str,
    *,
    message: str | None = None,
    channels: list[str] | None = None,
    offer: str | None = None,
    owner: str | None = None,
) -> Strategy:
    """Change a strategy's message, channels, offer or owner: a new revision of it (the old
    ones stay in the history); what is not given stays as it was."""
    current = get_strategy(ws, name)
    changes: dict = {}
    if message is not None:
        if not message.strip():
            raise InvalidInput("a strategy needs a message", field="message")
        changes["message"] = message.strip()
    if channels is not None:
        if not channels:
            raise InvalidInput("a strategy needs at least one channel", field="channel")
        changes["channels"] = channels
    if offer is not None:
        changes["offer"] = offer
    if owner is not None:
        changes["owner"] = owner
    changes = {k: v for k, v in changes.items() if current[k] != v}
    if not changes:
        raise InvalidInput(f"strategy {name} already reads so; nothing to change")
    ws.meta.strategies.revise(name, changes, ws.author)
    return get_strategy(ws, name)


def _strategy_rows(ws: Workspace, name: str | None = None) -> list[dict]:
    return ws.meta.strategies.rows(name)


def _public_strategy(row: dict, retired: dict | None = None) -> Strategy:
    return Strategy(
        retired=retired,
        name=row["name"],
        message=row["message"],
        channels=row["channels"],
        offer=row["offer"],
        owner=row["owner"],
        created_at=row["created_at"],
        author=row["author"],
    )


def get_strategy(ws: Workspace, name: str) -> Strategy:
    """A strategy as currently defined, retired or not (marked)."""
    from segtrail.services.retirement import retired_mark

    rows = _strategy_rows(ws, name)
    if not rows:
        raise NotFound(f"no strategy {name!r}; add it with `segtrail strategy add`")
    return _public_strategy(rows[-1], retired_mark(ws, "strategy", name))


def list_strategies(ws: Workspace, include_retired: bool = False) -> list[Strategy]:
    """Every strategy as currently defined; retired ones only with `include_retired`."""
    from segtrail.services.retirement import retired_names

    retired = retired_names(ws, "strategy")
    latest: dict[str, dict] = {}
    for row in _strategy_rows(ws):
        latest[row["name"]] = row
    return [
        _public_strategy(r, retired.get(name))
        for name, r in latest.items()
        if include_retired or name not in retired
    ]


# --- plan states ---------------------------------------------------------------------------


def plan_state_rows(ws: Workspace, segmentation_ids: list[int]) -> list[dict]:
    return ws.meta.plans.states(segmentation_ids)


def entries_of(ws: Workspace, plan_state_id: int) -> list[dict]:
    return ws.meta.plans.entries(plan_state_id)


def plan_state(ws: Workspace, row: dict, revision: int | None = None) -> PlanState | None:
    """The plan of one version at `revision` (default: latest); None if never planned."""
    # only the one state asked for is read: a plan's history grows with every change
    state = ws.meta.plans.latest_state(row["id"], revision)
    if state is None:
        if revision is not None:
            raise NotFound(f"{ref_of(row)} has no plan revision {revision}")
        return None
    return PlanState(
        version=ref_of(row),
        revision=state["revision"],
        change=state["change"],
        at=state["at"],
        author=state["author"],
        carried_from=_carried_from(ws, state["carried_from_id"]),
        diff=state["diff"],
        entries=entries_of(ws, state["id"]),
        id=state["id"],
        event_id=state["event_id"],
    )


def _carried_from(ws: Workspace, plan_state_id: int | None) -> dict | None:
    if plan_state_id is None:
        return None
    state = ws.meta.plans.state(plan_state_id)
    source = resolve_segmentation(ws, state["segmentation_id"])
    return {"version": ref_of(source), "revision": state["revision"]}


def change_plan(
    ws: Workspace,
    row: dict,
    edit: Callable[[list[dict]], list[dict]],
    change: str,
    action: str,
    *,
    touches: set[str],
    carried_from_id: int | None = None,
    diff: dict | None = None,
    expected_revision: int | None = None,
) -> PlanState:
    """Apply `edit` (current entries -> new entries) to the newest plan of one version and
    record the result as its next revision.

    With `expected_revision` (the revision a person saw when they made the change, 0 for no
    plan), the change is recorded only on exactly that revision: nothing is re-applied on
    top of someone else's change, which is a `Conflict` whatever it touched.

    Compare-and-set: the store writes only if the plan is still at the revision `edit` saw.
    When another writer got in first, their change is kept and ours is re-applied on top,
    as long as theirs touched none of the strategies in `touches`; otherwise nothing is
    recorded and `Conflict` names who changed what and when."""
    first = plan_state(ws, row)
    if expected_revision is not None and (first["revision"] if first else 0) != expected_revision:
        raise Conflict(
            f"the plan of {ref_of(row)} is at r{first['revision'] if first else 0} now, not "
            f"r{expected_revision}"
            + (
                f" (r{first['revision']} by {first['author']} at {first['at'][:19]})"
                if first
                else ""
            )
            + "; reload it and try again; nothing was recorded"
        )
    base = first
    for _attempt in range(PLAN_ATTEMPTS):
        entries = edit([dict(e) for e in base["entries"]] if base else [])
        try:
            revision = ws.meta.plans.append(
                row["id"],
                base["revision"] if base else 0,
                entries,
                change=change,
                action=action,
                author=ws.author,
                version_ref=ref_of(row),
                carried_from_id=carried_from_id,
                diff=diff,
            )
        except StaleRevision as stale:
            if expected_revision is not None:
                raise Conflict(str(stale)) from None
            base = plan_state(ws, row)
            clash = sorted(_changed_strategies(first, base) & touches)
            if clash:
                raise Conflict(f"{stale}; it changed {', '.join(clash)} too") from None
            continue
        return plan_state(ws, row, revision)
    raise Conflict(f"the plan of {ref_of(row)} kept changing under you; nothing was recorded")


def _changed_strategies(before: dict | None, after: dict | None) -> set[str]:
    """Strategies whose entry differs between two plan states (added, removed or edited)."""

    def by_strategy(state: dict | None) -> dict[str, dict]:
        return {e["strategy"]: e for e in (state["entries"] if state else [])}

    a, b = by_strategy(before), by_strategy(after)
    return {name for name in a.keys() | b.keys() if a.get(name) != b.get(name)}


def map_strategy(
    ws: Workspace,
    strategy: str,
    ref: str,
    segments: list[int] | str,
    status: str = "active",
    rationale: str | None = None,
    expected_revision: int | None = None,
) -> PlanState:
    """Target `segments` (labels, or "all") of version `ref` with `strategy` (on exactly
    `expected_revision` when given, see `change_plan`)."""
    from segtrail.services.retirement import check_in_use

    get_strategy(ws, strategy)
    check_in_use(ws, "strategy", strategy, "map it")
    if status not in STATUSES:
        raise SegtrailError(f"invalid status {status!r}; choose one of: {', '.join(STATUSES)}")
    row = resolve_segmentation(ws, ref)
    if segments != ALL:
        known = ws.meta.segmentations.segment_numbers(row["id"])  # not every name's history
        segments = sorted({int(s) for s in segments})
        if not segments:
            raise InvalidInput("give the segments to target (e.g. 0,2) or all", field="segments")
        unknown = [s for s in segments if s not in known]
        if unknown:
            raise SegtrailError(
                f"{ref_of(row)} has no segment {unknown[0]} "
                f"(segments: {', '.join(map(str, sorted(known)))})"
            )
    target = "all segments" if segments == ALL else "segments " + ", ".join(map(str, segments))
    entry = {"strategy": strategy, "segments": segments, "status": status, "rationale": rationale}
    current = plan_state(ws, row)
    same = [e for e in (current["entries"] if current else []) if e["strategy"] == strategy]
    if same and {k: same[0].get(k) for k in entry} == entry and not same[0].get("carry"):
        # mapped exactly so already: record nothing, say so
        return replace(current, unchanged=True)
    replaced = bool(same)
    change = f"{'remapped' if replaced else 'mapped'} {strategy} to {target} ({status})"

    def edit(entries: list[dict]) -> list[dict]:
        return [e for e in entries if e["strategy"] != strategy] + [entry]

    return change_plan(
        ws, row, edit, change, "plan-map", touches={strategy}, expected_revision=expected_revision
    )


def unmap_strategy(
    ws: Workspace, strategy: str, ref: str, expected_revision: int | None = None
) -> PlanState:
    row = resolve_segmentation(ws, ref)

    def edit(entries: list[dict]) -> list[dict]:
        if not any(e["strategy"] == strategy for e in entries):
            raise InvalidInput(f"{strategy} is not mapped on {ref_of(row)}")
        return [e for e in entries if e["strategy"] != strategy]

    return change_plan(
        ws,
        row,
        edit,
        f"unmapped {strategy}",
        "plan-unmap",
        touches={strategy},
        expected_revision=expected_revision,
    )


def revert_plan(
    ws: Workspace, ref: str, revision: int, expected_revision: int | None = None
) -> PlanState:
    """Make the plan of version `ref` what it was at `revision`: a new revision with those
    entries (history stays append-only; the revision in between remain readable)."""
    row = resolve_segmentation(ws, ref)
    target = plan_state(ws, row, revision)  # NotFound if there is no such revision
    current = plan_state(ws, row)
    if current is not None and current["revision"] == revision:
        raise InvalidInput(f"the plan of {ref_of(row)} is at r{revision} already")
    entries = [dict(e) for e in target["entries"]]
    touched = {e["strategy"] for e in entries} | {
        e["strategy"] for e in (current["entries"] if current else [])
    }
    return change_plan(
        ws,
        row,
        lambda _entries: entries,
        f"reverted to r{revision}",
        "plan-revert",
        touches=touched,
        expected_revision=expected_revision,
    )


def show_plan(ws: Workspace, ref: str, revision: int | None = None) -> PlanView:
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
    return PlanView(
        version=ref_of(row),
        revision=state["revision"] if state else 0,
        change=state["change"] if state else None,
        at=state["at"] if state else None,
        author=state["author"] if state else None,
        carried_from=state["carried_from"] if state else None,
        diff=state["diff"] if state else None,
        segments=[
            {"segment": s, "name": names[s], "customers": sizes.get(s, 0)} for s in segment_list
        ],
        entries=entries,
        matrix=matrix,
        coverage=coverage,
    )


def _names_at(ws: Workspace, segmentation_id: int, event_id: int) -> dict[int, str]:
    """Each segment's name as of one event (names are append-only rows, newest last)."""
    return ws.meta.segmentations.names_at(segmentation_id, event_id)


def plan_history(ws: Workspace, lens: str) -> list[PlanChange]:
    """Every plan change on every version of a lens, oldest first."""
    versions = ws.meta.segmentations.list(lens)
    if not versions:
        raise NotFound(f"no versions in lens {lens!r}")
    by_id = {v["id"]: v for v in versions}
    out = []
    for state in plan_state_rows(ws, list(by_id)):
        out.append(
            PlanChange(
                version=ref_of(by_id[state["segmentation_id"]]),
                revision=state["revision"],
                change=state["change"],
                at=state["at"],
                author=state["author"],
                carried_from=_carried_from(ws, state["carried_from_id"]),
                entries=entries_of(ws, state["id"]),
            )
        )
    return out
