"""Multi-arm campaign statistics of engine/responses.py, against independent references:
statsmodels (Wilson, Newcombe, z-test, Holm, binomial GLM deviance) and scipy (Fisher, t and
Welch intervals and p-values)."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from segtrail.engine.responses import (
    holm,
    holm_in_place,
    interaction_test,
    segment_responses,
    welch_test,
)
from segtrail.errors import InputError

# (segment or None for customers the version does not know, arm): (n, responders)
CELLS = {
    (0, "control"): (40, 8),
    (0, "a"): (40, 30),
    (0, "b"): (3, 0),
    (1, "control"): (30, 6),
    (1, "a"): (1, 1),
    (2, "control"): (25, 24),
    (2, "a"): (25, 20),
    (2, "b"): (25, 2),
    (None, "control"): (6, 1),
    (None, "a"): (6, 4),
    (None, "b"): (2, 1),
}
ARMS = ["b", "control", "a", "z"]  # "z" has nobody; the order given does not matter
ORDER = ["control", "a", "b", "z"]


def three_arm_campaign(seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    rows, labels = [], {}
    cid = 0
    for (segment, arm), (n, k) in CELLS.items():
        for i in range(n):
            revenue = round(float(rng.exponential(20.0)) * (1 + i % 3), 2)
            rows.append((cid, arm, int(i < k), None if i % 7 == 3 else revenue))
            if segment is not None:
                labels[cid] = segment
            cid += 1
    frame = pd.DataFrame(rows, columns=["customer_id", "group", "responded", "revenue"])
    return frame, pd.Series(labels)


def close(actual, expected, tol: float = 1e-9) -> None:
    if expected is None:
        assert actual is None
    elif isinstance(expected, str):
        assert actual == expected
    else:
        assert actual == pytest.approx(expected, rel=tol, abs=tol)


def reference_item(rows: pd.DataFrame, control_rows: pd.DataFrame, arm: str) -> dict:
    """What one arm's item must say, from statsmodels and scipy."""
    n, k = len(rows), int(rows["responded"].sum())
    nc, kc = len(control_rows), int(control_rows["responded"].sum())
    revenue = rows["revenue"].fillna(0.0).to_numpy(dtype=float)
    theirs = control_rows["revenue"].fillna(0.0).to_numpy(dtype=float)
    item = {
        "arm": arm,
        "control": arm == "control",
        "n": n,
        "responders": k,
        "rate": k / n if n else None,
        "rate_ci": list(proportion_confint(k, n, method="wilson")) if n else None,
        "uplift": None,
        "uplift_ci": None,
        "p_value": None,
        "test": None,
        "revenue_mean": float(revenue.mean()) if n else None,
        "revenue_ci": None,
        "revenue_uplift": None,
        "revenue_uplift_ci": None,
        "revenue_p_value": None,
    }
    if n > 1:
        ci = stats.ttest_1samp(revenue, 0.0).confidence_interval(0.95)
        item["revenue_ci"] = [ci.low, ci.high]
    if arm != "control" and n and nc:
        item["uplift"] = k / n - kc / nc
        item["uplift_ci"] = list(confint_proportions_2indep(k, n, kc, nc, method="newcomb"))
        expected_min = min(n, nc) * min(k + kc, n + nc - k - kc) / (n + nc)
        if expected_min < 5:
            item["p_value"] = stats.fisher_exact([[k, n - k], [kc, nc - kc]]).pvalue
            item["test"] = "Fisher exact"
        else:
            item["p_value"] = proportions_ztest([k, kc], [n, nc])[1]
            item["test"] = "two-proportion z"
        item["revenue_uplift"] = float(revenue.mean() - theirs.mean())
        if n > 1 and nc > 1:
            welch = stats.ttest_ind(revenue, theirs, equal_var=False)
            ci = welch.confidence_interval(0.95)
            item["revenue_uplift_ci"] = [ci.low, ci.high]
            item["revenue_p_value"] = welch.pvalue
    return item


def check_arms(items: list[dict], rows: pd.DataFrame) -> None:
    assert [i["arm"] for i in items] == ORDER
    control_rows = rows[rows["group"] == "control"]
    for item in items:
        expected = reference_item(rows[rows["group"] == item["arm"]], control_rows, item["arm"])
        for key, value in expected.items():
            close(item[key], value)


