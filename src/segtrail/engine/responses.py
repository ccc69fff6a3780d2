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

Arms. A campaign may have any number of arms: the ``group`` column names each customer's
arm, and one of them is the control (default "control"), which got nothing. Every other
arm is compared with the control, per segment and overall, and listed under ``arms``
(control first, then the arms in alphabetical order) with the statistics above, plus:

- ``p_adjusted``: Holm's step-down adjustment over every arm-vs-control comparison of the
  per-segment entries together (arms x segments, the "not in this version" entry included),
  and separately over the arms of ``overall``; ``flag`` of an arm uses the adjusted p;
- with a ``revenue`` column (missing counts as 0): the mean revenue per customer of each arm
  with a t interval, its difference from the control with Welch's interval and Welch's
  t-test p-value;
- ``interaction``: whether the uplift differs between segments, as one likelihood-ratio test
  of a logistic model with segment x arm against segment + arm (matched customers only).

The top-level keys of a two-arm campaign ("treatment" vs "control") are unchanged; with more
arms, ``treatment_*`` pools every arm that is not the control.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from segtrail.engine.features import UNREADABLE_EXAMPLES, read_numbers
from segtrail.engine.value_words import not_values
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
    *,
    control: str = "control",
    arms: list[str] | None = None,
    segments: list[int] | None = None,
) -> dict[str, Any]:
    """Response statistics per segment and overall.

    Every segment in ``labels_by_customer`` gets an entry, even if no campaign customer is
    in it (its counts are 0 and its rates None). Campaign customers the version does not
    know are counted in ``"unmatched"`` and, when there are any, reported as one more entry
    with ``segment`` None and name "not in this version"; ``"overall"`` covers everyone.
    Revenue per customer is total revenue over the group size (missing revenue counts as 0);
    open and click rates are reported when those columns exist, else None.
    ``arms``: every arm name, the control included (default: "treatment" and "control");
    a group outside them is refused. Each entry's ``arms`` list compares each arm with
    ``control``.
    ``segments``: every segment label of the version, when ``labels_by_customer`` holds
    only some of its customers (the campaign's, looked up by the Spark engine); by default
    the labels found in ``labels_by_customer``.
    """
    arm_names = _arm_order(list(arms) if arms is not None else list(GROUPS), control)
    _check_frame(frame, arm_names)
    if labels_by_customer.index.has_duplicates:
        raise InputError("segment labels list a customer more than once")
    names = names or {}
    groups = frame["group"].astype(str).to_numpy()

    seg = labels_by_customer.reindex(frame["customer_id"].to_numpy())
    matched = seg.notna().to_numpy()
    key = np.where(matched, seg.to_numpy(dtype="float64", na_value=np.nan), np.nan)
    cols = _numeric_columns(frame)
    data = pd.DataFrame({**cols, "segment": key, "arm": groups})
    # The legacy two-group view: every arm that is not the control counts as "treatment".
    data["group"] = np.where(groups == control, "control", "treatment")
    sums = data.drop(columns="arm").groupby(["segment", "group"], dropna=False).sum()
    sizes = data.groupby(["segment", "group"], dropna=False).size()
    by_arm = _arm_table(data, ["segment", "arm"])

    if segments is None:
        segments = sorted(int(x) for x in pd.unique(labels_by_customer.dropna().to_numpy()))
    labels = sorted(segments)
    segments = []
    for label in labels:
        entry = _entry(sums, sizes, float(label))
        arm_stats = _arm_stats(_select(by_arm, float(label)), arm_names, control)
        segments.append({"segment": label, "name": names.get(label), **entry, "arms": arm_stats})
    unmatched = int((~matched).sum())
    if unmatched:
        entry = _entry(sums, sizes, np.nan)
        arm_stats = _arm_stats(_select(by_arm, np.nan), arm_names, control)
        segments.append({"segment": None, "name": UNMATCHED_NAME, **entry, "arms": arm_stats})
    holm_in_place([a for s in segments for a in s["arms"]])

    total_sums = sums.groupby(level="group").sum()
    total_sizes = sizes.groupby(level="group").sum()
    overall_arms = _arm_stats(_arm_table(data, ["arm"]), arm_names, control)
    holm_in_place(overall_arms)
    overall = {
        "segment": None,
        "name": "all customers",
        **_stats(total_sums, total_sizes),
        "arms": overall_arms,
    }
    cells = by_arm.loc[by_arm.index.get_level_values("segment").notna()]
    interaction = interaction_test(
        cells.index.get_level_values("segment").to_numpy(),
        cells.index.get_level_values("arm").to_numpy(),
        cells["responders"].to_numpy(),
        cells["n"].to_numpy(),
    )
    return {
        "segments": segments,
        "overall": overall,
        "unmatched": unmatched,
        "control": control,
        "interaction": interaction,
    }


