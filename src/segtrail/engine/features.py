"""Preprocessing: turn a customer table into the float32 matrix that clustering sees.

Two JSON-serializable dicts describe the whole step:

- the *spec* (``build_spec``): which columns are features, their kind and weight;
- the *fitted state* (``fit_features``): everything learned from the data (medians, log
  choices, means, standard deviations, category levels, the reference date), so
  ``transform_features`` turns new customers into exactly the same coordinates.

Rules, per kind (every block is finally multiplied by the column's weight):

- numeric: numbers written as text are read (see ``read_numbers``; the values that are
  not numbers are counted and named in the column's description and read as missing);
  missing values get the median; a heavily skewed non-negative column
  (skewness > 1 and minimum >= 0: money, counts, recency) gets ``log1p``; then standard
  scaling to mean 0 and standard deviation 1.
- boolean: 0/1 (words such as yes/no are understood), then as numeric (no log).
- datetime: days before the reference date (the latest date in the data), then as numeric.
- categorical: one-hot over the kept levels. A level is kept when it holds at least 1% of
  the rows and is among the 20 most frequent; the rest are grouped into "(other)". Missing
  values are their own level "(missing)". The block is scaled by ``1 / sqrt(1 - sum(p^2))``
  (p = level shares at fit time), which makes the total variance of the block equal to 1:
  one categorical column weighs as much as one standardized numeric column, whatever its
  number of levels.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segtrail.engine.kinds import numbers_in_text
from segtrail.engine.value_words import unreadable_words
from segtrail.errors import InputError, SegtrailError

Progress = Callable[[str, float], None]
"""Progress callback: ``progress(step_description, fraction_done_0_to_1)``."""

FEATURE_KINDS = ("numeric", "categorical", "boolean", "datetime")
NON_FEATURE_KINDS = ("text", "id")
SPEC_VERSION = 1

SKEW_LIMIT = 1.0  # log1p above this skewness (for non-negative columns)
MIN_LEVEL_SHARE = 0.01  # rarer levels go to "(other)"
MAX_LEVELS = 20  # at most this many named levels per categorical column
UNREADABLE_EXAMPLES = 3  # values that are not dates (or numbers): this many shown
OTHER = "(other)"
MISSING = "(missing)"
# From this many customers, columns are prepared on FEATURE_THREADS threads (the target
# machine has two cores); below it the threads would cost more than they save.
THREADED_ROWS = 100_000
FEATURE_THREADS = 2
ROW_BLOCK = 16_384  # the matrix is written this many rows at a time (buffers fit in cache)
_TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0"}


# ----------------------------------------------------------------------------- spec


def build_spec(
    df: pd.DataFrame,
    kinds: dict[str, str],
    id_column: str,
    features: list[str] | None = None,
    exclude: list[str] | None = None,
    weights: dict[str, float] | None = None,
) -> dict:
    """Choose the feature columns and their weights; returns a JSON-serializable spec."""
    available = [c for c in df.columns if c in kinds]
    usable = [c for c in available if kinds[c] in FEATURE_KINDS and c != id_column]

    def unknown(name: str, what: str) -> SegtrailError:
        return SegtrailError(
            f"unknown column '{name}' in {what}; available columns: {', '.join(available)}"
        )

    if features is None:
        chosen = list(usable)
    else:
        chosen = []
        for name in features:
            if name not in available:
                raise unknown(name, "features")
            if name == id_column or kinds[name] == "id":
                raise SegtrailError(f"column '{name}' is the customer id; it cannot be a feature")
            if kinds[name] not in FEATURE_KINDS:
                raise SegtrailError(
                    f"column '{name}' is {kinds[name]} (free text or high-cardinality strings); "
                    "it cannot be a feature"
                )
            if name not in chosen:
                chosen.append(name)
    for name in exclude or []:
        if name not in available:
            raise unknown(name, "exclude")
    chosen = [c for c in chosen if c not in set(exclude or [])]
    if not chosen:
        raise SegtrailError(
            "no feature columns left; usable columns: " + (", ".join(usable) or "none")
        )
    weights = dict(weights or {})
    for name, w in weights.items():
        if name not in available:
            raise unknown(name, "weights")
        if name not in chosen:
            raise SegtrailError(f"weight given for '{name}', which is not a feature")
        if not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise SegtrailError(f"weight for '{name}' must be a number >= 0, got {w!r}")
    return {
        "version": SPEC_VERSION,
        "id_column": id_column,
        "features": [
            {"column": c, "kind": kinds[c], "weight": float(weights.get(c, 1.0))} for c in chosen
        ],
    }


# ----------------------------------------------------------------------------- fit / transform


def fit_features(
    df: pd.DataFrame, spec: dict, progress: Progress | None = None
) -> tuple[np.ndarray, dict]:
    """Learn the preprocessing from ``df`` and return (float32 matrix, fitted state)."""
    _check_columns(df, spec["features"])
    scratch = _Scratch()
    if progress is None and len(df) >= THREADED_ROWS:
        fits = _on_threads(
            lambda feat: _fit_column(df[feat["column"]], feat, scratch), spec["features"]
        )
    else:
        fits = []
        for i, feat in enumerate(spec["features"]):
            if progress:
                progress(f"preparing {feat['column']}", i / len(spec["features"]))
            fits.append(_fit_column(df[feat["column"]], feat, scratch))
    columns = [col for col, _ in fits]
    fitted = {
        "version": SPEC_VERSION,
        "id_column": spec["id_column"],
        "columns": columns,
        "feature_names": [name for col in columns for name in col["output"]],
    }
    fitted["n_features"] = len(fitted["feature_names"])
    # the columns' values (numbers, level per row) as the fit read them: read once
    X = _assemble(fitted, [inputs for _, inputs in fits], len(df))
    if progress:
        progress("features ready", 1.0)
    return X, fitted


def transform_features(df: pd.DataFrame, fitted: dict) -> np.ndarray:
    """Apply a fitted state to (new) customers; extra or reordered columns are fine."""
    _check_columns(df, fitted["columns"])

    def read(col: dict) -> np.ndarray:
        if col["kind"] == "categorical":
            return _level_index(*_category_codes(df[col["column"]]), col)
        return _numeric_values(df[col["column"]], col)

    if len(df) >= THREADED_ROWS:
        inputs = _on_threads(read, fitted["columns"])
    else:
        inputs = [read(col) for col in fitted["columns"]]
    return _assemble(fitted, inputs, len(df))


def _assemble(fitted: dict, inputs: list[np.ndarray], n: int) -> np.ndarray:
    """The matrix from each column's input (numeric values, or the level of each row), block
    of rows by block of rows: a block's features are written as contiguous rows of a small
    buffer, then transposed into the matrix. No full-size temporaries: on a million rows
    each one costs more to map in (page faults) than the arithmetic on it."""
    columns = fitted["columns"]
    X = np.empty((n, fitted["n_features"]), dtype=np.float32)
    starts = np.cumsum([0] + [len(col["output"]) for col in columns])
    local = threading.local()  # one set of block buffers per thread, reused

    def rows(lo: int) -> None:
        if not hasattr(local, "block"):
            local.block = np.empty((fitted["n_features"], ROW_BLOCK), dtype=np.float32)
            local.scratch = np.empty(ROW_BLOCK)
            local.mask = np.empty(ROW_BLOCK, dtype=bool)
        hi = min(lo + ROW_BLOCK, n)
        size = hi - lo
        block = local.block[:, :size]
        scratch, mask = local.scratch[:size], local.mask[:size]
        for j, col in enumerate(columns):
            part = block[starts[j] : starts[j + 1]]
            if col["kind"] == "categorical":
                _onehot_into(part, inputs[j][lo:hi], col, mask)
            else:
                _scale_into(part[0], inputs[j][lo:hi], col, scratch, mask)
        X[lo:hi] = block.T

    if n >= THREADED_ROWS:
        _on_threads(rows, range(0, n, ROW_BLOCK))
    else:
        for lo in range(0, n, ROW_BLOCK):
            rows(lo)
    return X


def describe_spec(fitted: dict) -> list[dict]:
    """One row per feature column: column, kind, transform (plain words), weight."""
    rows = []
    for col in fitted["columns"]:
        if col["kind"] == "categorical":
            named = [lv for lv in col["levels"] if lv not in (OTHER, MISSING)]
            extras = [lv for lv in (OTHER, MISSING) if lv in col["levels"]]
            text = f"one-hot, {len(named)} levels" + (f" + {', '.join(extras)}" if extras else "")
            if col["grouped_levels"]:
                text += f" ({col['grouped_levels']} rare levels grouped)"
            text += f", block scaled x{col['scale']:.3g} (total variance 1)"
        else:
            parts = []
            if col["kind"] == "boolean":
                parts.append("0/1")
            if col["kind"] == "datetime":
                parts.append(f"days before {col['reference_date']}")
            if col.get("n_unreadable"):
                what = "dates" if col["kind"] == "datetime" else "numbers"
                parts.append(
                    unreadable_words(col["n_unreadable"], col["unreadable_examples"], what)
                )
            if col["n_missing"]:
                parts.append(f"missing -> median {col['median']:.4g}")
            if col["log1p"]:
                parts.append("log1p")
            parts.append("standardized")
            text = ", ".join(parts)
        rows.append(
            {
                "column": col["column"],
                "kind": col["kind"],
                "transform": text,
                "weight": col["weight"],
            }
        )
    return rows


# ----------------------------------------------------------------------------- helpers


def _on_threads(work: Callable[[Any], Any], items: Iterable[Any]) -> list:
    """``work`` on each item (a column, or a block of rows), in order, on FEATURE_THREADS
    threads: the steps are numpy and pandas kernels that mostly release the GIL, and every
    item is computed exactly as on one thread (the same values, in the same order)."""
    with ThreadPoolExecutor(FEATURE_THREADS) as pool:
        return list(pool.map(work, items))


def _check_columns(df: pd.DataFrame, feats: list[dict]) -> None:
    for feat in feats:
        if feat["column"] not in df.columns:
            raise SegtrailError(f"missing feature column '{feat['column']}'")


def _fit_column(series: pd.Series, feat: dict, scratch: _Scratch) -> tuple[dict, np.ndarray]:
    """The column's fitted state, and its values (numbers or the level of each row)."""
    col: dict[str, Any] = {
        "column": feat["column"],
        "kind": feat["kind"],
        "weight": float(feat.get("weight", 1.0)),
    }
    if feat["kind"] == "categorical":
        codes, names = _category_codes(series)
        _fit_categorical(codes, names, col)
        return col, _level_index(codes, names, col)
    if feat["kind"] == "datetime":
        dates = _as_datetime(series)
        ref = dates.max()
        col["reference_date"] = None if pd.isna(ref) else ref.isoformat()
        unread = series[_unread(series, dates)]
        col["n_unreadable"] = len(unread)  # counted as missing too; the description says so
        col["unreadable_examples"] = [str(v) for v in pd.unique(unread)[:UNREADABLE_EXAMPLES]]
    if feat["kind"] == "numeric":
        values, unread = read_numbers(series, feat["column"])
        if unread is not None:  # only then: the fitted state of a clean column is unchanged
            col["n_unreadable"] = int(np.count_nonzero(unread))
            col["unreadable_examples"] = [
                str(v) for v in pd.unique(series[unread])[:UNREADABLE_EXAMPLES]
            ]
    else:
        values = _numeric_values(series, col)  # may be the frame's own memory: read only
    missing = np.isnan(values)
    col["n_missing"] = int(np.count_nonzero(missing))
    present = values[~missing] if col["n_missing"] else values
    work, held = scratch.arrays(len(values))
    col["log1p"] = bool(
        feat["kind"] != "boolean"
        and present.size > 2
        and present.min() >= 0
        and _skewness(present, work, held) > SKEW_LIMIT
    )
    col["median"] = _median(present, work) if present.size else 0.0
    filled = values
    if col["n_missing"]:
        filled = held
        np.copyto(filled, values)
        np.copyto(filled, col["median"], where=missing)
    if col["log1p"]:
        filled = np.log1p(filled, out=held)
    col["mean"] = float(filled.mean()) if filled.size else 0.0
    std = _std(filled, col["mean"], work) if filled.size else 0.0
    col["std"] = std if std > 1e-12 else 1.0  # a constant column stays 0, not nan
    col["output"] = [col["column"]]
    return col, values


