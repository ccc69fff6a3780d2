"""Segment profiles on small hand-made tables: the exact numbers and the exact sentences and
names users read. Fast on purpose (no hypothesis, no big tables): these are the own tests
of engine/profiles.py in `make mutate` (the property tests in test_profiles.py take seconds
per mutant)."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from segtrail.engine.profiles import (
    MAX_CATEGORIES,
    OTHER_VALUES,
    NumericSums,
    ShareCounts,
    _Grouping,
    column_words,
    format_number,
    format_percent,
    format_ratio,
    json_value,
    profile_from_aggregates,
    profile_segments,
)
from segtrail.errors import InputError

NAN = np.nan


def profile(columns: dict, kinds: dict | str, labels: list[int], **kw) -> dict:
    df = pd.DataFrame(columns)
    if isinstance(kinds, str):
        kinds = dict.fromkeys(df.columns, kinds)
    return profile_segments(df, kinds, np.array(labels), **kw)


def texts(p: dict) -> list[tuple[str, str]]:
    """(name, description) per segment, in the profile's order."""
    return [(s["name"], s["description"]) for s in p["segments"]]


# --------------------------------------------------------------------------- numbers


def test_numeric_profile_in_full():
    # ages 20, 22, 35 | 50, 60 | one unassigned customer whose age is missing
    p = profile({"age": [20.0, 22, 35, 50, 60, NAN]}, "numeric", [0, 0, 0, 1, 1, -1])
    assert p["n"] == 6
    assert p["overall"] == {
        "age": {
            "kind": "numeric",
            "mean": 37.4,
            "median": 35.0,
            "std": pytest.approx(np.std([20, 22, 35, 50, 60])),
            "min": 20.0,
            "max": 60.0,
            "missing_share": pytest.approx(1 / 6),
        }
    }
    young, old, noise = p["segments"]
    assert list(young) == [
        "segment",
        "size",
        "share",
        "name",
        "description",
        "numeric",
        "categorical",
        "distinguishing",
    ]
    assert (young["segment"], young["size"], young["share"]) == (0, 3, 0.5)
    assert (old["segment"], old["size"], old["share"]) == (1, 2, pytest.approx(1 / 3))
    assert (noise["segment"], noise["size"], noise["share"]) == (-1, 1, pytest.approx(1 / 6))
    std = np.std([20, 22, 35, 50, 60])
    assert young["numeric"] == [
        {
            "column": "age",
            "kind": "numeric",
            "mean": 25.6666666667,
            "median": 22.0,
            "overall_mean": 37.4,
            "overall_median": 35.0,
            "std_diff": pytest.approx((77 / 3 - 37.4) / std),
        }
    ]
    assert old["numeric"][0]["median"] == 55.0
    # a segment without a known value has no mean, median or effect, and no trait
    assert noise["numeric"][0] == {
        "column": "age",
        "kind": "numeric",
        "mean": None,
        "median": None,
        "overall_mean": 37.4,
        "overall_median": 35.0,
        "std_diff": None,
    }
    assert young["distinguishing"] == [
        {
            "column": "age",
            "kind": "numeric",
            "summary": "younger than average (26 vs 37)",
            "score": pytest.approx((37.4 - 77 / 3) / std),
            "direction": "lower",
        }
    ]
    assert old["distinguishing"][0]["direction"] == "higher"
    assert texts(p) == [
        ("Young customers", "Younger than average (26 vs 37)"),
        ("Older customers", "Older than average (55 vs 37)"),
        ("unassigned", "Not assigned to any segment; close to the average customer"),
    ]


def test_a_column_without_known_values_is_all_none_and_says_nothing():
    p = profile({"age": [NAN, NAN, NAN]}, "numeric", [0, 0, 1])
    assert p["overall"]["age"] == {
        "kind": "numeric",
        "mean": None,
        "median": None,
        "std": None,
        "min": None,
        "max": None,
        "missing_share": 1.0,
    }
    assert [s["description"] for s in p["segments"]] == ["Close to the average customer"] * 2


def test_missing_values_raise_no_numpy_warnings():
    columns = {
        "age": [NAN, NAN, 30.0, 40.0],
        "vip": [None, None, True, False],
        "never": [None] * 4,
        "shop": ["Web", "Web", "Web", "Web"],
        "constant": [1.0] * 4,
    }
    kinds = {"age": "numeric", "vip": "boolean", "never": "boolean", "shop": "categorical"}
    kinds["constant"] = "numeric"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = profile(columns, kinds, [0, 0, 1, 1])
    assert p["segments"][0]["numeric"][0]["mean"] is None
    assert p["segments"][0]["categorical"][0]["top"][0]["share"] is None


def test_constant_column_has_no_effect():
    p = profile({"age": [30.0, 30, 30, 30], "zero": [0.0] * 4}, "numeric", [0, 0, 1, 1])
    assert [s["numeric"][0]["std_diff"] for s in p["segments"]] == [0.0, 0.0]
    assert [s["numeric"][1]["std_diff"] for s in p["segments"]] == [0.0, 0.0]
    assert p["overall"]["age"]["std"] == 0.0
    assert [s["distinguishing"] for s in p["segments"]] == [[], []]


def test_numbers_given_as_text_and_infinities():
    p = profile({"spend": ["1.5", "2.5", "10", "inf"]}, "numeric", [0, 0, 1, 1])
    assert p["overall"]["spend"]["mean"] == pytest.approx(14 / 3)
    assert p["overall"]["spend"]["max"] == 10.0
    assert p["overall"]["spend"]["missing_share"] == 0.25
    assert [s["numeric"][0]["mean"] for s in p["segments"]] == [2.0, 10.0]


def test_boolean_column_marked_numeric_counts_trues():
    p = profile({"score": [True, False, True, True]}, "numeric", [0, 0, 1, 1])
    assert [s["numeric"][0]["mean"] for s in p["segments"]] == [0.5, 1.0]
    nullable = pd.array([True, False, None, True], dtype="boolean")
    p = profile({"score": nullable}, "numeric", [0, 0, 1, 1])
    assert [s["numeric"][0]["mean"] for s in p["segments"]] == [0.5, 1.0]
    assert p["overall"]["score"]["missing_share"] == 0.25