def check_holm(items: list[dict]) -> None:
    tested = [i for i in items if i["p_value"] is not None]
    adjusted = multipletests([i["p_value"] for i in tested], method="holm")[1]
    for item, p in zip(tested, adjusted, strict=True):
        close(item["p_adjusted"], float(p))
        flag = None
        if p < 0.05 and item["uplift"] != 0:
            flag = "helps" if item["uplift"] > 0 else "hurts"
        assert item["flag"] == flag
    for item in items:
        if item["p_value"] is None:
            assert item["p_adjusted"] is None
            assert item["flag"] is None


def test_every_arm_of_every_segment_against_references():
    frame, labels = three_arm_campaign()
    result = segment_responses(frame, labels, {0: "zero"}, arms=ARMS)
    assert result["control"] == "control"
    segment_of = frame["customer_id"].map(labels)
    entries = result["segments"]
    assert [e["segment"] for e in entries] == [0, 1, 2, None]
    assert entries[-1]["name"] == "not in this version"
    for entry in entries:
        mask = segment_of.isna() if entry["segment"] is None else segment_of == entry["segment"]
        check_arms(entry["arms"], frame[mask.to_numpy()])
    check_arms(result["overall"]["arms"], frame)
    check_holm([a for e in entries for a in e["arms"]])
    check_holm(result["overall"]["arms"])
    flags = {(e["segment"], a["arm"]): a["flag"] for e in entries for a in e["arms"]}
    assert flags[(0, "a")] == "helps"
    assert flags[(2, "b")] == "hurts"
    # an arm nobody of a segment was in: counted as 0, with nothing to compare
    missing = entries[1]["arms"][2]
    assert (missing["arm"], missing["n"], missing["responders"]) == ("b", 0, 0)
    assert missing["rate"] is None and missing["rate_ci"] is None


def test_interaction_against_a_binomial_glm():
    frame, labels = three_arm_campaign()
    result = segment_responses(frame, labels, arms=ARMS)
    cells = [(s, a, n, k) for (s, a), (n, k) in CELLS.items() if s is not None]
    expected = glm_reference(cells)
    got = result["interaction"]
    assert got["test"] == "likelihood ratio, logistic segment x arm"
    close(got["chi2"], expected["chi2"], 1e-6)
    assert got["df"] == expected["df"] == 3  # 8 cells, 5 parameters
    close(got["p_value"], expected["p_value"], 1e-6)


def test_a_campaign_without_revenue_has_no_revenue_figures():
    frame, labels = three_arm_campaign()
    result = segment_responses(frame.drop(columns="revenue"), labels, arms=ARMS)
    for item in result["overall"]["arms"]:
        assert not any(key.startswith("revenue") for key in item)
    assert result["overall"]["arms"][1]["n"] == 72


def test_the_default_arms_and_a_control_of_another_name():
    frame, labels = three_arm_campaign()
    two = frame[frame["group"].isin(["control", "a"])].replace({"group": {"a": "treatment"}})
    result = segment_responses(two, labels)
    assert [a["arm"] for a in result["overall"]["arms"]] == ["control", "treatment"]
    assert result["overall"]["arms"][1]["responders"] == 55
    renamed = frame.replace({"group": {"control": "base"}})
    result = segment_responses(renamed, labels, control="base", arms=["base", "a", "b"])
    assert result["control"] == "base"
    overall = result["overall"]["arms"]
    assert [(a["arm"], a["control"]) for a in overall] == [
        ("base", True),
        ("a", False),
        ("b", False),
    ]
    assert overall[0]["uplift"] is None and overall[0]["revenue_uplift"] is None
    close(overall[1]["uplift"], 55 / 72 - 39 / 101)
    assert [a["n"] for a in result["segments"][3]["arms"]] == [6, 6, 2]


def glm_reference(cells: list[tuple]) -> dict:
    cells = [c for c in cells if c[2] > 0]
    table = pd.DataFrame(cells, columns=["segment", "arm", "n", "k"])
    x = pd.get_dummies(table[["segment", "arm"]].astype(str), drop_first=True, dtype=float)
    x = sm.add_constant(x, has_constant="add")
    endog = np.column_stack([table["k"], table["n"] - table["k"]])
    fit = sm.GLM(endog, x, family=sm.families.Binomial()).fit()
    df = round(fit.df_resid)
    return {"chi2": fit.deviance, "df": df, "p_value": float(stats.chi2.sf(fit.deviance, df))}


def run_interaction(cells: list[tuple]):
    segment, arm, n, k = (np.array(c) for c in zip(*cells, strict=True))
    return interaction_test(segment, arm, k, n)


