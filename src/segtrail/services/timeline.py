"""Why, for a segment or a customer: the thread as a timeline.

`why` (services/thread.py) follows a strategy back to its hypotheses. These follow the other
two things people ask about: a segment (where it came from, what it was called, which
strategies targeted it, what became of it in later versions) and one customer (the segment
they were in under every hypothesis of every lens, which strategies reached them, and the
campaigns that included them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from segtrail.engine.diff import diff_assignments
from segtrail.errors import InvalidInput, NotFound
from segtrail.services.plans import ALL, entries_of, plan_state, plan_state_rows
from segtrail.services.results import CustomerThread, SegmentThread
from segtrail.services.segmentations import (
    load_assignments,
    ref_of,
    resolve_segmentation,
    segment_labels,
    segment_names,
    show,
)

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def _targets(entry: dict, segment: int) -> bool:
    return entry["segments"] == ALL or segment in entry["segments"]


def segment_thread(ws: Workspace, ref: str, segment: int) -> SegmentThread:
    """One segment's story, newest first: its origin in the parent version, its names and
    tags, the plan revisions that targeted it, and its fate in every later version of the
    lens that names this one as parent."""
    row = resolve_segmentation(ws, ref)
    version = show(ws, ref_of(row))
    info = next((s for s in version["segments"] if s["segment"] == segment), None)
    if info is None:
        raise NotFound(f"{ref_of(row)} has no segment {segment}")
    items: list[dict] = [
        {
            "at": version["created_at"],
            "who": version["author"],
            "kind": "version",
            "title": f"{ref_of(row)} made: segment {segment} found",
            "text": f"{info['size']:,} customers; hypothesis: {version['hypothesis']}",
        }
    ]
    labels = load_assignments(ws, row)
    if version["parent"]:
        parent = resolve_segmentation(ws, version["parent"])
        delta = diff_assignments(load_assignments(ws, parent), labels)
        mine = next(s for s in delta["segments_b"] if s["segment"] == segment)
        names = segment_names(ws, parent)
        sources = ", ".join(
            f"{s['share_of_b']:.0%} from {s['segment']} “{names.get(s['segment'], '')}”"
            for s in mine["sources"]
        )
        items[0]["text"] += (
            f"; came from {ref_of(parent)}: {sources}"
            if sources
            else f"; new: no segment of {ref_of(parent)} is a big part of it"
        )
    # the segment's whole story: every name it had (`show` lists only the newest few)
    for change in segment_labels(ws, row["id"]).get(segment, []):
        carried = change.get("carried_from")
        items.append(
            {
                "at": change["at"],
                "who": change["author"],
                "kind": "name",
                "title": ("called " if change["automatic"] else "named ") + f"“{change['name']}”",
                "text": (change.get("description") or "")
                + (f" (carried from {carried})" if carried else ""),
            }
        )
    for state in plan_state_rows(ws, [row["id"]]):
        targeting = [e for e in entries_of(ws, state["id"]) if _targets(e, segment)]
        items.append(
            {
                "at": state["at"],
                "who": state["author"],
                "kind": "plan",
                "title": f"plan revision {state['revision']}: {state['change']}",
                "text": "targeted by "
                + (
                    ", ".join(
                        f"{e['strategy']} ({e['status']}"
                        + (f": {e['rationale']})" if e.get("rationale") else ")")
                        for e in targeting
                    )
                    if targeting
                    else "no strategy"
                ),
                "strategies": [e["strategy"] for e in targeting],
            }
        )
    for status in version["status_history"]:
        items.append(
            {
                "at": status["at"],
                "who": status["author"],
                "kind": "status",
                "title": f"{ref_of(row)} {status['status']}",
                "text": "",
            }
        )
    for child in ws.log(row["lens"]):
        if child["parent"] != ref_of(row):
            continue
        child_row = resolve_segmentation(ws, child["version"])
        delta = diff_assignments(labels, load_assignments(ws, child_row))
        mine = next(s for s in delta["segments_a"] if s["segment"] == segment)
        names = segment_names(ws, child_row)
        where = ", ".join(
            f"{t['segment']} “{names.get(t['segment'], '')}” ({t['share_of_a']:.0%})"
            for t in mine["targets"]
        )
        items.append(
            {
                "at": child["created_at"],
                "who": child["author"],
                "kind": "fate",
                "title": f"in {child['version']}: {mine['fate']}",
                "text": f"its customers went to {where}" if where else "its customers scattered",
                "version": child["version"],
            }
        )
    items.sort(key=lambda i: i["at"], reverse=True)
    return SegmentThread(
        version=ref_of(row),
        segment=segment,
        name=info["name"],
        description=info["description"],
        size=info["size"],
        tags=info["tags"],
        hypothesis=version["hypothesis"],
        timeline=items,
    )


def _position(index: pd.Index, customer: str) -> int | None:
    """Where `customer` (as typed) is in an index of ids (numbers or text)."""
    if pd.api.types.is_integer_dtype(index.dtype):
        if not customer.lstrip("-").isdigit():
            return None
        hits = (index == int(customer)).nonzero()[0]
    else:
        hits = (index.astype(str) == customer).nonzero()[0]
    return int(hits[0]) if len(hits) else None


def customer_thread(ws: Workspace, customer: str) -> CustomerThread:
    """One customer across every version of every lens (oldest first): their segment, its
    name, and the strategies of that version's current plan that target it; and every
    campaign that included them, with their group and response."""
    customer = (customer or "").strip()
    if not customer:
        raise InvalidInput("give a customer id", field="customer")
    versions = []
    for entry in reversed(ws.log()):
        row = resolve_segmentation(ws, entry["version"])
        labels = load_assignments(ws, row)
        at = _position(labels.index, customer)
        if at is None:
            continue
        segment = int(labels.iloc[at])
        state = plan_state(ws, row)
        reached = [
            {"strategy": e["strategy"], "status": e["status"], "rationale": e.get("rationale")}
            for e in (state["entries"] if state else [])
            if _targets(e, segment)
        ]
        versions.append(
            {
                "version": entry["version"],
                "lens": entry["lens"],
                "at": entry["created_at"],
                "author": entry["author"],
                "hypothesis": entry["hypothesis"],
                "segment": segment,
                "name": segment_names(ws, row).get(segment, "unassigned"),
                "strategies": reached,
            }
        )
    campaigns = []
    for c in ws.meta.campaigns.list():
        frame = ws.objects.read_table(c["object_hash"]).to_pandas()
        at = _position(pd.Index(frame["customer_id"]), customer)
        if at is None:
            continue
        found = frame.iloc[at]
        campaigns.append(
            {
                "campaign": c["name"],
                "strategy": c["strategy"],
                "at": c["at"],
                "group": str(found["group"]),
                "responded": bool(found["responded"]),
            }
        )
    if not versions and not campaigns:
        raise NotFound(f"no customer {customer!r} in any segmentation or campaign")
    return CustomerThread(customer=customer, versions=versions, campaigns=campaigns)
