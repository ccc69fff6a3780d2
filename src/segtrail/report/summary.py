"""The top of a report: what a manager reads in ten seconds.

Per segment: its name and plain-words description, its customers and share, its share of
the customers' value when the dataset has a value column, the strategies that target it;
and, for a version with a parent, what changed since the parent, in sentences.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segtrail.engine.features import read_numbers
from segtrail.engine.responses import not_numbers
from segtrail.errors import InvalidInput

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

# Column names that hold what a customer is worth, best first. A name matches when one of
# its words (split on _ - space) is the word, or it ends with the phrase; averages ("avg_",
# "mean_") are not totals and never match. The report says which column it used.
VALUE_NAMES = (
    "monetary", "revenue", "clv", "ltv", "lifetime_value", "customer_value", "annual_spend",
    "total_spend", "spend", "contract_value", "sales", "value",
)  # fmt: skip
NOT_TOTALS = re.compile(r"(^|_)(avg|mean|median|per|share|rate)(_|$)")


def pick_value_column(columns: list[dict], requested: str | None) -> str | None:
    """The numeric column whose sum is the customers' value: `requested` (checked), else the
    first column named like a value (see VALUE_NAMES), else None."""
    numeric = [c["name"] for c in columns if c.get("kind") == "numeric"]
    if requested is not None:
        if requested not in numeric:
            known = ", ".join(numeric) or "none"
            raise InvalidInput(
                f"value column {requested!r} is not a numeric column of the dataset "
                f"(numeric columns: {known})"
            )
        return requested
    for wanted in VALUE_NAMES:
        for name in numeric:
            low = name.lower().replace("-", "_").replace(" ", "_")
            if NOT_TOTALS.search(low):
                continue
            if low == wanted or low.endswith("_" + wanted) or low.startswith(wanted + "_"):
                return name
    return None


def segment_values(
    ws: Workspace, dataset: dict, assignments_hash: str, column: str
) -> tuple[dict[int, float], str | None]:
    """Sum of `column` per segment label, joined by customer id, and what the report says
    of the values that are not numbers (None when there are none). A customer without a
    value adds nothing (counts as 0: the column's total is the sum of what is known); a
    value that is not a number (an infinity) is left out the same way, and said."""
    table = ws.objects.read_table(dataset["object_hash"], columns=[dataset["id_column"], column])
    assigned = ws.objects.read_table(assignments_hash, columns=["customer_id", "segment"])
    raw = table[column].to_pandas()
    numbers, unread = read_numbers(raw)
    note = None
    if unread is not None:
        note = f"{not_numbers(raw, unread)}: left out of the sums, as missing values are"
    values = pd.Series(
        np.nan_to_num(numbers, nan=0.0),
        index=table[dataset["id_column"]].to_pandas().astype(str).to_numpy(),
    )
    ids = assigned["customer_id"].to_pandas().astype(str).to_numpy()
    labels = assigned["segment"].to_numpy()
    per = values.reindex(ids).fillna(0).to_numpy()
    out: dict[int, float] = {}
    for label in np.unique(labels):
        out[int(label)] = float(per[labels == label].sum())
    return out, note


def strategies_by_segment(plan: dict) -> dict[int, list[dict]]:
    """Segment label -> the strategies whose plan entry targets it (with their status)."""
    out: dict[int, list[dict]] = {s["segment"]: [] for s in plan.get("segments", [])}
    for row in plan.get("matrix", []):
        for label, targeted in row["segments"].items():
            if targeted:
                out.setdefault(int(label), []).append(
                    {"strategy": row["strategy"], "status": row["status"]}
                )
    return out


def changes(diff: dict, parent: str, version: str) -> list[str]:
    """What happened to the parent's segments, in plain sentences, biggest first."""

    def name(names: dict[int, str], label: int | None) -> str:
        return f"\u201c{names.get(label, label)}\u201d"

    names_a = {s["segment"]: s["name"] for s in diff["segments_a"]}
    names_b = {s["segment"]: s["name"] for s in diff["segments_b"]}
    lines: list[tuple[int, str]] = []
    for s in diff["segments_a"]:
        if s["segment"] < 0:
            continue
        a = name(names_a, s["segment"])
        targets = s.get("targets") or []
        to = "; ".join(
            f"{name(names_b, t['segment'])} ({t['share_of_a']:.0%})" for t in targets[:3]
        )
        fate = s["fate"]
        if fate == "kept":
            b = name(names_b, s["best_match"])
            what = f"{a} is kept" + ("" if b == a else f", now {b}")
            what += f" (Jaccard {s['jaccard']:.2f})"
        elif fate == "split":
            what = f"{a} split into {to}"
        elif fate == "merged":
            what = f"{a} merged into {name(names_b, s['best_match'])}"
        elif fate == "shrunk":
            what = f"{a} shrank: only part of it lives on" + (f", in {to}" if to else "")
        elif fate == "vanished":
            what = f"{a} vanished: its customers scattered"
        else:
            what = f"{a}: {fate}"
        lines.append((s["size"], what))
    for s in diff["segments_b"]:
        if s["segment"] >= 0 and s["origin"] == "new":
            lines.append((s["size"], f"{name(names_b, s['segment'])} is new in {version}"))
    lines.sort(key=lambda x: -x[0])
    return [text for _, text in lines]


def share_rows(segments: list[dict], values: dict[int, float] | None) -> list[dict[str, Any]]:
    """Per segment: customers, share, and with values the value, its share and per customer."""
    total_value = sum(values.values()) if values else 0.0
    rows = []
    for s in segments:
        row = {"segment": s["segment"], "size": s["size"], "share": s["share"]}
        if values is not None:
            value = values.get(s["segment"], 0.0)
            row["value"] = value
            row["value_share"] = value / total_value if total_value else None
            row["value_per_customer"] = value / s["size"] if s["size"] else None
        rows.append(row)
    return rows