@pytest.mark.parametrize(
    "cells",
    [
        # 2 x 2, every cell reached
        [(0, "c", 50, 10), (0, "t", 50, 30), (1, "c", 40, 20), (1, "t", 40, 12)],
        # 3 x 3 with an empty cell, a cell of one customer, all and none responding
        [
            (0, "c", 30, 5),
            (0, "t", 30, 12),
            (0, "u", 0, 0),
            (1, "c", 20, 20),
            (1, "t", 1, 1),
            (1, "u", 15, 14),
            (2, "c", 10, 0),
            (2, "t", 25, 3),
            (2, "u", 12, 4),
        ],
        # segment labels in no particular order, arms first seen in another order
        [
            (5, "t", 60, 40),
            (5, "c", 60, 15),
            (1, "c", 30, 2),
            (1, "t", 30, 9),
            (3, "t", 20, 19),
            (3, "c", 20, 1),
        ],
    ],
)
def test_interaction_test_matches_a_binomial_glm(cells):
    expected = glm_reference(cells)
    got = run_interaction(cells)
    close(got["chi2"], expected["chi2"], 1e-6)
    assert got["df"] == expected["df"]
    close(got["p_value"], expected["p_value"], 1e-6)


def test_interaction_without_uplift_differences_is_zero():
    """Rates of an exactly additive logistic model: the deviance is 0 and p is 1."""
    # odds 1/3 -> 1 in segment 0 and 1 -> 3 in segment 1: the arm triples the odds in both
    cells = [(0, "c", 40, 10), (0, "t", 40, 20), (1, "c", 30, 15), (1, "t", 40, 30)]
    got = run_interaction(cells)
    assert got["chi2"] == pytest.approx(0.0, abs=1e-9)
    assert got["p_value"] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    "cells",
    [
        [(0, "c", 40, 10), (0, "t", 40, 20)],  # one segment
        [(0, "c", 40, 10), (1, "c", 40, 20)],  # one arm
        [(0, "c", 40, 10), (0, "t", 40, 20), (1, "c", 30, 5), (1, "t", 0, 0)],  # df 0
        [(0, "c", 40, 10), (0, "t", 0, 0), (1, "c", 30, 5), (1, "t", 0, 0)],  # one arm reached
    ],
)
def test_interaction_needs_something_to_test(cells):
    assert run_interaction(cells) is None


def test_interaction_on_cells_where_nobody_or_everyone_responded_warns_nothing():
    """The saturated model's log(0) for such cells is no RuntimeWarning on the user's
    terminal."""
    cells = [(0, "c", 20, 0), (0, "t", 20, 3), (1, "c", 10, 10), (1, "t", 12, 9)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = run_interaction(cells)
    close(got["chi2"], glm_reference(cells)["chi2"], 1e-6)


def moments(values: list[float]) -> tuple[int, float, float]:
    array = np.asarray(values, dtype=float)
    return len(array), float(array.mean()), float(array.var(ddof=1)) if len(array) > 1 else np.nan


samples = st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=2, max_size=30)


@given(a=samples, b=samples)
@settings(max_examples=200, deadline=None)
def test_welch_matches_scipy(a, b):
    ma, mb = moments(a), moments(b)
    assume(ma[2] + mb[2] > 1e-6)
    reference = stats.ttest_ind(a, b, equal_var=False)
    ci = reference.confidence_interval(0.95)
    interval, p = welch_test(ma, mb)
    assert interval == pytest.approx([ci.low, ci.high], rel=1e-7, abs=1e-7)
    assert p == pytest.approx(reference.pvalue, rel=1e-7, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([0.1, 0.3], [0.2, 0.25, 0.21]),  # groups of two, small variances
        ([1.0, 2.0, 4.0, 8.0], [5.0, 5.0, 5.0]),  # no variance in one group
        ([3.0, 3.0, 3.0, 3.5], [1.0, 9.0, 30.0, 2.0, 0.0, 7.0]),
    ],
)
def test_welch_small_cases(a, b):
    reference = stats.ttest_ind(a, b, equal_var=False)
    ci = reference.confidence_interval(0.95)
    interval, p = welch_test(moments(a), moments(b))
    assert interval == pytest.approx([ci.low, ci.high], rel=1e-9)
    assert p == pytest.approx(reference.pvalue, rel=1e-9)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([5.0], [1.0, 2.0, 3.0]),  # a group of one
        ([1.0, 2.0, 3.0], [5.0]),
        ([2.0, 2.0], [7.0, 7.0, 7.0]),  # no variance anywhere
    ],
)
def test_welch_is_undefined(a, b):
    assert welch_test(moments(a), moments(b)) is None


def test_welch_of_a_group_of_one_is_undefined_whatever_its_variance():
    assert welch_test((1, 5.0, 0.0), moments([1.0, 2.0, 4.0])) is None
    assert welch_test(moments([1.0, 2.0, 4.0]), (1, 5.0, 0.0)) is None


