"""Diff of two segmentations: where the customers of each segment of A went in B.

A and B are label assignments (``pd.Series`` indexed by customer id, int labels, ``-1`` for
noise). They may come from different datasets: everything below is computed on the customers
present in both ("common customers"), except ``size``, which counts a segment in its own
version. Ids are aligned by value; when one index holds numbers and the other strings, the
numbers are compared as strings (``7`` matches ``"7"``).

Speed (1M customers): identical indexes skip the join; string ids are joined in one pyarrow
hash pass. The table comes from one ``np.bincount`` over combined codes, and ARI/NMI are
computed from it (same formulas as scikit-learn), so the customers are read a handful of times.

The contingency table ``n[i, j]`` counts common customers with label ``i`` in A and ``j`` in
B. Noise is a label like any other in ``transitions``, ``ari`` and ``nmi`` (as scikit-learn
treats it), but it is never matched: it has no fate, no targets and no sources.

Matching quantities, for an A segment ``i`` and a B segment ``j`` (both not noise), where
``r_i`` and ``c_j`` are their numbers of common customers:

- share of ``i`` in ``j``: ``n[i, j] / r_i`` (how much of the A segment went to ``j``);
- part of ``j`` from ``i``: ``n[i, j] / c_j`` (how much of the B segment came from ``i``);
- Jaccard: ``n[i, j] / (r_i + c_j - n[i, j])``. The best match of a segment is the segment of
  the other version with the highest Jaccard (ties go to the lowest label), None without
  overlap. Jaccard is symmetric, so best matches read the same in both directions.

Targets of ``i``: the B segments that take a substantial share of it (``SHARE``, 20%) or that
are mostly made of it (part from ``i`` >= ``min_jaccard``). The fate of ``i`` is the first of
these rules that applies:

1. ``kept``: its best match ``j`` has Jaccard >= ``min_jaccard``, ``i`` is also ``j``'s best
   match (mutual), and no other B segment takes >= 20% of ``i``.
2. ``vanished``: it has no target (its customers scattered in small pieces of other segments,
   went to noise, or are not in B at all).
3. ``split``: at least two B segments each take >= 20% of it.
4. ``merged``: a B segment takes >= ``MAIN`` (50%) of it and gets >= 20% of its own customers
   from outside ``i`` (another A segment, or A's noise): ``i`` went into a bigger segment.
5. ``shrunk``: anything else. At most one B segment takes >= 20% of it and it did not go
   whole into a bigger segment: part of it lives on (in that segment, or in small fragments
   made mostly of it), but too few of its customers stayed together to call it kept.

Noise rows get the fate ``noise``. A B segment is ``inherited`` when it is a target of some A
segment (its ``sources`` are those A segments), otherwise ``new``; B's noise row has origin
``noise``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segtrail.errors import InputError

NOISE = -1
SHARE = 0.2  # a "substantial share" of a segment
MAIN = 0.5  # the share that makes a B segment the main destination of an A segment
FATES = ("kept", "split", "merged", "shrunk", "vanished")
# direct offset codes while the label range stays small; otherwise sort (np.unique)
_MAX_SPAN = 1 << 20


def check_min_jaccard(min_jaccard: float) -> None:
    if not 0.0 < min_jaccard <= 1.0:
        raise InputError(f"min_jaccard must be in (0, 1], got {min_jaccard}")


def _codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes 0..k-1 for int labels, and the sorted distinct labels they stand for."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
    lo, hi = int(labels.min()), int(labels.max())
    if hi - lo >= _MAX_SPAN:
        values, codes = np.unique(labels, return_inverse=True)
        return codes.astype(np.intp, copy=False), values
    offset = labels - lo
    present = np.flatnonzero(np.bincount(offset, minlength=hi - lo + 1))
    remap = np.zeros(hi - lo + 1, dtype=np.intp)
    remap[present] = np.arange(present.size)
    return remap[offset], present.astype(np.int64) + lo


def _table(codes_a: np.ndarray, codes_b: np.ndarray, ka: int, kb: int) -> np.ndarray:
    cells = codes_a.astype(np.int64) * kb + codes_b
    return np.bincount(cells, minlength=ka * kb).reshape(ka, kb).astype(np.int64)


def contingency(
    a_labels: np.ndarray, b_labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of (A label, B label) pairs for two aligned label arrays.

    Returns ``(table, a_values, b_values)``: ``table[i, j]`` counts positions with label
    ``a_values[i]`` in A and ``b_values[j]`` in B; the values are the sorted distinct labels.
    """
    a_labels, b_labels = np.asarray(a_labels), np.asarray(b_labels)
    if a_labels.shape != b_labels.shape or a_labels.ndim != 1:
        raise InputError("contingency needs two aligned 1-d label arrays of the same length")
    codes_a, a_values = _codes(a_labels)
    codes_b, b_values = _codes(b_labels)
    return _table(codes_a, codes_b, a_values.size, b_values.size), a_values, b_values


