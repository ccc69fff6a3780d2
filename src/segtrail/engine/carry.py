"""Carry a plan forward: move each strategy of version A onto the segments of version B.

The audience of a strategy is the set of A segments it targets. Counts come from the diff
of A and B (``segtrail.engine.diff.diff_assignments``), so they are taken on the customers
present in both versions unless said otherwise.

Mapping rule: a B segment is proposed for a strategy when it holds a substantial share of the
audience (>= 20% of the audience's common customers) or when it is mostly made of the
audience (>= ``min_jaccard`` of the B segment's common customers come from it). For a
strategy on one segment this is exactly that segment's targets in the diff. Noise in B is
proposed only when the audience itself includes A's noise. "all" stays "all".

Fate of an entry: ``all`` for "all"; ``vanished`` when no B segment is proposed; otherwise
from the fates of its (non-noise) A segments: ``kept`` when all are kept, else ``split`` if
any split, else ``merged`` if any merged, else ``shrunk`` (some segment shrank or vanished
while the rest of the audience still has a home). A one-segment strategy gets its segment's
fate. The status is kept, except that an audience that vanished, split or merged (nothing
left, or no single obvious successor) gets ``needs-review``. Every entry is carried: the
output has one entry per input entry, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from segtrail.engine.diff import NOISE, Overlap, check_min_jaccard
from segtrail.errors import InputError

REVIEW_FATES = frozenset({"vanished", "split", "merged"})


def carry_plan(
    diff: dict[str, Any],
    entries: list[dict[str, Any]],
    a: pd.Series,
    b: pd.Series,
    min_jaccard: float = 0.5,
) -> list[dict[str, Any]]:
    """Propose B segments for every plan entry of A, with fate, audiences and explanation.

    ``diff`` is ``diff_assignments(a, b)``; ``a`` and ``b`` are checked against it. Each output
    entry has ``strategy``, ``old_segments``, ``new_segments``, ``status``, ``fate``,
    ``old_audience``, ``carried_audience``, ``new_audience``, ``retained_share``,
    ``explanation`` and ``rationale`` (see the module docstring for the rules).
    """
    check_min_jaccard(min_jaccard)
    _check_diff(diff, a, b)
    versions = _Versions.from_diff(diff, min_jaccard)
    return [versions.carry(entry, n) for n, entry in enumerate(entries, start=1)]


def _check_diff(diff: dict[str, Any], a: pd.Series, b: pd.Series) -> None:
    try:
        common, only_a, only_b = diff["common_customers"], diff["only_in_a"], diff["only_in_b"]
        diff["transitions"], diff["segments_a"], diff["segments_b"]
    except (KeyError, TypeError) as exc:
        raise InputError(f"not a segmentation diff: missing {exc}") from None
    if common + only_a != len(a) or common + only_b != len(b):
        raise InputError(
            f"the diff does not belong to these assignments: it counts {common + only_a} and "
            f"{common + only_b} customers, the assignments have {len(a)} and {len(b)}"
        )


@dataclass(frozen=True)
class _Versions:
    """The diff's contingency table back as an array (small: segments x segments) and sizes."""

    ov: Overlap
    size_a: np.ndarray  # customers per A label, in A overall
    size_b: np.ndarray
    common: int

    @classmethod
    def from_diff(cls, diff: dict[str, Any], min_jaccard: float) -> _Versions:
        a_values = np.array([s["segment"] for s in diff["segments_a"]], dtype=np.int64)
        b_values = np.array([s["segment"] for s in diff["segments_b"]], dtype=np.int64)
        table = np.zeros((a_values.size, b_values.size), dtype=np.int64)
        row_of = {int(v): i for i, v in enumerate(a_values)}
        col_of = {int(v): j for j, v in enumerate(b_values)}
        for t in diff["transitions"]:
            table[row_of[t["from"]], col_of[t["to"]]] = t["customers"]
        return cls(
            Overlap(table, a_values, b_values, min_jaccard),
            np.array([s["size"] for s in diff["segments_a"]], dtype=np.int64),
            np.array([s["size"] for s in diff["segments_b"]], dtype=np.int64),
            int(diff["common_customers"]),
        )

    def carry(self, entry: dict[str, Any], n: int) -> dict[str, Any]:
        if not isinstance(entry, dict) or "strategy" not in entry or "segments" not in entry:
            raise InputError(f"plan entry {n} needs a 'strategy' and its 'segments'")
        name, segments = entry["strategy"], entry["segments"]
        status, rationale = entry.get("status", "active"), entry.get("rationale", "")
        if segments == "all":
            total_b = int(self.size_b.sum())
            return {
                "strategy": name,
                "old_segments": "all",
                "new_segments": "all",
                "status": status,
                "fate": "all",
                "old_audience": int(self.size_a.sum()),
                "carried_audience": self.common,
                "new_audience": total_b,
                "retained_share": 1.0 if self.common else None,
                "explanation": f"targets all customers ({total_b:,} in the new version)",
                "rationale": rationale,
            }
        labels = _labels(segments, f"plan entry {n} ({name})")
        rows = self._rows(labels, f"plan entry {n} ({name})")
        ov = self.ov
        audience = ov.table[rows].sum(axis=0)  # common customers of the audience per B label
        eligible = ov.b_values != NOISE
        if (ov.a_values[rows] == NOISE).any():
            eligible = np.ones_like(eligible)
        cols = np.flatnonzero(ov.targets(audience, eligible))
        fate = self._fate(rows) if cols.size else "vanished"
        old_common, carried = int(audience.sum()), audience[cols]
        return {
            "strategy": name,
            "old_segments": labels,
            "new_segments": ov.b_values[cols].tolist(),
            "status": "needs-review" if fate in REVIEW_FATES else status,
            "fate": fate,
            "old_audience": int(self.size_a[rows].sum()),
            "carried_audience": int(carried.sum()),
            "new_audience": int(self.size_b[cols].sum()),
            "retained_share": int(carried.sum()) / old_common if old_common else None,
            "explanation": self._explain(fate, rows, cols, audience),
            "rationale": rationale,
        }

    def _rows(self, labels: list[int], where: str) -> list[int]:
        row_of = {int(v): i for i, v in enumerate(self.ov.a_values)}
        missing = [s for s in labels if s not in row_of]
        if missing:
            raise InputError(
                f"{where} targets segment {missing[0]}, which the old version does not have"
            )
        return sorted({row_of[s] for s in labels})

    def _fate(self, rows: list[int]) -> str:
        fates = {self.ov.fate(i) for i in rows if self.ov.a_values[i] != NOISE}
        if fates <= {"kept"}:
            return "kept"
        for fate in ("split", "merged"):
            if fate in fates:
                return fate
        return "shrunk"  # some segment shrank or vanished, the rest has a home

    def _explain(self, fate: str, rows: list[int], cols: np.ndarray, audience: np.ndarray) -> str:
        old_common = int(audience.sum())
        if not rows:
            return "audience vanished: the entry targeted no segment"
        if fate == "vanished":
            if old_common == 0:
                return "audience vanished: none of its customers are in the new version"
            return (
                f"audience vanished: its {old_common:,} customers scattered and no new segment "
                "holds a substantial share of them"
            )
        carried = audience[cols].tolist()
        where = _segments(self.ov.b_values[cols].tolist())
        counts = _join([f"{c:,}" for c in carried])
        counts += " customer" if carried == [1] else " customers"
        if fate == "split":
            return f"audience split across {where} ({counts})"
        if fate == "merged":
            others = int(self.ov.col_totals[cols].sum()) - sum(carried)
            return (
                f"audience merged into {where} together with {others:,} customers from outside "
                f"it ({counts} from the old audience)"
            )
        share = f"{sum(carried) / old_common:.0%}"
        if fate == "shrunk":
            return f"audience shrank: only {share} of it ({counts}) is in {where}"
        return f"audience kept as {where} ({counts}, {share} of the old audience)"


def _labels(segments: Any, where: str) -> list[int]:
    if isinstance(segments, str | bytes) or not hasattr(segments, "__iter__"):
        raise InputError(f"{where}: segments must be a list of labels or 'all'")
    labels = list(segments)
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, Integral):
            raise InputError(f"{where}: bad segment label {label!r}")
    return [int(s) for s in labels]


def _segments(labels: list[int]) -> str:
    names = ["noise" if s == NOISE else str(s) for s in labels]
    if names == ["noise"]:
        return "noise"
    return f"{'segment' if len(names) == 1 else 'segments'} {_join(names)}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
