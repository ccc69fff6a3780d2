"""Segment profiles: how each segment differs from the whole table, in numbers and in plain words.

Conventions (shared by the statistics and the text):
- "overall" statistics cover every customer, the unassigned ones (label -1) included.
- numeric: missing and non-finite values are left out of means and medians. ``std_diff`` is
  (segment mean - overall mean) / overall standard deviation (population, ddof=0), a Cohen's-d.
- categorical: a missing value counts as its own value (``None``) so shares sum to 1. The effect
  of a value is its standardized share difference (p_seg - p_all) / sqrt(p_all * (1 - p_all)),
  which is the Cohen's-d of the 0/1 indicator, so it ranks against numeric ``std_diff`` fairly.
- boolean: profiled as the share true among known values, same effect measure as a category.
- datetime: profiled as dates. Means and medians are ISO dates (YYYY-MM-DD); ``std_diff`` is
  positive when the segment's dates are later than average.
- floats are rounded to 12 significant digits: row order only moves the last bits of a sum, and
  the rounding hides that, so shuffling the rows gives the same profile in practice.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from itertools import pairwise

import numpy as np
import pandas as pd

from segtrail.engine.features import read_numbers
from segtrail.errors import InputError

PROFILED_KINDS = ("numeric", "categorical", "boolean", "datetime")
KNOWN_KINDS = (*PROFILED_KINDS, "text", "id")

MIN_EFFECT = 0.2  # |effect| below this is not called distinguishing (Cohen's "small")
NAME_EFFECT = 0.3  # a trait must be a bit stronger to make it into a short name
RATIO_SHOWN = 1.5  # "3.1x the sessions" when the ratio is >= this or <= its inverse
TOP_VALUES = 5  # values listed per categorical column and segment
OVERALL_TOP_VALUES = 10
MAX_CATEGORIES = 1000  # rarer values are pooled so a mis-kinded column cannot blow up memory
OTHER_VALUES = "(other values)"
NOISE_NAME = "unassigned"

_EPOCH = date(1970, 1, 1)
_COUNTED_LABELS = 1 << 20  # labels below this are coded by counting, above by sorting


# --------------------------------------------------------------------------- public entry point


def profile_segments(
    df: pd.DataFrame,
    kinds: dict[str, str],
    labels: np.ndarray,
    columns: list[str] | None = None,
    max_features: int = 5,
) -> dict:
    """Profile every segment against the whole table; return a JSON-serializable dict.

    ``{"n", "overall": {column: stats}, "segments": [{"segment", "size", "share", "name",
    "description", "numeric", "categorical", "distinguishing"}, ...]}``; segments in label
    order, with the unassigned segment (-1) last when present.
    """
    n = len(df)
    if n == 0:
        raise InputError("there are no customers to profile")
    if max_features < 1:
        raise InputError("max_features must be at least 1")
    labels = _check_labels(labels, n)
    columns = _select_columns(df, kinds, columns)

    groups, codes = _label_codes(labels)
    grouping = _Grouping.build(codes, len(groups))
    stats = [_column_stats(df[c], c, kinds[c], grouping) for c in columns]
    return _assemble(n, groups, grouping.sizes, stats, max_features)


def profile_from_aggregates(
    n: int,
    groups: np.ndarray,
    sizes: np.ndarray,
    columns: list[tuple[str, str, NumericSums | ShareCounts]],
    max_features: int = 5,
) -> dict:
    """The profile ``profile_segments`` gives, from per-segment aggregates counted
    elsewhere (the Spark engine counts them over every customer).

    ``groups``: the segment labels in ascending order (-1 first when present), ``sizes``:
    customers per label; ``columns``: (column, kind, aggregates) in profile order, each
    aggregate array indexed like ``groups``."""
    if n == 0:
        raise InputError("there are no customers to profile")
    stats: list[_NumericStats | _ShareStats] = []
    for column, kind, agg in columns:
        if isinstance(agg, NumericSums):
            stats.append(_NumericStats.from_sums(column, kind, agg, n))
        elif kind == "boolean":
            stats.append(_ShareStats.boolean_from_counts(column, agg, n))
        else:
            stats.append(_ShareStats.categorical_from_counts(column, agg, n))
    return _assemble(n, np.asarray(groups), np.asarray(sizes), stats, max_features)


def _assemble(
    n: int,
    groups: np.ndarray,
    sizes: np.ndarray,
    stats: list[_NumericStats | _ShareStats],
    max_features: int,
) -> dict:
    order = [g for g in range(len(groups)) if groups[g] >= 0]
    order += [g for g in range(len(groups)) if groups[g] < 0]
    segments = []
    names = []
    for g in order:
        traits = [t for t in (s.trait(g) for s in stats) if t is not None and t.score >= MIN_EFFECT]
        traits.sort(key=lambda t: -t.score)  # stable: ties keep column order
        traits = traits[:max_features]
        noise = bool(groups[g] < 0)
        names.append(NOISE_NAME if noise else _compose_name(traits))
        size = int(sizes[g])
        segments.append(
            {
                "segment": int(groups[g]),
                "size": size,
                "share": _round(size / n),
                "name": "",
                "description": _describe(traits, noise),
                "numeric": [s.entry(g) for s in stats if isinstance(s, _NumericStats)],
                "categorical": [s.entry(g) for s in stats if isinstance(s, _ShareStats)],
                "distinguishing": [t.as_dict() for t in traits],
            }
        )
    for seg, name in zip(segments, _distinct(names, [s["segment"] for s in segments]), strict=True):
        seg["name"] = name
    return {"n": n, "overall": {s.column: s.overall for s in stats}, "segments": segments}


@dataclass(frozen=True)
class NumericSums:
    """What a numeric or datetime column's profile is made of (datetimes in days since
    1970-01-01): per segment the count and sum of known values and their median; overall
    the count, mean, median, population standard deviation, minimum and maximum."""

    count: np.ndarray
    total: np.ndarray
    median: np.ndarray  # NaN where a segment has no known value
    o_count: int
    o_mean: float
    o_median: float
    o_std: float
    lo: float
    hi: float


@dataclass(frozen=True)
class ShareCounts:
    """What a categorical or boolean column's profile is made of: per segment, the count of
    each value (``counts``, segments x values) over ``denom`` customers; overall the same.

    Categorical: ``values`` in canonical order (sorted, None = missing last, rare values
    pooled as OTHER_VALUES), ``denom`` = segment sizes, ``n_values`` = distinct values
    before pooling. Boolean: one value (True), ``counts`` = trues, ``denom`` = known values.
    """

    values: list
    counts: np.ndarray
    denom: np.ndarray
    o_counts: np.ndarray
    o_denom: int
    n_values: int


# --------------------------------------------------------------------------- input checks


def _check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n:
        raise InputError(f"labels has {labels.size} entries but the table has {n} customers")
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels % 1 == 0):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise InputError("labels must be whole numbers (segments 0..k-1, -1 for unassigned)")
    if labels.min() < -1:
        raise InputError(
            f"label {labels.min()} is not allowed (segments 0..k-1, -1 for unassigned)"
        )
    return labels


def _label_codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct labels in ascending order and each row's code 0..G-1 among them (as
    ``np.unique(labels, return_inverse=True)``), counted rather than sorted while the
    labels are small numbers (segments 0..k-1 and -1)."""
    top = int(labels.max())
    if top >= _COUNTED_LABELS:
        groups, codes = np.unique(labels, return_inverse=True)
        return groups, codes.ravel()
    shifted = np.add(labels, 1, dtype=np.intp)  # -1 (unassigned) counts at 0
    present = np.flatnonzero(np.bincount(shifted, minlength=top + 2))
    lookup = np.zeros(top + 2, dtype=np.intp)
    lookup[present] = np.arange(len(present))
    return (present - 1).astype(labels.dtype), lookup[shifted]


