"""The built-in sample customers and the essay's ten companies."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segtrail.engine import sample
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.features import build_spec, fit_features
from segtrail.engine.sample import (
    COMPANY_KINDS,
    CUSTOMER_KINDS,
    REFERENCE_DATE,
    SEGMENTS,
    _ids,
    generate_customers,
    ten_companies,
)

YOUNG, OLDER, BARGAIN, LOYAL, LAPSED, VIP = range(6)


@pytest.fixture
def customers() -> tuple[pd.DataFrame, np.ndarray]:
    # per test, not per module (0.1 s): a mutation run sees which tests call the generator
    return generate_customers(20_000, seed=7)


def test_columns_kinds_and_types(customers: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, planted = customers
    assert len(df) == len(planted) == 20_000
    assert list(df.columns) == list(CUSTOMER_KINDS)
    assert df["customer_id"].iloc[0] == "C000001" and df["customer_id"].is_unique
    assert df["email"].is_unique and df["email"].str.fullmatch(r"[a-z]+\d+@[a-z.]+").all()
    assert pd.api.types.is_integer_dtype(df["age"]) and df["age"].between(18, 90).all()
    assert pd.api.types.is_bool_dtype(df["newsletter_subscriber"])
    assert pd.api.types.is_datetime64_dtype(df["signup_date"])
    assert df["email_open_rate"].dropna().between(0, 1).all()
    assert df["discount_share"].between(0, 1).all()
    assert (df["annual_spend"] >= 0).all() and df["annual_spend"].skew() > 1  # money: skewed
    assert planted.dtype == np.int32 and set(np.unique(planted)) == set(range(len(SEGMENTS)))


def test_a_few_percent_missing_in_two_columns(customers: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = customers
    missing = df.isna().mean()
    assert 0.01 < missing["web_visits_per_month"] < 0.04
    assert 0.02 < missing["email_open_rate"] < 0.05
    assert (missing.drop(["web_visits_per_month", "email_open_rate"]) == 0).all()


def test_segment_shares_and_the_small_vip_group(customers: tuple[pd.DataFrame, np.ndarray]) -> None:
    _, planted = customers
    shares = np.bincount(planted) / len(planted)
    for (_, expected), share in zip(SEGMENTS, shares, strict=True):
        assert share == pytest.approx(expected, abs=0.01)
    assert 0.02 < shares[VIP] < 0.04


def test_the_essays_two_types_are_there(customers: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, planted = customers
    young, older = df[planted == YOUNG], df[planted == OLDER]
    assert young["age"].mean() < 30 < 60 < older["age"].mean()
    assert young["app_sessions_per_month"].mean() > 10 * older["app_sessions_per_month"].mean()
    assert young["preferred_channel"].isin(["TikTok", "Instagram"]).mean() > 0.95
    assert young["device"].isin(["iOS", "Android"]).mean() > 0.95
    assert older["preferred_channel"].isin(["Email", "Phone"]).mean() > 0.95
    assert older["device"].eq("Desktop").mean() > 0.5
    assert older["support_channel"].eq("Phone").mean() > 0.7
    assert older["email"].str.endswith("@hotmail.com").mean() > 0.4
    assert young["email"].str.endswith("@hotmail.com").mean() == 0


def test_other_segments_stand_out(customers: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, planted = customers
    mean = df.groupby(planted)[["discount_share", "days_since_last_order", "annual_spend"]].mean()
    assert mean["discount_share"].idxmax() == BARGAIN
    assert mean["days_since_last_order"].idxmax() == LAPSED
    assert mean["annual_spend"].sort_values().index[-2:].tolist() == [LOYAL, VIP]
    assert df.loc[planted == VIP, "loyalty_tier"].eq("Platinum").mean() > 0.8


def test_region_is_not_informative(customers: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, planted = customers
    mix = pd.crosstab(planted, df["region"], normalize="index")
    assert (mix.max() - mix.min()).max() < 0.06  # same mix in every segment (VIP ~600 rows)
    assert np.allclose(mix.mean(), 0.2, atol=0.01)


def test_same_seed_same_table_other_seed_other_table() -> None:
    a, pa_ = generate_customers(500, seed=3)
    b, pb = generate_customers(500, seed=3)
    c, _ = generate_customers(500, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert np.array_equal(pa_, pb)
    assert not a.equals(c)


def test_ids_count_from_one_and_widen_past_six_digits() -> None:
    # speed is for bench/ (a wall-clock bound here failed on a shared machine)
    df, _ = generate_customers(1_234, seed=1)
    assert df["customer_id"].iloc[[0, -1]].tolist() == ["C000001", "C001234"]
    assert _ids("C", 999_999).iloc[-1] == "C999999"
    assert _ids("C", 1_000_000).iloc[[0, -1]].tolist() == ["C0000001", "C1000000"]


def test_ten_companies_fall_into_three_groups() -> None:
    df = ten_companies()
    assert len(df) == 10 and df["company"].is_unique
    assert list(df.columns) == list(COMPANY_KINDS)
    spec = build_spec(df, COMPANY_KINDS, "company", exclude=["plan", "industry", "region"])
    X, _ = fit_features(df, spec)
    labels = get_algorithm("kmeans").fit(X, {"k": 3}, 0).labels
    assert adjusted_rand_score(df["plan"], labels) == 1.0


def per_segment(df: pd.DataFrame, planted: np.ndarray, column: str, how: str) -> np.ndarray:
    return df[column].groupby(planted).agg(how).to_numpy(dtype=float)


def test_counts_and_amounts_follow_each_segments_parameters(
    customers: tuple[pd.DataFrame, np.ndarray],
) -> None:
    """Reference: the parameter tables of the module (means per segment, in SEGMENTS order)."""
    df, planted = customers
    mean = {c: per_segment(df, planted, c, "mean") for c in df.columns[2:14]}
    assert np.allclose(mean["age"], sample._AGE[0], atol=1.0)
    assert np.allclose(per_segment(df, planted, "age", "std"), sample._AGE[1], rtol=0.1)
    assert df["age"].min() == 18  # the youngest segment reaches the floor of 18
    assert np.allclose(mean["tenure_months"], sample._TENURE, rtol=0.05)
    spread = per_segment(df, planted, "tenure_months", "std") / mean["tenure_months"]
    assert np.allclose(spread, 0.25, atol=0.03)
    assert df["tenure_months"].min() == 1  # the floor: a month at least (one customer here)
    for column, means in (
        ("orders_per_year", sample._ORDERS),
        ("web_visits_per_month", sample._WEB),
        ("app_sessions_per_month", sample._APP),
        ("support_tickets", sample._TICKETS),
    ):  # Poisson counts: the variance is the mean
        assert np.allclose(mean[column], means, rtol=0.06, atol=0.05), column
        variance = per_segment(df, planted, column, "var")
        assert np.allclose(variance, means, rtol=0.2, atol=0.05), column  # VIP: 600 rows
    # order value: lognormal around the segment's median, a quarter in log units
    log_aov = np.log(df["avg_order_value"])
    assert np.allclose(np.exp(log_aov.groupby(planted).median()), sample._AOV, rtol=0.03)
    assert np.allclose(log_aov.groupby(planted).std(), 0.25, atol=0.02)
    # spend: orders x order value, give or take 10%
    buying = df["orders_per_year"] > 0
    ratio = np.log(df.loc[buying, "annual_spend"] / (df["orders_per_year"] * df["avg_order_value"]))
    assert abs(ratio.mean()) < 0.01 and ratio.std() == pytest.approx(0.1, abs=0.01)
    assert (df.loc[~buying, "annual_spend"] == 0).all()
    # days since the last order: gamma of shape 4 around the segment's mean
    assert np.allclose(mean["days_since_last_order"], sample._RECENCY, rtol=0.06, atol=0.5)
    lapsed = df.loc[planted == LAPSED, "days_since_last_order"]
    assert lapsed.std() / lapsed.mean() == pytest.approx(0.5, abs=0.03)
    for column in ("annual_spend", "avg_order_value"):  # money: whole cents
        cents = df[column].to_numpy() * 100
        assert np.allclose(cents, cents.round(), rtol=0, atol=1e-6), column


def test_shares_and_rates_follow_each_segments_parameters(
    customers: tuple[pd.DataFrame, np.ndarray],
) -> None:
    df, planted = customers
    for column, means, concentration in (
        ("email_open_rate", sample._OPEN, 25.0),
        ("discount_share", sample._DISCOUNT, 25.0),
        ("return_rate", sample._RETURNS, 40.0),
    ):  # beta draws: mean m, variance m(1 - m) / (concentration + 1)
        m = np.asarray(means)
        assert np.allclose(per_segment(df, planted, column, "mean"), m, atol=0.01), column
        sd = np.sqrt(m * (1 - m) / (concentration + 1))
        assert np.allclose(per_segment(df, planted, column, "std"), sd, rtol=0.1), column
        thousandths = df[column].dropna().to_numpy() * 1000
        assert np.allclose(thousandths, thousandths.round(), rtol=0, atol=1e-6), column
    subscribed = per_segment(df, planted, "newsletter_subscriber", "mean")
    assert np.allclose(subscribed, sample._NEWSLETTER, atol=0.03)
    for column in ("age", "tenure_months", "orders_per_year", "days_since_last_order"):
        assert df[column].dtype == np.int64, column


def test_signup_date_matches_tenure(customers: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = customers
    assert df["signup_date"].dtype == "datetime64[s]"
    days = (REFERENCE_DATE - df["signup_date"]).dt.days.to_numpy()
    extra = days - df["tenure_months"].to_numpy() * 30.44  # up to a month more, rounded
    assert extra.min() >= -0.5 and extra.max() <= 30.5
    assert extra.min() < 0.5  # the extra days start at 0
    assert extra.mean() == pytest.approx(15, abs=0.5)


def test_every_level_of_every_categorical_column_occurs(
    customers: tuple[pd.DataFrame, np.ndarray],
) -> None:
    df, planted = customers
    for name, (levels, probs) in sample._CATEGORIES.items():
        assert set(df[name]) == set(levels), name
        # each segment draws its own mix: the share of a level follows its table row
        shares = pd.crosstab(planted, df[name], normalize="index")[levels].to_numpy()
        assert np.allclose(shares, probs, atol=0.05), name
    domains = df["email"].str.split("@").str[1]
    assert set(domains) == set(sample._DOMAINS[0])
    assert set(df["region"]) == set(sample._REGIONS)
    names = df["email"].str.extract(r"^([a-z]+)\d+@")[0]
    assert set(names) == set(sample._FIRST_NAMES)


def test_emails_are_numbered_by_row() -> None:
    df, _ = generate_customers(30, seed=2)
    number = df["email"].str.extract(r"^[a-z]+(\d+)@")[0].astype(int)
    assert number.tolist() == list(range(1, 31))


def test_the_ten_companies_are_the_essays_table() -> None:
    df = ten_companies()
    by_plan = df.groupby("plan")["company"].apply(list).to_dict()
    assert by_plan == {
        "Enterprise": ["Acme Logistics", "Globex Bank", "Initech Insurance", "Umbrella Health"],
        "Growth": ["Pixel Forge", "Brightleaf Labs", "Nimbus Analytics"],
        "Business": ["Hooli Retail", "Stark Manufacturing", "Wayne Foods"],
    }
    plan = df.set_index("company")["plan"]
    big = df.groupby("plan")[["employees", "annual_contract_value", "seats"]].min()
    small = df.groupby("plan")[["employees", "annual_contract_value", "seats"]].max()
    assert (big.loc["Enterprise"] > small.drop("Enterprise").max()).all()
    usage = df.groupby("plan")[["weekly_active_share", "usage_hours_per_seat"]]
    assert (usage.min().loc["Growth"] > usage.max().drop("Growth").max()).all()
    assert (usage.max().loc["Business"] < usage.min().drop("Business").min()).all()
    assert set(df["region"]) == {"Americas", "Europe", "APAC"}
    assert plan.index.is_unique
    # the demo writes this table as companies.csv and the essay quotes it: any change to a
    # value is a change to the story (update the digest on purpose)
    digest = hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()
    assert digest == "cb21d856687c0d0e6599ae92387d2c5464d6d7edf12a3f4a4096baa962d0bbaa"


def test_defaults_are_fifty_thousand_customers_of_seed_seven() -> None:
    assert len(generate_customers()[0]) == 50_000
    small, small_planted = generate_customers(200)
    same, same_planted = generate_customers(200, seed=7)
    pd.testing.assert_frame_equal(small, same)
    assert np.array_equal(small_planted, same_planted)
