"""Parsing of the names users type: NAME@N, LENS@N, LENS@N:SEGMENT."""

from __future__ import annotations

import re
from dataclasses import dataclass

from segtrail.errors import SegtrailError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")


@dataclass(frozen=True)
class Ref:
    name: str
    version: int | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def check_name(name: str, what: str) -> str:
    # fullmatch: with match and `$`, "base\n" would pass ($ matches before a final newline)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise SegtrailError(
            f"invalid {what} name {name!r}: use letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


def parse_ref(text: str, what: str = "version", *, require_version: bool = False) -> Ref:
    name, at, number = text.strip().partition("@")
    check_name(name, what)
    if not at:
        if require_version:
            raise SegtrailError(f"{what} {text!r} needs a version number, e.g. {name}@1")
        return Ref(name)
    if not is_count(number) or int(number) < 1:
        raise SegtrailError(f"invalid {what} {text!r}: expected NAME@N with N = 1, 2, ...")
    return Ref(name, int(number))


def is_count(text: str) -> bool:
    """ASCII digits of a number that fits the database (str.isdigit accepts '²')."""
    return re.fullmatch(r"[0-9]{1,18}", text) is not None


def parse_segment_ref(text: str) -> tuple[Ref, int]:
    """LENS@N:SEGMENT."""
    ref_text, colon, segment = text.rpartition(":")
    if not colon or not is_count(segment.removeprefix("-")):
        raise SegtrailError(
            f"invalid segment {text!r}: expected LENS@N:SEGMENT, e.g. marketing@2:0"
        )
    return parse_ref(ref_text, "segmentation", require_version=True), int(segment)


def stem_to_name(stem: str) -> str:
    """A dataset name from a file name: spaces and odd characters become '-'."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", stem).strip("-._") or "dataset"
    return name[:200]
