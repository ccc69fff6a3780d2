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

from segtrail.engine.responses import (
    newcombe_interval,
    segment_responses,
    two_proportion_test,
    wilson_interval,
)
from segtrail.errors import InputError


def campaign(cells: dict[tuple[int, str], tuple[int, int]], start: int = 0) -> pd.DataFrame:
    """Campaign rows from {(segment, group): (n, responders)}; customer ids encode the segment."""
    rows = []
    cid = start
    for (segment, group), (n, k) in cells.items():
        for i in range(n):
            rows.append((cid, segment, group, int(i < k)))
            cid += 1
    return pd.DataFrame(rows, columns=["customer_id", "segment", "group", "responded"])


def labels_of(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(frame["segment"].to_numpy(), index=frame["customer_id"].to_numpy())


@given(n=st.integers(1, 5000), data=st.data())
@settings(max_examples=200, deadline=None)
def test_wilson_matches_statsmodels(n, data):
    """Reference: statsmodels' proportion_confint(method="wilson")."""
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n)
    ref_low, ref_high = proportion_confint(k, n, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)
    assert 0 <= low <= k / n <= high <= 1


@given(n1=st.integers(1, 3000), n2=st.integers(1, 3000), data=st.data())
@settings(max_examples=200, deadline=None)
def test_newcombe_matches_statsmodels(n1, n2, data):
    """Reference: statsmodels' confint_proportions_2indep(method="newcomb")."""
    k1, k2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    low, high = newcombe_interval(k1, n1, k2, n2)
    ref = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    assert low == pytest.approx(ref[0], abs=1e-12)
    assert high == pytest.approx(ref[1], abs=1e-12)
    assert -1 <= low <= k1 / n1 - k2 / n2 <= high <= 1


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2"),
    [(120, 1000, 90, 1000), (50, 400, 70, 380), (300, 600, 310, 590), (10, 100, 25, 110)],
)
def test_z_test_matches_statsmodels(k1, n1, k2, n2):
    p_value, test = two_proportion_test(k1, n1, k2, n2)
    _, ref = proportions_ztest([k1, k2], [n1, n2])
    assert test == "two-proportion z"
    assert p_value == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2"),
    [(80, 1000, 3, 12), (1, 20, 5, 20), (0, 50, 4, 50), (1000, 1000, 12, 12)],
)
def test_fisher_used_for_small_expected_counts(k1, n1, k2, n2):
    p_value, test = two_proportion_test(k1, n1, k2, n2)
    _, ref = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])
    assert test == "Fisher exact"
    assert p_value == pytest.approx(ref, rel=1e-12)


def test_empty_group_has_no_statistics():
    assert wilson_interval(0, 0) is None
    assert newcombe_interval(3, 10, 0, 0) is None
    assert two_proportion_test(3, 10, 0, 0) is None


def test_segment_counts_rates_and_flags():
    cells = {
        (0, "treatment"): (500, 100),  # 20% vs 10%: helps
        (0, "control"): (500, 50),
        (1, "treatment"): (400, 20),  # 5% vs 15%: hurts
        (1, "control"): (400, 60),
        (2, "treatment"): (300, 30),  # 10% vs 10%: no flag
        (2, "control"): (300, 30),
    }
    frame = campaign(cells)
    result = segment_responses(
        frame.drop(columns="segment"), labels_of(frame), {0: "loyal", 1: "lapsed"}
    )
    by_segment = {s["segment"]: s for s in result["segments"]}
    assert set(by_segment) == {0, 1, 2}
    assert result["unmatched"] == 0
    assert by_segment[0]["name"] == "loyal" and by_segment[2]["name"] is None

    for segment, entry in by_segment.items():
        nt, kt = cells[(segment, "treatment")]
        nc, kc = cells[(segment, "control")]
        assert (entry["treatment_n"], entry["treatment_responders"]) == (nt, kt)
        assert (entry["control_n"], entry["control_responders"]) == (nc, kc)
        assert entry["treatment_rate"] == pytest.approx(kt / nt)
        assert entry["control_rate"] == pytest.approx(kc / nc)
        assert entry["uplift"] == pytest.approx(kt / nt - kc / nc)
        assert entry["treatment_rate_ci"] == pytest.approx(
            list(proportion_confint(kt, nt, method="wilson"))
        )
        assert entry["uplift_ci"] == pytest.approx(
            list(confint_proportions_2indep(kt, nt, kc, nc, method="newcomb"))
        )
        assert entry["p_value"] == pytest.approx(proportions_ztest([kt, kc], [nt, nc])[1])
        assert entry["test"] == "two-proportion z"
        assert entry["revenue_per_customer_treatment"] is None

    assert [by_segment[s]["flag"] for s in (0, 1, 2)] == ["helps", "hurts", None]
    overall = result["overall"]
    assert overall["treatment_n"] == 1200 and overall["treatment_responders"] == 150
    assert overall["control_n"] == 1200 and overall["control_responders"] == 140