def _arm_order(arms: list[str], control: str) -> list[str]:
    """The control first, then the other arms alphabetically."""
    return [control, *sorted(a for a in set(arms) if a != control)]


def _arm_table(data: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """n, responders and (with revenue) revenue sum and variance per key."""
    grouped = data.groupby(keys, dropna=False)
    out = pd.DataFrame({"n": grouped.size(), "responders": grouped["responded"].sum()})
    if "revenue" in data.columns:
        out["revenue_sum"] = grouped["revenue"].sum()
        out["revenue_var"] = grouped["revenue"].var(ddof=1)
    return out


def _select(by_arm: pd.DataFrame, label: float) -> pd.DataFrame:
    level = by_arm.index.get_level_values("segment")
    mask = level.isna() if np.isnan(label) else level == label
    return by_arm[mask].droplevel("segment")


def _arm_stats(table: pd.DataFrame, arm_names: list[str], control: str) -> list[dict[str, Any]]:
    """One item per arm (control first): counts, rate, and the comparison with control."""

    def cell(arm: str) -> tuple[int, int]:
        if arm not in table.index:
            return 0, 0
        return int(table.at[arm, "n"]), int(table.at[arm, "responders"])

    has_revenue = "revenue_sum" in table.columns
    nc, kc = cell(control)
    out = []
    for arm in arm_names:
        n, k = cell(arm)
        is_control = arm == control
        item: dict[str, Any] = {
            "arm": arm,
            "control": is_control,
            "n": n,
            "responders": k,
            "rate": k / n if n else None,
            "rate_ci": _listed(wilson_interval(k, n)),
            "uplift": None,
            "uplift_ci": None,
            "p_value": None,
            "test": None,
            "p_adjusted": None,
            "flag": None,
        }
        if not is_control and n and nc:
            item["uplift"] = k / n - kc / nc
            item["uplift_ci"] = _listed(newcombe_interval(k, n, kc, nc))
            item["p_value"], item["test"] = two_proportion_test(k, n, kc, nc)
        if has_revenue:
            item.update(_revenue(table, arm, control, is_control))
        out.append(item)
    return out


def _revenue(table: pd.DataFrame, arm: str, control: str, is_control: bool) -> dict[str, Any]:
    def moments(name: str) -> tuple[int, float, float] | None:
        if name not in table.index or not table.at[name, "n"]:
            return None
        n = int(table.at[name, "n"])
        variance = table.at[name, "revenue_var"]
        return n, float(table.at[name, "revenue_sum"]) / n, float(variance) if n > 1 else np.nan

    out: dict[str, Any] = {
        "revenue_mean": None,
        "revenue_ci": None,
        "revenue_uplift": None,
        "revenue_uplift_ci": None,
        "revenue_p_value": None,
    }
    mine = moments(arm)
    if mine is None:
        return out
    n, mean, variance = mine
    out["revenue_mean"] = mean
    if n > 1:
        half = stats.t.ppf(1 - ALPHA / 2, n - 1) * math.sqrt(variance / n)
        out["revenue_ci"] = [mean - half, mean + half]
    theirs = moments(control)
    if is_control or theirs is None:
        return out
    out["revenue_uplift"] = mean - theirs[1]
    welch = welch_test(mine, theirs)
    if welch is not None:
        out["revenue_uplift_ci"], out["revenue_p_value"] = welch
    return out


def welch_test(
    a: tuple[int, float, float], b: tuple[int, float, float]
) -> tuple[list[float], float] | None:
    """Welch's two-sample t-test from (n, mean, variance) of each group: the 95% interval
    of mean(a) - mean(b) and the two-sided p-value; None when it is undefined (a group of
    one, or no variance in either group)."""
    (na, ma, va), (nb, mb, vb) = a, b
    if na < 2 or nb < 2:
        return None
    sa, sb = va / na, vb / nb
    se2 = sa + sb
    if not se2 > 0:
        return None
    df = se2**2 / (sa**2 / (na - 1) + sb**2 / (nb - 1))
    diff = ma - mb
    se = math.sqrt(se2)
    half = stats.t.ppf(1 - ALPHA / 2, df) * se
    p = 2 * stats.t.sf(abs(diff / se), df)
    return [diff - half, diff + half], float(p)


def holm_in_place(items: list[dict[str, Any]]) -> None:
    """Set ``p_adjusted`` (Holm step-down) and ``flag`` on arm items that have a p-value."""
    tested = [i for i in items if i["p_value"] is not None]
    for item, adjusted in zip(tested, holm([i["p_value"] for i in tested]), strict=True):
        item["p_adjusted"] = adjusted
        if adjusted < ALPHA and item["uplift"]:
            item["flag"] = "helps" if item["uplift"] > 0 else "hurts"


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return [float(x) for x in adjusted]


def interaction_test(
    segment: np.ndarray, arm: np.ndarray, responders: np.ndarray, n: np.ndarray
) -> dict[str, Any] | None:
    """Does the uplift differ between segments? Likelihood-ratio test of the logistic model
    response ~ segment * arm against response ~ segment + arm, on the (segment, arm) cells.
    The interaction model fits every cell exactly, so only the additive one needs fitting
    (Newton's method on the binomial log-likelihood). None without anything to test."""
    keep = n > 0
    segment, arm = segment[keep], arm[keep]
    k, n = responders[keep].astype(float), n[keep].astype(float)
    segments, arms = pd.unique(segment), pd.unique(arm)
    if len(segments) < 2 or len(arms) < 2:
        return None
    columns = [np.ones(len(n))]
    columns += [(segment == s).astype(float) for s in segments[1:]]
    columns += [(arm == a).astype(float) for a in arms[1:]]
    x = np.column_stack(columns)
    rank = np.linalg.matrix_rank(x)
    df = len(n) - rank
    if df <= 0:
        return None
    fitted = _fit_logistic(x, k, n)
    deviance = 2 * (_binomial_loglik(k, n, k / n) - _binomial_loglik(k, n, fitted))
    deviance = max(float(deviance), 0.0)
    return {
        "test": "likelihood ratio, logistic segment x arm",
        "chi2": deviance,
        "df": int(df),
        "p_value": float(stats.chi2.sf(deviance, df)),
    }


def _binomial_loglik(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        yes = np.where(k > 0, k * np.log(p), 0.0)
        no = np.where(n - k > 0, (n - k) * np.log1p(-p), 0.0)
    return float(np.sum(yes + no))


def _fit_logistic(x: np.ndarray, k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Fitted probabilities of a binomial logistic model (Newton / IRLS, least-squares steps
    so that a rank-deficient design still converges)."""
    beta = np.zeros(x.shape[1])
    previous = -np.inf
    for _ in range(100):
        eta = np.clip(x @ beta, -30, 30)
        p = 1 / (1 + np.exp(-eta))
        w = n * p * (1 - p)
        gradient = x.T @ (k - n * p)
        hessian = x.T @ (x * w[:, None])
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        beta = beta + step
        current = _binomial_loglik(k, n, p)
        if abs(current - previous) < 1e-12 * (1 + abs(current)):
            break
        previous = current
    eta = np.clip(x @ beta, -30, 30)
    return 1 / (1 + np.exp(-eta))


def _check_frame(frame: pd.DataFrame, arms: list[str]) -> None:
    missing = [c for c in ("customer_id", "group", "responded") if c not in frame.columns]
    if missing:
        raise InputError(f"campaign data has no column {', '.join(missing)}")
    bad_group = ~frame["group"].isin(arms)
    if bad_group.any():
        value = frame["group"][bad_group].iloc[0]
        raise InputError(
            f"campaign group must be one of the arms ({', '.join(map(repr, arms))}), not {value!r}"
        )
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
        revenue, unread = read_numbers(frame["revenue"])
        if unread is not None:
            raise InputError(f"campaign column revenue: {not_numbers(frame['revenue'], unread)}")
        # a customer without a revenue figure bought nothing: 0, as in every total
        cols["revenue"] = np.nan_to_num(revenue, nan=0.0)
    return cols


def not_numbers(values: pd.Series, unread: np.ndarray) -> str:
    """The values of ``values`` that ``read_numbers`` did not read (``unread``), counted and
    the first few named, as in: 3 values are not numbers (e.g. 'soon', 'n/a', 'tbd')."""
    shown = pd.unique(values[unread].astype(str))[:UNREADABLE_EXAMPLES]
    return not_values(int(np.count_nonzero(unread)), list(shown))


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
