"""Segment profiles: statistics against pandas, invariants, and the plain-words text."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtrail.engine.profiles import (
    column_words,
    format_number,
    format_percent,
    format_ratio,
    profile_segments,
)
from segtrail.errors import InputError

KINDS = {
    "customer_id": "id",
    "age": "numeric",
    "app_sessions": "numeric",
    "total_spend": "numeric",
    "channel": "categorical",
    "is_subscriber": "boolean",
    "signup_date": "datetime",
    "notes": "text",
}


def planted(n_per: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Segment 0: young, app-heavy, mostly TikTok. 1: older, email. 2: big spenders."""
    rng = np.random.default_rng(seed)
    specs = [  # age, sessions, channels, subscriber share, spend, signup offset (days)
        (27, 12, ["TikTok"] * 8 + ["Instagram"] * 2, 0.5, 300, 100),
        (58, 3, ["Email"] * 7 + ["Facebook"] * 3, 0.5, 300, 0),
        (42, 3, ["Facebook", "Email", "Instagram"], 0.5, 3000, 0),
    ]
    parts = []
    for k, (age, sessions, channels, sub, spend, offset) in enumerate(specs):
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{k}-{i}" for i in range(n_per)],
                    "age": rng.normal(age, 4, n_per).round(),
                    "app_sessions": rng.poisson(sessions, n_per).astype(float),
                    "total_spend": rng.gamma(4, spend / 4, n_per),
                    "channel": rng.choice(channels, n_per),
                    "is_subscriber": rng.random(n_per) < sub,
                    "signup_date": pd.Timestamp("2021-01-01")
                    + pd.to_timedelta(rng.integers(0, 400, n_per) + offset, unit="D"),
                    "notes": ["free text"] * n_per,
                    "label": k,
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    return df.drop(columns="label"), df["label"].to_numpy().copy()


def by_segment(profile: dict) -> dict:
    return {s["segment"]: s for s in profile["segments"]}


def test_planted_segments_are_described_in_plain_words():
    df, labels = planted()
    profile = profile_segments(df, KINDS, labels)
    segs = by_segment(profile)
    young = segs[0]
    text = young["description"].lower()
    assert "younger" in text
    assert "app sessions" in text
    assert "tiktok" in text
    assert re.search(r"\d(\.\d)?x the app sessions", young["description"])
    assert re.search(r"mostly TikTok \(\d+% vs \d+%\)", young["description"])
    assert "Young" in young["name"] and "TikTok" in young["name"]
    assert 2 <= len(young["name"].split()) <= 4
    assert "older" in segs[1]["description"].lower()
    assert "Email" in segs[1]["description"]
    assert "spend" in segs[2]["description"]
    assert "High-spend" in segs[2]["name"]
    names = [s["name"] for s in profile["segments"]]
    assert len(set(names)) == len(names)
    assert sum(s["share"] for s in profile["segments"]) == pytest.approx(1.0)
    # the strongest distinguishing features come first and carry their summary
    scores = [d["score"] for d in young["distinguishing"]]
    assert scores == sorted(scores, reverse=True)
    assert {d["column"] for d in young["distinguishing"][:3]} == {"age", "app_sessions", "channel"}
    json.dumps(profile, allow_nan=False)


def test_default_columns_skip_text_and_id():
    df, labels = planted(50)
    profile = profile_segments(df, KINDS, labels)
    assert set(profile["overall"]) == {
        "age",
        "app_sessions",
        "total_spend",
        "channel",
        "is_subscriber",
        "signup_date",
    }
    seg = profile["segments"][0]
    assert [e["column"] for e in seg["numeric"]] == [
        "age",
        "app_sessions",
        "total_spend",
        "signup_date",
    ]
    assert [e["column"] for e in seg["categorical"]] == ["channel", "is_subscriber"]


def test_noise_segment_is_unassigned_and_last():
    df, labels = planted(100)
    labels[::10] = -1
    profile = profile_segments(df, KINDS, labels)
    segments = profile["segments"]
    assert [s["segment"] for s in segments] == [0, 1, 2, -1]
    noise = segments[-1]
    assert noise["name"] == "unassigned"
    assert noise["size"] == 30
    assert noise["description"].startswith("Not assigned to any segment")
    assert sum(s["size"] for s in segments) == len(df)
    assert sum(s["share"] for s in segments) == pytest.approx(1.0)
    without = profile_segments(df, KINDS, np.where(labels < 0, 0, labels))
    assert all(s["segment"] >= 0 for s in without["segments"])


def test_equal_names_get_a_disambiguator():
    df, labels = planted(200)
    # split the young segment in two random halves: both come out "Young app-heavy TikTok"
    labels = np.where((labels == 0) & (np.arange(len(labels)) % 2 == 0), 3, labels)
    profile = profile_segments(df, KINDS, labels)
    names = [s["name"] for s in profile["segments"]]
    assert len(set(n.lower() for n in names)) == len(names)
    young = [n for n in names if n.startswith("Young")]
    assert len(young) == 2 and all("#" in n for n in young)