def _select_columns(df: pd.DataFrame, kinds: dict[str, str], columns: list[str] | None) -> list:
    if columns is None:
        return [c for c in df.columns if kinds.get(c) in PROFILED_KINDS]
    for c in columns:
        if c not in df.columns:
            raise InputError(f"column '{c}' is not in the table")
        kind = kinds.get(c)
        if kind not in KNOWN_KINDS:
            raise InputError(f"column '{c}' has no known kind (got {kind!r})")
        if kind not in PROFILED_KINDS:
            raise InputError(f"column '{c}' is {kind} and cannot be profiled")
    return list(dict.fromkeys(columns))


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class _Grouping:
    """Segment codes plus one stable sort by segment that every column's medians reuse."""

    codes: np.ndarray  # 0..G-1 per row
    n_groups: int
    sizes: np.ndarray
    order: np.ndarray  # row indices grouped by segment
    bounds: np.ndarray  # segment g is order[bounds[g]:bounds[g + 1]]

    @staticmethod
    def build(codes: np.ndarray, n_groups: int) -> _Grouping:
        sizes = np.bincount(codes, minlength=n_groups)
        # int16 keys let numpy use radix sort: one O(n) pass for all columns
        key = codes.astype(np.int16) if n_groups < 2**15 else codes
        order = np.argsort(key, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(sizes)))
        return _Grouping(codes, n_groups, sizes, order, bounds)


