"""Campaigns with several arms: every arm against the control, per segment and overall,
checked against an independent computation (pandas counts; statsmodels and scipy for every
interval, test, Holm adjustment, Welch test and the segment x arm likelihood-ratio test).

Three planted groups far apart on one feature, so k-means with k=3 finds them exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)
from threadpoolctl import threadpool_limits

from segtrail.compute import pipeline
from segtrail.errors import InputError
from segtrail.services.workspace import Workspace

GROUP_SIZES = (400, 400, 300)
ARMS = ("email-a", "email-b", "holdout")
CONTROL = "holdout"
# Per planted group, per arm: (n, responders).
PLAN = {
    0: {"holdout": (100, 10), "email-a": (120, 30), "email-b": (120, 14)},
    1: {"holdout": (100, 20), "email-a": (120, 20), "email-b": (120, 45)},
    2: {"holdout": (8, 1), "email-a": (130, 20), "email-b": (130, 21)},  # Fisher for tiny control
}
UNKNOWN = {"email-a": (3, 2), "holdout": (2, 0)}  # customers no version knows
TOL = 1e-9


@pytest.fixture(scope="module", autouse=True)
def _fast_segmentation() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as m, threadpool_limits(1):
        m.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
        yield


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, pd.DataFrame, Path]:
    root = tmp_path_factory.mktemp("arms")
    rng = np.random.default_rng(1)
    group = np.repeat(np.arange(len(GROUP_SIZES)), GROUP_SIZES)
    customers = pd.DataFrame(
        {
            "customer_id": [f"K{i:05d}" for i in range(len(group))],
            "x": np.array([0.0, 100.0, 200.0])[group] + rng.normal(0, 1, len(group)),
        }
    )
    customers.to_csv(root / "customers.csv", index=False)
    ws = Workspace.init(root / "ws", author="tester")
    ws.ingest(root / "customers.csv", "customer_id")
    ws.segment("customers", "marketing", "three groups on x", k=3, features=["x"])
    ws.strategy_add("spring", "Spring offer", ["email"])
    ws.plan_map("spring", "marketing@1", "all")

    parts = []
    for g, arms in PLAN.items():
        ids = iter(customers.loc[group == g, "customer_id"])
        for arm, (n, k) in arms.items():
            chosen = [next(ids) for _ in range(n)]
            parts.append(
                pd.DataFrame(
                    {"customer_id": chosen, "group": arm, "responded": [1] * k + [0] * (n - k)}
                )
            )
    for i, (arm, (n, k)) in enumerate(UNKNOWN.items()):
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"X{i}{j}" for j in range(n)],
                    "group": arm,
                    "responded": [1] * k + [0] * (n - k),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    revenue = np.round(rng.gamma(2.0, 15.0, len(frame)), 2)
    frame["revenue"] = np.where(frame["responded"] == 1, revenue, 0.0)
    frame = frame.sample(frac=1.0, random_state=2).reset_index(drop=True)
    path = root / "wave.csv"
    frame.to_csv(path, index=False)
    return ws, frame, path


@pytest.fixture(scope="module")
def report(setup: tuple[Workspace, pd.DataFrame, Path]) -> dict:
    ws, _, path = setup
    imported = ws.campaign_import(path, "wave", "spring", control=CONTROL)
    assert imported["arms"] == sorted(ARMS) and imported["control"] == CONTROL
    assert imported["groups"]["email-a"]["n"] == sum(p["email-a"][0] for p in PLAN.values()) + 3
    return ws.campaign_report("wave")


def expected_p(k1: int, n1: int, k2: int, n2: int) -> tuple[float, str]:
    yes = k1 + k2
    if min(n1, n2) * min(yes, n1 + n2 - yes) / (n1 + n2) < 5:
        return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1]), "Fisher exact"
    return float(proportions_ztest([k1, k2], [n1, n2])[1]), "two-proportion z"


def check_arms(items: list[dict], rows: pd.DataFrame) -> list[float]:
    """Every arm item against statsmodels/scipy on `rows`; returns the raw p-values."""
    assert [i["arm"] for i in items] == [CONTROL, "email-a", "email-b"]
    control = rows[rows["group"] == CONTROL]
    nc, kc = len(control), int(control["responded"].sum())
    p_values = []
    for item in items:
        part = rows[rows["group"] == item["arm"]]
        n, k = len(part), int(part["responded"].sum())
        assert (item["n"], item["responders"]) == (n, k)
        if n == 0:  # an arm nobody in this segment got
            assert item["rate"] is None and item["rate_ci"] is None and item["uplift"] is None
            assert item["p_value"] is None and item["revenue_mean"] is None
            continue
        assert item["rate"] == pytest.approx(k / n, abs=TOL)
        assert item["rate_ci"] == pytest.approx(
            list(proportion_confint(k, n, method="wilson")), abs=TOL
        )
        mean = part["revenue"].mean()
        assert item["revenue_mean"] == pytest.approx(mean, rel=1e-12)
        sem = stats.sem(part["revenue"])
        if sem > 0:
            low, high = stats.t.interval(0.95, n - 1, loc=mean, scale=sem)
        else:  # no spread: scipy says nan, the interval is the single value
            low = high = mean
        assert item["revenue_ci"] == pytest.approx([low, high], rel=1e-9)
        if item["control"]:
            assert item["arm"] == CONTROL
            assert item["uplift"] is None and item["p_value"] is None
            assert item["p_adjusted"] is None and item["revenue_p_value"] is None
            continue
        assert item["uplift"] == pytest.approx(k / n - kc / nc, abs=TOL)
        low, high = confint_proportions_2indep(k, n, kc, nc, method="newcomb", compare="diff")
        assert item["uplift_ci"] == pytest.approx([float(low), float(high)], abs=TOL)
        p, test = expected_p(k, n, kc, nc)
        assert item["test"] == test
        assert item["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-15)
        p_values.append(item["p_value"])
        welch = stats.ttest_ind(part["revenue"], control["revenue"], equal_var=False)
        assert item["revenue_p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
        ci = welch.confidence_interval(0.95)
        assert item["revenue_uplift_ci"] == pytest.approx([ci.low, ci.high], rel=1e-9)
        assert item["revenue_uplift"] == pytest.approx(mean - control["revenue"].mean())
    return p_values


def test_three_arms_per_segment_and_overall(
    setup: tuple[Workspace, pd.DataFrame, Path], report: dict
) -> None:
    ws, frame, _ = setup
    labels = ws.assignments("marketing@1")
    segment = frame["customer_id"].map(labels)
    assert report["control"] == CONTROL
    raw, items = [], []
    for entry in report["segments"]:
        rows = (
            frame[segment.isna()]
            if entry["segment"] is None
            else frame[segment == entry["segment"]]
        )
        raw += check_arms(entry["arms"], rows)
        items += [a for a in entry["arms"] if a["p_value"] is not None]
        # the two-group keys pool every arm that is not the control
        treated = rows[rows["group"] != CONTROL]
        assert entry["treatment_n"] == len(treated)
        assert entry["treatment_responders"] == int(treated["responded"].sum())
        assert entry["control_n"] == int((rows["group"] == CONTROL).sum())
    assert {e["segment"] for e in report["segments"]} == {*labels.unique(), None}
    # arms x segments, plus email-a in "not in this version" (nobody there got email-b)
    assert len(raw) == 2 * len(PLAN) + 1
    adjusted = multipletests(raw, method="holm")[1]
    for item, expected in zip(items, adjusted, strict=True):
        assert item["p_adjusted"] == pytest.approx(expected, rel=1e-9)
        significant = item["p_adjusted"] < 0.05
        assert item["flag"] == (
            ("helps" if item["uplift"] > 0 else "hurts") if significant else None
        )

    overall = check_arms(report["overall"]["arms"], frame)
    adjusted = multipletests(overall, method="holm")[1]
    got = [a["p_adjusted"] for a in report["overall"]["arms"] if not a["control"]]
    assert got == pytest.approx(list(adjusted), rel=1e-9)


def test_planted_effects_show(setup: tuple[Workspace, pd.DataFrame, Path], report: dict) -> None:
    ws, frame, _ = setup
    labels = ws.assignments("marketing@1")
    planted = {}
    for g in PLAN:
        first = frame["customer_id"].map(labels)[
            frame["customer_id"] == f"K{sum(GROUP_SIZES[:g]):05d}"
        ]
        planted[g] = int(first.iloc[0])
    by_label = {e["segment"]: e for e in report["segments"]}
    a0 = {a["arm"]: a for a in by_label[planted[0]]["arms"]}
    assert a0["email-a"]["flag"] == "helps" and a0["email-b"]["flag"] is None
    tiny = {a["arm"]: a for a in by_label[planted[2]]["arms"]}
    assert tiny["email-a"]["test"] == "Fisher exact"


def test_interaction_matches_statsmodels_glm(
    setup: tuple[Workspace, pd.DataFrame, Path], report: dict
) -> None:
    ws, frame, _ = setup
    segment = frame["customer_id"].map(ws.assignments("marketing@1"))
    known = frame[segment.notna()].assign(segment=segment[segment.notna()].astype(int))
    cells = known.groupby(["segment", "group"])["responded"].agg(["sum", "size"]).reset_index()
    endog = np.column_stack([cells["sum"], cells["size"] - cells["sum"]])
    fits = {}
    for formula in ("C(segment) + C(group)", "C(segment) * C(group)"):
        exog = patsy.dmatrix(formula, cells, return_type="dataframe")
        fits[formula] = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
    small, big = fits["C(segment) + C(group)"], fits["C(segment) * C(group)"]
    chi2 = small.deviance - big.deviance
    df = round(small.df_resid - big.df_resid)
    got = report["interaction"]
    assert got["df"] == df == (len(PLAN) - 1) * (len(ARMS) - 1)
    assert got["chi2"] == pytest.approx(chi2, rel=1e-6)
    assert got["p_value"] == pytest.approx(stats.chi2.sf(chi2, df), rel=1e-5)
    assert got["p_value"] < 0.001  # email-a helps in one segment, email-b in another


def test_two_arm_report_keeps_its_keys_and_adds_arms(
    setup: tuple[Workspace, pd.DataFrame, Path],
) -> None:
    ws, frame, _ = setup
    two = frame[frame["group"] != "email-b"].replace(
        {"group": {"email-a": "treatment", CONTROL: "control"}}
    )
    path = ws.root.parent / "two.csv"
    two.to_csv(path, index=False)
    imported = ws.campaign_import(path, "two", "spring")
    assert imported["arms"] == ["control", "treatment"] and imported["control"] == "control"
    report = ws.campaign_report("two")
    for entry in [*report["segments"], report["overall"]]:
        control, treatment = entry["arms"]
        assert (control["arm"], treatment["arm"]) == ("control", "treatment")
        assert (treatment["n"], treatment["responders"]) == (
            entry["treatment_n"],
            entry["treatment_responders"],
        )
        assert treatment["uplift_ci"] == entry["uplift_ci"]
        assert treatment["p_value"] == entry["p_value"]
        assert entry["revenue_per_customer_treatment"] == pytest.approx(treatment["revenue_mean"])


def test_arm_names_are_checked(setup: tuple[Workspace, pd.DataFrame, Path]) -> None:
    ws, _, path = setup
    with pytest.raises(InputError, match="control arm 'control'"):
        ws.campaign_import(path, "no-control", "spring", arms=list(ARMS))
    with pytest.raises(InputError, match="'holdout' is not one of the arms"):
        ws.campaign_import(path, "no-holdout", "spring", arms=["email-a", "email-b"])
    with pytest.raises(InputError, match="'email-b' is not one of the arms"):
        ws.campaign_import(path, "only-a", "spring", control=CONTROL, arms=["email-a"])
    with pytest.raises(InputError, match="is not 'treatment', 'control' or 'holdout'"):
        ws.campaign_import(path, "legacy", "spring")
    assert [c["campaign"] for c in ws.campaigns()] in (["wave"], ["wave", "two"])