def test_categorical_shares_lift_and_missing_values():
    df = pd.DataFrame({"channel": ["a", "a", "b", None, "b", "b", "b", "c"]})
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    profile = profile_segments(df, {"channel": "categorical"}, labels)
    overall = profile["overall"]["channel"]
    assert overall["n_values"] == 4
    assert {t["value"]: t["share"] for t in overall["top"]} == {
        "b": 0.5,
        "a": 0.25,
        None: 0.125,
        "c": 0.125,
    }
    top0 = profile["segments"][0]["categorical"][0]["top"]
    assert top0[0] == {"value": "a", "share": 0.5, "overall_share": 0.25, "lift": 2.0}
    assert {t["value"] for t in top0} == {"a", "b", None}  # zero shares are not listed
    for seg in profile["segments"]:
        assert sum(t["share"] for t in seg["categorical"][0]["top"]) == pytest.approx(1.0)


def test_booleans_are_share_true_among_known_values():
    df = pd.DataFrame(
        {
            "has_app": pd.array([True, True, True, None, False, False, False, True], "boolean"),
            "newsletter": ["yes", "yes", "no", "yes", "no", "no", "no", None],
        }
    )
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    profile = profile_segments(df, {"has_app": "boolean", "newsletter": "boolean"}, labels)
    assert profile["overall"]["has_app"]["share_true"] == pytest.approx(4 / 7)
    assert profile["overall"]["has_app"]["missing_share"] == pytest.approx(1 / 8)
    app, news = profile["segments"][0]["categorical"]
    assert app["top"] == [
        {"value": True, "share": 1.0, "overall_share": pytest.approx(4 / 7), "lift": 1.75}
    ]
    assert news["top"][0]["share"] == pytest.approx(3 / 4)
    assert profile["segments"][1]["categorical"][1]["top"][0]["share"] == 0.0
    assert "has app" in profile["segments"][0]["description"]


def test_datetimes_are_profiled_as_dates():
    dates = pd.to_datetime(["2020-01-01", "2020-01-03", "2024-01-01", "2024-01-03"])
    df = pd.DataFrame({"signup_date": dates})
    profile = profile_segments(df, {"signup_date": "datetime"}, np.array([0, 0, 1, 1]))
    first, second = profile["segments"]
    entry = second["numeric"][0]
    assert entry["mean"] == "2024-01-02"
    assert entry["median"] == "2024-01-02"
    assert profile["overall"]["signup_date"]["min"] == "2020-01-01"
    assert profile["overall"]["signup_date"]["max"] == "2024-01-03"
    assert entry["std_diff"] > 0 and first["numeric"][0]["std_diff"] < 0  # later is positive
    assert second["description"] == "Signup date later than average (Jan 2024 vs Jan 2022)"
    assert "earlier" in first["description"]


def test_max_features_limits_distinguishing():
    df, labels = planted(100)
    profile = profile_segments(df, KINDS, labels, max_features=2)
    assert all(len(s["distinguishing"]) <= 2 for s in profile["segments"])
    assert profile["segments"][0]["description"].count(",") <= 1


def test_similar_segment_reads_as_average():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"age": rng.normal(40, 10, 2000)})
    profile = profile_segments(df, {"age": "numeric"}, rng.integers(0, 2, 2000))
    for seg in profile["segments"]:
        assert seg["distinguishing"] == []
        assert seg["description"] == "Close to the average customer"
    assert {s["name"] for s in profile["segments"]} == {
        "Average customers #0",
        "Average customers #1",
    }


@pytest.mark.parametrize(
    ("labels", "columns", "message"),
    [
        (np.zeros(3, dtype=int), None, "labels has 3 entries"),
        (np.full(4, -2), None, "label -2"),
        (np.array(["a"] * 4), None, "whole numbers"),
        (np.zeros(4, dtype=int), ["nope"], "'nope' is not in the table"),
        (np.zeros(4, dtype=int), ["notes"], "'notes' is text"),
    ],
)
def test_bad_input_raises_one_clear_error(labels, columns, message):
    df = pd.DataFrame({"age": [1.0, 2.0, 3.0, 4.0], "notes": list("abcd")})
    with pytest.raises(InputError, match=message):
        profile_segments(df, {"age": "numeric", "notes": "text"}, labels, columns)


def test_numeric_column_holding_text_is_an_input_error():
    df = pd.DataFrame({"age": ["young", "old"]})
    with pytest.raises(InputError, match="'age' is marked numeric"):
        profile_segments(df, {"age": "numeric"}, np.array([0, 1]))