def scores(table: np.ndarray) -> tuple[float | None, float | None]:
    """ARI and NMI (arithmetic mean) from a contingency table, as scikit-learn computes them.

    Working on the small table instead of the labels avoids two more passes over the
    customers. Both are 1.0 when both sides are one single partition; None without customers.
    """
    table = np.asarray(table, dtype=np.int64)
    n = int(table.sum())
    if n == 0:
        return None, None
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    rows, cols = rows[rows > 0], cols[cols > 0]
    if rows.size == 1 and cols.size == 1:
        return 1.0, 1.0
    # ARI through the pair confusion matrix, in exact Python integers (products reach n**4)
    sum_sq = int((table * table).sum())
    tp = sum_sq - n
    fp = int((cols * cols).sum()) - sum_sq
    fn = int((rows * rows).sum()) - sum_sq
    tn = n * n - fp - fn - sum_sq
    if fn == 0 and fp == 0:
        ari = 1.0
    else:
        ari = 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))
    return ari, _nmi(table, rows, cols, n)


def _nmi(table: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int) -> float:
    if rows.size == 1 or cols.size == 1:
        return 0.0  # one side has zero entropy, so no mutual information
    ia, ib = np.nonzero(table)
    nz = table[ia, ib].astype(np.float64)
    row_all, col_all = table.sum(axis=1), table.sum(axis=0)
    outer = row_all[ia].astype(np.float64) * col_all[ib]
    terms = (nz / n) * (np.log(nz) - np.log(n)) + (nz / n) * (-np.log(outer) + 2 * np.log(n))
    terms = np.where(np.abs(terms) < np.finfo(np.float64).eps, 0.0, terms)
    # summed in sorted order so that diff(A, B) and diff(B, A) agree to the last bit
    mi = max(float(np.sort(terms).sum()), 0.0)
    if mi == 0.0:
        return 0.0
    h_a = -float(np.sum((rows / n) * (np.log(rows) - np.log(n))))
    h_b = -float(np.sum((cols / n) * (np.log(cols) - np.log(n))))
    return mi / ((h_a + h_b) / 2)


