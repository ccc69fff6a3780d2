"""Campaign response statistics per segment: rates, uplift and significance.

A campaign frame has one row per customer who was part of the campaign: ``customer_id``,
``group`` ("treatment" or "control") and ``responded`` (0/1), optionally ``revenue``,
``opened`` and ``clicked``. Customers are matched to the segments of one segmentation
version; customers the version does not know are kept in a separate entry (see
``segment_responses``) so that nothing disappears from the totals.

Statistics (all two-sided, 95% by default):

- each rate gets a Wilson score interval (no continuity correction);
- the uplift (treatment rate minus control rate, absolute) gets Newcombe's hybrid score
  interval, built from the two Wilson intervals (Newcombe 1998, method 10); it matches
  ``statsmodels.stats.proportion.confint_proportions_2indep(method="newcomb")``;
- the p-value comes from the pooled two-proportion z-test, or from Fisher's exact test when
  any expected cell of the 2x2 table is below 5, where the normal approximation is poor
  (typically a tiny control group).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from segtrail.errors import InputError

Z95 = 1.959963984540054  # two-sided 95% normal quantile
ALPHA = 0.05
UNMATCHED_NAME = "not in this version"
GROUPS = ("treatment", "control")


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for ``k`` successes out of ``n``; None when ``n`` is 0."""
    if n <= 0:
        return None
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # the bounds are exactly 0 and 1 at k == 0 and k == n; rounding would leave ~1e-19
    low = 0.0 if k == 0 else centre - half
    high = 1.0 if k == n else centre + half
    return low, high


def newcombe_interval(
    k1: int, n1: int, k2: int, n2: int, z: float = Z95
) -> tuple[float, float] | None:
    """Newcombe hybrid score interval for ``k1/n1 - k2/n2``; None when a group is empty."""
    ci1, ci2 = wilson_interval(k1, n1, z), wilson_interval(k2, n2, z)
    if ci1 is None or ci2 is None:
        return None
    p1, p2 = k1 / n1, k2 / n2
    diff = p1 - p2
    low = diff - math.sqrt((p1 - ci1[0]) ** 2 + (ci2[1] - p2) ** 2)
    high = diff + math.sqrt((ci1[1] - p1) ** 2 + (p2 - ci2[0]) ** 2)
    return low, high


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> tuple[float, str] | None:
    """Two-sided test of equal rates: ``(p_value, test_name)``; None when a group is empty.

    Fisher's exact test is used when any expected count of the 2x2 table is below 5,
    otherwise the pooled two-proportion z-test.
    """
    if n1 <= 0 or n2 <= 0:
        return None
    n = n1 + n2
    yes, no = k1 + k2, n - (k1 + k2)
    expected_min = min(n1, n2) * min(yes, no) / n
    if expected_min < 5:
        _, p = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided")
        return float(p), "Fisher exact"
    pooled = yes / n
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    zstat = (k1 / n1 - k2 / n2) / se  # se > 0: both yes and no are >= 5 here
    return float(2 * stats.norm.sf(abs(zstat))), "two-proportion z"