@pytest.mark.parametrize(
    ("columns", "summaries", "names"),
    [
        (
            {"tenure_months": [1.0, 2, 30, 40]},
            [
                "shorter tenure than average (1.5 vs 18 months)",
                "longer tenure than average (35 vs 18 months)",
            ],
            ["New customers", "Long-tenure customers"],
        ),
        (
            {"account_age": [1.0, 2, 30, 40]},
            [
                "shorter tenure than average (1.5 vs 18)",
                "longer tenure than average (35 vs 18)",
            ],
            ["New customers", "Long-tenure customers"],
        ),
        (
            {"days_since_last_order": [100.0, 80, 5, 3]},
            [
                "last order longer ago (90 vs 47 days ago)",
                "last order more recent (4 vs 47 days ago)",
            ],
            ["Lapsed customers", "Recent customers"],
        ),
        (
            {"recency": [100.0, 80, 5, 3]},
            [
                "last activity longer ago (90 vs 47)",
                "last activity more recent (4 vs 47)",
            ],
            ["Lapsed customers", "Recent customers"],
        ),
        (
            {"weeks_ago": [10.0, 8, 6, 4]},
            [
                "last activity longer ago (9 vs 7 weeks ago)",
                "last activity more recent (5 vs 7 weeks ago)",
            ],
            ["Lapsed customers", "Recent customers"],
        ),
        (
            {"total_spend": [10.0, 12, 100, 90]},
            ["0.21x the total spend", "1.8x the total spend"],
            ["Low-spend customers", "High-spend customers"],
        ),
        (
            {"annual_income": [10.0, 12, 100, 90]},
            ["0.21x the annual income", "1.8x the annual income"],
            ["Low-income customers", "High-income customers"],
        ),
        (
            {"app_sessions": [1.0, 2, 30, 40]},
            ["0.08x the app sessions", "1.9x the app sessions"],
            ["App-light customers", "App-heavy customers"],
        ),
        (
            {"n_orders": [1.0, 2, 30, 40]},
            ["0.08x the number of orders", "1.9x the number of orders"],
            ["Infrequent customers", "Frequent customers"],
        ),
        (
            {"mobile_app_push_opens": [1.0, 2, 30, 40]},
            ["0.08x the mobile app push opens", "1.9x the mobile app push opens"],
            ["Average customers #0", "Average customers #1"],
        ),
        (
            {"session_minutes": [9.0, 10, 12, 14]},
            [
                "session lower than average (9.5 vs 11 minutes)",
                "session higher than average (13 vs 11 minutes)",
            ],
            ["Low session", "High session"],
        ),
        (
            {"basket_size_items": [10.0, 12, 14, 16]},
            [
                "basket size items lower than average (11 vs 13)",
                "basket size items higher than average (15 vs 13)",
            ],
            ["Average customers #0", "Average customers #1"],
        ),
        (  # a ratio needs both means positive
            {"balance": [-30.0, -10, 10, 14]},
            [
                "balance lower than average (-20 vs -4)",
                "balance higher than average (12 vs -4)",
            ],
            ["Low balance", "High balance"],
        ),
        (
            {"balance": [0.0, 0, 10, 10]},
            [
                "balance lower than average (0 vs 5)",
                "2x the balance",
            ],
            ["Low balance", "High balance"],
        ),
    ],
)
def test_numeric_sentences_and_names(columns, summaries, names):
    p = profile(columns, "numeric", [0, 0, 1, 1])
    assert [s["distinguishing"][0]["summary"] for s in p["segments"]] == summaries
    assert [s["name"] for s in p["segments"]] == names
    assert p["segments"][0]["description"] == summaries[0][0].upper() + summaries[0][1:]


def test_ratio_is_shown_from_one_and_a_half_times():
    # 1.5x exactly reads as a ratio; 1.4x reads as two numbers
    exact = profile({"spend": [8.0, 8, 12, 12]}, "numeric", [0, 0, 1, 1])
    assert [s["description"] for s in exact["segments"]] == [
        "Spend lower than average (8 vs 10)",
        "Spend higher than average (12 vs 10)",
    ]
    wide = profile({"spend": [7.0, 7, 7, 7, 15, 15]}, "numeric", [0, 0, 0, 0, 1, 1])
    assert [s["description"] for s in wide["segments"]] == [
        "Spend lower than average (7 vs 9.7)",
        "1.6x the spend",
    ]
    low = profile({"spend": [4.0, 4, 8, 8, 8, 8]}, "numeric", [0, 0, 1, 1, 1, 1])
    assert low["segments"][0]["description"] == "0.6x the spend"  # 4 / 6.67 <= 1 / 1.5
    edge = profile({"spend": [4.0, 4, 8, 8]}, "numeric", [0, 0, 1, 1])
    assert [s["description"] for s in edge["segments"]] == [
        "0.67x the spend",  # 4 / 6 = 1 / 1.5 exactly
        "Spend higher than average (8 vs 6)",  # 8 / 6 is under 1.5
    ]


def test_ratio_of_exactly_one_and_a_half():
    p = profile({"spend": [6.0, 6, 6, 12]}, "numeric", [0, 0, 0, 1])
    assert p["segments"][1]["description"] == "1.6x the spend"  # 12 / 7.5
    p = profile({"spend": [2.0, 2, 2, 2, 2, 2, 3, 3, 3, 3]}, "numeric", [0] * 6 + [1] * 4)
    # overall 2.4, segment 3: 1.25x, shown as numbers with a decimal
    assert p["segments"][1]["description"] == "Spend higher than average (3 vs 2.4)"
    p = profile({"spend": [1.0, 3, 3, 3]}, "numeric", [0, 1, 1, 1])
    assert p["segments"][0]["description"] == "0.4x the spend"  # 1 / 2.5


def test_close_means_get_the_decimals_that_tell_them_apart():
    p = profile({"score": [10.0, 10.0, 10.4, 10.4]}, "numeric", [0, 0, 1, 1])
    assert [s["description"] for s in p["segments"]] == [
        "Score lower than average (10 vs 10.2)",
        "Score higher than average (10.4 vs 10.2)",
    ]
    p = profile({"score": [10.0, 10.0, 10.0, 10.03]}, "numeric", [0, 0, 0, 1])
    assert p["segments"][1]["description"] == "Score higher than average (10.03 vs 10.01)"


# --------------------------------------------------------------------------- names