@dataclass
class _Trait:
    """One way a segment differs from everyone: what the text and the name are made of."""

    column: str
    kind: str
    score: float  # |effect|, comparable across kinds
    up: bool
    summary: str
    token: str | None  # word(s) for the short name; None when not nameable
    rank: int = 1  # order in names: age 0, adjectives 1, values 2 ("young app-heavy TikTok")
    value: object = None

    def as_dict(self) -> dict:
        out = {
            "column": self.column,
            "kind": self.kind,
            "summary": self.summary,
            "score": _round(self.score),
            "direction": "higher" if self.up else "lower",
        }
        if self.kind in ("categorical", "boolean"):
            out["value"] = self.value
        return out


def _round(x: float) -> float | None:
    """12 significant digits (order-independent floats); NaN becomes None for JSON."""
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.12g}")


def _rounded(arr: np.ndarray) -> np.ndarray:
    return np.array([np.nan if r is None else r for r in map(_round, arr)], dtype=np.float64)


def _column_stats(
    s: pd.Series, column: str, kind: str, grouping: _Grouping
) -> _NumericStats | _ShareStats:
    if kind == "numeric":
        return _NumericStats.build(column, kind, _numeric_values(s, column), grouping)
    if kind == "datetime":
        return _NumericStats.build(column, kind, _datetime_days(s), grouping)
    if kind == "boolean":
        return _ShareStats.boolean(column, _boolean_values(s), grouping)
    return _ShareStats.categorical(column, s, grouping)


def _numeric_values(s: pd.Series, column: str) -> np.ndarray:
    """float64 (not float32: means of money and counts over 1M rows need the precision), NaN
    where missing, not finite or not a number: numbers written as text are read as the
    features read them (``read_numbers``), which names the others in the description."""
    return read_numbers(s, column)[0]


