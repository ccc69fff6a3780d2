"""Naming, tagging, adopting and retiring: each a new row with its event, never an update."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert

from segtrail.errors import SegtrailError
from segtrail.services.segmentations import (
    adopted_version,
    ref_of,
    resolve_segmentation,
    segment_labels,
    statuses,
)
from segtrail.store import schema

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def _check_segment(ws: Workspace, row: dict, segment: int) -> None:
    known = segment_labels(ws, row["id"])
    if segment not in known:
        choices = ", ".join(str(s) for s in sorted(known))
        raise SegtrailError(f"{ref_of(row)} has no segment {segment} (segments: {choices})")


def name_segment(
    ws: Workspace, ref: str, segment: int, name: str, description: str | None = None
) -> dict:
    row = resolve_segmentation(ws, ref)
    _check_segment(ws, row, segment)
    name = name.strip()
    if not name:
        raise SegtrailError("a segment name cannot be empty")
    previous = segment_labels(ws, row["id"])[segment][-1]
    with ws.meta.begin() as connection:
        event_id = ws.meta.record_event(
            connection,
            ws.author,
            "name",
            f"{ref_of(row)}:{segment}",
            {"name": name, "previous": previous["name"], "description": description},
        )
        connection.execute(
            insert(schema.segment_labels).values(
                segmentation_id=row["id"],
                segment=segment,
                name=name,
                description=description if description is not None else previous["description"],
                event_id=event_id,
            )
        )
    return {"version": ref_of(row), "segment": segment, "name": name, "previous": previous["name"]}


def tag_segment(ws: Workspace, ref: str, segment: int, key: str, value: str | None) -> dict:
    """Set key=value on a segment (value None removes the tag)."""
    row = resolve_segmentation(ws, ref)
    _check_segment(ws, row, segment)
    key = key.strip()
    if not key:
        raise SegtrailError("a tag needs a key: KEY=VALUE")
    with ws.meta.begin() as connection:
        event_id = ws.meta.record_event(
            connection, ws.author, "tag", f"{ref_of(row)}:{segment}", {"key": key, "value": value}
        )
        connection.execute(
            insert(schema.segment_tags).values(
                segmentation_id=row["id"], segment=segment, key=key, value=value, event_id=event_id
            )
        )
    return {"version": ref_of(row), "segment": segment, "key": key, "value": value}


def set_status(ws: Workspace, ref: str, status: str) -> dict:
    """adopt: this version becomes the lens's current one (the previously adopted version is
    marked superseded); retire: this version is kept but no longer in use."""
    if status not in ("adopted", "retired"):
        raise SegtrailError(f"unknown status {status!r}")
    row = resolve_segmentation(ws, ref)
    history = statuses(ws, [row["id"]]).get(row["id"], [])
    current = history[-1]["status"] if history else "draft"
    if current == status:
        raise SegtrailError(f"{ref_of(row)} is already {status}")
    superseded = None
    if status == "adopted":
        previous = adopted_version(ws, row["lens"])
        if previous is not None and previous != row["version"]:
            superseded = resolve_segmentation(ws, f"{row['lens']}@{previous}")
    action = "adopt" if status == "adopted" else "retire"
    with ws.meta.begin() as connection:
        event_id = ws.meta.record_event(
            connection,
            ws.author,
            action,
            ref_of(row),
            {"previous": current, "superseded": ref_of(superseded) if superseded else None},
        )
        connection.execute(
            insert(schema.segmentation_status).values(
                segmentation_id=row["id"], status=status, event_id=event_id
            )
        )
        if superseded is not None:
            connection.execute(
                insert(schema.segmentation_status).values(
                    segmentation_id=superseded["id"], status="superseded", event_id=event_id
                )
            )
    return {
        "version": ref_of(row),
        "status": status,
        "previous": current,
        "superseded": ref_of(superseded) if superseded else None,
    }