class _Scratch(threading.local):
    """Two float64 work arrays of one column's length, per thread, reused column after
    column: fresh full-size temporaries cost more to map in (page faults) than the
    arithmetic on them."""

    def arrays(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if getattr(self, "n", None) != n:
            self.n, self.work, self.held = n, np.empty(n), np.empty(n)
        return self.work, self.held


def _median(x: np.ndarray, work: np.ndarray) -> float:
    """``np.median(x)``, with its copy in ``work``."""
    copy = work[: x.size]
    np.copyto(copy, x)
    return float(np.median(copy, overwrite_input=True))


def _std(x: np.ndarray, mean: float, work: np.ndarray) -> float:
    """``x.std()`` (``mean`` is ``x.mean()``): numpy's own steps and sums, with its
    temporary in ``work``."""
    deviation = np.subtract(x, mean, out=work[: x.size])
    np.square(deviation, out=deviation)
    return math.sqrt(float(np.add.reduce(deviation)) / x.size)


def _fit_categorical(codes: np.ndarray, names: list[str], col: dict) -> None:
    n = len(codes)
    counts = np.bincount(codes[codes >= 0], minlength=len(names)) if n else np.zeros(0, int)
    order = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))
    kept = [i for r, i in enumerate(order) if r < MAX_LEVELS and counts[i] >= MIN_LEVEL_SHARE * n]
    levels = [names[i] for i in kept]
    shares = [counts[i] / n for i in kept] if n else []
    grouped = [i for i in order if i not in set(kept)]
    if grouped:
        levels.append(OTHER)
        shares.append(sum(counts[i] for i in grouped) / n)
    n_missing = int((codes < 0).sum())
    if n_missing:
        levels.append(MISSING)
        shares.append(n_missing / n)
    spread = 1.0 - float(np.sum(np.square(shares)))
    col["levels"] = levels
    col["grouped_levels"] = len(grouped)
    col["n_missing"] = n_missing
    # Indicator variances p(1-p) sum to 1 - sum(p^2); this factor brings that total to 1.
    col["scale"] = 1.0 / math.sqrt(spread) if spread > 1e-12 else 1.0
    col["output"] = [f"{col['column']}={lv}" for lv in levels]