HOLM_CASES = [
    [0.01],
    [0.04, 0.01, 0.03, 0.02],
    [0.02, 0.02, 0.5, 0.001, 0.02],  # ties
    [0.9, 0.8, 0.7],
    [0.0, 0.3, 0.0, 1.0],
    *(
        list(np.random.default_rng(seed).uniform(0, 0.2, size))
        for seed, size in enumerate([3, 6, 12])
    ),
]


@pytest.mark.parametrize("p_values", HOLM_CASES)
def test_holm_matches_statsmodels(p_values):
    expected = multipletests(p_values, method="holm")[1]
    assert holm(p_values) == pytest.approx(list(expected), abs=1e-12)


def test_holm_caps_at_one_and_keeps_the_order():
    assert holm([0.6, 0.01, 0.7]) == pytest.approx([1.0, 0.03, 1.0])
    assert holm([0.4, 0.01, 0.3]) == pytest.approx([0.6, 0.03, 0.6])
    assert holm([0.01]) == [0.01]


def arm_item(p_value, uplift):
    return {"p_value": p_value, "uplift": uplift, "p_adjusted": None, "flag": None}


def test_holm_in_place_flags_on_the_adjusted_p():
    items = [
        arm_item(0.001, 0.2),  # 0.004: helps
        arm_item(0.002, -0.1),  # 0.006: hurts
        arm_item(None, None),  # nothing to test: left alone
        arm_item(0.02, 0.3),  # 0.04: helps
        arm_item(0.03, 0.1),  # 0.04 (step-down keeps it): helps
        arm_item(0.0001, 0.0),  # no uplift: no flag
    ]
    holm_in_place(items)
    assert [i["p_adjusted"] for i in items] == pytest.approx(
        [0.004, 0.006, None, 0.04, 0.04, 0.0005]
    )
    assert [i["flag"] for i in items] == ["helps", "hurts", None, "helps", "helps", None]
    items = [arm_item(0.03, 0.1), arm_item(0.02, -0.3), arm_item(0.5, 0.2)]
    holm_in_place(items)  # 0.06, 0.06, 0.5: nothing significant after adjustment
    assert [i["flag"] for i in items] == [None, None, None]
    assert [i["p_adjusted"] for i in items] == pytest.approx([0.06, 0.06, 0.5])
    items = [arm_item(0.025, 0.1), arm_item(0.025, -0.1)]
    holm_in_place(items)  # adjusted to exactly 0.05: not below it
    assert [(i["p_adjusted"], i["flag"]) for i in items] == [(0.05, None), (0.05, None)]


def test_revenue_of_one_customer_and_of_an_empty_arm():
    frame = pd.DataFrame(
        {
            "customer_id": range(6),
            "group": ["control", "control", "control", "a", "b", "b"],
            "responded": [0, 1, 0, 1, 0, 1],
            "revenue": [10.0, 0.0, 20.0, 7.0, 1.0, 3.0],
        }
    )
    labels = pd.Series([0] * 6, index=range(6))
    result = segment_responses(frame, labels, arms=["control", "a", "b", "c"])
    control, a, b, c = result["segments"][0]["arms"]
    close(control["revenue_mean"], 10.0)
    half = stats.t.ppf(0.975, 2) * math.sqrt(100.0 / 3)
    close(control["revenue_ci"], [10.0 - half, 10.0 + half])
    close(a["revenue_mean"], 7.0)
    assert a["revenue_ci"] is None
    close(a["revenue_uplift"], -3.0)
    assert a["revenue_uplift_ci"] is None and a["revenue_p_value"] is None
    close(b["revenue_uplift"], -8.0)
    welch = stats.ttest_ind([1.0, 3.0], [10.0, 0.0, 20.0], equal_var=False)
    close(b["revenue_p_value"], welch.pvalue)
    assert c["n"] == 0 and c["responders"] == 0
    for key in ("revenue_mean", "revenue_ci", "revenue_uplift", "revenue_p_value"):
        assert c[key] is None


def test_a_customer_id_written_as_text_listed_twice_is_named():
    frame = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c2", "c3"],
            "group": ["control", "treatment", "control", "treatment"],
            "responded": [0, 1, 0, 1],
        }
    )
    labels = pd.Series([0, 0, 1], index=["c1", "c2", "c3"])
    with pytest.raises(InputError) as duplicated:
        segment_responses(frame, labels)
    assert str(duplicated.value) == "campaign data lists customer 'c2' more than once"