def test_names_put_age_first_and_values_last():
    columns = {
        "channel": ["TikTok", "TikTok", "Email", "Email"],
        "app_sessions": [20.0, 30, 2, 1],
        "age": [25.0, 27, 50, 53],
    }
    kinds = {"channel": "categorical", "app_sessions": "numeric", "age": "numeric"}
    p = profile(columns, kinds, [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == ["Young app-heavy TikTok", "Older app-light Email"]
    # the description keeps the order of strength, ties in column order
    assert p["segments"][0]["description"] == (
        "Mostly TikTok (100% vs 50%), younger than average (26 vs 39), 1.9x the app sessions"
    )


def test_name_order_is_age_then_adjectives_then_dates_and_values():
    # each time the trait named first is the stronger one
    columns = {"age": [25.0, 27, 50, 53], "app_sessions": [20.0, 20, 1, 1]}
    p = profile(columns, "numeric", [0, 0, 1, 1])
    assert texts(p) == [
        ("Young app-heavy", "1.9x the app sessions, younger than average (26 vs 39)"),
        ("Older app-light", "0.1x the app sessions, older than average (52 vs 39)"),
    ]
    days = pd.to_datetime(["2024-03-01", "2024-03-01", "2024-03-13", "2024-03-13"])
    columns = {"app_sessions": [1.0, 2, 30, 40], "signup_date": days}
    p = profile(columns, {"app_sessions": "numeric", "signup_date": "datetime"}, [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == [
        "App-light early signups",
        "App-heavy recent signups",
    ]
    days = pd.to_datetime(["2024-03-01"] * 4 + ["2024-03-13"] * 4)
    columns = {"channel": ["Email"] * 3 + ["TikTok"] * 5, "signup_date": days}
    kinds = {"channel": "categorical", "signup_date": "datetime"}
    p = profile(columns, kinds, [0] * 4 + [1] * 4)
    assert [s["name"] for s in p["segments"]] == ["Early signups Email", "Recent signups TikTok"]
    # a value stronger than a date comes first
    days = pd.to_datetime(["2024-03-01", "2024-03-05", "2024-03-09", "2024-03-13"])
    columns = {"channel": ["Email", "Email", "TikTok", "TikTok"], "signup_date": days}
    p = profile(columns, kinds, [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == ["Email early signups", "TikTok recent signups"]


def test_name_takes_at_most_three_traits_and_four_words():
    columns = {c: [1.0, 2, 30, 40] for c in ("app_sessions", "web_visits", "email_opens", "calls")}
    p = profile(columns, "numeric", [0, 0, 1, 1])
    assert p["segments"][1]["name"] == "App-heavy web-heavy email-heavy"
    two_words = {
        "score": [1.0, 2, 30, 40],
        "total_spend": [1.0, 2, 30, 40],
        "age": [1.0, 2, 30, 40],
    }
    p = profile(two_words, "numeric", [0, 0, 1, 1])
    # "high score" (2) + "high-spend" (1) + "older" (1): 4 words, age first
    assert p["segments"][1]["name"] == "Older high score high-spend"
    crowded = {"score": [1.0, 2, 30, 40], "rating": [1.0, 2, 30, 40], "age": [1.0, 2, 30, 40]}
    p = profile(crowded, "numeric", [0, 0, 1, 1])
    assert p["segments"][1]["name"] == "High score high rating"  # "older" would be a 5th word


def test_name_skips_traits_without_a_word_or_room():
    # the strongest trait has no word for a name: the next one names the segment
    columns = {"basket_size_items": [1.0, 1, 10, 10], "age": [25.0, 27, 50, 53]}
    p = profile(columns, "numeric", [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == ["Young customers", "Older customers"]
    # "high rating" would be a fifth word; "older", weaker, still fits
    columns = {
        "app_sessions": [20.0, 20, 1, 1],
        "score": [10.0, 12, 2, 0],
        "rating": [10.0, 14, 2, -2],
        "age": [50.0, 58, 30, 20],
    }
    p = profile(columns, "numeric", [0, 0, 1, 1])
    assert p["segments"][0]["name"] == "Older app-heavy high score"
    assert p["segments"][0]["description"] == (
        "1.9x the app sessions, 1.8x the score, older than average (54 vs 40), 2x the rating"
    )


def test_a_token_is_used_once_whatever_its_case():
    columns = {"total_spend": [1.0, 2, 30, 40], "revenue": [1.0, 2, 30, 40]}
    p = profile(columns, "numeric", [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == ["Low-spend customers", "High-spend customers"]
    channel = {"tier": ["gold", "gold", "Gold", "Gold"], "plan": ["Gold", "Gold", "gold", "gold"]}
    p = profile(channel, "categorical", [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == ["Gold customers #0", "Gold customers #1"]


@pytest.mark.parametrize(
    ("effect", "distinguishing", "named"),
    [(0.19, False, False), (0.2, True, False), (0.29, True, False), (0.3, True, True)],
)
def test_effect_thresholds(effect, distinguishing, named):
    """Two segments of two, means +-effect around 0, overall standard deviation 1: the
    effect is told from 0.2 and names the segment from 0.3."""
    m, s = effect, (1 - effect**2) ** 0.5
    p = profile({"x": [m + s, m - s, -m + s, -m - s]}, "numeric", [0, 0, 1, 1])
    high, low = p["segments"]
    assert high["numeric"][0]["std_diff"] == effect
    if distinguishing:
        assert high["description"] == f"X higher than average ({effect:g} vs 0)"
        assert [d["score"] for d in low["distinguishing"]] == [effect]
    else:
        assert high["description"] == "Close to the average customer"
        assert low["distinguishing"] == []
    if named:
        assert [high["name"], low["name"]] == ["High x", "Low x"]
    else:
        assert [high["name"], low["name"]] == ["Average customers #0", "Average customers #1"]


def test_max_features_and_input_checks():
    columns = {"age": [20.0, 22, 60, 62], "app_sessions": [1.0, 2, 30, 40]}
    p = profile(columns, "numeric", [0, 0, 1, 1], max_features=1)
    assert [len(s["distinguishing"]) for s in p["segments"]] == [1, 1]
    with pytest.raises(InputError, match=r"^max_features must be at least 1$"):
        profile(columns, "numeric", [0, 0, 1, 1], max_features=0)
    with pytest.raises(InputError, match=r"^there are no customers to profile$"):
        profile({"age": []}, "numeric", [])


def test_equal_names_and_the_word_unassigned():
    p = profile({"age": [1.0, 1, 1, 1]}, "numeric", [-1, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == [
        "Average customers #0",
        "Average customers #1",
        "unassigned",
    ]
    p = profile({"group": ["unassigned"] * 2 + ["Web"] * 2}, "categorical", [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == ["Unassigned customers", "Web customers"]


# --------------------------------------------------------------------------- categories


def test_categorical_profile_in_full():
    channel = (
        ["TikTok"] * 4 + ["Email"] * 3 + ["TikTok"] + ["Email", "Facebook", "Instagram", "SMS"]
    )
    p = profile({"channel": channel}, "categorical", [0] * 4 + [1] * 4 + [2] * 4)
    assert p["overall"]["channel"] == {
        "kind": "categorical",
        "n_values": 5,
        "top": [
            {"value": "TikTok", "share": pytest.approx(5 / 12)},
            {"value": "Email", "share": pytest.approx(4 / 12)},
            {"value": "Facebook", "share": pytest.approx(1 / 12)},
            {"value": "Instagram", "share": pytest.approx(1 / 12)},
            {"value": "SMS", "share": pytest.approx(1 / 12)},
        ],
    }
    assert texts(p) == [
        ("TikTok customers", "Mostly TikTok (100% vs 42%)"),
        ("Email customers", "Mostly Email (75% vs 33%)"),
        ("Average customers", "More often Facebook (25% vs 8.3%)"),
    ]
    mixed = p["segments"][2]
    rare, third = pytest.approx(1 / 12), pytest.approx(1 / 3)
    assert mixed["categorical"] == [
        {
            "column": "channel",
            "kind": "categorical",
            "top": [
                {"value": "Email", "share": 0.25, "overall_share": third, "lift": 0.75},
                {"value": "Facebook", "share": 0.25, "overall_share": rare, "lift": 3.0},
                {"value": "Instagram", "share": 0.25, "overall_share": rare, "lift": 3.0},
                {"value": "SMS", "share": 0.25, "overall_share": rare, "lift": 3.0},
            ],
        }
    ]  # fmt: skip
    assert mixed["distinguishing"] == [
        {
            "column": "channel",
            "kind": "categorical",
            "summary": "more often Facebook (25% vs 8.3%)",
            "score": pytest.approx((0.25 - 1 / 12) / np.sqrt(1 / 12 * 11 / 12)),
            "direction": "higher",
            "value": "Facebook",
        }
    ]


def test_top_values_are_capped():
    values = [f"v{i:02d}" for i in range(12) for _ in range(12 - i)]
    labels = [i % 2 for i in range(len(values))]
    p = profile({"shop": values}, "categorical", labels)
    overall = p["overall"]["shop"]
    assert overall["n_values"] == 12
    assert [t["value"] for t in overall["top"]] == [f"v{i:02d}" for i in range(10)]
    assert [t["value"] for t in p["segments"][0]["categorical"][0]["top"]] == [
        "v00",
        "v01",
        "v02",
        "v03",
        "v04",
    ]


def test_absent_value_is_told_when_it_says_more():
    labels = [0] * 10 + [1] * 10
    # Web 60% vs 30% (effect 0.65) against App 0% vs 50% (effect -1): 0.65 >= 0.5 x 1
    shop = ["Web"] * 6 + ["Shop"] * 4 + ["App"] * 10
    p = profile({"shop": shop}, "categorical", labels)
    assert p["segments"][0]["distinguishing"][0]["summary"] == "mostly Web (60% vs 30%)"
    # every value 10% vs 5% (effect 0.23) against App 0% vs 50%: the absence is told
    spread = [f"Shop{i}" for i in range(10)] + ["App"] * 10
    p = profile({"shop": spread}, "categorical", labels)
    assert p["segments"][0]["distinguishing"] == [
        {
            "column": "shop",
            "kind": "categorical",
            "summary": "rarely App (0% vs 50%)",
            "score": 1.0,
            "direction": "lower",
            "value": "App",
        }
    ]
    assert p["segments"][0]["name"] == "Average customers"


def test_an_over_represented_value_half_as_strong_as_an_absence_is_told():
    # Shop 37.5% vs 25% and App 0% vs 25% (same spread): Shop's effect is exactly half
    shop = ["Web"] * 5 + ["Shop"] * 3 + ["Web"] * 3 + ["Shop"] + ["App"] * 4
    p = profile({"shop": shop}, "categorical", [0] * 8 + [1] * 8)
    assert p["segments"][0]["distinguishing"] == [
        {
            "column": "shop",
            "kind": "categorical",
            "summary": "more often Shop (38% vs 25%)",
            "score": pytest.approx(0.125 / np.sqrt(0.1875)),
            "direction": "higher",
            "value": "Shop",
        }
    ]


@pytest.mark.parametrize(
    ("size", "trues", "others", "summary", "name"),
    [
        (10, 5, 1, "mostly vip (50% vs 30%)", "Vip customers"),
        (10, 4, 0, "more often vip (40% vs 20%)", "Average customers"),  # a minority
        (10, 6, 10, "less often vip (60% vs 80%)", "Average customers"),  # still a majority
        (10, 5, 10, "less often vip (50% vs 75%)", "Average customers"),  # half: no minority
        (20, 5, 15, "less often vip (25% vs 50%)", "Non-vip customers"),  # half of it, not under
        (20, 4, 16, "rarely vip (20% vs 50%)", "Non-vip customers"),
    ],
)
def test_share_wording(size, trues, others, summary, name):
    """Two segments of ``size``: ``trues`` VIPs in the first, ``others`` in the second."""
    vip = [True] * trues + [False] * (size - trues) + [True] * others + [False] * (size - others)
    p = profile({"is_vip": vip}, "boolean", [0] * size + [1] * size)
    assert p["segments"][0]["description"] == summary[0].upper() + summary[1:]
    assert p["segments"][0]["name"] == name


@pytest.mark.parametrize(
    ("web", "web_elsewhere", "summary", "name"),
    [
        (30, 0, "more often Web (30% vs 15%)", "Web customers"),  # 30% and twice the share
        (50, 10, "mostly Web (50% vs 30%)", "Web customers"),  # half
        (30, 2, "more often Web (30% vs 16%)", "Average customers"),  # under twice
        (29, 0, "more often Web (29% vs 14%)", "Average customers"),  # under 30%
        (50, 30, "mostly Web (50% vs 40%)", "Average customers #0"),  # too weak
    ],
)
def test_when_a_value_names_a_segment(web, web_elsewhere, summary, name):
    shop = ["Web"] * web + ["Shop"] * (100 - web) + ["Web"] * web_elsewhere
    shop += ["Shop"] * (100 - web_elsewhere)
    p = profile({"shop": shop}, "categorical", [0] * 100 + [1] * 100, max_features=1)
    assert p["segments"][0]["description"] == summary[0].upper() + summary[1:]
    assert p["segments"][0]["name"] == name


def test_codes_and_plain_values_read_with_the_column_name():
    columns = {
        "tier": ["3", "3", "3", "1", "1", "1"],
        "plan": ["yes", "yes", "no", "no", "no", "no"],
        "region": [None, None, "EU", "EU", "EU", "EU"],
    }
    p = profile(columns, "categorical", [0, 0, 0, 1, 1, 1], max_features=10)
    assert texts(p) == [
        (
            "Tier 3 plan yes",
            "Mostly tier 3 (100% vs 50%), mostly plan yes (67% vs 33%), "
            "mostly unknown region (67% vs 33%)",
        ),
        (
            "Tier 1 plan no",
            "Mostly tier 1 (100% vs 50%), mostly plan no (100% vs 67%), mostly EU (100% vs 67%)",
        ),
    ]
    assert p["overall"]["region"]["top"] == [
        {"value": "EU", "share": pytest.approx(2 / 3)},
        {"value": None, "share": pytest.approx(1 / 3)},
    ]


@pytest.mark.parametrize(
    ("value", "words", "name"),
    [
        ("Email", "Email", "Email customers"),
        ("x", "shop x", "Shop x"),  # one letter
        ("-1.5", "shop -1.5", "Shop -1.5"),
        ("1,000", "shop 1,000", "Shop 1,000"),
        ("+7", "shop +7", "Shop +7"),
        ("N/A", "shop N/A", "Shop N/A"),
        ("Unknown", "shop Unknown", "Shop Unknown"),
        ("v2", "v2", "V2 customers"),
        ("Big Box Store", "Big Box Store", "Big Box Store"),
        ("Big Box Store Downtown", "Big Box Store Downtown", "Average customers"),
    ],
)
def test_value_words(value, words, name):
    shop = [value] * 3 + ["Kiosk"] * 3
    p = profile({"shop": shop}, "categorical", [0, 0, 0, 1, 1, 1])
    assert p["segments"][0]["description"] == f"Mostly {words} (100% vs 50%)"
    assert p["segments"][0]["name"] == name


def test_number_codes_stay_numbers_in_their_order():
    p = profile({"tier": [10, 2, 2, 1, 1, 10]}, "categorical", [0, 0, 0, 1, 1, 1])
    third = pytest.approx(1 / 3)
    assert p["overall"]["tier"]["top"] == [
        {"value": 1, "share": third},
        {"value": 2, "share": third},
        {"value": 10, "share": third},
    ]
    assert texts(p) == [
        ("Tier 2", "Mostly tier 2 (67% vs 33%)"),
        ("Tier 1", "Mostly tier 1 (67% vs 33%)"),
    ]


def test_values_that_cannot_be_sorted_are_sorted_as_text():
    code = [7, dt.date(2020, 1, 2), None, dt.date(2020, 1, 2), 7, None]
    p = profile({"code": code}, "categorical", [0, 1, 0, 1, 0, 1])
    third = pytest.approx(1 / 3)
    assert p["overall"]["code"]["top"] == [
        {"value": "2020-01-02", "share": third},
        {"value": "7", "share": third},
        {"value": None, "share": third},
    ]
    assert p["overall"]["code"]["n_values"] == 3


def test_timestamps_as_category_values_are_iso_text():
    stamps = pd.to_datetime(["2024-01-02 00:00", "2024-01-02 00:00", "2024-05-06 07:08"])
    for unit in ("s", "us", "ns"):
        p = profile({"day": stamps.as_unit(unit)}, "categorical", [0, 0, 1])
        assert [t["value"] for t in p["overall"]["day"]["top"]] == [
            "2024-01-02T00:00:00",
            "2024-05-06T07:08:00",
        ]


def test_equal_shares_keep_the_value_order():
    counts = [3, 2, 2, 1, 1, 1, 1, 1, 1, 3, 2, 3, 2, 2, 3, 3]
    shop = [f"v{i:02d}" for i, c in enumerate(counts) for _ in range(c)]
    p = profile({"shop": shop}, "categorical", [0] * len(shop))
    top = p["segments"][0]["categorical"][0]["top"]
    assert [t["value"] for t in top] == ["v00", "v09", "v11", "v14", "v15"]
    overall = [t["value"] for t in p["overall"]["shop"]["top"]]
    assert overall == ["v00", "v09", "v11", "v14", "v15", "v01", "v02", "v10", "v12", "v13"]


def test_a_value_everyone_has_is_no_trait():
    columns = {"shop": ["Web"] * 4, "vip": [True] * 4}
    p = profile(columns, {"shop": "categorical", "vip": "boolean"}, [0, 0, 1, 1])
    assert [s["description"] for s in p["segments"]] == ["Close to the average customer"] * 2


def test_a_thousand_values_are_not_pooled():
    values = [f"v{i:04d}" for i in range(MAX_CATEGORIES)]
    # the last value alone makes segment 1: it would be the first pooled
    p = profile({"shop": values}, "categorical", [0] * (len(values) - 1) + [1])
    assert p["overall"]["shop"]["n_values"] == MAX_CATEGORIES
    assert [t["value"] for t in p["overall"]["shop"]["top"]] == values[:10]
    assert [t["value"] for t in p["segments"][1]["categorical"][0]["top"]] == ["v0999"]


def test_rare_values_are_pooled():
    values = [f"v{i:04d}" for i in range(MAX_CATEGORIES + 2)] + ["v0005"]
    p = profile({"shop": values}, "categorical", [0] * len(values))
    overall = p["overall"]["shop"]
    assert overall["n_values"] == MAX_CATEGORIES + 2
    top = [t["value"] for t in overall["top"]]
    # the 3 rarest (the last in sorted order) are pooled, then v0005 (twice), then the rest
    assert top[:2] == [OTHER_VALUES, "v0005"]
    assert overall["top"][0]["share"] == pytest.approx(3 / len(values))
    assert top[2:] == ["v0000", "v0001", "v0002", "v0003", "v0004", "v0006", "v0007", "v0008"]


def test_dates_as_category_values_are_iso_text():
    days = [dt.date(2024, 1, 2)] * 2 + [dt.date(2024, 5, 6)] * 2
    p = profile({"day": days}, "categorical", [0, 0, 1, 1])
    assert [t["value"] for t in p["overall"]["day"]["top"]] == ["2024-01-02", "2024-05-06"]
    assert p["segments"][0]["description"] == "Mostly 2024-01-02 (100% vs 50%)"


def test_json_value():
    assert json_value(np.int64(3)) == 3 and type(json_value(np.int64(3))) is int
    assert json_value(np.float64(2.5)) == 2.5
    assert json_value(np.bool_(True)) is True
    assert json_value(pd.Timestamp("2024-01-02 03:04")) == "2024-01-02T03:04:00"
    assert json_value(dt.date(2024, 1, 2)) == "2024-01-02"
    assert json_value(None) is None and json_value(np.nan) is None and json_value(pd.NA) is None
    assert json_value("x") == "x"
    assert json_value(b"x") == "b'x'"
    assert json_value(dt.timedelta(days=1)) == "1 day, 0:00:00"


# --------------------------------------------------------------------------- booleans


def test_boolean_sentences_and_names():
    flags = [True, True, True, False, False, False]
    columns = {c: flags for c in ("is_subscriber", "has_app", "email_opt_in_flag", "has_a_b_c")}
    p = profile(columns, "boolean", [0, 0, 0, 1, 1, 1], max_features=10)
    assert texts(p) == [
        (
            "Subscriber app",
            "Mostly subscriber (100% vs 50%), mostly has app (100% vs 50%), mostly email opt in "
            "(100% vs 50%), mostly has a b c (100% vs 50%)",
        ),
        (
            "Non-subscriber no-app",
            "Rarely subscriber (0% vs 50%), rarely has app (0% vs 50%), rarely email opt in "
            "(0% vs 50%), rarely has a b c (0% vs 50%)",
        ),
    ]
    assert p["overall"]["has_app"] == {"kind": "boolean", "share_true": 0.5, "missing_share": 0.0}
    assert p["segments"][0]["categorical"][0] == {
        "column": "is_subscriber",
        "kind": "boolean",
        "top": [{"value": True, "share": 1.0, "overall_share": 0.5, "lift": 2.0}],
    }
    assert p["segments"][1]["distinguishing"][0] == {
        "column": "is_subscriber",
        "kind": "boolean",
        "summary": "rarely subscriber (0% vs 50%)",
        "score": 1.0,
        "direction": "lower",
        "value": True,
    }


@pytest.mark.parametrize(
    ("column", "names"),
    [
        ("is_vip", ["Vip customers", "Non-vip customers"]),
        ("flag", ["Flag customers", "Non-flag customers"]),
        ("is", ["Is customers", "Non-is customers"]),
        ("has", ["Has customers", "Non-has customers"]),
        ("vip_flag", ["Vip customers", "Non-vip customers"]),
        ("has_mobile_app", ["Mobile app", "No-mobile-app customers"]),
        ("opted_in_sms", ["Average customers #0", "Average customers #1"]),
    ],
)
def test_boolean_names(column, names):
    p = profile({column: [True, True, True, False, False, False]}, "boolean", [0, 0, 0, 1, 1, 1])
    assert [s["name"] for s in p["segments"]] == names


def test_booleans_from_words_numbers_and_missing_values():
    words = [
        "Yes",
        " y",
        "TRUE",
        "t",
        "1",
        "1.0",
        "no",
        "N",
        "false",
        "F",
        "0",
        "0.0",
        "maybe",
        None,
    ]
    labels = [0] * 6 + [1] * 6 + [1, 1]
    p = profile({"opt_in": words}, "boolean", labels)
    assert p["overall"]["opt_in"] == {
        "kind": "boolean",
        "share_true": 0.5,
        "missing_share": pytest.approx(2 / 14),
    }
    assert [s["categorical"][0]["top"][0]["share"] for s in p["segments"]] == [1.0, 0.0]
    numbers = profile({"opt_in": [2.0, -1, 0, NAN]}, "boolean", [0, 0, 1, 1])
    assert [s["categorical"][0]["top"][0]["share"] for s in numbers["segments"]] == [1.0, 0.0]
    assert numbers["overall"]["opt_in"]["missing_share"] == 0.25


def test_nullable_and_integer_booleans():
    nullable = pd.array([True, None, True, False], dtype="boolean")
    p = profile({"opt_in": nullable}, "boolean", [0, 0, 1, 1])
    assert p["overall"]["opt_in"] == {
        "kind": "boolean",
        "share_true": pytest.approx(2 / 3),
        "missing_share": 0.25,
    }
    assert texts(p) == [
        ("Opt in", "Mostly opt in (100% vs 67%)"),
        ("Average customers", "Less often opt in (50% vs 67%)"),
    ]
    p = profile({"opt_in": np.array([2, 0, 0, 0])}, "boolean", [0, 0, 1, 1])
    assert p["overall"]["opt_in"] == {"kind": "boolean", "share_true": 0.25, "missing_share": 0.0}


def test_boolean_without_known_values():
    p = profile({"opt_in": [None, None, None]}, "boolean", [0, 0, 1])
    assert p["overall"]["opt_in"] == {"kind": "boolean", "share_true": None, "missing_share": 1.0}
    assert p["segments"][0]["categorical"][0]["top"] == [
        {"value": True, "share": None, "overall_share": None, "lift": None}
    ]
    assert [s["distinguishing"] for s in p["segments"]] == [[], []]


# --------------------------------------------------------------------------- dates


def test_date_profile_in_full():
    days = pd.to_datetime(["2024-03-01", "2024-03-03", "2024-03-11", "2024-03-13"])
    columns = {"signup_date": days, "last_purchase_at": days, "created": days}
    p = profile(columns, "datetime", [0, 0, 1, 1])
    assert p["overall"]["signup_date"] == {
        "kind": "datetime",
        "mean": "2024-03-07",
        "median": "2024-03-07",
        "min": "2024-03-01",
        "max": "2024-03-13",
        "std_days": pytest.approx(np.std([0, 2, 10, 12])),
        "missing_share": 0.0,
    }
    assert p["segments"][0]["numeric"][0] == {
        "column": "signup_date",
        "kind": "datetime",
        "mean": "2024-03-02",
        "median": "2024-03-02",
        "overall_mean": "2024-03-07",
        "overall_median": "2024-03-07",
        "std_diff": pytest.approx(-5 / np.std([0, 2, 10, 12])),
    }
    assert texts(p) == [
        (
            "Early signups",  # "early last purchases" and "created long ago": over 4 words
            "Signup date earlier than average (2024-03-02 vs 2024-03-07), last purchase at "
            "earlier than average (2024-03-02 vs 2024-03-07), created earlier than average "
            "(2024-03-02 vs 2024-03-07)",
        ),
        (
            "Recent signups created recently",
            "Signup date later than average (2024-03-12 vs 2024-03-07), last purchase at "
            "later than average (2024-03-12 vs 2024-03-07), created later than average "
            "(2024-03-12 vs 2024-03-07)",
        ),
    ]


def test_dates_over_more_than_a_year_read_as_months():
    days = pd.to_datetime(["2020-01-01", "2020-01-03", "2021-01-01", "2021-01-03"])
    p = profile({"order_date": days}, "datetime", [0, 0, 1, 1])
    assert p["segments"][1]["description"] == "Order date later than average (Jan 2021 vs Jul 2020)"
    year = pd.to_datetime(["2020-01-01", "2020-01-03", "2020-12-29", "2020-12-31"])
    p = profile({"order_date": year}, "datetime", [0, 0, 1, 1])  # 365 days: still dates
    assert p["segments"][1]["description"] == (
        "Order date later than average (2020-12-30 vs 2020-07-01)"
    )
    assert p["segments"][1]["name"] == "Recent orders"
    leap = pd.to_datetime(["2020-01-01", "2020-01-03", "2020-12-30", "2021-01-01"])
    p = profile({"order_date": leap}, "datetime", [0, 0, 1, 1])  # 366 days: months
    assert p["segments"][1]["description"] == "Order date later than average (Dec 2020 vs Jul 2020)"
    p = profile({"orders_day": year}, "datetime", [0, 0, 1, 1])
    assert p["segments"][0]["name"] == "Early orders"


def test_close_dates_in_months_get_days():
    days = pd.to_datetime(["2020-06-01"] + ["2021-06-02"] * 50 + ["2021-06-28"] * 50)
    p = profile({"order_date": days}, "datetime", [0] + [1] * 50 + [2] * 50)
    assert texts(p) == [
        ("Early orders", "Order date earlier than average (Jun 2020 vs Jun 2021)"),
        ("Average customers", "Order date earlier than average (2021-06-02 vs 2021-06-11)"),
        ("Recent orders", "Order date later than average (2021-06-28 vs 2021-06-11)"),
    ]


def test_text_and_time_zones_are_read_as_dates():
    p = profile(
        {"signup": ["2024-03-01", "bad", "2024-03-11", "2024-03-13"]}, "datetime", [0, 0, 1, 1]
    )
    assert p["overall"]["signup"] == {
        "kind": "datetime",
        "mean": "2024-03-08",
        "median": "2024-03-11",
        "min": "2024-03-01",
        "max": "2024-03-13",
        "std_days": pytest.approx(np.std([0, 10, 12])),
        "missing_share": 0.25,
    }
    wall = ["2024-03-01 23:30", "2024-03-03 23:30", "2024-03-11 23:30", "2024-03-13 23:30"]
    tz = pd.to_datetime(wall).tz_localize("America/New_York")
    p = profile({"signup": tz}, "datetime", [0, 0, 1, 1])
    assert (p["overall"]["signup"]["min"], p["overall"]["signup"]["max"]) == (
        "2024-03-01",
        "2024-03-13",
    )


@pytest.mark.parametrize(
    ("column", "token"),
    [
        ("signup_date", "signups"),
        ("visits_at", "visits"),
        ("first_order_day", "first orders"),
        ("date", None),
        ("first_paid_order_date", None),
    ],
)
def test_date_names(column, token):
    days = pd.to_datetime(["2024-03-01", "2024-03-03", "2024-03-11", "2024-03-13"])
    p = profile({column: days}, "datetime", [0, 0, 1, 1])
    expected = (
        [f"Early {token}", f"Recent {token}"]
        if token
        else ["Average customers #0", "Average customers #1"]
    )
    assert [s["name"] for s in p["segments"]] == expected


@pytest.mark.parametrize(
    ("column", "early", "recent"),
    [
        ("created_at", "Created long ago", "Created recently"),
        ("joined", "Joined long ago", "Joined recently"),
        ("used_on", "Used long ago", "Used recently"),
        ("last_seen", "Last seen long ago", "Last seen recently"),
        ("sent_at", "Sent long ago", "Sent recently"),
        ("signed_up_at", "Signed up long ago", "Signed up recently"),
        ("birth_date", "Older customers", "Young customers"),
        ("dob", "Older customers", "Young customers"),
        ("delivery_date", "Early deliveries", "Recent deliveries"),
        ("play_date", "Early plays", "Recent plays"),
        ("last_access_time", "Early last accesses", "Recent last accesses"),
        ("tax_date", "Early taxes", "Recent taxes"),
        ("batch_date", "Early batches", "Recent batches"),
        ("wash_date", "Early washes", "Recent washes"),
        ("quiz_date", "Early quizes", "Recent quizes"),
        ("query_date", "Early queries", "Recent queries"),
        ("survey_date", "Early surveys", "Recent surveys"),
        ("xy_date", "Early xies", "Recent xies"),  # consonant + y, however short
        ("feed_date", "Early feeds", "Recent feeds"),
        ("bed_date", "Early beds", "Recent beds"),
        ("y_date", "Early ys", "Recent ys"),
    ],
)
def test_dates_are_named_as_their_column_reads(column, early, recent):
    """A verb tells when it happened ("Early createds" read wrong), a birth date tells age,
    a noun is put in the plural as English does."""
    days = pd.to_datetime(["2024-03-01", "2024-03-03", "2024-03-11", "2024-03-13"])
    p = profile({column: days}, "datetime", [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == [early, recent]


def test_a_birth_date_leads_the_name_as_age_does():
    days = pd.to_datetime(["1960-03-01", "1960-03-03", "2000-03-11", "2000-03-13"])
    columns = {"app_sessions": [1.0, 2, 30, 40], "birth_date": days}
    p = profile(columns, {"app_sessions": "numeric", "birth_date": "datetime"}, [0, 0, 1, 1])
    assert [s["name"] for s in p["segments"]] == ["Older app-light", "Young app-heavy"]


@pytest.mark.parametrize(
    ("column", "recent"),
    [
        ("paid_at", "Paid recently"),
        ("order_made_at", "Order made recently"),
        ("done_at", "Done recently"),
        ("bought_on", "Bought recently"),
        ("won_at", "Won recently"),
        ("lost_at", "Lost recently"),
        ("left_at", "Left recently"),
        ("born_city", "Born city recently"),  # a verb before the noun still tells when
        ("birthday", "Young customers"),
        ("born_on", "Young customers"),
        ("birthdate", "Young customers"),
    ],
)
def test_more_date_columns_read_as_verbs_or_ages(column, recent):
    days = pd.to_datetime(["2024-03-01", "2024-03-03", "2024-03-11", "2024-03-13"])
    p = profile({column: days}, "datetime", [0, 0, 1, 1])
    assert p["segments"][1]["name"] == recent


def test_numpy_numbers_and_huge_ones_are_formatted_too():
    assert format_number(np.float64(10.5)) == "11"
    assert format_ratio(np.float64(10.5)) == "11x"
    assert format_percent(np.float64(0.125)) == "13%"
    # more digits than a decimal context's usual 28: every digit is kept, halves still up
    assert format_number(1e40) == "10000000000000001000000000000000B"
    assert format_number(1.5e12) == "1500B"  # no thousands separator in a unit
    assert format_number(2.5e-40) == "0.00000000000000000000000000000000000000025"
    assert format_number(2.5e-40, -1) == "0.0000000000000000000000000000000000000003"


# --------------------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros((2, 2), dtype=int), "^labels has 4 entries but the table has 4 customers$"),
        (np.array([0, 1, 0]), "^labels has 3 entries but the table has 4 customers$"),
        (np.array([0.0, 1.5, 0, 0]), "^labels must be whole numbers"),
        (np.array([0.0, np.nan, 0, 0]), "^labels must be whole numbers"),
        (np.array([0, -3, -2, 1]), r"^label -3 is not allowed \(segments 0..k-1, -1 for "),
        (np.array([0, -2, -1, 1]), r"^label -2 is not allowed"),
    ],
)
def test_bad_labels(labels, message):
    df = pd.DataFrame({"age": [1.0, 2, 3, 4]})
    with pytest.raises(InputError, match=message):
        profile_segments(df, {"age": "numeric"}, labels)


def test_whole_float_labels_are_read_as_segments():
    df = pd.DataFrame({"age": [1.0, 2, 3, 4]})
    p = profile_segments(df, {"age": "numeric"}, np.array([1.0, 1.0, 0.0, -1.0]))
    assert [(s["segment"], s["size"]) for s in p["segments"]] == [(0, 1), (1, 2), (-1, 1)]
    p = profile_segments(df, {"age": "numeric"}, np.array([1, 1, 0, 0], dtype=np.uint8))
    assert [s["segment"] for s in p["segments"]] == [0, 1]


def test_column_selection():
    df = pd.DataFrame({"b": [1.0, 2], "a": ["x", "y"], "c": ["t", "u"]})
    kinds = {"a": "categorical", "b": "numeric", "c": "text"}
    p = profile_segments(df, kinds, np.array([0, 1]), columns=["a", "b", "a"])
    assert list(p["overall"]) == ["a", "b"]
    assert list(profile_segments(df, kinds, np.array([0, 1]))["overall"]) == ["b", "a"]
    with pytest.raises(InputError, match=r"^column 'c' is text and cannot be profiled$"):
        profile_segments(df, kinds, np.array([0, 1]), columns=["c"])
    with pytest.raises(InputError, match=r"^column 'a' has no known kind \(got 'color'\)$"):
        profile_segments(df, {"a": "color"}, np.array([0, 1]), columns=["a"])
    with pytest.raises(InputError, match=r"^column 'z' is not in the table$"):
        profile_segments(df, kinds, np.array([0, 1]), columns=["z"])
    p = profile_segments(df, {"a": "id"}, np.array([0, 1]))
    assert p["overall"] == {}


def test_numeric_column_of_words_is_refused():
    with pytest.raises(InputError, match=r"^column 'age' is marked numeric but holds text$"):
        profile({"age": ["young", "old"]}, "numeric", [0, 1])
    with pytest.raises(InputError, match=r"^column 'age' is marked numeric but holds text$"):
        profile({"age": [[1], [2]]}, "numeric", [0, 1])


# --------------------------------------------------------------------------- aggregates


def test_profile_from_aggregates_matches_the_table():
    """Reference: aggregates counted by hand for a small table give its profile."""
    df = pd.DataFrame(
        {
            "age": [20.0, 22, 35, 50, 60, NAN],
            "channel": ["a", "a", "b", "b", None, "b"],
            "vip": [True, True, False, False, None, True],
        }
    )
    labels = np.array([0, 0, 0, 1, 1, -1])
    kinds = {"age": "numeric", "channel": "categorical", "vip": "boolean"}
    expected = profile_segments(df, kinds, labels)
    groups = np.array([-1, 0, 1])
    ages = [[], [20, 22, 35], [50, 60]]  # per group, known values
    known = np.array([20, 22, 35, 50, 60.0])
    age = NumericSums(
        count=np.array([0, 3, 2]),
        total=np.array([0.0, 77, 110]),
        median=np.array([NAN, 22, 55]),
        o_count=5,
        o_mean=known.mean(),
        o_median=35.0,
        o_std=known.std(),
        lo=20.0,
        hi=60.0,
    )
    assert [len(a) for a in ages] == list(age.count)
    channel = ShareCounts(
        values=["a", "b", None],
        counts=np.array([[0, 1, 0], [2, 1, 0], [0, 1, 1]]),
        denom=np.array([1, 3, 2]),
        o_counts=np.array([2, 3, 1]),
        o_denom=6,
        n_values=3,
    )
    vip = ShareCounts(
        values=[True],
        counts=np.array([[1], [2], [0]]),
        denom=np.array([1, 3, 1]),
        o_counts=np.array([3]),
        o_denom=5,
        n_values=2,
    )
    got = profile_from_aggregates(
        6,
        groups,
        np.array([1, 3, 2]),
        [("age", "numeric", age), ("channel", "categorical", channel), ("vip", "boolean", vip)],
    )
    assert got == expected
    assert got["segments"][0]["name"] == "Young channel a"
    with pytest.raises(InputError, match=r"^there are no customers to profile$"):
        profile_from_aggregates(0, groups, np.zeros(3), [])


def test_booleans_never_true_or_unknown_in_a_segment():
    p = profile({"flag": [False] * 4}, "boolean", [0, 0, 1, 1])
    assert p["segments"][0]["categorical"][0]["top"] == [
        {"value": True, "share": 0.0, "overall_share": 0.0, "lift": None}
    ]
    p = profile({"flag": [True, False, None, None]}, "boolean", [0, 0, 1, 1])
    assert p["segments"][1]["categorical"][0]["top"] == [
        {"value": True, "share": None, "overall_share": 0.5, "lift": None}
    ]
    assert [s["distinguishing"] for s in p["segments"]] == [[], []]


def test_a_value_told_as_less_often_names_nothing():
    # Web: 60% vs 80% (effect -0.5) outweighs four values at 10% vs 5% (effect 0.23 each)
    shop = ["Web"] * 6 + ["A1", "A2", "A3", "A4"] + ["Web"] * 10
    p = profile({"shop": shop}, "categorical", [0] * 10 + [1] * 10)
    assert texts(p)[0] == ("Average customers", "Less often Web (60% vs 80%)")


@pytest.mark.parametrize(
    ("column", "values", "name", "description"),
    [
        ("hours", [9.0, 11, 13, 15], "Low hours", "Hours lower than average (10 vs 12)"),
        ("spend", [1.0, 1, 3, 3], "High-spend customers", "1.5x the spend"),
        ("app_opens", [1.0, 2, 30, 40], "App-heavy customers", "1.9x the app opens"),
        ("web_app_opens", [1.0, 2, 30, 40], "Web-app-heavy customers", "1.9x the web app opens"),
        (
            "web_session_minutes",
            [9.0, 11, 13, 15],
            "Low web session",
            "Web session lower than average (10 vs 12 minutes)",
        ),
        (
            "recency_of_last_order",
            [3.0, 5, 80, 100],
            "Lapsed customers",
            "Last activity longer ago (90 vs 47)",
        ),
        (
            "seniority_years",
            [1.0, 2, 30, 40],
            "Long-tenure customers",
            "Longer tenure than average (35 vs 18 years)",
        ),
        ("spend", [0.1, 0.1, 0.9, 0.9], "High-spend customers", "1.8x the spend"),
        (
            "credit_score",
            [9.0, 11, 13, 15],
            "High credit score",
            "Credit score higher than average (14 vs 12)",
        ),
        (
            "months_since",
            [9.0, 11, 13, 15],
            "Lapsed customers",
            "Last activity longer ago (14 vs 12 months ago)",
        ),
        # at most three more decimals: beyond that, close means read alike
        (
            "score",
            [10.00001, 10.00001, 10.00011, 10.00011],
            "High score",
            "Score higher than average (10 vs 10)",
        ),
    ],
)
def test_more_numeric_wording(column, values, name, description):
    p = profile({column: values}, "numeric", [0, 0, 1, 1])
    seg = p["segments"][0] if name.startswith("Low") else p["segments"][1]
    assert (seg["name"], seg["description"]) == (name, description)


def test_rows_are_grouped_by_segment_beyond_int16_codes():
    """More segments than an int16 holds (the profile of 40,000 segments would take
    seconds, so the grouping that every median reads is checked directly)."""
    codes = (np.arange(80_000) * 7919) % 40_000
    grouping = _Grouping.build(codes, 40_000)
    assert list(grouping.sizes) == [2] * 40_000
    grouped = codes[grouping.order]
    assert np.array_equal(grouped, np.repeat(np.arange(40_000), 2))
    assert list(grouping.bounds[:3]) == [0, 2, 4] and grouping.bounds[-1] == 80_000


def test_five_features_unless_told_otherwise():
    columns = {f"x{i}": [1.0, 2, 30, 40 + i] for i in range(7)}
    p = profile(columns, "numeric", [0, 0, 1, 1])
    assert [len(s["distinguishing"]) for s in p["segments"]] == [5, 5]
    sums = NumericSums(
        count=np.array([2, 2]),
        total=np.array([3.0, 70]),
        median=np.array([1.5, 35]),
        o_count=4,
        o_mean=18.25,
        o_median=16.0,
        o_std=float(np.std([1.0, 2, 30, 40])),
        lo=1.0,
        hi=40.0,
    )
    aggregates = [(f"x{i}", "numeric", sums) for i in range(7)]
    p = profile_from_aggregates(4, np.array([0, 1]), np.array([2, 2]), aggregates)
    assert [len(s["distinguishing"]) for s in p["segments"]] == [5, 5]
    p = profile_from_aggregates(4, np.array([0, 1]), np.array([2, 2]), aggregates, 2)
    assert [len(s["distinguishing"]) for s in p["segments"]] == [2, 2]


def test_aggregates_without_known_values():
    empty = NumericSums(np.zeros(2), np.zeros(2), np.full(2, NAN), 0, 1.0, 1.0, 1.0, 1.0, 1.0)
    p = profile_from_aggregates(3, np.array([0, 1]), np.array([1, 2]), [("x", "numeric", empty)])
    assert p["overall"]["x"] == {
        "kind": "numeric",
        "mean": None,
        "median": None,
        "std": None,
        "min": None,
        "max": None,
        "missing_share": 1.0,
    }
    dates = profile_from_aggregates(
        3, np.array([0, 1]), np.array([1, 2]), [("d", "datetime", empty)]
    )
    assert dates["overall"]["d"]["min"] is None and dates["overall"]["d"]["std_days"] is None


# --------------------------------------------------------------------------- formatting


def test_medians_and_means_leave_out_missing_values_in_every_segment():
    # segment 0 knows 1, 2, 3 (odd), segment 1 knows 10, 20, 40, 50 (even)
    ages = [NAN, 1.0, 2, 3, NAN, 10, 20, 40, 50]
    p = profile({"age": ages}, "numeric", [0, 0, 0, 0, 1, 1, 1, 1, 1])
    assert [(s["numeric"][0]["mean"], s["numeric"][0]["median"]) for s in p["segments"]] == [
        (2.0, 2.0),
        (30.0, 30.0),
    ]
    assert (p["overall"]["age"]["median"], p["overall"]["age"]["mean"]) == (10.0, 18.0)
    assert p["overall"]["age"]["missing_share"] == pytest.approx(2 / 9)
    assert p["overall"]["age"]["std"] == pytest.approx(np.std([1, 2, 3, 10, 20, 40, 50]))


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 0, 2**21, 2**21]),  # labels beyond what is counted: sorted instead
        np.array([0, 0, 127, 127], dtype=np.int8),  # the largest int8 label
        np.array([0, 0, 2**21, 2**21], dtype=np.uint64),
    ],
)
def test_any_whole_labels_group_the_customers(labels):
    p = profile_segments(pd.DataFrame({"x": [1.0, 2, 3, 6]}), {"x": "numeric"}, labels)
    assert [(s["segment"], s["size"]) for s in p["segments"]] == [(0, 2), (int(labels[-1]), 2)]
    assert [s["numeric"][0]["median"] for s in p["segments"]] == [1.5, 4.5]


def test_halves_round_up_in_sentences():
    # means 10.5 and 13 against 11.75: "11 vs 12", not "10 vs 12" (Python rounds half to even)
    p = profile({"score": [10.0, 11, 13, 13]}, "numeric", [0, 0, 1, 1])
    assert p["segments"][0]["description"] == "Score lower than average (11 vs 12)"


@pytest.mark.parametrize(
    ("value", "extra", "text"),
    [
        (10.5, 0, "11"),
        (11.5, 0, "12"),
        (-10.5, 0, "-11"),
        (1234.5, 0, "1,235"),
        (2.25, 0, "2.3"),
        (2.675, 1, "2.68"),  # as written, though the float is 2.67499...
        (0.125, 0, "0.13"),
        (999_999.4, 0, "999,999"),
        (999_999.6, 0, "1M"),
        (-999_999.6, 0, "-1M"),
        (999_999.96, 2, "999,999.96"),
        (999_999.96, 1, "1M"),
        (999_949_999.0, 0, "999.9M"),
        (999_950_000.0, 0, "1B"),
        (999_995_000.0, 1, "1B"),
        (999_994_999.0, 1, "999.99M"),
    ],
)
def test_numbers_round_halves_up_and_into_the_next_unit(value, extra, text):
    assert format_number(value, extra) == text


def test_ratios_and_percentages_round_halves_up():
    assert [format_ratio(r) for r in (10.5, 1234.5, 2.25, 0.125)] == [
        "11x",
        "1,235x",
        "2.3x",
        "0.13x",
    ]
    assert [format_percent(p) for p in (0.125, 0.0125, 0.00125)] == ["13%", "1.3%", "0.13%"]
    assert format_percent(0.135, 1) == "13.5%"


@pytest.mark.parametrize(
    ("value", "extra", "text"),
    [
        (999_999_999.0, 0, "1B"),
        (1e9, 0, "1B"),
        (1.75e9, 0, "1.8B"),
        (1.75e6, 0, "1.8M"),
        (1.25e6, 0, "1.3M"),
        (1.25e6, 1, "1.25M"),
        (-1.25e9, 0, "-1.3B"),
        (1.25e9, 1, "1.25B"),
        (1e6, 0, "1M"),
        (-3.4e6, 0, "-3.4M"),
        (999_999.0, 0, "999,999"),
        (10.0, 0, "10"),
        (-10.0, 0, "-10"),
        (12.345, 1, "12.3"),
        (9.96, 0, "10"),
        (1.0, 0, "1"),
        (-1.0, 0, "-1"),
        (1.25, 1, "1.25"),
        (0.5, 0, "0.5"),
        (-0.5, 0, "-0.5"),
        (0.0123, 0, "0.012"),
        (0.0123, 1, "0.0123"),
        (-0.04, 0, "-0.04"),
        (float("nan"), 0, "n/a"),
        (float("inf"), 0, "n/a"),
        (-0.0, 0, "0"),
        (-1e-13, 0, "-0.0000000000001"),
    ],
)
def test_format_number_cases(value, extra, text):
    assert format_number(value, extra) == text


@pytest.mark.parametrize(
    ("share", "extra", "text"),
    [
        (0.1, 0, "10%"),
        (0.104, 0, "10%"),
        (-0.1, 0, "-10%"),
        (0.0999, 0, "10%"),
        (0.05, 0, "5%"),
        (0.0512, 1, "5.12%"),
        (0.01, 0, "1%"),
        (-0.05, 0, "-5%"),
        (0.005, 0, "0.5%"),
        (0.00123, 0, "0.12%"),
        (0.00123, 1, "0.123%"),
        (-0.00123, 0, "-0.12%"),
        (0.5, 1, "50%"),
        (0.505, 1, "50.5%"),
        (0.0, 2, "0%"),
        (float("nan"), 0, "n/a"),
    ],
)
def test_format_percent_cases(share, extra, text):
    assert format_percent(share, extra) == text


def test_numbers_show_two_digits_unless_told():
    assert format_percent(0.0123) == "1.2%"
    assert format_number(29.4) == "29"


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (10.0, "10x"),
        (10.4, "10x"),
        (9.96, "10x"),
        (1234.0, "1,234x"),
        (1.0, "1x"),
        (0.999, "1x"),
        (0.5, "0.5x"),
    ],
)
def test_format_ratio_cases(ratio, text):
    assert format_ratio(ratio) == text


@pytest.mark.parametrize(
    ("column", "words"),
    [
        ("nb_visits", "number of visits"),
        ("nr_calls", "number of calls"),
        ("n", "n"),
        ("N_orders", "number of orders"),
        ("customerLTV", "customer lifetime value"),
        ("sms_pct", "SMS percent"),
        ("__", "__"),
        ("Qty2Buy", "qty2 buy"),
    ],
)
def test_more_column_words(column, words):
    assert column_words(column) == words