def _level_index(codes: np.ndarray, names: list[str], col: dict) -> np.ndarray:
    """Each row's position among the fitted levels (-1: none, an unseen value when no
    "(other)" was fitted)."""
    index = {lv: j for j, lv in enumerate(col["levels"])}
    fallback = index.get(OTHER, -1)  # unseen values go to "(other)" or to no level at all
    # the trailing slot is picked by code -1 (missing)
    per_name = np.array(
        [index.get(name, fallback) for name in names] + [index.get(MISSING, fallback)],
        dtype=np.int16,  # at most MAX_LEVELS + 2 levels
    )
    return per_name[codes]


def _onehot_into(block: np.ndarray, level: np.ndarray, col: dict, mask: np.ndarray) -> None:
    """Fill ``block`` (levels x rows) with the scaled one-hot coding of the rows' levels."""
    value = np.float32(col["scale"] * col["weight"])
    for j in range(len(block)):  # one pass per level: faster than a scattered assignment
        np.multiply(np.equal(level, j, out=mask), value, out=block[j])


def _category_codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 = missing) and the level names as strings, stable across dtypes."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if series.dtype == object and any(_may_equal_a_bool(u) for u in uniques):
        # True == 1 and False == 0 in Python, so factorize merged them: code by name instead
        codes, uniques = pd.factorize(series.map(_level_name, na_action="ignore"))
    names = [_level_name(u) for u in uniques]
    if len(set(names)) < len(names):  # e.g. 1 and "1": merge to one level per name
        merged: dict[str, int] = {}
        remap = np.array([merged.setdefault(nm, len(merged)) for nm in names], dtype=np.int64)
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        names = list(merged)
    return np.asarray(codes, dtype=np.int64), names