def _datetime_days(s: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 as floats, NaN where missing or unparseable."""
    if not (isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype)):
        with warnings.catch_warnings():  # format inference chatter is not the user's business
            warnings.simplefilter("ignore")
            s = pd.to_datetime(s, errors="coerce")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)  # keep local wall time: dates read as the data has them
    arr = s.to_numpy().astype("datetime64[s]")
    return (arr - np.datetime64(0, "s")) / np.timedelta64(1, "D")


_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def _boolean_values(s: pd.Series) -> np.ndarray:
    """1.0 / 0.0 / NaN; strings such as "yes"/"no" are understood."""
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isnan(x), np.nan, (x != 0).astype(np.float64))
    codes, uniques = pd.factorize(s)
    words = [str(u).strip().lower() for u in uniques]
    lut = np.array(
        [1.0 if w in _TRUE else 0.0 if w in _FALSE else np.nan for w in words] + [np.nan]
    )
    return lut[codes]  # the NA sentinel -1 picks the trailing NaN


@dataclass
class _NumericStats:
    column: str
    kind: str  # "numeric" or "datetime" (values are days since 1970-01-01)
    mean: np.ndarray  # per segment code, NaN when the segment has no values
    median: np.ndarray
    std_diff: np.ndarray
    o_mean: float
    o_median: float
    span: float  # max - min, picks the date format
    overall: dict

    @staticmethod
    def build(column: str, kind: str, x: np.ndarray, grp: _Grouping) -> _NumericStats:
        valid = ~np.isnan(x)
        n_valid = int(np.count_nonzero(valid))
        whole = n_valid == len(x)  # most columns: no mask to apply, no copy to make
        if whole:
            count = grp.sizes.astype(np.float64)
            total = np.bincount(grp.codes, weights=x, minlength=grp.n_groups)
        else:
            count = np.bincount(grp.codes, weights=valid, minlength=grp.n_groups)
            total = np.bincount(grp.codes, weights=np.where(valid, x, 0.0), minlength=grp.n_groups)
        # One gathered copy grouped by segment: each segment's median partitions its own
        # slice in place, then the whole copy (still every known value) gives the overall one.
        xs = x[grp.order]
        bounds = grp.bounds
        if not whole:
            xs = xs[~np.isnan(xs)]
            bounds = np.concatenate(([0], np.cumsum(count.astype(np.int64))))
        median = np.array([_median_in_place(xs[a:b]) for a, b in pairwise(bounds)])
        v = x if whole else x[valid]  # row order: the mean and std sum as they always did
        if n_valid:
            o_mean, o_median = _round(v.mean()), _median_in_place(xs)
            o_std, lo, hi = _round(v.std()), float(v.min()), float(v.max())
        else:
            o_mean = o_median = o_std = lo = hi = np.nan
        sums = NumericSums(count, total, median, n_valid, o_mean, o_median, o_std, lo, hi)
        return _NumericStats.from_sums(column, kind, sums, len(x))

    @staticmethod
    def from_sums(column: str, kind: str, sums: NumericSums, n: int) -> _NumericStats:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = _rounded(sums.total / sums.count)
        median = np.asarray(sums.median, dtype=np.float64)
        o_mean, o_median, o_std = _round(sums.o_mean), sums.o_median, _round(sums.o_std)
        lo, hi = sums.lo, sums.hi
        if not sums.o_count:
            o_mean = o_median = o_std = lo = hi = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            std_diff = _rounded(np.where(o_std > 0, (mean - o_mean) / o_std, 0.0 * mean))
        missing = _round(1.0 - sums.o_count / n)
        if kind == "datetime":
            overall = {
                "kind": kind,
                "mean": _iso(o_mean),
                "median": _iso(o_median),
                "min": _iso(lo),
                "max": _iso(hi),
                "std_days": _round(o_std),
                "missing_share": missing,
            }
        else:
            overall = {
                "kind": kind,
                "mean": _round(o_mean),
                "median": _round(o_median),
                "std": _round(o_std),
                "min": _round(lo),
                "max": _round(hi),
                "missing_share": missing,
            }
        span = hi - lo if sums.o_count else 0.0
        return _NumericStats(column, kind, mean, median, std_diff, o_mean, o_median, span, overall)

    def _out(self, x: float):
        return _iso(x) if self.kind == "datetime" else _round(x)

    def entry(self, g: int) -> dict:
        return {
            "column": self.column,
            "kind": self.kind,
            "mean": self._out(self.mean[g]),
            "median": self._out(self.median[g]),
            "overall_mean": self._out(self.o_mean),
            "overall_median": self._out(self.o_median),
            "std_diff": _round(self.std_diff[g]),
        }

    def trait(self, g: int) -> _Trait | None:
        d = self.std_diff[g]
        if not np.isfinite(d) or d == 0:
            return None
        up = bool(d > 0)
        a, b = float(self.mean[g]), float(self.o_mean)
        if self.kind == "datetime":
            summary = _date_summary(self.column, up, a, b, self.span)
            token = _date_token(self.column, up)
        else:
            summary = _numeric_summary(self.column, up, a, b)
            token = _numeric_token(self.column, up)
        # age leads a name, dates read as nouns: "young app-heavy recent signups"
        rank = 0 if token in ("young", "older") else 2 if self.kind == "datetime" else 1
        score = abs(float(d))
        return _Trait(self.column, self.kind, score, up, summary, _if_strong(token, d), rank)


def _median_in_place(v: np.ndarray) -> float:
    """``np.median`` of ``v`` (no NaN in it), the same value, from one partition of ``v``
    itself (np.median copies, partitions at two places and looks for NaN)."""
    n = len(v)
    if not n:
        return np.nan
    half = n // 2
    v.partition(half)
    if n % 2:
        return float(v[half])
    return float((v[:half].max() + v[half]) / 2)  # np.median's mean of the middle two


def _iso(days: float) -> str | None:
    if days is None or not math.isfinite(days):
        return None
    return str(np.datetime64("1970-01-01") + np.timedelta64(math.floor(days), "D"))


def _if_strong(token: str | None, effect: float) -> str | None:
    return token if abs(effect) >= NAME_EFFECT else None


@dataclass
class _ShareStats:
    column: str
    kind: str  # "categorical" or "boolean"
    values: list  # JSON-ready values, canonical order
    share: np.ndarray  # (segments, values); rows are NaN when a segment has no known value
    o_share: np.ndarray  # (values,)
    effect: np.ndarray  # standardized share difference, (segments, values)
    overall: dict

    @staticmethod
    def _shares(counts: np.ndarray, denom: np.ndarray, o_counts: np.ndarray, o_denom: int):
        with np.errstate(invalid="ignore", divide="ignore"):
            share = counts / denom[:, None]
            o_share = o_counts / o_denom if o_denom else np.full(len(o_counts), np.nan)
            sd = np.sqrt(o_share * (1.0 - o_share))
            effect = np.where(sd > 0, (share - o_share) / sd, 0.0 * share)
        return share, o_share, effect

    @staticmethod
    def categorical(column: str, s: pd.Series, grp: _Grouping) -> _ShareStats:
        try:  # sorted values make ties (and so the whole profile) independent of row order
            cat, uniques = pd.factorize(s, sort=True)
        except TypeError:
            cat, uniques = pd.factorize(s.astype(str).where(s.notna()), sort=True)
        values = [_json_value(u) for u in np.asarray(uniques, dtype=object)]
        if (cat < 0).any():  # missing is a value of its own so shares add up to 1
            cat = np.where(cat < 0, len(values), cat)
            values.append(None)
        n_values = len(values)
        if n_values > MAX_CATEGORIES:
            cat, values = _pool_rare(cat, values)
        n_cat = len(values)
        counts = np.bincount(grp.codes * n_cat + cat, minlength=grp.n_groups * n_cat)
        counts = counts.reshape(grp.n_groups, n_cat)
        agg = ShareCounts(values, counts, grp.sizes, counts.sum(axis=0), len(cat), n_values)
        return _ShareStats.categorical_from_counts(column, agg, len(cat))

    @staticmethod
    def categorical_from_counts(column: str, agg: ShareCounts, n: int) -> _ShareStats:
        share, o_share, effect = _ShareStats._shares(agg.counts, agg.denom, agg.o_counts, n)
        top = np.argsort(-agg.o_counts, kind="stable")[:OVERALL_TOP_VALUES]
        values = agg.values
        overall = {
            "kind": "categorical",
            "n_values": agg.n_values,
            "top": [{"value": values[i], "share": _round(o_share[i])} for i in top],
        }
        return _ShareStats(column, "categorical", values, share, o_share, effect, overall)

    @staticmethod
    def boolean(column: str, x: np.ndarray, grp: _Grouping) -> _ShareStats:
        known = ~np.isnan(x)
        denom = np.bincount(grp.codes, weights=known, minlength=grp.n_groups)
        trues = np.bincount(grp.codes, weights=np.where(known, x, 0.0), minlength=grp.n_groups)
        o_true, o_known = trues.sum(), int(known.sum())
        agg = ShareCounts([True], trues[:, None], denom, np.array([o_true]), o_known, 2)
        return _ShareStats.boolean_from_counts(column, agg, len(x))

    @staticmethod
    def boolean_from_counts(column: str, agg: ShareCounts, n: int) -> _ShareStats:
        share, o_share, effect = _ShareStats._shares(
            agg.counts, agg.denom, agg.o_counts, agg.o_denom
        )
        overall = {
            "kind": "boolean",
            "share_true": _round(o_share[0]),
            "missing_share": _round(1.0 - agg.o_denom / n),
        }
        return _ShareStats(column, "boolean", [True], share, o_share, effect, overall)

    def entry(self, g: int) -> dict:
        share = self.share[g]
        if self.kind == "boolean":
            idx = [0]
        else:
            idx = [i for i in np.argsort(-share, kind="stable")[:TOP_VALUES] if share[i] > 0]
        top = []
        for i in idx:
            lift = share[i] / self.o_share[i] if self.o_share[i] > 0 else np.nan
            top.append(
                {
                    "value": self.values[i],
                    "share": _round(share[i]),
                    "overall_share": _round(self.o_share[i]),
                    "lift": _round(lift),
                }
            )
        return {"column": self.column, "kind": self.kind, "top": top}

    def trait(self, g: int) -> _Trait | None:
        effect = self.effect[g]
        if not np.all(np.isfinite(effect)):
            return None
        hi, lo = int(np.argmax(effect)), int(np.argmin(effect))
        # an over-represented value says more than an absent one, unless it is much weaker
        i = hi if effect[hi] >= 0.5 * abs(effect[lo]) else lo
        d = float(effect[i])
        if d == 0:
            return None
        p, q = float(self.share[g, i]), float(self.o_share[i])
        value = self.values[i]
        if self.kind == "boolean":
            words = _boolean_words(self.column)
            token = _boolean_token(self.column, up=d > 0) if (d > 0) == (p >= 0.5) else None
        else:
            words = _value_words(self.column, value)
            mostly = p >= 0.5 or (p >= 0.3 and p >= 2 * q)
            nameable = d > 0 and mostly and value is not None and len(words.split()) <= 3
            token = words if nameable else None
        summary = _share_summary(words, d > 0, p, q)
        return _Trait(
            self.column, self.kind, abs(d), d > 0, summary, _if_strong(token, d), 2, value
        )


def _pool_rare(cat: np.ndarray, values: list) -> tuple[np.ndarray, list]:
    counts = np.bincount(cat, minlength=len(values))
    keep = np.sort(np.argsort(-counts, kind="stable")[: MAX_CATEGORIES - 1])
    lut = np.full(len(values), len(keep), dtype=np.int64)
    lut[keep] = np.arange(len(keep))
    return lut[cat], [values[i] for i in keep] + [OTHER_VALUES]


def json_value(v: object) -> object:
    """A category value as JSON: None for missing, numbers and text as they are, dates as
    ISO text, anything else as text."""
    return _json_value(v)


def _json_value(v: object) -> object:
    if v is None or (not isinstance(v, str) and bool(pd.isna(v))):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, pd.Timestamp | date):
        return v.isoformat()
    return str(v)


# --------------------------------------------------------------------------- words


_ABBREVIATIONS = {
    "avg": "average",
    "qty": "quantity",
    "amt": "amount",
    "cnt": "count",
    "pct": "percent",
    "perc": "percent",
    "ltv": "lifetime value",
    "clv": "lifetime value",
    "aov": "average order value",
    "txn": "transactions",
    "txns": "transactions",
    "freq": "frequency",
    "dt": "date",
    "yrs": "years",
    "mins": "minutes",
    "hrs": "hours",
    "sms": "SMS",
    "nps": "NPS",
    "id": "ID",
}
_COUNT_PREFIXES = {"n", "nb", "num", "nr"}
_UNITS = {"days", "weeks", "months", "years", "hours", "minutes", "seconds"}
_SPEND = {"spend", "spent", "spending", "revenue", "amount", "value", "sales", "monetary", "gmv"}
_INCOME = {"income", "salary", "wealth"}
_COUNTS = {
    "sessions", "visits", "orders", "purchases", "transactions", "clicks", "opens", "logins",
    "events", "views", "pageviews", "calls", "tickets", "bookings", "trips", "downloads", "count",
    "frequency", "contacts", "messages", "interactions", "uses",
}  # fmt: skip
_FILLER = {
    "number", "of", "total", "average", "mean", "per", "daily", "weekly", "monthly", "yearly",
    "annual", "last", "recent", "lifetime", "the",
}  # fmt: skip
_DATE_WORDS = {"date", "time", "timestamp", "at", "on", "datetime", "day"}
_BIRTH_WORDS = {"birth", "birthday", "born", "dob", "birthdate"}
_PARTICIPLES = {"seen", "born", "paid", "sent", "made", "done", "bought", "won", "lost", "left"}
_PLAIN_VALUES = {
    "yes", "no", "true", "false", "y", "n", "t", "f", "other", "others", "unknown", "none", "na",
    "n/a", "null", "",
}  # fmt: skip


def column_words(column: str) -> str:
    """Column name in plain words: "days_since_last_order" -> "days since last order"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(column))  # camelCase
    parts = [p.lower() for p in re.split(r"[\W_]+", spaced) if p]
    if len(parts) > 1 and parts[0] in _COUNT_PREFIXES:  # "n_orders", not "order_n"
        parts[0] = "number of"
    return " ".join(_ABBREVIATIONS.get(p, p) for p in parts) or str(column)