def test_tiny_control_uses_fisher():
    frame = campaign({(0, "treatment"): (1000, 150), (0, "control"): (12, 0)})
    entry = segment_responses(frame.drop(columns="segment"), labels_of(frame))["segments"][0]
    assert entry["test"] == "Fisher exact"
    assert entry["p_value"] == pytest.approx(fisher_exact([[150, 850], [0, 12]])[1])
    assert entry["control_rate"] == 0.0
    assert entry["control_rate_ci"][0] == pytest.approx(0.0, abs=1e-12)
    # the exact test is not significant with 12 controls, so no flag despite 15 points uplift
    assert entry["flag"] is None


def test_unmatched_and_unreached_segments_are_reported():
    frame = campaign({(0, "treatment"): (50, 10), (0, "control"): (50, 5)})
    labels = labels_of(frame).iloc[:80]  # the last 20 (controls) are unknown to the version
    labels = pd.concat([labels, pd.Series([3], index=[10_000])])  # segment 3: nobody reached
    result = segment_responses(frame.drop(columns="segment"), labels)
    by_segment = {s["segment"]: s for s in result["segments"]}
    assert result["unmatched"] == 20
    assert by_segment[None]["name"] == "not in this version"
    assert by_segment[None]["control_n"] == 20 and by_segment[None]["treatment_n"] == 0
    assert by_segment[None]["treatment_rate"] is None and by_segment[None]["p_value"] is None
    assert by_segment[3]["treatment_n"] == 0 and by_segment[3]["uplift"] is None
    assert by_segment[0]["control_n"] == 30
    assert result["overall"]["control_n"] == 50  # overall still covers everyone


def test_revenue_opens_and_clicks():
    frame = campaign({(0, "treatment"): (4, 2), (0, "control"): (2, 1)})
    frame["revenue"] = [10.0, np.nan, 5.0, 1.0, 3.0, 0.0]
    frame["opened"] = [1, 1, 1, 0, 1, 0]
    frame["clicked"] = [1, 0, 0, 0, 0, 0]
    entry = segment_responses(frame.drop(columns="segment"), labels_of(frame))["segments"][0]
    assert entry["revenue_per_customer_treatment"] == pytest.approx(16.0 / 4)
    assert entry["revenue_per_customer_control"] == pytest.approx(3.0 / 2)
    assert entry["treatment_open_rate"] == pytest.approx(0.75)
    assert entry["control_click_rate"] == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(group="test"), "group"),
        (lambda f: f.assign(responded=2), "responded"),
        (lambda f: f.drop(columns="responded"), "responded"),
        (lambda f: f.assign(customer_id=0), "more than once"),
    ],
)
def test_bad_campaign_frames_raise(change, message):
    frame = campaign({(0, "treatment"): (3, 1), (0, "control"): (3, 1)})
    with pytest.raises(InputError, match=message):
        segment_responses(change(frame.drop(columns="segment")), labels_of(frame))


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), [(1, 1, 2, 40), (0, 1, 30, 40), (5, 40, 1, 1)])
def test_a_group_of_one_customer_keeps_its_p_value(k1, n1, k2, n2):
    """Reference: scipy's Fisher exact test on the same 2x2 table (one customer is not none)."""
    p_value, test = two_proportion_test(k1, n1, k2, n2)
    assert test == "Fisher exact"
    assert p_value == pytest.approx(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1], rel=1e-12)


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2", "expected_test"),
    [
        (5, 10, 5, 10, "two-proportion z"),  # smallest expected count exactly 5: z-test
        (6, 12, 5, 12, "two-proportion z"),  # 5.5: z-test
        (4, 10, 5, 10, "Fisher exact"),  # 4.5: exact test
        (18, 20, 18, 20, "Fisher exact"),  # the non-responders (4 in all) are the small cell
    ],
)
def test_exact_test_below_an_expected_count_of_five(k1, n1, k2, n2, expected_test):
    """Reference: the documented rule (Fisher when an expected count is below 5) and scipy."""
    p_value, test = two_proportion_test(k1, n1, k2, n2)
    assert test == expected_test
    if expected_test == "Fisher exact":
        reference = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1]
    else:
        reference = proportions_ztest([k1, k2], [n1, n2])[1]
    assert p_value == pytest.approx(reference, rel=1e-9)


def test_newcombe_at_another_confidence_level():
    """Reference: statsmodels' Newcombe interval at 99% (z for both Wilson intervals)."""
    z99 = 2.5758293035489004
    low, high = newcombe_interval(30, 100, 12, 90, z=z99)
    ref = confint_proportions_2indep(30, 100, 12, 90, method="newcomb", alpha=0.01)
    assert (low, high) == pytest.approx(tuple(ref), abs=1e-12)


def test_everyone_responding_against_nobody_is_flagged_helps():
    frame = campaign({(0, "treatment"): (20, 20), (0, "control"): (20, 0)})
    entry = segment_responses(frame.drop(columns="segment"), labels_of(frame))["segments"][0]
    assert entry["uplift"] == 1.0 and entry["p_value"] < 0.05
    assert entry["flag"] == "helps"