@pytest.mark.parametrize(
    ("column", "words"),
    [
        ("days_since_last_order", "days since last order"),
        ("appSessions", "app sessions"),
        ("avg_order_amt", "average order amount"),
        ("num_orders", "number of orders"),
        ("total-spend", "total spend"),
        ("no_show", "no show"),
    ],
)
def test_column_words(column, words):
    assert column_words(column) == words


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234567.0, "1.2M"),
        (12345.6, "12,346"),
        (29.4, "29"),
        (3.14159, "3.1"),
        (3.0, "3"),
        (0.04234, "0.042"),
        (0.0, "0"),
        (-2.5, "-2.5"),
        (2.5e9, "2.5B"),
    ],
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_format_percent_and_ratio():
    assert [format_percent(p) for p in (0.71, 0.025, 0.0004, 0.0, 1.0)] == [
        "71%",
        "2.5%",
        "0.04%",
        "0%",
        "100%",
    ]
    assert [format_ratio(r) for r in (3.14, 2.0, 12.3, 0.42)] == ["3.1x", "2x", "12x", "0.42x"]


def test_close_values_are_shown_with_enough_decimals():
    # a tight column: 10.2 vs 10.0 would both read "10"
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(10.0, 0.05, 500), rng.normal(10.4, 0.05, 500)])
    df = pd.DataFrame({"score": x})
    profile = profile_segments(df, {"score": "numeric"}, np.repeat([0, 1], 500))
    summary = profile["segments"][1]["distinguishing"][0]["summary"]
    a, b = re.search(r"\((\S+) vs (\S+)\)", summary).groups()
    assert a != b


# --------------------------------------------------------------------------- properties

MIXED_KINDS = {"spend": "numeric", "channel": "categorical", "flag": "boolean", "day": "datetime"}


@st.composite
def mixed_tables(draw):
    n = draw(st.integers(1, 40))
    values = st.sampled_from(["TikTok", "Email", "3", None])
    labels = np.array(draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n)))
    spend = draw(st.lists(st.none() | st.integers(-1000, 1000), min_size=n, max_size=n))
    channel = draw(st.lists(values, min_size=n, max_size=n))
    flag = draw(st.lists(st.none() | st.booleans(), min_size=n, max_size=n))
    day = draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n))
    df = pd.DataFrame(
        {
            "spend": np.array([np.nan if v is None else v for v in spend], dtype=float),
            "channel": pd.Series(channel, dtype="str"),
            "flag": pd.array(flag, dtype="boolean"),
            "day": pd.Timestamp("2020-01-01") + pd.to_timedelta(day, unit="D"),
        }
    )
    perm = np.array(draw(st.permutations(range(n))))
    return df, labels, perm


def assert_same(a, b, path="profile"):
    """Equal structures; floats may differ in the last bits (summation order)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_tables())
def test_profile_invariants_and_row_order(table):
    """Reference: counts of the labels, and the profile of the same rows in another order."""
    df, labels, perm = table
    profile = profile_segments(df, MIXED_KINDS, labels)
    segments = profile["segments"]
    assert sum(s["size"] for s in segments) == len(df)
    assert sum(s["share"] for s in segments) == pytest.approx(1.0)
    assert [s["segment"] for s in segments] == sorted(set(labels), key=lambda g: (g < 0, g))
    names = [s["name"].lower() for s in segments]
    assert len(set(names)) == len(names)
    assert ("unassigned" in names) == (-1 in labels)
    json.dumps(profile, allow_nan=False)
    shuffled = profile_segments(df.iloc[perm].reset_index(drop=True), MIXED_KINDS, labels[perm])
    assert_same(profile, shuffled)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-1, 4), st.none() | st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=60,
    )
)
def test_numeric_stats_match_pandas(rows):
    """Reference: pandas groupby mean and median."""
    labels = np.array([g for g, _ in rows])
    x = np.array([np.nan if v is None else v for _, v in rows], dtype=float)
    df = pd.DataFrame({"spend": x})
    profile = profile_segments(df, {"spend": "numeric"}, labels)
    grouped = df.groupby(labels)["spend"]
    mean, median = grouped.mean(), grouped.median()
    overall_mean = df["spend"].mean()
    overall_std = df["spend"].std(ddof=0)

    def close(ours, theirs, tol=1e-9):
        if ours is None:
            return math.isnan(theirs)
        return ours == pytest.approx(theirs, rel=tol, abs=tol)

    assert close(profile["overall"]["spend"]["mean"], overall_mean)
    assert close(profile["overall"]["spend"]["median"], df["spend"].median())
    for seg in profile["segments"]:
        g = seg["segment"]
        entry = seg["numeric"][0]
        assert close(entry["mean"], mean[g])
        assert close(entry["median"], median[g])
        assert close(entry["overall_mean"], overall_mean)
        if entry["mean"] is not None and overall_std > 1e-6:
            assert close(entry["std_diff"], (mean[g] - overall_mean) / overall_std, 1e-6)