def _semantic(words: list[str]) -> str:
    w = set(words)
    if (len(words) >= 2 and words[0] in _UNITS and words[1] in ("since", "ago")) or "recency" in w:
        return "recency"
    if "tenure" in w or "seniority" in w or {"account", "age"} <= w:
        return "tenure"
    if "age" in w:
        return "age"
    if w & _SPEND:
        return "spend"
    if w & _INCOME:
        return "income"
    if words and words[-1] in _COUNTS:
        return "count"
    return "generic"


def _split_unit(words: list[str]) -> tuple[list[str], str]:
    if len(words) > 1 and words[-1] in _UNITS:
        return words[:-1], " " + words[-1]
    return words, ""


def _numeric_summary(column: str, up: bool, a: float, b: float) -> str:
    """Plain-words comparison of a segment mean ``a`` with the overall mean ``b``."""
    words = column_words(column).split()
    kind = _semantic(words)
    bare, unit = _split_unit(words)
    fa, fb = _format_pair(a, b, format_number)
    if kind == "age":
        return f"{'older' if up else 'younger'} than average ({fa} vs {fb}{unit})"
    if kind == "tenure":
        return f"{'longer' if up else 'shorter'} tenure than average ({fa} vs {fb}{unit})"
    if kind == "recency":
        unit = f" {words[0]} ago" if words[0] in _UNITS else ""
        rest = " ".join(words[2:]) if unit else ""
        when = "longer ago" if up else "more recent"
        return f"{rest or 'last activity'} {when} ({fa} vs {fb}{unit})"
    if a > 0 and b > 0 and (a / b >= RATIO_SHOWN or a / b <= 1 / RATIO_SHOWN):
        return f"{format_ratio(a / b)} the {' '.join(words)}"
    return f"{' '.join(bare)} {'higher' if up else 'lower'} than average ({fa} vs {fb}{unit})"


