"""Naming, tagging, adopting and retiring: each a new row with its event, never an update."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segtrail.errors import InvalidInput
from segtrail.services.segmentations import ref_of, resolve_segmentation, segment_labels

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def _check_segment(ws: Workspace, row: dict, segment: int) -> None:
    known = segment_labels(ws, row["id"])
    if segment not in known:
        choices = ", ".join(str(s) for s in sorted(known))
        raise InvalidInput(f"{ref_of(row)} has no segment {segment} (segments: {choices})")


def name_segment(
    ws: Workspace, ref: str, segment: int, name: str, description: str | None = None
) -> dict:
    row = resolve_segmentation(ws, ref)
    _check_segment(ws, row, segment)
    name = name.strip()
    if not name:
        raise InvalidInput("a segment name cannot be empty")
    subject = f"{ref_of(row)}:{segment}"
    previous = ws.meta.annotations.name(row["id"], segment, name, description, ws.author, subject)
    return {"version": ref_of(row), "segment": segment, "name": name, "previous": previous}


def tag_segment(ws: Workspace, ref: str, segment: int, key: str, value: str | None) -> dict:
    """Set key=value on a segment (value None removes the tag)."""
    row = resolve_segmentation(ws, ref)
    _check_segment(ws, row, segment)
    key = key.strip()
    if not key:
        raise InvalidInput("a tag needs a key: KEY=VALUE")
    subject = f"{ref_of(row)}:{segment}"
    ws.meta.annotations.tag(row["id"], segment, key, value, ws.author, subject)
    return {"version": ref_of(row), "segment": segment, "key": key, "value": value}


def set_status(ws: Workspace, ref: str, status: str) -> dict:
    """adopt: this version becomes the lens's current one (the previously adopted version is
    marked superseded); retire: this version is kept but no longer in use."""
    if status not in ("adopted", "retired"):
        raise InvalidInput(f"unknown status {status!r}")
    row = resolve_segmentation(ws, ref)
    previous, superseded = ws.meta.annotations.set_status(row["id"], status, ws.author, ref_of(row))
    superseded_row = resolve_segmentation(ws, superseded) if superseded is not None else None
    return {
        "version": ref_of(row),
        "status": status,
        "previous": previous,
        "superseded": ref_of(superseded_row) if superseded_row else None,
    }