def segment_responses(
    frame: pd.DataFrame,
    labels_by_customer: pd.Series,
    names: dict[int, str] | None = None,
) -> dict[str, Any]:
    """Response statistics per segment and overall.

    Every segment in ``labels_by_customer`` gets an entry, even if no campaign customer is
    in it (its counts are 0 and its rates None). Campaign customers the version does not
    know are counted in ``"unmatched"`` and, when there are any, reported as one more entry
    with ``segment`` None and name "not in this version"; ``"overall"`` covers everyone.
    Revenue per customer is total revenue over the group size (missing revenue counts as 0);
    open and click rates are reported when those columns exist, else None.
    """
    _check_frame(frame)
    if labels_by_customer.index.has_duplicates:
        raise InputError("segment labels list a customer more than once")
    names = names or {}

    seg = labels_by_customer.reindex(frame["customer_id"].to_numpy())
    matched = seg.notna().to_numpy()
    key = np.where(matched, seg.to_numpy(dtype="float64", na_value=np.nan), np.nan)
    cols = _numeric_columns(frame)
    cols["segment"] = key
    cols["group"] = frame["group"].to_numpy()
    sums = pd.DataFrame(cols).groupby(["segment", "group"], dropna=False).sum()
    sizes = pd.DataFrame(cols).groupby(["segment", "group"], dropna=False).size()

    segments = []
    for label in sorted(int(x) for x in pd.unique(labels_by_customer.dropna().to_numpy())):
        entry = _entry(sums, sizes, float(label))
        segments.append({"segment": label, "name": names.get(label), **entry})
    unmatched = int((~matched).sum())
    if unmatched:
        entry = _entry(sums, sizes, np.nan)
        segments.append({"segment": None, "name": UNMATCHED_NAME, **entry})

    total_sums = sums.groupby(level="group").sum()
    total_sizes = sizes.groupby(level="group").sum()
    overall = {"segment": None, "name": "all customers", **_stats(total_sums, total_sizes)}
    return {"segments": segments, "overall": overall, "unmatched": unmatched}


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in ("customer_id", "group", "responded") if c not in frame.columns]
    if missing:
        raise InputError(f"campaign data has no column {', '.join(missing)}")
    bad_group = ~frame["group"].isin(GROUPS)
    if bad_group.any():
        value = frame["group"][bad_group].iloc[0]
        raise InputError(f"campaign group must be 'treatment' or 'control', not {value!r}")
    for col in ("responded", "opened", "clicked"):
        if col in frame.columns and not frame[col].isin([0, 1]).all():
            raise InputError(f"campaign column {col} must hold only 0 and 1")
    if frame["customer_id"].duplicated().any():
        value = frame["customer_id"][frame["customer_id"].duplicated()].iloc[0]
        value = value.item() if isinstance(value, np.generic) else value  # 1, not np.int64(1)
        raise InputError(f"campaign data lists customer {value!r} more than once")


def _numeric_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    cols = {"responded": frame["responded"].to_numpy(dtype="int64")}
    for col in ("opened", "clicked"):
        if col in frame.columns:
            cols[col] = frame[col].to_numpy(dtype="int64")
    if "revenue" in frame.columns:
        revenue = pd.to_numeric(frame["revenue"], errors="coerce")
        cols["revenue"] = revenue.fillna(0.0).to_numpy(dtype="float64")
    return cols


def _entry(sums: pd.DataFrame, sizes: pd.Series, label: float) -> dict[str, Any]:
    """Statistics of one segment; ``label`` NaN selects the unmatched customers."""
    if np.isnan(label):
        mask = sums.index.get_level_values("segment").isna()
    else:
        mask = sums.index.get_level_values("segment") == label
    return _stats(
        sums[mask].droplevel("segment"),
        sizes[mask].droplevel("segment"),
    )


def _stats(sums: pd.DataFrame, sizes: pd.Series) -> dict[str, Any]:
    """Rates, intervals and test for one set of per-group sums (index: group)."""

    def count(group: str, col: str = "responded") -> int:
        return int(sums[col].get(group, 0)) if col in sums.columns else 0

    def rate(k: float, n: int) -> float | None:
        return k / n if n else None

    nt, nc = int(sizes.get("treatment", 0)), int(sizes.get("control", 0))
    kt, kc = count("treatment"), count("control")
    rt, rc = rate(kt, nt), rate(kc, nc)
    uplift = rt - rc if rt is not None and rc is not None else None
    test = two_proportion_test(kt, nt, kc, nc)
    p_value, test_name = test if test is not None else (None, None)
    flag = None
    if p_value is not None and p_value < ALPHA and uplift is not None and uplift != 0:
        flag = "helps" if uplift > 0 else "hurts"

    out: dict[str, Any] = {
        "treatment_n": nt,
        "treatment_responders": kt,
        "control_n": nc,
        "control_responders": kc,
        "treatment_rate": rt,
        "control_rate": rc,
        "treatment_rate_ci": _listed(wilson_interval(kt, nt)),
        "control_rate_ci": _listed(wilson_interval(kc, nc)),
        "uplift": uplift,
        "uplift_ci": _listed(newcombe_interval(kt, nt, kc, nc)),
        "p_value": p_value,
        "test": test_name,
        "flag": flag,
    }
    sizes_by_group = {"treatment": nt, "control": nc}
    for group, n in sizes_by_group.items():
        total = float(sums["revenue"].get(group, 0.0)) if "revenue" in sums.columns else None
        out[f"revenue_per_customer_{group}"] = None if total is None else rate(total, n)
    for col, key in (("opened", "open_rate"), ("clicked", "click_rate")):
        for group, n in sizes_by_group.items():
            present = col in sums.columns
            out[f"{group}_{key}"] = rate(count(group, col), n) if present else None
    return out


def _listed(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [float(interval[0]), float(interval[1])]