def _may_equal_a_bool(value: Any) -> bool:
    return isinstance(value, bool | int | float | np.bool_ | np.number) and value in (0, 1)


def _level_name(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))  # 3.0 (an int column with gaps) reads as "3"
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def _numeric_values(series: pd.Series, col: dict) -> np.ndarray:
    kind = col["kind"]
    if kind == "datetime":
        ref = col.get("reference_date")
        dates = _as_datetime(series)
        if ref is None:
            return np.full(len(series), np.nan)
        delta = pd.Timestamp(ref) - dates
        return (delta / pd.Timedelta(days=1)).to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "boolean":
        return _boolean_values(series)
    return read_numbers(series)[0]  # new customers: none of them may have a number


def read_numbers(
    series: pd.Series, column: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """A numeric column's values as float64 (NaN where missing or not a number), and where a
    value is given but is not a (finite) number: None when there is no such value. Numbers
    written as text are read by the rules of ``kinds.NUMBER_TEXT``. ``column``: the column's
    name, given when ``series`` is the whole column (a fit, a profile): a column holding text
    in which no value at all is a number is then refused (InputError), not a numeric column;
    a few new customers to place may well have none. The float64 values of a float64 column
    are the frame's own memory: read only."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)  # float64: no copy
        finite = np.isfinite(values)
        if finite.all():
            return values, None
        unread = ~finite & ~np.isnan(values)  # inf: no customer's figure
        return np.where(finite, values, np.nan), (unread if unread.any() else None)
    values, unread = numbers_in_text(_as_text(series))
    if not unread.any():
        return values, None
    finite = np.isfinite(values)
    if column is not None and not finite.any():
        raise InputError(f"column '{column}' is marked numeric but holds text")
    return np.where(finite, values, np.nan), unread


def _as_text(series: pd.Series) -> pa.Array:
    """The column as Arrow text (missing: null); values that are not text (numbers mixed
    with text in one column) as Python writes them."""
    try:
        return pa.array(series, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(series.map(str, na_action="ignore"), type=pa.string(), from_pandas=True)


def _boolean_values(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    words = [str(u).strip().lower() for u in uniques]
    lookup = np.array(
        [1.0 if w in _TRUE_WORDS else 0.0 if w in _FALSE_WORDS else np.nan for w in words]
        + [np.nan]
    )
    return lookup[codes]  # code -1 picks the trailing nan


def _as_datetime(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return series
    # Any ISO 8601 form, value by value (pandas would otherwise guess one format from the
    # first value and turn every value written in another form into missing); values in no
    # ISO form then by the format pandas guesses from the first of them (03/01/2024 ...).
    dates = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601")
    left = _unread(series, dates)
    if left.any():
        with warnings.catch_warnings():  # the format guess is pandas' business
            warnings.simplefilter("ignore")
            dates[left] = pd.to_datetime(series[left], errors="coerce", utc=True)
    return dates.dt.tz_localize(None)


def _unread(series: pd.Series, dates: pd.Series) -> np.ndarray:
    """Where a value is given but did not read as a date."""
    return dates.isna().to_numpy() & series.notna().to_numpy()


def _scale_into(
    out: np.ndarray, values: np.ndarray, col: dict, scratch: np.ndarray, mask: np.ndarray
) -> None:
    """``out`` (float32) = the scaled ``values``, computed in float64 in ``scratch``."""
    np.copyto(scratch, values)
    np.copyto(scratch, col["median"], where=np.isnan(values, out=mask))
    if col["log1p"]:
        np.log1p(np.maximum(scratch, 0.0, out=scratch), out=scratch)  # below 0 is clipped to 0
    np.subtract(scratch, col["mean"], out=scratch)
    np.multiply(scratch, col["weight"] / col["std"], out=out, casting="same_kind")


def _skewness(x: np.ndarray, work: np.ndarray, held: np.ndarray) -> float:
    centred = np.subtract(x, x.mean(), out=work[: x.size])
    powers = np.multiply(centred, centred, out=held[: x.size])  # products, not ** (slow)
    m2 = float(powers.mean())
    if m2 <= 1e-24:
        return 0.0
    return float(np.multiply(powers, centred, out=powers).mean()) / m2**1.5


# ----------------------------------------------------------------------------- model input


def model_matrix(df: pd.DataFrame, fitted: dict) -> tuple[np.ndarray, list[int], list[float]]:
    """The input of a mixture model (``lca``): one column per feature, NaN where missing.

    Numeric, datetime: the same log1p and standardization as ``transform_features``, but a
    missing value stays NaN (the model leaves it out instead of imputing it). Boolean: code
    0/1. Categorical: the code of its kept level (rare and unseen levels are "(other)"),
    missing NaN. Returns (matrix, levels per column: 0 numeric, L categorical, weights).
    """
    _check_columns(df, fitted["columns"])
    X = np.empty((len(df), len(fitted["columns"])), dtype=np.float32)
    levels, weights = [], []
    for j, col in enumerate(fitted["columns"]):
        weights.append(float(col["weight"]))
        if col["kind"] == "categorical":
            X[:, j], n_levels = _level_codes(df[col["column"]], col)
            levels.append(n_levels)
        elif col["kind"] == "boolean":
            X[:, j] = _boolean_values(df[col["column"]])
            levels.append(2)
        else:
            values = _numeric_values(df[col["column"]], col)
            if col["log1p"]:
                values = np.log1p(np.maximum(values, 0.0))
            X[:, j] = (values - col["mean"]) / col["std"]
            levels.append(0)
    return X, levels, weights


def _level_codes(series: pd.Series, col: dict) -> tuple[np.ndarray, int]:
    kept = [lv for lv in col["levels"] if lv != MISSING]  # "(missing)" is always the last
    codes, names = _category_codes(series)
    index = {lv: j for j, lv in enumerate(kept)}
    fallback = float(index.get(OTHER, np.nan))
    per_name = np.array([index.get(name, fallback) for name in names] + [np.nan])
    return per_name[codes].astype(np.float32), max(len(kept), 2)


# ----------------------------------------------------------------------------- noise screen

SCREEN_BINS = 5  # numeric columns are cut at their quintiles for the dependence test
SCREEN_ALPHA = 0.001  # family-wise: a column is noise when no pair reaches this (Bonferroni)
NOISE_SCREEN_RULE = (
    "a column is pure noise when it is independent of every other column (no pair passes "
    f"a G-test at {SCREEN_ALPHA} after Bonferroni correction; numeric columns cut at "
    "their quintiles): segments show up as columns that move together, so a column that "
    "moves with none of the others carries no segment structure"
)


def dependence_screen(X: np.ndarray, levels: list[int]) -> list[dict]:
    """For each column of a ``model_matrix``: its strongest dependence on another column
    (G-test on the rows where both are observed). Returns per column {"partner" (index or
    None), "p_value" of its strongest pair (Bonferroni-adjusted), "noise"}."""
    from scipy.stats import chi2

    codes = [_screen_codes(X[:, j], lv) for j, lv in enumerate(levels)]
    p = len(levels)
    pairs = max(p * (p - 1) // 2, 1)
    best = [(None, 1.0)] * p
    for a in range(p):
        for b in range(a + 1, p):
            g, df = _g_test(codes[a], codes[b])
            if df == 0:
                continue
            adjusted = min(1.0, float(chi2.sf(g, df)) * pairs)
            if adjusted < best[a][1]:
                best[a] = (b, adjusted)
            if adjusted < best[b][1]:
                best[b] = (a, adjusted)
    return [
        {"partner": partner, "p_value": pv, "noise": pv >= SCREEN_ALPHA and p > 1}
        for partner, pv in best
    ]


def _screen_codes(x: np.ndarray, n_levels: int) -> np.ndarray:
    """Integer codes (-1 = missing): categorical codes as they are, numeric quintile bins."""
    ok = ~np.isnan(x)
    out = np.full(len(x), -1, dtype=np.int64)
    if n_levels > 0:
        out[ok] = x[ok].astype(np.int64)
        return out
    if ok.sum() < 2:
        return out
    edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, SCREEN_BINS + 1)[1:-1]))
    out[ok] = np.searchsorted(edges, x[ok], side="right")
    return out


def _g_test(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    ok = (a >= 0) & (b >= 0)
    if ok.sum() < 10:
        return 0.0, 0
    a, b = a[ok], b[ok]
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1.0)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return 0.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    nz = table > 0
    g = 2.0 * float((table[nz] * np.log(table[nz] / expected[nz])).sum())
    return g, (table.shape[0] - 1) * (table.shape[1] - 1)


# ----------------------------------------------------------------------------- contributions

NOISE_RULE = (
    "a column is pure noise when letting it differ between segments does not pay for its "
    "extra parameters (BIC): 2 x log-likelihood gain <= extra parameters x log(customers)"
)


def feature_contributions(X: np.ndarray, levels: list[int], labels: np.ndarray) -> list[dict]:
    """How much each column of a ``model_matrix`` tells the segments apart.

    Per column, on the rows where it is observed: ``explained`` is the share of its
    variation the segments explain (numeric: between-segment share of the variance, eta
    squared; categorical: share of its entropy, the uncertainty coefficient), and
    ``bic_gain`` compares a model in which the column differs by segment (own mean and
    variance, or own level shares) with one in which it does not; ``noise`` is True when
    the gain does not pay for the extra parameters (see ``NOISE_RULE``).
    """
    out = []
    valid = labels >= 0
    k = int(labels[valid].max()) + 1 if valid.any() else 1
    for j, n_levels in enumerate(levels):
        x = X[:, j].astype(np.float64)
        ok = valid & ~np.isnan(x)
        lab, x = labels[ok], x[ok]
        n = len(x)
        if n < 2 or k < 2:
            out.append({"explained": 0.0, "bic_gain": 0.0, "noise": True})
            continue
        counts = np.bincount(lab, minlength=k).astype(float)
        present = counts > 0
        if n_levels == 0:
            gain, explained, extra = _numeric_gain(x, lab, counts, present, k)
        else:
            gain, explained, extra = _categorical_gain(x, lab, n_levels, k)
        bic_gain = float(2 * gain - extra * math.log(n))
        out.append(
            {"explained": float(explained), "bic_gain": bic_gain, "noise": bool(bic_gain <= 0)}
        )
    return out


def _numeric_gain(x, lab, counts, present, k) -> tuple[float, float, int]:
    sums = np.bincount(lab, weights=x, minlength=k)
    sq = np.bincount(lab, weights=x * x, minlength=k)
    means = sums / np.maximum(counts, 1)
    within = np.maximum(sq - counts * means**2, 0.0)
    total = float(((x - x.mean()) ** 2).sum())
    floor = 1e-6 * max(total / len(x), 1e-12)
    var_k = np.maximum(within / np.maximum(counts, 1), floor)
    var_all = max(total / len(x), floor)
    gain = 0.5 * (
        len(x) * math.log(var_all) - float((counts[present] * np.log(var_k[present])).sum())
    )
    explained = 1.0 - within.sum() / total if total > 0 else 0.0
    return gain, explained, 2 * (int(present.sum()) - 1)


def _categorical_gain(x, lab, n_levels, k) -> tuple[float, float, int]:
    table = np.zeros((k, n_levels))
    np.add.at(table, (lab, x.astype(np.int64)), 1.0)
    n = table.sum()
    p_level = table.sum(axis=0) / n
    p_seg = table.sum(axis=1) / n
    joint = table / n
    nz = joint > 0
    mi = float((joint[nz] * np.log(joint[nz] / np.outer(p_seg, p_level)[nz])).sum())
    entropy = float(-(p_level[p_level > 0] * np.log(p_level[p_level > 0])).sum())
    used_levels = int((p_level > 0).sum())
    extra = (int((p_seg > 0).sum()) - 1) * max(used_levels - 1, 0)
    return n * mi, (mi / entropy if entropy > 0 else 0.0), extra