def test_segment_reached_only_in_treatment_has_no_control():
    frame = campaign({(0, "treatment"): (5, 2), (0, "control"): (5, 1), (1, "treatment"): (4, 1)})
    result = segment_responses(frame.drop(columns="segment"), labels_of(frame))
    only_treatment = {s["segment"]: s for s in result["segments"]}[1]
    assert only_treatment["control_n"] == 0 and only_treatment["control_rate"] is None
    assert only_treatment["p_value"] is None and only_treatment["uplift"] is None
    assert result["overall"]["segment"] is None
    assert result["overall"]["name"] == "all customers"


def test_labels_listing_a_customer_twice_raise():
    frame = campaign({(0, "treatment"): (3, 1), (0, "control"): (3, 1)})
    labels = pd.Series([0, 0], index=[0, 0])
    with pytest.raises(InputError, match="segment labels list a customer more than once"):
        segment_responses(frame.drop(columns="segment"), labels)


def test_bad_frames_name_the_first_bad_value():
    frame = campaign({(0, "treatment"): (3, 1), (0, "control"): (3, 1)}).drop(columns="segment")
    labels = pd.Series([0] * 6, index=range(6))
    groups = frame.assign(group=["treatment", "test", "control", "promo", "control", "control"])
    with pytest.raises(InputError) as bad_group:
        segment_responses(groups, labels)
    assert (
        str(bad_group.value)
        == "campaign group must be one of the arms ('control', 'treatment'), not 'test'"
    )
    twice = frame.assign(customer_id=[0, 1, 1, 2, 2, 5])
    with pytest.raises(InputError) as duplicated:
        segment_responses(twice, labels)
    assert str(duplicated.value) == "campaign data lists customer 1 more than once"
    with pytest.raises(InputError) as missing:
        segment_responses(frame.drop(columns=["group", "responded"]), labels)
    assert str(missing.value) == "campaign data has no column group, responded"
    with pytest.raises(InputError) as listed_twice:
        segment_responses(frame, pd.Series([0, 0], index=[0, 0]))
    assert str(listed_twice.value) == "segment labels list a customer more than once"


@pytest.mark.parametrize("column", ["opened", "clicked"])
def test_opens_and_clicks_must_be_zero_or_one(column):
    frame = campaign({(0, "treatment"): (3, 1), (0, "control"): (3, 1)})
    frame[column] = [0, 1, 2, 0, 0, 0]
    with pytest.raises(InputError, match=f"campaign column {column} must hold only 0 and 1"):
        segment_responses(frame.drop(columns="segment"), labels_of(frame))


def test_revenue_of_a_group_nobody_in_and_revenue_written_as_text():
    frame = campaign({(0, "treatment"): (2, 1), (0, "control"): (2, 1), (1, "treatment"): (2, 1)})
    # as a spreadsheet writes amounts; a blank cell is no revenue
    frame["revenue"] = ["$1,234.50", " ", 4.0, "2 €", "6", None]
    result = segment_responses(frame.drop(columns="segment"), labels_of(frame))
    zero, one = result["segments"]
    assert zero["revenue_per_customer_treatment"] == pytest.approx(1234.5 / 2)
    assert zero["revenue_per_customer_control"] == pytest.approx(6.0 / 2)
    assert one["revenue_per_customer_treatment"] == pytest.approx(6.0 / 2)
    assert one["revenue_per_customer_control"] is None  # nobody in control there
    assert one["control_responders"] == 0 and one["treatment_responders"] == 1


@pytest.mark.parametrize(
    ("revenue", "message"),
    [
        (
            ["soon", "n/a", 4.0, "1.234,5", "soon", "12 USD"],
            "campaign column revenue: 5 values are not numbers (e.g. 'soon', 'n/a', '1.234,5')",
        ),
        (
            [1.0, np.inf, 4.0, 2.0, 6.0, 1.0],
            "campaign column revenue: 1 value is not a number (e.g. 'inf')",
        ),
    ],
)
def test_revenue_that_is_not_a_number_is_refused(revenue, message):
    """Not counted as no revenue: a total that silently leaves out a sale is wrong."""
    frame = campaign({(0, "treatment"): (3, 1), (0, "control"): (3, 1)})
    frame["revenue"] = revenue
    with pytest.raises(InputError) as refused:
        segment_responses(frame.drop(columns="segment"), labels_of(frame))
    assert str(refused.value) == message


def test_open_and_click_rates_are_none_without_those_columns():
    frame = campaign({(0, "treatment"): (4, 2), (0, "control"): (4, 1)})
    entry = segment_responses(frame.drop(columns="segment"), labels_of(frame))["segments"][0]
    assert entry["treatment_open_rate"] is None and entry["control_click_rate"] is None
    assert entry["revenue_per_customer_treatment"] is None