def _numeric_token(column: str, up: bool) -> str | None:
    words = column_words(column).split()
    kind = _semantic(words)
    if kind == "age":
        return "older" if up else "young"
    if kind == "tenure":
        return "long-tenure" if up else "new"
    if kind == "recency":
        return "lapsed" if up else "recent"
    if kind == "spend":
        return "high-spend" if up else "low-spend"
    if kind == "income":
        return "high-income" if up else "low-income"
    if kind == "count":
        root = [w for w in words[:-1] if w not in _FILLER and w not in _COUNTS]
        if not root:
            return "frequent" if up else "infrequent"
        if len(root) <= 2:
            return "-".join(root) + ("-heavy" if up else "-light")
        return None
    bare, _ = _split_unit(words)
    return f"{'high' if up else 'low'} {' '.join(bare)}" if len(bare) <= 2 else None


def _date_summary(column: str, up: bool, a: float, b: float, span: float) -> str:
    fa, fb = _format_pair(a, b, lambda d, extra: _format_date(d, span if extra == 0 else 0))
    return f"{column_words(column)} {'later' if up else 'earlier'} than average ({fa} vs {fb})"


def _date_token(column: str, up: bool) -> str | None:
    """A date column's word(s) for names, as its name reads: a birth date tells age ("young",
    "older"), a verb tells when it happened ("created recently", "last seen long ago"), a
    noun counts events ("recent signups", "early deliveries")."""
    root = [w for w in column_words(column).split() if w not in _DATE_WORDS]
    if not root or len(root) > 2:
        return None
    if root[-1] in _BIRTH_WORDS:  # born later: younger
        return "young" if up else "older"
    if any(_is_participle(w) for w in root):
        return f"{' '.join(root)} {'recently' if up else 'long ago'}"
    return f"{'recent' if up else 'early'} {' '.join([*root[:-1], _plural(root[-1])])}"