@dataclass(frozen=True)
class Overlap:
    """Matching quantities of a contingency table (rows: A labels, columns: B labels).

    Shared with carry-forward so that a single-segment strategy gets its segment's fate.
    """

    table: np.ndarray
    a_values: np.ndarray
    b_values: np.ndarray
    min_jaccard: float

    @cached_property
    def row_totals(self) -> np.ndarray:
        return self.table.sum(axis=1)

    @cached_property
    def col_totals(self) -> np.ndarray:
        return self.table.sum(axis=0)

    @cached_property
    def jaccard(self) -> np.ndarray:
        """Jaccard of every (A, B) pair; -1 where either side is noise, so it never matches."""
        union = self.row_totals[:, None] + self.col_totals[None, :] - self.table
        jac = np.divide(self.table, union, out=np.zeros(self.table.shape), where=union > 0)
        jac[self.a_values == NOISE, :] = -1.0
        jac[:, self.b_values == NOISE] = -1.0
        return jac

    @cached_property
    def best_b(self) -> np.ndarray:
        """Column of the best match of each row, -1 when there is none."""
        return _best(self.jaccard)

    @cached_property
    def best_a(self) -> np.ndarray:
        """Row of the best match of each column, -1 when there is none."""
        return _best(self.jaccard.T)

    def targets(self, row: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
        """Mask of the B columns that take >= SHARE of ``row`` or are mostly made of it.

        ``row`` holds the common customers of one A segment (or of a group of them) per B
        label; noise columns are excluded unless ``eligible`` says otherwise.
        """
        if eligible is None:
            eligible = self.b_values != NOISE
        total = row.sum()
        if total == 0:
            return np.zeros(row.shape, dtype=bool)
        part = np.divide(row, self.col_totals, out=np.zeros(row.shape), where=self.col_totals > 0)
        return eligible & (row > 0) & ((row >= SHARE * total) | (part >= self.min_jaccard))

    def fate(self, i: int) -> str:
        """Fate of the A segment in row ``i`` (see the module docstring for the rules)."""
        if self.a_values[i] == NOISE:
            return "noise"
        row = self.table[i]
        total = row.sum()
        eligible = self.b_values != NOISE
        substantial = eligible & (row > 0) & (row >= SHARE * total)
        j = self.best_b[i]
        if (
            j >= 0
            and self.jaccard[i, j] >= self.min_jaccard
            and self.best_a[j] == i
            and not np.delete(substantial, j).any()
        ):
            return "kept"
        if not self.targets(row).any():
            return "vanished"
        if substantial.sum() >= 2:
            return "split"
        main = eligible & (row > 0) & (row >= MAIN * total)
        outside = self.col_totals - row
        if (main & (outside >= SHARE * self.col_totals)).any():
            return "merged"
        return "shrunk"


def _best(jac: np.ndarray) -> np.ndarray:
    if jac.shape[1] == 0:
        return np.full(jac.shape[0], -1, dtype=np.intp)
    best = np.argmax(jac, axis=1)  # first maximum: ties go to the lowest label
    best[jac[np.arange(jac.shape[0]), best] <= 0] = -1
    return best


def _labels(s: pd.Series, name: str) -> np.ndarray:
    if not isinstance(s, pd.Series):
        raise InputError(f"assignments {name} must be a pandas Series indexed by customer id")
    if s.dtype == bool or not pd.api.types.is_numeric_dtype(s.dtype):
        raise InputError(f"assignments {name} must hold integer segment labels, not {s.dtype}")
    if s.hasnans:
        raise InputError(f"assignments {name} have customers without a segment label")
    values = s.to_numpy()
    if values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
        raise InputError(f"assignments {name} must hold integer segment labels")
    return values.astype(np.int64, copy=False)


def _comparable(a: pd.Index, b: pd.Index) -> tuple[pd.Index, pd.Index]:
    """Ids read as numbers on one side and strings on the other are compared as strings."""
    a_num, b_num = pd.api.types.is_numeric_dtype(a.dtype), pd.api.types.is_numeric_dtype(b.dtype)
    if a_num and not b_num:
        return a.astype(str), b
    if b_num and not a_num:
        return a, b.astype(str)
    return a, b


def _align(a: pd.Series, b: pd.Series) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Positions in ``a`` and in ``b`` of the common customers (None, None: same index)."""
    if a.index.equals(b.index):
        return None, None  # same customers in the same order: no join at all
    ia, ib = _comparable(a.index, b.index)
    if ia.hasnans or ib.hasnans:
        raise InputError("assignments have customers without an id")
    if not (pd.api.types.is_numeric_dtype(ia.dtype) and pd.api.types.is_numeric_dtype(ib.dtype)):
        try:
            return _align_arrow(ia, ib)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass  # ids pyarrow cannot type (mixed objects): pandas joins them below
    for index, name in ((ia, "A"), (ib, "B")):
        if not index.is_unique:
            raise InputError(_DUPLICATE_IDS.format(name))
    pos_a = ia.get_indexer(ib)
    in_a = pos_a >= 0
    return pos_a[in_a], np.flatnonzero(in_a)


_DUPLICATE_IDS = "assignments {} list some customer ids more than once"


def _align_arrow(ia: pd.Index, ib: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """String ids: one pyarrow hash pass over both sides (about twice as fast as pandas)."""
    ids_a, ids_b = pa.array(ia), pa.array(ib)
    if ids_a.type != ids_b.type:
        ids_b = ids_b.cast(ids_a.type)
    encoded = pc.dictionary_encode(pa.concat_arrays([ids_a, ids_b]))
    codes = encoded.indices.to_numpy()
    k = len(encoded.dictionary)
    codes_a, codes_b = codes[: len(ia)], codes[len(ia) :]
    for part, name in ((codes_a, "A"), (codes_b, "B")):
        if part.size and np.bincount(part, minlength=k).max() > 1:
            raise InputError(_DUPLICATE_IDS.format(name))
    position = np.full(k, -1, dtype=np.intp)
    position[codes_a] = np.arange(codes_a.size)
    pos_a = position[codes_b]
    in_a = pos_a >= 0
    return pos_a[in_a], np.flatnonzero(in_a)


def diff_assignments(a: pd.Series, b: pd.Series, min_jaccard: float = 0.5) -> dict[str, Any]:
    """Compare two segmentations customer by customer (JSON-serializable result).

    Keys: ``common_customers``, ``only_in_a``, ``only_in_b``, ``ari``, ``nmi``,
    ``min_jaccard``, ``transitions`` (one per non-empty (from, to) cell, sorted),
    ``segments_a`` (size, common, best_match, jaccard, fate, targets) and ``segments_b``
    (size, common, origin, sources, best_match, jaccard). See the module docstring.
    """
    check_min_jaccard(min_jaccard)
    full_a, a_values = _codes(_labels(a, "A"))
    full_b, b_values = _codes(_labels(b, "B"))
    ka, kb = a_values.size, b_values.size
    size_a, size_b = np.bincount(full_a, minlength=ka), np.bincount(full_b, minlength=kb)
    pos_a, pos_b = _align(a, b)
    codes_a, codes_b = (full_a, full_b) if pos_a is None else (full_a[pos_a], full_b[pos_b])
    table = _table(codes_a, codes_b, ka, kb)
    return diff_table(table, a_values, b_values, size_a, size_b, min_jaccard)


def diff_table(
    table: np.ndarray,
    a_values: np.ndarray,
    b_values: np.ndarray,
    size_a: np.ndarray,
    size_b: np.ndarray,
    min_jaccard: float = 0.5,
) -> dict[str, Any]:
    """``diff_assignments`` from counts made elsewhere (Spark counts them where the
    assignments live): ``table[i, j]`` counts the common customers with label
    ``a_values[i]`` in A and ``b_values[j]`` in B (sorted distinct labels of each whole
    version), ``size_a``/``size_b`` the customers of each label in its own version."""
    check_min_jaccard(min_jaccard)
    table = np.asarray(table, dtype=np.int64)
    a_values, b_values = np.asarray(a_values, np.int64), np.asarray(b_values, np.int64)
    ka, kb = a_values.size, b_values.size
    if table.shape != (ka, kb) or len(size_a) != ka or len(size_b) != kb:
        raise InputError("the contingency table does not match the label lists")
    common = int(table.sum())
    ov = Overlap(table, a_values, b_values, min_jaccard)
    ari, nmi = scores(table) if common else (None, None)

    targets = [ov.targets(table[i]) if a_values[i] != NOISE else None for i in range(ka)]
    segments_a = [_segment_a(ov, i, int(size_a[i]), targets[i]) for i in range(ka)]
    segments_b = [_segment_b(ov, j, int(size_b[j]), targets) for j in range(kb)]
    ia, ib = np.nonzero(table)
    return {
        "common_customers": common,
        "only_in_a": int(np.sum(size_a)) - common,
        "only_in_b": int(np.sum(size_b)) - common,
        "ari": ari,
        "nmi": nmi,
        "min_jaccard": float(min_jaccard),
        "transitions": [
            {"from": int(a_values[i]), "to": int(b_values[j]), "customers": int(table[i, j])}
            for i, j in zip(ia, ib, strict=True)
        ],
        "segments_a": segments_a,
        "segments_b": segments_b,
    }


def _match(best: int, values: np.ndarray, jac: np.ndarray) -> tuple[int | None, float | None]:
    """Best-matching label and its Jaccard, from the row (or column) of Jaccards."""
    return (None, None) if best < 0 else (int(values[best]), float(jac[best]))


def _segment_a(ov: Overlap, i: int, size: int, targets: np.ndarray | None) -> dict[str, Any]:
    row, total = ov.table[i], int(ov.row_totals[i])
    out: dict[str, Any] = {"segment": int(ov.a_values[i]), "size": size, "common": total}
    if targets is None:  # noise
        return out | {"best_match": None, "jaccard": None, "fate": "noise", "targets": []}
    best = int(ov.best_b[i])
    out["best_match"], out["jaccard"] = _match(best, ov.b_values, ov.jaccard[i])
    out["fate"] = ov.fate(i)
    cols = sorted(np.flatnonzero(targets), key=lambda j: (-row[j], ov.b_values[j]))
    out["targets"] = [
        {
            "segment": int(ov.b_values[j]),
            "customers": int(row[j]),
            "share_of_a": float(row[j] / total),
        }
        for j in cols
    ]
    return out


def _segment_b(ov: Overlap, j: int, size: int, targets: list[np.ndarray | None]) -> dict[str, Any]:
    col, total = ov.table[:, j], int(ov.col_totals[j])
    out: dict[str, Any] = {"segment": int(ov.b_values[j]), "size": size, "common": total}
    if ov.b_values[j] == NOISE:
        return out | {"origin": "noise", "sources": [], "best_match": None, "jaccard": None}
    rows = [i for i, t in enumerate(targets) if t is not None and t[j]]
    rows.sort(key=lambda i: (-col[i], ov.a_values[i]))
    out["origin"] = "inherited" if rows else "new"
    out["sources"] = [
        {
            "segment": int(ov.a_values[i]),
            "customers": int(col[i]),
            "share_of_b": float(col[i] / total),
        }
        for i in rows
    ]
    best = int(ov.best_a[j])
    out["best_match"], out["jaccard"] = _match(best, ov.a_values, ov.jaccard[:, j])
    return out
