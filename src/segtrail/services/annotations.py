"""Naming, tagging, adopting and retiring: each a new row with its event, never an update."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segtrail.errors import InvalidInput
from segtrail.services.results import NameChange, StatusChange, TagChange
from segtrail.services.segmentations import ref_of, resolve_segmentation, segment_labels

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def _check_segment(ws: Workspace, row: dict, segment: int) -> None:
    # the segment numbers alone: a server's writers rename all the time, and reading every
    # name the segments ever had made each rename slower than the last
    known = ws.meta.segmentations.segment_numbers(row["id"])
    if segment not in known:
        choices = ", ".join(str(s) for s in sorted(known))
        raise InvalidInput(f"{ref_of(row)} has no segment {segment} (segments: {choices})")


def name_segment(
    ws: Workspace, ref: str, segment: int, name: str, description: str | None = None
) -> NameChange:
    row = resolve_segmentation(ws, ref)
    _check_segment(ws, row, segment)
    name = name.strip()
    if not name:
        raise InvalidInput("a segment name cannot be empty")
    subject = f"{ref_of(row)}:{segment}"
    previous = ws.meta.annotations.name(row["id"], segment, name, description, ws.author, subject)
    return NameChange(version=ref_of(row), segment=segment, name=name, previous=previous)


def tag_segment(ws: Workspace, ref: str, segment: int, key: str, value: str | None) -> TagChange:
    """Set key=value on a segment (value None removes the tag)."""
    row = resolve_segmentation(ws, ref)
    _check_segment(ws, row, segment)
    key = key.strip()
    if not key:
        raise InvalidInput("a tag needs a key: KEY=VALUE")
    subject = f"{ref_of(row)}:{segment}"
    ws.meta.annotations.tag(row["id"], segment, key, value, ws.author, subject)
    return TagChange(version=ref_of(row), segment=segment, key=key, value=value)


def set_status(ws: Workspace, ref: str, status: str) -> StatusChange:
    """adopt: this version becomes the lens's current one (the previously adopted version is
    marked superseded); retire: this version is kept but no longer in use."""
    if status not in ("adopted", "retired"):
        raise InvalidInput(f"unknown status {status!r}")
    row = resolve_segmentation(ws, ref)
    previous, superseded = ws.meta.annotations.set_status(row["id"], status, ws.author, ref_of(row))
    superseded_row = resolve_segmentation(ws, superseded) if superseded is not None else None
    return StatusChange(
        version=ref_of(row),
        status=status,
        previous=previous,
        superseded=ref_of(superseded_row) if superseded_row else None,
    )


def inherit_names(ws: Workspace, old: dict, new: dict, delta: dict) -> dict:
    """Carry what people said about segments onto the version that continues them.

    A segment of `old` that is kept in `new` (see engine/diff.py) gives its name,
    description and tags to its match, marked as carried from `LENS@N:S`, when a person
    named it and the match still has its automatic name. A split, merged or shrunk segment
    only yields suggestions: its customers are no longer the same group."""
    old_labels, new_labels = segment_labels(ws, old["id"]), segment_labels(ws, new["id"])
    old_tags = ws.meta.segmentations.tags(old["id"])
    names: dict[int, tuple[str, str | None, str]] = {}
    tags: dict[int, dict[str, str]] = {}
    inherited, suggested = [], []
    for seg in delta["segments_a"]:
        history = old_labels.get(seg["segment"])
        if not history or seg["fate"] in ("noise", "vanished"):
            continue
        latest, origin = history[-1], f"{ref_of(old)}:{seg['segment']}"
        by_person = not latest["automatic"]
        if seg["fate"] == "kept":
            match = seg["best_match"]
            if not (new_labels.get(match) and new_labels[match][-1]["automatic"]):
                continue  # someone already named the new segment: theirs stands
            if by_person:
                names[match] = (latest["name"], latest["description"], origin)
            if old_tags.get(seg["segment"]):
                tags[match] = old_tags[seg["segment"]]
            if match in names or match in tags:
                inherited.append(
                    {
                        "segment": match,
                        "name": names[match][0] if match in names else None,
                        "tags": tags.get(match, {}),
                        "from": origin,
                    }
                )
        elif by_person:
            for target in seg["targets"]:
                suggested.append(
                    {
                        "segment": target["segment"],
                        "name": latest["name"],
                        "from": origin,
                        "fate": seg["fate"],
                    }
                )
    if names or tags:
        ws.meta.annotations.inherit(new["id"], names, tags, ws.author, ref_of(new))
    return {"inherited": inherited, "suggested": suggested}