def _is_participle(word: str) -> bool:
    """ "created", "joined", "seen": a verb's past form (not a noun such as "feed")."""
    if word in _PARTICIPLES:
        return True
    return len(word) > 3 and word.endswith("ed") and not word.endswith("eed")


def _plural(noun: str) -> str:
    """ "signup" -> "signups", "delivery" -> "deliveries", "access" -> "accesses"; a plural
    ("visits") stays as it is."""
    if noun.endswith(("ss", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("s"):
        return noun
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _boolean_words(column: str) -> str:
    words = column_words(column).split()
    if len(words) > 1 and words[0] == "is":
        words = words[1:]
    if len(words) > 1 and words[-1] == "flag":
        words = words[:-1]
    return " ".join(words)


def _boolean_token(column: str, up: bool) -> str | None:
    words = _boolean_words(column).split()
    if words[0] == "has" and len(words) > 1:
        words, negation = words[1:], "no"
    else:
        negation = "non"
    if len(words) > 2:
        return None
    return " ".join(words) if up else f"{negation}-{'-'.join(words)}"


def _value_words(column: str, value: object) -> str:
    """How a category value reads in a sentence; bare codes ("3", "yes") get the column name."""
    if value is None:
        return f"unknown {column_words(column)}"
    text = str(value)
    if text.lower() in _PLAIN_VALUES or len(text) <= 1 or re.fullmatch(r"[-+]?[\d.,]+", text):
        return f"{column_words(column)} {text}"
    return text


def _share_summary(words: str, up: bool, p: float, q: float) -> str:
    fp, fq = _format_pair(p, q, format_percent)
    if up:
        how = "mostly" if p >= 0.5 else "more often"
    else:
        how = "rarely" if p < q / 2 else "less often"
    return f"{how} {words} ({fp} vs {fq})"


def _describe(traits: list[_Trait], noise: bool) -> str:
    text = ", ".join(t.summary for t in traits) or "close to the average customer"
    if noise:
        text = "not assigned to any segment; " + text
    return text[0].upper() + text[1:]


def _compose_name(traits: list[_Trait], budget: int = 4) -> str:
    """2-4 words from the strongest nameable traits, adjectives before category values."""
    chosen: list[_Trait] = []
    used, seen = 0, set()
    for t in traits:
        if t.token is None or t.token.lower() in seen:
            continue
        size = len(t.token.split())
        if used + size > budget:
            continue
        chosen.append(t)
        used += size
        seen.add(t.token.lower())
        if len(chosen) == 3:
            break
    if not chosen:
        return "Average customers"
    chosen.sort(key=lambda t: t.rank)
    text = " ".join(t.token for t in chosen) + (" customers" if used == 1 else "")
    return text[0].upper() + text[1:]


def _distinct(names: list[str], segments: list[int]) -> list[str]:
    """Equal names (ignoring case) get the segment number; natural names never contain '#'."""
    counts = Counter(n.lower() for n in names)
    out = []
    for name, seg in zip(names, segments, strict=True):
        clash = counts[name.lower()] > 1 or (seg >= 0 and name.lower() == NOISE_NAME)
        out.append(f"{name} #{seg}" if clash and seg >= 0 else name)
    return out


# --------------------------------------------------------------------------- number formatting


def _strip_zeros(text: str) -> str:
    """ "3.10" -> "3.1", "3.0" -> "3", "1.50M" -> "1.5M"; integers are left alone."""
    return re.sub(r"\.?0+(?=\D*$)", "", text) if "." in text else text


_DECIMALS = Context(prec=1000)  # every float's digits, so halves round exactly


def _half_up(x: float, decimals: int) -> Decimal:
    """``x`` rounded to ``decimals`` decimals with halves away from zero, as people round
    the number they read: 10.5 -> 11, 2.675 -> 2.68 (the shortest text that reads back as
    ``x``, not its binary value 2.67499...). Python's own formatting rounds halves to even."""
    step = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(x))).quantize(step, rounding=ROUND_HALF_UP, context=_DECIMALS)


