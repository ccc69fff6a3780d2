"""Segment profiles over every customer as Spark aggregations; the driver gets aggregates.

The profile is the local engine's (``engine.profiles``): the same statistics, traits,
names and descriptions, built by ``profile_from_aggregates`` from what Spark counts here:
per segment and overall, the count, sum, median, standard deviation and range of each
numeric and date column, the true and known counts of each yes/no column, and the count of
each value of each categorical column (at most ``MAX_CATEGORIES`` values are kept, the rest
pooled, as locally).

Counts, shares and means are exact (up to the order of floating-point sums). Medians are
``percentile_approx`` with accuracy ``MEDIAN_ACCURACY``: a value of the column whose rank
is within n / MEDIAN_ACCURACY of the middle (so on an even count the lower of the two middle
values, where the local engine takes their mean).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from segtrail.engine.profiles import (
    MAX_CATEGORIES,
    OTHER_VALUES,
    NumericSums,
    ShareCounts,
    json_value,
    profile_from_aggregates,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

MEDIAN_ACCURACY = 10_000
SECONDS_PER_DAY = 86_400.0
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")


def spark_profiles(frame: DataFrame, columns: list[tuple[str, str, str]], n: int) -> dict:
    """The profile of every segment over every row of ``frame``.

    ``frame`` has an int ``segment`` column (-1 = unassigned); ``columns`` lists
    (name in the profile, column of ``frame``, kind), in profile order."""
    from pyspark.sql import functions as F

    values = {name: _values(frame, col, kind) for name, col, kind in columns}
    per_segment, overall = [F.count(F.lit(1)).alias("size")], []
    for i, (name, _, kind) in enumerate(columns):
        if kind == "categorical":
            continue
        x = values[name]
        per_segment += [F.count(x).alias(f"n{i}"), F.sum(x).alias(f"s{i}")]
        overall += [F.count(x).alias(f"n{i}"), F.sum(x).alias(f"s{i}")]
        if kind != "boolean":
            per_segment.append(F.percentile_approx(x, 0.5, MEDIAN_ACCURACY).alias(f"m{i}"))
            overall += [
                F.avg(x).alias(f"a{i}"),
                F.percentile_approx(x, 0.5, MEDIAN_ACCURACY).alias(f"m{i}"),
                F.stddev_pop(x).alias(f"d{i}"),
                F.min(x).alias(f"lo{i}"),
                F.max(x).alias(f"hi{i}"),
            ]
    rows = sorted(frame.groupBy("segment").agg(*per_segment).collect(), key=lambda r: r[0])
    whole = frame.agg(*overall).collect()[0] if overall else None
    groups = np.array([int(r["segment"]) for r in rows])
    sizes = np.array([int(r["size"]) for r in rows], dtype=np.int64)
    aggregates = []
    for i, (name, col, kind) in enumerate(columns):
        if kind == "categorical":
            agg = _category_counts(frame, col, groups, sizes, n)
        elif kind == "boolean":
            agg = ShareCounts(
                [True],
                _column(rows, f"s{i}")[:, None],
                _column(rows, f"n{i}"),
                np.array([_number(whole[f"s{i}"])]),
                int(whole[f"n{i}"]),
                2,
            )
        else:
            agg = NumericSums(
                count=_column(rows, f"n{i}"),
                total=_column(rows, f"s{i}"),
                median=_column(rows, f"m{i}"),
                o_count=int(whole[f"n{i}"]),
                o_mean=_number(whole[f"a{i}"]),
                o_median=_number(whole[f"m{i}"]),
                o_std=_number(whole[f"d{i}"]),
                lo=_number(whole[f"lo{i}"]),
                hi=_number(whole[f"hi{i}"]),
            )
        aggregates.append((name, kind, agg))
    return profile_from_aggregates(n, groups, sizes, aggregates)


def _number(value) -> float:
    return np.nan if value is None else float(value)


def _column(rows: list, key: str) -> np.ndarray:
    return np.array([_number(r[key]) for r in rows], dtype=np.float64)


def _values(frame: DataFrame, col: str, kind: str) -> Column:
    """The column as the local profile reads it: numbers as doubles (non-finite = missing),
    dates as days since 1970-01-01 (whole seconds), yes/no as 1.0 / 0.0."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType, StringType

    from segtrail.compute.spark.columns import quoted

    c = quoted(col)
    dtype = frame.schema[col].dataType
    if kind == "numeric":
        x = c.cast("double")
        return F.when(F.isnan(x) | (F.abs(x) == float("inf")), None).otherwise(x)
    if kind == "datetime":
        return F.floor(c.cast("timestamp").cast("double")) / SECONDS_PER_DAY
    if kind == "boolean":
        if isinstance(dtype, StringType):
            word = F.lower(F.trim(c))
            return F.when(word.isin(*_TRUE), 1.0).when(word.isin(*_FALSE), 0.0)
        if isinstance(dtype, NumericType):
            x = c.cast("double")
            return F.when(F.isnan(x), None).otherwise((x != 0).cast("double"))
        return c.cast("double")
    return c


def _category_counts(
    frame: DataFrame, col: str, groups: np.ndarray, sizes: np.ndarray, n: int
) -> ShareCounts:
    """Counts of each value per segment; values in the local profile's canonical order
    (sorted, missing last) and, above MAX_CATEGORIES values, the rarer ones pooled."""
    from pyspark.sql import functions as F

    from segtrail.compute.spark.columns import quoted

    by_value = frame.groupBy(quoted(col).alias("v")).count()
    n_values = by_value.count()
    pooled = n_values > MAX_CATEGORIES
    if pooled:  # the most frequent values; ties go to the value sorted first, as locally
        order = [F.desc("count"), F.asc_nulls_last("v")]
        top = by_value.orderBy(*order).limit(MAX_CATEGORIES - 1).collect()
    else:
        top = by_value.collect()
    raw = _canonical([r["v"] for r in top])
    index = {value: i for i, value in enumerate(raw)}
    width = len(raw) + (1 if pooled else 0)
    counted = frame.select(F.col("segment"), quoted(col).alias("v"))
    if pooled:
        kept = [v for v in raw if v is not None]
        keep = F.col("v").isin(*kept) if kept else F.lit(False)
        if None in index:
            keep = keep | F.col("v").isNull()
        counted = counted.where(keep)
    cells = counted.groupBy("segment", "v").count().collect()
    row_of = {int(g): i for i, g in enumerate(groups)}
    counts = np.zeros((len(groups), width), dtype=np.int64)
    for r in cells:
        counts[row_of[int(r["segment"])], index[r["v"]]] = int(r["count"])
    if pooled:  # every other value of the segment
        counts[:, -1] = sizes - counts[:, :-1].sum(axis=1)
    values = [json_value(v) for v in raw] + ([OTHER_VALUES] if pooled else [])
    return ShareCounts(values, counts, sizes, counts.sum(axis=0), n, int(n_values))


def _canonical(values: list) -> list:
    """Sorted known values, then None (missing) when present: pandas' factorize(sort=True)
    order, which the local profile uses."""
    known = [v for v in values if v is not None]
    try:
        known = sorted(known)
    except TypeError:
        known = sorted(known, key=str)
    return known + ([None] if len(known) < len(values) else [])
