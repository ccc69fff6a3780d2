"""Column kinds (numeric, categorical, boolean, datetime, text, id) and per-column summaries.

The kind decides how a column is preprocessed for clustering and how it is profiled.
Inference works on Arrow columns with Arrow compute, so it costs little next to parsing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segtrail.engine.arrays import int64_array, null_of, text_array

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "id")
FEATURE_KINDS = ("numeric", "categorical", "boolean", "datetime")

# A string column is categorical when it has few distinct values, absolutely or relative
# to the row count; otherwise (emails, names, free text) it is text and not a feature.
MAX_CATEGORY_LEVELS = 200
MAX_CATEGORY_SHARE = 0.5
QUANTILE_SAMPLE = 100_000
BOOLEAN_WORDS = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "t": True,
    "f": False,
}


def infer_kind(column: pa.ChunkedArray, *, is_id: bool = False) -> str:
    """The kind of one column, from its Arrow type and, for text, its distinct values."""
    if is_id:
        return "id"
    t = column.type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_dictionary(t):
        return "categorical"
    if pa.types.is_null(t):
        return "categorical"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        non_null = len(column) - column.null_count
        distinct = pc.count_distinct(column).as_py()
        if non_null == 0:
            return "categorical"
        if _is_boolean_words(column, distinct):
            return "boolean"
        if distinct <= MAX_CATEGORY_LEVELS and distinct <= max(20, MAX_CATEGORY_SHARE * non_null):
            return "categorical"
        return "text"
    return "text"


def _is_boolean_words(column: pa.ChunkedArray, distinct: int) -> bool:
    if distinct > 2:
        return False
    return are_boolean_words(v for v in pc.unique(column).to_pylist() if v is not None)


def are_boolean_words(raw_values: Iterable[object]) -> bool:
    """Whether a text column with these distinct non-null values holds boolean words: at
    most two values, both words for opposite truth values ('yes'/'no', 'T'/'f')."""
    raw = set(raw_values)
    values = {str(v).strip().lower() for v in raw}
    return (
        0 < len(raw) <= 2
        and values <= BOOLEAN_WORDS.keys()
        and len({BOOLEAN_WORDS[v] for v in values}) == len(values)
    )


def coerce_to_kind(column: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """Store boolean words ('yes'/'no') as real booleans, and an all-empty CSV column (Arrow's
    null type, which few kernels accept) as text; other kinds keep their Arrow type."""
    if pa.types.is_null(column.type):
        return pc.cast(column, pa.string())
    if kind == "boolean" and (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
        truthy = text_array(k for k, v in BOOLEAN_WORDS.items() if v)
        is_true = pc.is_in(lowered, value_set=truthy)
        return pc.if_else(pc.is_null(lowered), null_of(pa.bool_()), is_true)
    return column


def summarize(column: pa.ChunkedArray, kind: str) -> dict:
    """A short JSON-serializable summary of one column for `dataset show`."""
    n = len(column)
    summary: dict = {"missing_share": (column.null_count / n) if n else 0.0}
    if kind == "numeric":
        # safe=False: integers beyond 2**53 round to the nearest float, fine for a summary.
        values = (
            column
            if pa.types.is_floating(column.type)
            else pc.cast(column, pa.float64(), safe=False)
        )
        finite, extremes = _finite(values)
        if len(finite) - finite.null_count:
            # Exact quantiles sort the column; above QUANTILE_SAMPLE rows an evenly spaced
            # sample gives the same figures to display precision at a fraction of the cost.
            spread = finite
            if len(finite) > QUANTILE_SAMPLE:
                step = len(finite) // QUANTILE_SAMPLE
                spread = finite.take(int64_array(np.arange(0, len(finite), step)))
                summary["quantiles_from_sample"] = len(spread)
            q = pc.quantile(spread, q=[0.25, 0.5, 0.75]).to_pylist()
            summary.update(
                mean=_num(pc.mean(finite).as_py()),
                std=_num(pc.stddev(finite, ddof=1).as_py()),
                min=_num(extremes["min"]),
                p25=_num(q[0]),
                median=_num(q[1]),
                p75=_num(q[2]),
                max=_num(extremes["max"]),
            )
    elif kind == "id":
        summary["distinct"] = n  # ids are checked unique before anything is stored
    elif kind in ("categorical", "text"):
        summary["distinct"] = _count_distinct(column)
        if kind == "categorical":
            counts = pc.value_counts(column.drop_null() if column.null_count else column)
            top = sorted(
                zip(
                    counts.field("values").to_pylist(),
                    counts.field("counts").to_pylist(),
                    strict=True,
                ),
                key=lambda vc: (-vc[1], str(vc[0])),
            )[:5]
            summary["top"] = [{"value": str(v), "share": c / n} for v, c in top]
    elif kind == "boolean":
        non_null = n - column.null_count
        trues = pc.sum(pc.cast(column, pa.int64())).as_py() or 0
        summary["true_share"] = trues / non_null if non_null else None
    elif kind == "datetime" and column.null_count < n:
        summary["min"] = str(pc.min(column).as_py())
        summary["max"] = str(pc.max(column).as_py())
    return summary


def _finite(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, dict]:
    """The finite values of a float column, and their min and max. A column with no missing
    value whose min, max and mean are finite holds nothing else: it is used as it is, which
    spares a pass and a copy of every column of a typical file."""
    if values.null_count == 0 and len(values):
        extremes = pc.min_max(values).as_py()
        bounds = (extremes["min"], extremes["max"], pc.mean(values).as_py())
        if all(b is not None and math.isfinite(b) for b in bounds):
            return values, extremes
    if values.null_count < len(values):
        values = pc.filter(values, pc.is_finite(values))
    return values, pc.min_max(values).as_py()


def _count_distinct(column: pa.ChunkedArray) -> int | None:
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    try:
        return pc.count_distinct(column).as_py()
    except pa.ArrowNotImplementedError:  # nested values (lists, structs) from Parquet
        return None


def _num(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(x)