def _fixed(x: float, decimals: int, grouping: bool = False) -> str:
    """``x`` with ``decimals`` decimals (halves up, see ``_half_up``); thousands separated
    by commas when ``grouping``."""
    return format(_half_up(x, decimals), ",f" if grouping else "f")


def format_number(x: float, extra: int = 0) -> str:
    """Readable number: 1,234 / 12 / 3.1 / 0.042 / 1.2M; ``extra`` adds decimals. A number
    that rounds up to the next unit reads in it: 999,999,999 is "1B", not "1000M"."""
    if not math.isfinite(x):
        return "n/a"
    ax = abs(x)
    if ax == 0:
        return "0"
    if _half_up(ax / 1e6, 1 + extra) >= 1000:
        text = _fixed(x / 1e9, 1 + extra) + "B"
    elif _half_up(ax, extra) >= 1_000_000:
        text = _fixed(x / 1e6, 1 + extra) + "M"
    elif ax >= 10:
        text = _fixed(x, extra, grouping=True)
    elif ax >= 1:
        text = _fixed(x, 1 + extra)
    else:
        text = _fixed(x, 1 - math.floor(math.log10(ax)) + extra)
    text = _strip_zeros(text)
    return "0" if text in ("-0", "-0B", "-0M") else text


def format_percent(p: float, extra: int = 0) -> str:
    """Share as a percentage: 71% / 2.5% / 0.04%; ``extra`` adds decimals."""
    if not math.isfinite(p):
        return "n/a"
    v = p * 100
    if v == 0 or abs(v) >= 10:
        decimals = extra
    elif abs(v) >= 1:
        decimals = 1 + extra
    else:
        decimals = 1 - math.floor(math.log10(abs(v))) + extra
    return _strip_zeros(_fixed(v, decimals)) + "%"


def format_ratio(r: float) -> str:
    """3.1x / 12x / 0.42x."""
    if r >= 10:
        return _fixed(r, 0, grouping=True) + "x"
    return _strip_zeros(_fixed(r, 1) if r >= 1 else _fixed(r, 2)) + "x"


def _format_pair(a: float, b: float, fmt) -> tuple[str, str]:
    """Format two numbers, adding decimals until different values read differently."""
    for extra in range(4):
        fa, fb = fmt(a, extra), fmt(b, extra)
        if fa != fb or a == b:
            break
    return fa, fb


def _format_date(days: float, span: float) -> str:
    day = _EPOCH + timedelta(days=math.floor(days))
    return day.strftime("%b %Y") if span > 365 else day.isoformat()
