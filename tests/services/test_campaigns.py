"""Campaign reports per segment: counts, rates, Wilson intervals, Newcombe uplift intervals and
p-values, checked against statsmodels/scipy on campaigns whose every cell we chose.

Four planted groups of customers, far apart on one feature, so k-means with k=4 finds them
exactly; which label each group got is read back from the version's assignments.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)
from threadpoolctl import threadpool_limits

from segtrail.compute import pipeline
from segtrail.errors import NotFound, SegtrailError
from segtrail.services.workspace import Workspace

GROUP_SIZES = (420, 420, 230, 220)
# Per planted group: treatment n, treatment responders, control n, control responders.
PLAN = {
    0: (200, 60, 200, 20),  # clearly helps
    1: (200, 10, 200, 40),  # clearly hurts
    2: (200, 40, 6, 0),  # control far too small for the normal approximation: Fisher
    3: (100, 20, 100, 20),  # no effect
}
UNKNOWN = ["X1", "X2", "X3", "X4", "X5"]  # in the campaign file, not in the dataset
TOL = 1e-9


@pytest.fixture(scope="module", autouse=True)
def _fast_segmentation() -> Iterator[None]:
    """Few stability bootstraps and one BLAS/OpenMP thread: the clustering itself is not
    under test here, and spinning OpenMP threads on a busy 2-core machine cost 10x."""
    with pytest.MonkeyPatch.context() as m, threadpool_limits(1):
        m.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
        yield


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(len(GROUP_SIZES)), GROUP_SIZES)
    return pd.DataFrame(
        {
            "customer_id": [f"K{i:05d}" for i in range(len(group))],
            "x": np.array([0.0, 100.0, 200.0, 300.0])[group] + rng.normal(0, 1, len(group)),
            "y": rng.normal(0, 1, len(group)),
            "planted": group,
        }
    )


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, customers: pd.DataFrame, databases) -> Workspace:
    """marketing@1 (k=4, the planted groups), product@1 (k=2) and marketing@2 (k=3, made after
    the strategy was mapped to marketing@1); strategy `spring` mapped to marketing@1."""
    root = tmp_path_factory.mktemp("campaigns")
    customers.drop(columns="planted").to_csv(root / "customers.csv", index=False)
    workspace = Workspace.init(root / "ws", author="tester", database_url=databases.new())
    workspace.ingest(root / "customers.csv", "customer_id")
    workspace.segment("customers", "marketing", "four groups on x", k=4, features=["x"])
    workspace.segment("customers", "product", "two halves on x", k=2, features=["x"])
    workspace.strategy_add("spring", "Spring offer", ["email"])
    workspace.plan_map("spring", "marketing@1", "all")
    workspace.segment("customers", "marketing", "three groups", k=3, features=["x"])
    return workspace


@pytest.fixture(scope="module")
def label_of_group(ws: Workspace, customers: pd.DataFrame) -> dict[int, int]:
    """Planted group -> segment label of marketing@1 (asserting the mapping is one to one)."""
    labels = ws.assignments("marketing@1").reindex(customers["customer_id"]).to_numpy()
    mapping = {}
    for g in range(len(GROUP_SIZES)):
        found = set(labels[customers["planted"].to_numpy() == g])
        assert len(found) == 1, f"planted group {g} split over {found}"
        mapping[g] = int(found.pop())
    assert len(set(mapping.values())) == len(GROUP_SIZES)
    return mapping


def planned_campaign(customers: pd.DataFrame) -> pd.DataFrame:
    """The campaign of PLAN, plus the unknown customers; rows shuffled. Responders spend
    a known amount; every third treated customer opened."""
    parts = []
    for g, (tn, tk, cn, ck) in PLAN.items():
        ids = customers.loc[customers["planted"] == g, "customer_id"].to_numpy()[: tn + cn]
        responded = np.r_[np.ones(tk), np.zeros(tn - tk), np.ones(ck), np.zeros(cn - ck)]
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "group": ["treatment"] * tn + ["control"] * cn,
                    "responded": responded.astype(int),
                }
            )
        )
    parts.append(
        pd.DataFrame({"customer_id": UNKNOWN, "group": "treatment", "responded": [1, 1, 0, 0, 0]})
    )
    frame = pd.concat(parts, ignore_index=True)
    frame["revenue"] = np.where(frame["responded"] == 1, 12.5, 0.0)
    frame["opened"] = (np.arange(len(frame)) % 3 == 0).astype(int)
    return frame.sample(frac=1.0, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def campaign(ws: Workspace, customers: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    frame = planned_campaign(customers)
    path = ws.root.parent / "spring-wave.csv"
    frame.to_csv(path, index=False)
    imported = ws.campaign_import(path, "spring-wave", "spring")
    return imported, frame


def check_stats(entry: dict, tn: int, tk: int, cn: int, ck: int) -> None:
    """Every statistic of one report entry against statsmodels / scipy."""
    assert (entry["treatment_n"], entry["treatment_responders"]) == (tn, tk)
    assert (entry["control_n"], entry["control_responders"]) == (cn, ck)
    if tn:
        assert entry["treatment_rate"] == pytest.approx(tk / tn, abs=TOL)
        low, high = proportion_confint(tk, tn, alpha=0.05, method="wilson")
        assert entry["treatment_rate_ci"] == pytest.approx([low, high], abs=TOL)
    else:
        assert entry["treatment_rate"] is None and entry["treatment_rate_ci"] is None
    if cn:
        assert entry["control_rate"] == pytest.approx(ck / cn, abs=TOL)
        low, high = proportion_confint(ck, cn, alpha=0.05, method="wilson")
        assert entry["control_rate_ci"] == pytest.approx([low, high], abs=TOL)
    if not (tn and cn):
        assert entry["uplift"] is None and entry["uplift_ci"] is None
        assert entry["p_value"] is None and entry["flag"] is None
        return
    assert entry["uplift"] == pytest.approx(tk / tn - ck / cn, abs=TOL)
    low, high = confint_proportions_2indep(tk, tn, ck, cn, method="newcomb", compare="diff")
    assert entry["uplift_ci"] == pytest.approx([float(low), float(high)], abs=TOL)
    assert entry["uplift_ci"][0] <= entry["uplift"] <= entry["uplift_ci"][1]
    yes = tk + ck
    expected_min = min(tn, cn) * min(yes, tn + cn - yes) / (tn + cn)
    if expected_min < 5:
        assert entry["test"] == "Fisher exact"
        _, p = fisher_exact([[tk, tn - tk], [ck, cn - ck]])
    else:
        assert entry["test"] == "two-proportion z"
        _, p = proportions_ztest([tk, ck], [tn, cn])
    assert entry["p_value"] == pytest.approx(float(p), rel=1e-9, abs=1e-15)
    significant = entry["p_value"] < 0.05 and entry["uplift"] != 0
    expected_flag = ("helps" if entry["uplift"] > 0 else "hurts") if significant else None
    assert entry["flag"] == expected_flag


def expected_counts(frame: pd.DataFrame, labels: pd.Series) -> dict[int | None, tuple]:
    """(tn, tk, cn, ck) per segment label (None: not in the version), computed with pandas."""
    segment = frame["customer_id"].map(labels)
    out: dict[int | None, tuple] = {}
    for key in [*sorted(labels.unique()), None]:
        rows = frame[segment.isna()] if key is None else frame[segment == key]
        t, c = rows[rows["group"] == "treatment"], rows[rows["group"] == "control"]
        out[None if key is None else int(key)] = (
            len(t),
            int(t["responded"].sum()),
            len(c),
            int(c["responded"].sum()),
        )
    return out


def test_import_counts_groups_and_unknown_customers(campaign: tuple[dict, pd.DataFrame]) -> None:
    imported, frame = campaign
    assert imported["rows"] == len(frame)
    assert imported["unknown_customers"] == len(UNKNOWN)
    assert imported["checked_against"] == "marketing@1"
    treated = frame[frame["group"] == "treatment"]
    assert imported["groups"]["treatment"] == {
        "n": len(treated),
        "responders": int(treated["responded"].sum()),
    }


def test_report_by_mapped_version_matches_statsmodels(
    ws: Workspace, campaign: tuple[dict, pd.DataFrame], label_of_group: dict[int, int]
) -> None:
    report = ws.campaign_report("spring-wave")
    assert report["by"] == "marketing@1"  # mapped version, not the lens's newest (marketing@2)
    by_label = {s["segment"]: s for s in report["segments"]}
    assert set(by_label) == {*label_of_group.values(), None}
    for g, cells in PLAN.items():
        check_stats(by_label[label_of_group[g]], *cells)
    unmatched = by_label[None]
    assert unmatched["name"] == "not in this version"
    check_stats(unmatched, len(UNKNOWN), 2, 0, 0)
    assert report["unmatched"] == len(UNKNOWN)
    totals = np.sum([PLAN[g] for g in PLAN], axis=0) + np.array([len(UNKNOWN), 2, 0, 0])
    check_stats(report["overall"], *map(int, totals))


def test_helps_hurts_and_fisher_for_a_tiny_control(
    ws: Workspace, campaign: tuple[dict, pd.DataFrame], label_of_group: dict[int, int]
) -> None:
    by_label = {s["segment"]: s for s in ws.campaign_report("spring-wave")["segments"]}
    helps, hurts, tiny, flat = (by_label[label_of_group[g]] for g in range(4))
    assert helps["flag"] == "helps" and helps["p_value"] < 1e-5
    assert hurts["flag"] == "hurts" and hurts["uplift"] < 0
    assert tiny["test"] == "Fisher exact" and tiny["flag"] is None
    # the z-test would have given a different answer on this table: Fisher really was used
    _, p_z = proportions_ztest([40, 0], [200, 6])
    assert abs(tiny["p_value"] - p_z) > 0.05
    assert flat["flag"] is None and flat["uplift"] == 0


def test_revenue_and_open_rates(
    ws: Workspace, campaign: tuple[dict, pd.DataFrame], label_of_group: dict[int, int]
) -> None:
    _, frame = campaign
    labels = ws.assignments("marketing@1")
    report = ws.campaign_report("spring-wave")
    segment = frame["customer_id"].map(labels)
    for entry in report["segments"]:
        rows = (
            frame[segment.isna()]
            if entry["segment"] is None
            else frame[segment == entry["segment"]]
        )
        for group in ("treatment", "control"):
            part = rows[rows["group"] == group]
            if len(part):
                assert entry[f"revenue_per_customer_{group}"] == pytest.approx(
                    part["revenue"].mean()
                )
                assert entry[f"{group}_open_rate"] == pytest.approx(part["opened"].mean())
        assert entry["treatment_click_rate"] is None  # no clicked column


def test_explicit_by_another_version(
    ws: Workspace, campaign: tuple[dict, pd.DataFrame], customers: pd.DataFrame
) -> None:
    _, frame = campaign
    for ref in ("product@1", "marketing@2"):
        report = ws.campaign_report("spring-wave", by=ref)
        assert report["by"] == ref
        labels = ws.assignments(ref)
        expected = expected_counts(frame, labels)
        got = {s["segment"]: s for s in report["segments"]}
        assert set(got) == set(expected)
        for key, cells in expected.items():
            check_stats(got[key], *cells)
        # every campaign customer is counted exactly once
        assert sum(s["treatment_n"] + s["control_n"] for s in got.values()) == len(frame)


def test_default_version_follows_the_latest_mapping(
    ws: Workspace, campaign: tuple[dict, pd.DataFrame]
) -> None:
    _, frame = campaign
    ws.strategy_add("autumn", "Autumn offer", ["sms"])
    ws.plan_map("autumn", "marketing@1", [0])
    ws.plan_map("autumn", "product@1", [1])
    path = ws.root.parent / "autumn.csv"
    frame.head(300).to_csv(path, index=False)
    imported = ws.campaign_import(path, "autumn-wave", "autumn")
    assert imported["checked_against"] == "product@1"
    assert ws.campaign_report("autumn-wave")["by"] == "product@1"


def test_unknown_campaign_and_unmapped_strategy(ws: Workspace, customers: pd.DataFrame) -> None:
    with pytest.raises(NotFound):
        ws.campaign_report("no-such-campaign")
    ws.strategy_add("unmapped", "Never mapped", ["email"])
    path = ws.root.parent / "unmapped.csv"
    pd.DataFrame(
        {"customer_id": ["K00001", "K00002", "NOPE"], "group": ["treatment", "control", "control"]}
    ).assign(responded=[1, 0, 0]).to_csv(path, index=False)
    imported = ws.campaign_import(path, "unmapped-wave", "unmapped")
    assert imported["checked_against"] == "customers@1"  # the dataset, for lack of a version
    assert imported["unknown_customers"] == 1
    with pytest.raises(SegtrailError, match="say which version"):
        ws.campaign_report("unmapped-wave")
    assert ws.campaign_report("unmapped-wave", by="marketing@1")["unmatched"] == 1
    with pytest.raises(SegtrailError, match="already exists"):
        ws.campaign_import(path, "unmapped-wave", "unmapped")


def test_ids_with_leading_zeros_match(tmp_path: Path, database_url: str | None) -> None:
    """Ids such as '00123' are text in the dataset; the campaign file must not read them as
    the number 123 (they would all be 'unknown')."""
    ids = [f"{i:05d}" for i in range(40)]
    pd.DataFrame({"customer_id": ids, "x": np.r_[np.zeros(20), np.ones(20) * 50]}).to_csv(
        tmp_path / "zeros.csv", index=False
    )
    ws = Workspace.init(tmp_path / "ws", author="tester", database_url=database_url)
    ws.ingest(tmp_path / "zeros.csv", "customer_id")
    ws.segment("zeros", "marketing", "two groups", k=2, features=["x"])
    ws.strategy_add("s", "m", ["email"])
    ws.plan_map("s", "marketing@1", "all")
    (tmp_path / "c.csv").write_text(
        "customer_id,group,responded\n" + "".join(f"{i},treatment,1\n" for i in ids[:10])
    )
    assert ws.campaign_import(tmp_path / "c.csv", "c", "s")["unknown_customers"] == 0
    report = ws.campaign_report("c")
    assert report["unmatched"] == 0
    assert sum(s["treatment_n"] for s in report["segments"]) == 10


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    share=st.floats(0.05, 1.0),
    treated=st.floats(0.0, 1.0),
    rate=st.floats(0.0, 1.0),
)
def test_random_campaigns_add_up_and_match_statsmodels(
    ws: Workspace, customers: pd.DataFrame, seed: int, share: float, treated: float, rate: float
) -> None:
    """Any campaign: each customer counted once, segments add up to the overall entry, and
    every statistic matches statsmodels / scipy."""
    rng = np.random.default_rng(seed)
    chosen = customers["customer_id"].to_numpy()[rng.random(len(customers)) < share]
    if len(chosen) == 0:
        chosen = customers["customer_id"].to_numpy()[:1]
    frame = pd.DataFrame(
        {
            "customer_id": chosen,
            "group": np.where(rng.random(len(chosen)) < treated, "treatment", "control"),
            "responded": (rng.random(len(chosen)) < rate).astype(int),
        }
    )
    name = f"random-{seed}-{len(ws.campaigns())}"
    path = ws.root.parent / f"{name}.csv"
    frame.to_csv(path, index=False)
    ws.campaign_import(path, name, "spring")
    report = ws.campaign_report(name)
    expected = expected_counts(frame, ws.assignments("marketing@1"))
    got = {s["segment"]: s for s in report["segments"]}
    assert None not in got  # everyone is known
    for key, cells in expected.items():
        if key is not None:
            check_stats(got[key], *cells)
    for field in ("treatment_n", "treatment_responders", "control_n", "control_responders"):
        assert sum(s[field] for s in got.values()) == report["overall"][field]
    treated_rows = frame["group"] == "treatment"
    check_stats(
        report["overall"],
        int(treated_rows.sum()),
        int(frame.loc[treated_rows, "responded"].sum()),
        int((~treated_rows).sum()),
        int(frame.loc[~treated_rows, "responded"].sum()),
    )


def test_default_is_the_adopted_version_and_unknown_means_not_in_its_dataset(
    tmp_path: Path, customers: pd.DataFrame
) -> None:
    """Issue 13 item 2: a draft built on an older, smaller dataset version is mapped after the
    adopted one. The report defaults to the adopted version, and "unknown" counts only the
    campaign customers missing from the dataset the breakdown's version was built on."""
    plain = customers.drop(columns="planted")
    old = plain.iloc[:800]  # customers@1 lacks the newer customers
    old.to_csv(tmp_path / "customers.csv", index=False)
    ws = Workspace.init(tmp_path / "ws", author="tester")
    ws.ingest(tmp_path / "customers.csv", "customer_id")
    plain.to_csv(tmp_path / "customers.csv", index=False)
    ws.ingest(tmp_path / "customers.csv", "customer_id", name="customers")
    ws.segment("customers@2", "marketing", "four groups", k=4, features=["x"])
    ws.adopt("marketing@1")
    ws.segment("customers@1", "marketing", "a draft on the old file", k=3, features=["x"])
    ws.strategy_add("spring", "Spring offer", ["email"])
    ws.plan_map("spring", "marketing@1", "all")
    ws.plan_map("spring", "marketing@2", "all")  # the draft, mapped most recently
    frame = planned_campaign(customers)
    path = tmp_path / "wave.csv"
    frame.to_csv(path, index=False)
    imported = ws.campaign_import(path, "wave", "spring")
    assert imported["checked_against"] == "marketing@1"
    assert imported["unknown_customers"] == len(UNKNOWN)
    report = ws.campaign_report("wave")
    assert report["by"] == "marketing@1"
    assert report["unknown_customers"] == len(UNKNOWN)
    not_in_old = int((~frame["customer_id"].isin(set(old["customer_id"]))).sum())
    assert not_in_old > len(UNKNOWN)  # the draft's dataset really misses some of them
    by_draft = ws.campaign_report("wave", by="marketing@2")
    assert by_draft["unknown_customers"] == not_in_old
    ws.close()
