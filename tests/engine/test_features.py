"""Preprocessing: the feature spec, the fitted state and its replay on new customers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import chi2, chi2_contingency, norm
from sklearn.metrics import mutual_info_score

from segtrail.engine import features
from segtrail.engine.features import (
    MISSING,
    OTHER,
    build_spec,
    dependence_screen,
    describe_spec,
    feature_contributions,
    fit_features,
    model_matrix,
    transform_features,
)
from segtrail.errors import SegtrailError

KINDS = {
    "id": "id",
    "email": "text",
    "age": "numeric",
    "spend": "numeric",
    "channel": "categorical",
    "member": "boolean",
    "signup": "datetime",
}


def frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"C{i:05d}" for i in range(n)],
            "email": [f"user{i}@example.com" for i in range(n)],
            "age": rng.normal(45, 12, n).round(),
            "spend": rng.lognormal(5, 1.2, n).round(2),  # money: skewed, non-negative
            "channel": rng.choice(["Email", "TikTok", "Store"], n, p=[0.5, 0.3, 0.2]),
            "member": rng.choice(["yes", "no"], n),
            "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D"),
        }
    )


def block(fitted: dict, X: np.ndarray, column: str) -> np.ndarray:
    start = 0
    for col in fitted["columns"]:
        width = len(col["output"])
        if col["column"] == column:
            return X[:, start : start + width]
        start += width
    raise KeyError(column)


def column_state(fitted: dict, column: str) -> dict:
    return next(c for c in fitted["columns"] if c["column"] == column)


# ----------------------------------------------------------------------------- spec


def test_default_spec_takes_every_feature_kind_but_not_id_or_text() -> None:
    spec = build_spec(frame(), KINDS, "id")
    assert [f["column"] for f in spec["features"]] == [
        "age",
        "spend",
        "channel",
        "member",
        "signup",
    ]
    assert all(f["weight"] == 1.0 for f in spec["features"])
    assert json.loads(json.dumps(spec)) == spec


def test_features_exclude_and_weights() -> None:
    spec = build_spec(
        frame(), KINDS, "id", features=["spend", "age", "channel"], exclude=["age"],
        weights={"spend": 2.5},
    )  # fmt: skip
    assert [(f["column"], f["weight"]) for f in spec["features"]] == [
        ("spend", 2.5),
        ("channel", 1.0),
    ]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"features": ["agee"]}, "unknown column 'agee' in features; available columns: id,"),
        ({"exclude": ["nope"]}, "unknown column 'nope' in exclude"),
        ({"weights": {"nope": 2.0}}, "unknown column 'nope' in weights"),
        ({"features": ["email"]}, "column 'email' is text"),
        ({"features": ["id"]}, "column 'id' is the customer id"),
        ({"features": ["age"], "weights": {"spend": 2.0}}, "'spend', which is not a feature"),
        ({"weights": {"age": -1.0}}, "weight for 'age' must be a number >= 0"),
        ({"features": ["age"], "exclude": ["age"]}, "no feature columns left"),
    ],
)
def test_spec_mistakes_get_one_clear_line(kwargs: dict, words: str) -> None:
    with pytest.raises(SegtrailError) as caught:
        build_spec(frame(), KINDS, "id", **kwargs)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


# ----------------------------------------------------------------------------- fit


@pytest.fixture(params=["one thread", "by column on threads"])
def threads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of preparing columns: large frames prepare them on threads."""
    if request.param != "one thread":
        monkeypatch.setattr(features, "THREADED_ROWS", 1)
    return request.param


def test_matrix_shape_dtype_and_json_state(threads: str) -> None:
    df = frame()
    X, fitted = fit_features(df, build_spec(df, KINDS, "id"))
    assert X.dtype == np.float32 and X.shape == (len(df), fitted["n_features"])
    assert X.flags.c_contiguous and np.isfinite(X).all()
    assert fitted["feature_names"][:2] == ["age", "spend"]
    assert "channel=Email" in fitted["feature_names"]
    assert json.loads(json.dumps(fitted)) == fitted


def test_numeric_is_imputed_logged_when_skewed_and_standardized(threads: str) -> None:
    df = frame(2000)
    df.loc[::10, "age"] = np.nan
    X, fitted = fit_features(df, build_spec(df, KINDS, "id"))
    age, spend = column_state(fitted, "age"), column_state(fitted, "spend")
    assert not age["log1p"] and spend["log1p"]  # symmetric vs money
    assert age["n_missing"] == 200 and age["median"] == pytest.approx(df["age"].median())
    for name in ("age", "spend"):
        values = block(fitted, X, name)[:, 0].astype(np.float64)
        assert values.mean() == pytest.approx(0.0, abs=1e-5)
        assert values.std() == pytest.approx(1.0, abs=1e-4)
    # every missing age sits exactly at the median's coordinate
    at_median = (age["median"] - age["mean"]) / age["std"]
    assert np.allclose(block(fitted, X, "age")[::10, 0], at_median, atol=1e-5)
    # log1p: the coordinate is linear in log1p(spend)
    logs = np.log1p(df["spend"].to_numpy())
    expected = (logs - logs.mean()) / logs.std()
    assert np.allclose(block(fitted, X, "spend")[:, 0], expected, atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(
    levels=st.integers(2, 15),
    seed=st.integers(0, 10_000),
    weight=st.sampled_from([0.5, 1.0, 3.0]),
)
def test_categorical_block_weighs_like_one_numeric_column(
    levels: int, seed: int, weight: float
) -> None:
    """Reference: the variance of the block, computed with numpy (weight squared)."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(levels)) * 0.9 + 0.1 / levels  # every level >= 1%-ish
    n = 3000
    df = pd.DataFrame(
        {
            "id": np.arange(n).astype(str),
            "cat": rng.choice([f"L{i}" for i in range(levels)], n, p=probs),
            "num": rng.normal(size=n),
        }
    )
    kinds = {"id": "id", "cat": "categorical", "num": "numeric"}
    X, fitted = fit_features(df, build_spec(df, kinds, "id", weights={"cat": weight}))
    cat = block(fitted, X, "cat").astype(np.float64)
    # total variance of the block = weight^2, like a numeric column with that weight
    assert cat.var(axis=0).sum() == pytest.approx(weight**2, rel=1e-4)
    assert block(fitted, X, "num").var() == pytest.approx(1.0, rel=1e-4)
    # each row has exactly one level switched on
    assert ((cat > 0).sum(axis=1) == 1).all()


def test_rare_levels_are_grouped_and_missing_is_its_own_level(threads: str) -> None:
    n = 2000
    common = np.array(["A"] * 1200 + ["B"] * 700 + ["C"] * 70, dtype=object)
    rare = np.array([f"r{i}" for i in range(10)] * 2, dtype=object)  # 0.1% each
    values = np.concatenate([common, rare, [None] * 10])
    df = pd.DataFrame({"id": np.arange(n).astype(str), "cat": values})
    X, fitted = fit_features(df, build_spec(df, {"id": "id", "cat": "categorical"}, "id"))
    cat = column_state(fitted, "cat")
    assert cat["levels"] == ["A", "B", "C", OTHER, MISSING]
    assert cat["grouped_levels"] == 10 and cat["n_missing"] == 10
    switched = X.argmax(axis=1)
    assert (switched[1970:1990] == 3).all() and (switched[1990:] == 4).all()


def test_at_most_twenty_named_levels() -> None:
    n = 3000
    df = pd.DataFrame({"id": np.arange(n).astype(str), "cat": [f"v{i % 30}" for i in range(n)]})
    _, fitted = fit_features(df, build_spec(df, {"id": "id", "cat": "categorical"}, "id"))
    levels = column_state(fitted, "cat")["levels"]
    assert len(levels) == 21 and levels[-1] == OTHER


def test_boolean_words_and_datetime_days_before_the_latest_date(threads: str) -> None:
    df = frame(300)
    X, fitted = fit_features(df, build_spec(df, KINDS, "id"))
    member = block(fitted, X, "member")[:, 0]
    yes = (df["member"] == "yes").to_numpy()
    assert member[yes].min() > member[~yes].max()  # yes -> 1 -> the higher coordinate
    signup = column_state(fitted, "signup")
    assert pd.Timestamp(signup["reference_date"]) == df["signup"].max()
    days = (df["signup"].max() - df["signup"]).dt.days.to_numpy()
    coord = block(fitted, X, "signup")[:, 0]
    assert not signup["log1p"]  # evenly spread dates are not skewed
    assert np.corrcoef(days, coord)[0, 1] > 0.9999


def test_constant_column_gives_zeros_not_nan() -> None:
    df = pd.DataFrame({"id": ["a", "b", "c"], "x": [5.0, 5.0, 5.0], "c": ["k", "k", "k"]})
    X, _ = fit_features(df, build_spec(df, {"id": "id", "x": "numeric", "c": "categorical"}, "id"))
    assert np.isfinite(X).all() and (X[:, 0] == 0).all()


# ----------------------------------------------------------------------------- transform


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(5, 300))
def test_transform_replays_fit_exactly(seed: int, n: int) -> None:
    """Round trip: the stored fitted state (through JSON, columns reordered, an extra column)
    replays the matrix fit_features returned for the same customers. What the matrix holds is
    checked against an independent float64 reference written in the test
    (test_matrix_equals_the_float64_reference_in_any_blocks_of_rows)."""
    df = frame(n, seed)
    df.loc[df.index[::7], "spend"] = np.nan
    X, fitted = fit_features(df, build_spec(df, KINDS, "id"))
    roundtrip = json.loads(json.dumps(fitted))  # stored as JSON in the workspace
    shuffled = df[df.columns[::-1]].assign(extra=1)  # reordered, with an extra column
    assert np.array_equal(transform_features(shuffled, roundtrip), X)


def reference_numeric(values: np.ndarray, weight: float) -> tuple[dict, np.ndarray]:
    """The numeric rules of the module docstring, step by step in float64 with numpy's own
    median, mean and standard deviation, rounded to float32 at the end."""
    present = values[~np.isnan(values)]
    median = float(np.median(present))
    centred = present - present.mean()
    skew = float(np.mean(centred**3)) / float(np.mean(centred**2)) ** 1.5
    log = bool(present.min() >= 0 and skew > 1.0)
    filled = np.where(np.isnan(values), median, values)
    if log:
        filled = np.log1p(filled)
    mean, std = float(filled.mean()), float(filled.std())
    state = {"median": median, "log1p": log, "mean": mean, "std": std}
    return state, ((filled - mean) * (weight / std)).astype(np.float32)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(3, 200),
    rows=st.sampled_from([1, 7, 64]),
    threaded=st.booleans(),
)
def test_matrix_equals_the_float64_reference_in_any_blocks_of_rows(
    seed: int, n: int, rows: int, threaded: bool
) -> None:
    rng = np.random.default_rng(seed)
    money = rng.lognormal(3, 1.5, n)
    money[rng.random(n) < 0.2] = np.nan
    df = pd.DataFrame(
        {
            "money": money,
            "score": rng.normal(size=n),
            "group": rng.choice(["a", "b", None], n),
        }
    )
    df.loc[0, "money"], df.loc[1, "money"] = 5.0, 1.0  # two values at least
    spec = build_spec(df, {"money": "numeric", "score": "numeric", "group": "categorical"}, "id")
    spec["features"][0]["weight"] = 2.5
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(features, "ROW_BLOCK", rows)  # the matrix is written this many rows at once
        patch.setattr(features, "THREADED_ROWS", 1 if threaded else n + 1)
        X, fitted = fit_features(df, spec)
        assert np.array_equal(transform_features(df, fitted), X)
    for j, (name, weight) in enumerate((("money", 2.5), ("score", 1.0))):
        state, expected = reference_numeric(df[name].to_numpy(), weight)
        col = column_state(fitted, name)
        assert {key: col[key] for key in state} == state
        assert np.array_equal(X[:, j], expected)
    group = column_state(fitted, "group")
    labels = df["group"].fillna(MISSING).to_numpy()
    onehot = (labels[:, None] == np.array(group["levels"])) * np.float32(group["scale"])
    assert np.array_equal(X[:, 2:], onehot.astype(np.float32))


def test_new_customers_unseen_category_goes_to_other_or_nowhere() -> None:
    df = frame(500)
    _, fitted = fit_features(df, build_spec(df, KINDS, "id"))
    new = frame(3, seed=9)
    new["channel"] = ["Fax", "Email", None]
    Y = transform_features(new, fitted)
    channel = block(fitted, Y, "channel")
    assert (channel[0] == 0).all()  # no "(other)" level was fitted: the row has no level on
    assert channel[1].max() > 0
    assert (channel[2] == 0).all()


def test_unseen_category_joins_other_when_it_was_fitted() -> None:
    n = 1000
    df = pd.DataFrame(
        {"id": np.arange(n).astype(str), "cat": ["A"] * 600 + ["B"] * 395 + ["z"] * 5}
    )
    _, fitted = fit_features(df, build_spec(df, {"id": "id", "cat": "categorical"}, "id"))
    assert column_state(fitted, "cat")["levels"] == ["A", "B", OTHER]
    Y = transform_features(pd.DataFrame({"cat": ["never seen", "z", "A"]}), fitted)
    assert Y.argmax(axis=1).tolist() == [2, 2, 0]


def test_missing_feature_column_is_named() -> None:
    df = frame(50)
    _, fitted = fit_features(df, build_spec(df, KINDS, "id"))
    with pytest.raises(SegtrailError, match="missing feature column 'spend'"):
        transform_features(df.drop(columns="spend"), fitted)


def test_describe_spec_rows() -> None:
    df = frame(500)
    _, fitted = fit_features(df, build_spec(df, KINDS, "id", weights={"age": 2.0}))
    rows = describe_spec(fitted)
    assert [r["column"] for r in rows] == ["age", "spend", "channel", "member", "signup"]
    by = {r["column"]: r for r in rows}
    assert by["age"]["weight"] == 2.0 and by["age"]["kind"] == "numeric"
    assert "log1p" in by["spend"]["transform"]
    assert "one-hot, 3 levels" in by["channel"]["transform"]
    assert "total variance 1" in by["channel"]["transform"]
    assert "days before" in by["signup"]["transform"]


# ----------------------------------------------------------------------------- model input


def test_model_matrix_keeps_missing_values_missing_and_codes_levels() -> None:
    df = frame(300)
    df.loc[[0, 5], "age"] = np.nan
    df.loc[[1, 6], "channel"] = None
    df.loc[[2], "member"] = None
    spec = build_spec(df, KINDS, "id")
    X, fitted = fit_features(df, spec)
    M, levels, weights = model_matrix(df, fitted)
    names = [c["column"] for c in fitted["columns"]]
    assert M.dtype == np.float32 and M.shape == (300, len(names))
    assert levels[names.index("age")] == 0 and levels[names.index("member")] == 2
    channel = names.index("channel")
    assert levels[channel] == 3  # Email, TikTok, Store; "(missing)" is NaN, not a level
    assert np.isnan(M[[0, 5], names.index("age")]).all()
    assert np.isnan(M[[1, 6], channel]).all() and np.isnan(M[2, names.index("member")])
    col = column_state(fitted, "channel")
    observed = ~df["channel"].isna().to_numpy()
    decoded = np.array(col["levels"])[M[observed, channel].astype(int)]
    assert (decoded == df.loc[observed, "channel"].to_numpy()).all()
    # numeric: the same coordinates as the k-means matrix where the value is present
    age = names.index("age")
    present = ~np.isnan(M[:, age])
    assert np.allclose(M[present, age], block(fitted, X, "age")[present, 0], atol=1e-5)
    assert weights == [1.0] * len(names)
    # unseen levels go to "(other)" when there is one, else count as missing
    new = df.head(3).copy()
    new["channel"] = ["Radio", "Email", None]
    coded = model_matrix(new, fitted)[0][:, channel]
    assert np.isnan(coded[0]) and coded[1] == col["levels"].index("Email") and np.isnan(coded[2])


def test_dependence_screen_finds_the_column_that_moves_with_nothing() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 3, n)
    X = np.column_stack(
        [
            y + rng.normal(0, 0.7, n),  # moves with the segments
            np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n)),  # so does this one
            rng.uniform(0, 1, n),  # flat noise: a Gaussian class model would split it
            rng.integers(0, 4, n),  # categorical noise
        ]
    ).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    screen = dependence_screen(X, [0, 3, 0, 4])
    assert [s["noise"] for s in screen] == [False, False, True, True]
    assert screen[0]["partner"] == 1 and screen[0]["p_value"] < 1e-10


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), levels=st.sampled_from([[0, 3], [4, 0], [3, 0, 2]]))
def test_dependence_screen_matches_scipys_g_test(seed: int, levels: list[int]) -> None:
    """Reference: scipy's log-likelihood chi-square on the crosstab of each pair (pandas
    quintiles for numeric columns), Bonferroni over the pairs."""
    rng = np.random.default_rng(seed)
    n = 503  # quintile edges fall between values: pandas' and numpy's cuts agree
    y = rng.integers(0, 3, n)
    cols = []
    for lv in levels:
        if lv:  # a tenth missing
            codes = np.where(rng.random(n) < 0.3, y, rng.integers(0, lv, n)).astype(float)
            cols.append(np.where(rng.random(n) < 0.1, np.nan, codes))
        else:
            cols.append(y * rng.uniform(0, 0.5) + rng.normal(size=n))
    X = np.column_stack(cols).astype(np.float32)
    frame_ = pd.DataFrame(X.astype(np.float64))
    for j, lv in enumerate(levels):
        if not lv:
            frame_[j] = pd.qcut(frame_[j], 5, labels=False)
    screen = dependence_screen(X, levels)
    pairs = len(levels) * (len(levels) - 1) // 2
    expected = {}
    for a in range(len(levels)):
        for b in range(a + 1, len(levels)):
            table = pd.crosstab(frame_[a], frame_[b]).to_numpy()
            _, p, _, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
            expected[a, b] = expected[b, a] = min(1.0, p * pairs)
    for j, row in enumerate(screen):
        best = min(expected[j, other] for other in range(len(levels)) if other != j)
        assert row["p_value"] == pytest.approx(best, rel=1e-6, abs=1e-12)
        if best < 1.0:
            assert expected[j, row["partner"]] == pytest.approx(best, rel=1e-6, abs=1e-12)
        else:  # no pair shows any dependence: no partner is named
            assert row["partner"] is None
        assert row["noise"] == (best >= 0.001)


def test_dependence_screen_counts_only_the_levels_seen_even_once() -> None:
    """Reference: scipy's log-likelihood chi-square on the crosstab (which holds only the
    values seen): a level no customer has (1 of a, 2 and 3 of b) adds no degree of freedom,
    a level seen once (3 of a, 4 of b) does."""
    rng = np.random.default_rng(11)
    n = 120
    a = rng.choice([0.0, 2.0], n)
    b = np.where(rng.random(n) < 0.6, a / 2, rng.integers(0, 2, n)).astype(float)
    a[0], b[1] = 3.0, 4.0
    screen = dependence_screen(np.column_stack([a, b]).astype(np.float32), [5, 5])
    table = pd.crosstab(a, b).to_numpy()
    assert table.shape == (3, 3)
    _, p, _, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert screen[0]["p_value"] == screen[1]["p_value"] == pytest.approx(p, rel=1e-9, abs=0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 5))
def test_contributions_match_independent_formulas(seed: int, k: int) -> None:
    """Reference: eta squared with pandas and scikit-learn's mutual_info_score."""
    rng = np.random.default_rng(seed)
    n = 400
    labels = rng.integers(0, k, n)
    num = labels * rng.uniform(0, 2) + rng.normal(size=n)
    cat = np.where(rng.random(n) < 0.5, labels % 3, rng.integers(0, 3, n)).astype(float)
    X = np.column_stack([num, cat]).astype(np.float32)
    out = feature_contributions(X, [0, 3], labels)
    frame_ = pd.DataFrame({"x": X[:, 0].astype(float), "g": labels})
    between = frame_.groupby("g")["x"].transform("mean")
    eta2 = ((between - frame_["x"].mean()) ** 2).sum() / (
        (frame_["x"] - frame_["x"].mean()) ** 2
    ).sum()
    assert out[0]["explained"] == pytest.approx(eta2, rel=1e-9, abs=1e-12)
    codes = X[:, 1].astype(int)
    mi = mutual_info_score(labels, codes)
    p = np.bincount(codes) / n
    entropy = -(p[p > 0] * np.log(p[p > 0])).sum()
    assert out[1]["explained"] == pytest.approx(mi / entropy, rel=1e-9, abs=1e-12)
    extra = (k - 1) * (len(np.unique(codes)) - 1)
    assert out[1]["bic_gain"] == pytest.approx(2 * n * mi - extra * np.log(n), rel=1e-9, abs=1e-9)
    assert out[1]["noise"] == (out[1]["bic_gain"] <= 0)


# ----------------------------------------------------------------------------- kinds in detail


def one_column(values, kind: str) -> tuple[pd.DataFrame, dict]:
    df = pd.DataFrame({"id": [str(i) for i in range(len(values))], "x": values})
    return df, build_spec(df, {"id": "id", "x": kind}, "id")


def test_dates_with_time_zones_are_read_in_utc() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-03-01 00:00", "2024-03-02 12:00", "2024-03-05 00:00"]))
    df, spec = one_column(stamps.dt.tz_localize("America/New_York"), "datetime")
    X, fitted = fit_features(df, spec)
    # the latest date, in UTC: New York midnight is 05:00 there
    assert column_state(fitted, "x")["reference_date"] == "2024-03-05T05:00:00"
    # the same instants written in Tokyo time are the same coordinates
    tokyo = df.assign(x=df["x"].dt.tz_convert("Asia/Tokyo"))
    assert np.array_equal(transform_features(tokyo, fitted), X)


def test_dates_as_text_with_offsets_and_unreadable_values() -> None:
    text = [
        "2024-03-01T00:00:00+02:00",
        "2024-03-01T00:00:00Z",
        "not a date",
        "2024-02-29T22:00:00Z",
    ]
    df, spec = one_column(text, "datetime")
    X, fitted = fit_features(df, spec)
    col = column_state(fitted, "x")
    assert col["reference_date"] == "2024-03-01T00:00:00"  # offsets read into UTC
    assert col["n_missing"] == 1
    # days before the latest date: 2 h, 0, (missing: the median), 2 h
    days = (np.array([2, 0, 2, 2]) / 24 - col["mean"]) / col["std"]
    assert np.allclose(X[:, 0], days, atol=1e-6)
    assert np.array_equal(model_matrix(df, fitted)[0][:, 0] == X[:, 0], [True] * 2 + [False, True])


def test_dates_as_text_in_several_iso_forms_are_all_read() -> None:
    text = ["2024-01-01T10:00:00Z", "2024-02-29T22:00Z", "2024-03-01", "2024-03-01 06:00+03:00"]
    df, spec = one_column(text, "datetime")
    X, fitted = fit_features(df, spec)
    col = column_state(fitted, "x")
    assert col["n_missing"] == 0 and col["n_unreadable"] == 0
    assert col["reference_date"] == "2024-03-01T03:00:00"
    hours = np.array([(31 + 29) * 24 - 7, 5, 3, 0])  # hours before 2024-03-01 03:00 UTC
    assert col["log1p"]  # one date far back: skewed
    assert np.allclose(X[:, 0], (np.log1p(hours / 24) - col["mean"]) / col["std"], atol=1e-6)
    assert describe_spec(fitted)[0]["transform"] == (
        "days before 2024-03-01T03:00:00, log1p, standardized"
    )
    # dates in one other (non-ISO) form are read too
    _, fitted = fit_features(*one_column(["03/01/2024", "03/05/2024"], "datetime"))
    assert column_state(fitted, "x")["reference_date"] == "2024-03-05T00:00:00"


def test_text_that_is_not_a_date_is_named_in_the_description() -> None:
    text = ["2024-03-01", "soon", None, "n/a", "2024-02-01", "soon", "???", "2024-03-02", "x"]
    _, fitted = fit_features(*one_column(text, "datetime"))
    col = column_state(fitted, "x")
    assert (col["n_unreadable"], col["n_missing"]) == (5, 6)  # None is missing, not unreadable
    assert col["unreadable_examples"] == ["soon", "n/a", "???"]  # the first three
    assert describe_spec(fitted)[0]["transform"] == (
        "days before 2024-03-02T00:00:00, 5 values are not dates (e.g. 'soon', 'n/a', '???'): "
        "read as missing, missing -> median 1, standardized"
    )
    assert json.loads(json.dumps(fitted)) == fitted
    _, fitted = fit_features(*one_column(["2024-03-01", "later"], "datetime"))
    words = describe_spec(fitted)[0]["transform"]
    assert "1 value is not a date (e.g. 'later'): read as missing" in words


def test_yes_no_words_unknown_words_and_nullable_booleans() -> None:
    df, spec = one_column(["yes", " Y ", "TRUE", "1", "no", "f", "0.0", "maybe", None], "boolean")
    X, fitted = fit_features(df, spec)
    M = model_matrix(df, fitted)[0][:, 0]
    assert np.array_equal(M[:7], [1, 1, 1, 1, 0, 0, 0])  # coded 0/1 for the class model
    assert np.isnan(M[7:]).all()  # a word that is neither is missing, like a missing value
    assert column_state(fitted, "x")["n_missing"] == 2
    # pandas' nullable booleans, with a missing value
    df, spec = one_column(pd.array([True, None, False, True], dtype="boolean"), "boolean")
    X, fitted = fit_features(df, spec)
    assert column_state(fitted, "x")["n_missing"] == 1
    assert X[1, 0] == X[0, 0]  # the missing one takes the median: true
    M = model_matrix(df, fitted)[0][:, 0]
    assert M[[0, 2, 3]].tolist() == [1, 0, 1] and np.isnan(M[1])


def test_skew_decides_the_log_whatever_the_scale() -> None:
    rng = np.random.default_rng(3)
    rates = rng.lognormal(-4, 1, 500)  # a small, skewed share: variance far below 1
    for scale in (1.0, 1e6):
        _, fitted = fit_features(*one_column(rates * scale, "numeric"))
        assert column_state(fitted, "x")["log1p"]


def test_describe_spec_words_per_kind() -> None:
    n = 1000
    df = pd.DataFrame(
        {
            "id": [str(i) for i in range(n)],
            "spend": np.r_[np.nan, np.arange(1, n) ** 3.0],  # skewed, one missing
            "member": ["yes", "no"] * (n // 2),
            "when": pd.Timestamp("2024-05-01") - pd.to_timedelta(np.arange(n) % 30, "D"),
            "cat": ["A"] * 600 + ["B"] * 380 + [f"r{i}" for i in range(10)] + [None] * 10,
        }
    )
    kinds = {"id": "id", "spend": "numeric", "member": "boolean", "when": "datetime"}
    _, fitted = fit_features(df, build_spec(df, kinds | {"cat": "categorical"}, "id"))
    words = {r["column"]: r["transform"] for r in describe_spec(fitted)}
    median = column_state(fitted, "spend")["median"]
    assert words["spend"] == f"missing -> median {median:.4g}, log1p, standardized"
    assert words["member"] == "0/1, standardized"
    assert words["when"] == "days before 2024-05-01T00:00:00, standardized"
    scale = column_state(fitted, "cat")["scale"]
    assert words["cat"] == (
        f"one-hot, 2 levels + (other), (missing) (10 rare levels grouped), "
        f"block scaled x{scale:.3g} (total variance 1)"
    )
    assert words["cat"].startswith("one-hot, 2 levels + (other), (missing) (10 rare")
    _, fitted = fit_features(*one_column(["u", "v"] * 50, "categorical"))
    assert describe_spec(fitted)[0]["transform"].startswith("one-hot, 2 levels, block scaled")


def test_model_matrix_codes_unseen_levels_as_other_and_counts_two_levels_at_least() -> None:
    df, spec = one_column(["A"] * 600 + ["B"] * 395 + ["z"] * 5, "categorical")
    _, fitted = fit_features(df, spec)
    new = pd.DataFrame({"x": ["never seen", "z", "B", "A", None]})
    M, levels, _ = model_matrix(new, fitted)
    assert levels == [3]
    assert M[:4, 0].tolist() == [2, 2, 1, 0] and np.isnan(M[4, 0])
    for values, count in ((["u", "v"] * 10, 2), (["u"] * 20, 2)):  # one level still counts 2
        df, spec = one_column(values, "categorical")
        assert model_matrix(df, fit_features(df, spec)[1])[1] == [count]


def test_model_matrix_logs_and_standardizes_like_the_kmeans_matrix() -> None:
    rng = np.random.default_rng(5)
    values = rng.lognormal(0, 1.5, 400)  # skewed, many values below 1
    values[::10] = np.nan
    df, spec = one_column(values, "numeric")
    _, fitted = fit_features(df, spec)
    assert column_state(fitted, "x")["log1p"]
    new = df.assign(x=np.r_[-3.0, values[1:]])  # new data below 0 reads as 0
    X, M = transform_features(new, fitted)[:, 0], model_matrix(new, fitted)[0][:, 0]
    present = ~np.isnan(new["x"].to_numpy())
    assert np.array_equal(~np.isnan(M), present)
    assert np.allclose(M[present], X[present], atol=1e-5)
    assert M[0] == pytest.approx(
        (0 - column_state(fitted, "x")["mean"]) / fitted["columns"][0]["std"]
    )


def test_contributions_without_any_segment_are_all_noise() -> None:
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(size=50), rng.integers(0, 3, 50)]).astype(np.float32)
    nothing = {"explained": 0.0, "bic_gain": 0.0, "noise": True}
    assert feature_contributions(X, [0, 3], np.full(50, -1)) == [nothing, nothing]
    assert feature_contributions(X, [0, 3], np.zeros(50, dtype=int)) == [nothing, nothing]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(2, 4),
    scale=st.sampled_from([1e-4, 0.01, 1.0, 100.0]),
    signal=st.sampled_from([0.0, 0.3, 2.0]),
)
def test_numeric_contributions_match_gaussian_likelihoods(
    seed: int, k: int, scale: float, signal: float
) -> None:
    """Reference: scipy's normal log-densities, one mean and spread per segment against one
    for all (maximum likelihood), the BIC penalty 2 extra parameters per extra segment, and
    eta squared with pandas. Some values and some labels are missing; one label is unused."""
    rng = np.random.default_rng(seed)
    n = 400
    labels = rng.integers(0, k, n) * 2  # labels 0, 2, 4, ...: the odd ones are empty
    x = (labels * signal + rng.normal(size=n)) * scale
    x[rng.random(n) < 0.05] = np.nan
    labels[rng.random(n) < 0.05] = -1
    out = feature_contributions(x.astype(np.float32)[:, None], [0], labels)[0]
    ok = (labels >= 0) & ~np.isnan(x)
    xs, lab = x.astype(np.float32).astype(np.float64)[ok], labels[ok]
    groups = [xs[lab == g] for g in np.unique(lab)]
    assert all(len(g) > 1 for g in groups)
    one = norm.logpdf(xs, xs.mean(), xs.std()).sum()
    own = sum(norm.logpdf(g, g.mean(), g.std()).sum() for g in groups)
    bic_gain = 2 * (own - one) - 2 * (len(groups) - 1) * np.log(len(xs))
    assert out["bic_gain"] == pytest.approx(bic_gain, rel=1e-7, abs=1e-6)
    assert out["noise"] == (bic_gain <= 0)
    frame_ = pd.DataFrame({"x": xs, "g": lab})
    between = frame_.groupby("g")["x"].transform("mean")
    eta2 = ((between - xs.mean()) ** 2).sum() / ((xs - xs.mean()) ** 2).sum()
    assert out["explained"] == pytest.approx(eta2, rel=1e-7, abs=1e-12)


def test_dependence_screen_puts_a_value_on_a_quintile_edge_in_the_upper_bin() -> None:
    """Reference: bins closed on the left, [edge, next edge), cut by pandas, then scipy's
    log-likelihood chi-square. Whole numbers: the quintile edges fall on values."""
    rng = np.random.default_rng(4)
    n = 300
    x = rng.integers(0, 6, n).astype(float)
    y = np.where(rng.random(n) < 0.5, x >= 3, rng.integers(0, 2, n)).astype(float)
    edges = np.unique(np.quantile(x, [0.2, 0.4, 0.6, 0.8]))
    assert np.isin(edges, x).any()
    bins = pd.cut(x, [-np.inf, *edges, np.inf], right=False, labels=False)
    _, p, _, _ = chi2_contingency(
        pd.crosstab(bins, y).to_numpy(), correction=False, lambda_="log-likelihood"
    )
    screen = dependence_screen(np.column_stack([x, y]).astype(np.float32), [0, 2])
    assert screen[0]["p_value"] == pytest.approx(p, rel=1e-9, abs=0)


def test_numeric_contribution_of_a_one_customer_segment() -> None:
    """The model of NOISE_RULE by hand: each segment its own mean and variance (maximum
    likelihood; a segment of one customer gets the floor, 1e-6 of the overall variance)
    against one of each for all; 2 extra parameters per extra segment."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 5.0])
    labels = np.array([0, 0, 1, 1, 2])
    out = feature_contributions(x.astype(np.float32)[:, None], [0], labels)[0]
    var_all = x.var()
    own = 2 * np.log(0.25) + 2 * np.log(0.25) + np.log(1e-6 * var_all)
    gain = 0.5 * (5 * np.log(var_all) - own)
    assert out["bic_gain"] == pytest.approx(2 * gain - 4 * np.log(5), rel=1e-9)


def test_a_small_positive_bic_gain_is_not_noise() -> None:
    rng = np.random.default_rng(77)
    labels = rng.integers(0, 2, 60)
    x = (rng.normal(size=60) + labels * 0.3).astype(np.float32)
    out = feature_contributions(x[:, None], [0], labels)[0]
    assert 0 < out["bic_gain"] < 1 and out["noise"] is False


def test_contributions_of_sparse_and_flat_columns() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2])
    nan = np.nan
    X = np.array(
        [
            [nan, nan, nan, nan, nan, nan, nan, nan],  # never observed
            [1.0, nan, nan, nan, 5.0, nan, nan, nan],  # two customers, two segments
            [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0],  # the same value for everyone
            [1.0, 1.5, 9.0, 9.5, 9.2, nan, nan, nan],  # the last segment never observed
            [0.0, 0.0, 1.0, 1.0, 1.0, nan, nan, nan],  # the same, categorical
            [nan, nan, 0.0, 1.0, 1.0, nan, nan, nan],  # observed in one segment only
            [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0],  # one level of three for everyone
        ],
        dtype=np.float32,
    ).T
    out = feature_contributions(X, [0, 0, 0, 0, 2, 2, 3], labels)
    assert out[0] == {"explained": 0.0, "bic_gain": 0.0, "noise": True}
    assert out[1]["explained"] == 1.0  # each value is its segment's mean
    assert out[2]["explained"] == 0.0 and out[2]["noise"]
    # observed in two segments only: their means explain nearly all of it
    assert out[3]["explained"] == pytest.approx(1 - (0.125 + 0.38 / 3) / 76.732, rel=1e-6)
    assert out[4]["explained"] == pytest.approx(1.0)
    assert out[5] == {"explained": 0.0, "bic_gain": 0.0, "noise": True}
    # no uncertainty to explain, and no level share to fit per segment
    assert out[6] == {"explained": 0.0, "bic_gain": 0.0, "noise": True}


# ----------------------------------------------------------------------------- spec details


def test_spec_names_each_feature_once_and_keeps_the_id_out() -> None:
    kinds = KINDS | {"ref": "id"}
    df = frame(20).assign(ref="x", unlisted=1.0)  # a column without a kind is not offered
    spec = build_spec(df, kinds, "id", features=["age", "spend", "age"])
    assert spec == {
        "version": 1,
        "id_column": "id",
        "features": [
            {"column": "age", "kind": "numeric", "weight": 1.0},
            {"column": "spend", "kind": "numeric", "weight": 1.0},
        ],
    }
    with pytest.raises(SegtrailError, match=r"^column 'ref' is the customer id; it cannot"):
        build_spec(df, kinds, "id", features=["ref"])
    with pytest.raises(SegtrailError) as caught:
        build_spec(df, kinds, "id", features=["email"])
    assert str(caught.value) == (
        "column 'email' is text (free text or high-cardinality strings); it cannot be a feature"
    )
    with pytest.raises(SegtrailError) as caught:
        build_spec(df, kinds, "id", features=["unlisted"])
    assert str(caught.value) == (
        "unknown column 'unlisted' in features; available columns: "
        "id, email, age, spend, channel, member, signup, ref"
    )
    # the id column is never a feature, whatever its kind says
    assert "age" not in [f["column"] for f in build_spec(df, kinds, "age")["features"]]


@pytest.mark.parametrize("weight", [float("inf"), float("nan"), "2", None, -0.5])
def test_a_weight_must_be_a_finite_number_at_least_zero(weight) -> None:
    with pytest.raises(SegtrailError) as caught:
        build_spec(frame(20), KINDS, "id", weights={"age": weight})
    assert str(caught.value) == f"weight for 'age' must be a number >= 0, got {weight!r}"


def test_weight_zero_and_integer_weights_are_fine() -> None:
    spec = build_spec(frame(20), KINDS, "id", weights={"age": 0, "spend": 3})
    weights = {f["column"]: f["weight"] for f in spec["features"]}
    assert weights["age"] == 0.0 and weights["spend"] == 3.0
    assert isinstance(weights["spend"], float)


def test_no_feature_left_names_the_usable_columns() -> None:
    df = frame(20)
    with pytest.raises(SegtrailError) as caught:
        build_spec(df, KINDS, "id", features=["age"], exclude=["age", "spend"])
    assert str(caught.value) == (
        "no feature columns left; usable columns: age, spend, channel, member, signup"
    )
    with pytest.raises(SegtrailError) as caught:
        build_spec(df[["id", "email"]], KINDS, "id")
    assert str(caught.value) == "no feature columns left; usable columns: none"
    with pytest.raises(SegtrailError, match=r"^weight given for 'age', which is not a feature$"):
        build_spec(df, KINDS, "id", exclude=["age"], weights={"age": 2.0})


# ----------------------------------------------------------------------------- fit details


def test_fit_reports_progress_per_column_and_the_state_header(threads: str) -> None:
    df = frame(30)  # with a progress callback, columns are fitted one by one even if large
    steps = []
    spec = build_spec(df, KINDS, "id", features=["age", "channel"])
    X, fitted = fit_features(df, spec, progress=lambda text, done: steps.append((text, done)))
    assert steps == [("preparing age", 0.0), ("preparing channel", 0.5), ("features ready", 1.0)]
    assert fitted["version"] == 1 and fitted["id_column"] == "id"
    assert fitted["n_features"] == len(fitted["feature_names"]) == X.shape[1] == 4
    assert fitted["feature_names"] == ["age", "channel=Email", "channel=TikTok", "channel=Store"]


def test_counts_with_zeros_are_logged_but_rare_yes_is_not() -> None:
    rng = np.random.default_rng(4)
    counts = rng.poisson(0.3, 1000) * 5  # mostly 0: skewed, minimum 0
    _, fitted = fit_features(*one_column(counts, "numeric"))
    assert column_state(fitted, "x")["log1p"]
    _, fitted = fit_features(*one_column(np.r_[np.ones(50), np.zeros(950)], "boolean"))
    assert not column_state(fitted, "x")["log1p"]  # yes/no is never logged
    # a weight from the spec scales the column; none given reads as 1
    df, spec = one_column(counts, "numeric")
    del spec["features"][0]["weight"]
    X, fitted = fit_features(df, spec)
    assert column_state(fitted, "x")["weight"] == 1.0 and X.std() == pytest.approx(1, rel=1e-4)


def test_a_column_without_any_value_gives_zeros() -> None:
    for values, kind in (([np.nan] * 4, "numeric"), ([None] * 4, "datetime")):
        X, fitted = fit_features(*one_column(values, kind))
        col = column_state(fitted, "x")
        assert col["n_missing"] == 4 and col["median"] == 0.0
        assert col["mean"] == 0.0 and col["std"] == 1.0
        assert (X == 0).all()
    assert col["reference_date"] is None


def test_fitting_no_customers_gives_an_empty_matrix_and_neutral_states() -> None:
    df = pd.DataFrame(
        {
            "id": pd.Series([], dtype=object),
            "c": pd.Series([], dtype=object),
            "x": pd.Series([], dtype=float),
        }
    )
    spec = build_spec(df, {"id": "id", "c": "categorical", "x": "numeric"}, "id")
    X, fitted = fit_features(df, spec)
    assert X.shape == (0, 1) and fitted["feature_names"] == ["x"]
    c, x = column_state(fitted, "c"), column_state(fitted, "x")
    assert (c["levels"], c["scale"], c["n_missing"]) == ([], 1.0, 0)
    assert (x["median"], x["mean"], x["std"], x["log1p"]) == (0.0, 0.0, 1.0, False)


def test_categorical_levels_at_the_edges() -> None:
    # exactly 1% is kept, below it is grouped; equal counts are ordered by name
    values = ["b"] * 400 + ["a"] * 400 + ["c"] * 180 + ["d"] * 10 + ["e"] * 9 + ["f"] * 1
    _, fitted = fit_features(*one_column(values, "categorical"))
    col = column_state(fitted, "x")
    assert col["levels"] == ["a", "b", "c", "d", OTHER] and col["grouped_levels"] == 2
    shares = np.array([0.4, 0.4, 0.18, 0.01, 0.01])
    assert col["scale"] == pytest.approx(1 / np.sqrt(1 - (shares**2).sum()))
    # twenty levels are all kept; "(other)" only appears past them
    values = [f"v{i:02d}" for i in range(20)] * 10
    _, fitted = fit_features(*one_column(values, "categorical"))
    assert len(column_state(fitted, "x")["levels"]) == 20
    # missing values are a level with its share in the block's spread
    X, fitted = fit_features(*one_column(["a", "a", "b", None], "categorical"))
    col = column_state(fitted, "x")
    assert col["scale"] == pytest.approx(1 / np.sqrt(1 - (0.5**2 + 0.25**2 + 0.25**2)))
    # one value for everyone: no spread to scale, the indicator stays 1
    X, fitted = fit_features(*one_column(["a"] * 5, "categorical"))
    assert column_state(fitted, "x")["scale"] == 1.0 and (X == 1.0).all()


def test_level_names_read_alike_across_types() -> None:
    values = pd.Series([1, "1", 2.0, "2", 2.5, None], dtype=object)
    X, fitted = fit_features(*one_column(values, "categorical"))
    assert column_state(fitted, "x")["levels"] == ["1", "2", "2.5", MISSING]
    assert (X[0] == X[1]).all() and (X[2] == X[3]).all()
    _, fitted = fit_features(*one_column([True, False, True], "categorical"))
    assert column_state(fitted, "x")["levels"] == ["true", "false"]
    # no value like 0 or 1 (True, False): the same merge by name
    values = pd.Series([3.0, 2, "2", "3", 3.5, "2", None], dtype=object)
    X, fitted = fit_features(*one_column(values, "categorical"))
    assert column_state(fitted, "x")["levels"] == ["2", "3", "3.5", MISSING]
    hot = [fitted["feature_names"][int(j)] for j in np.argmax(X, axis=1)]
    assert hot == ["x=3", "x=2", "x=2", "x=3", "x=3.5", "x=2", f"x={MISSING}"]
    assert ((X > 0).sum(axis=1) == 1).all()
    gaps = pd.Series([3.0, np.nan, 4.0, 3.0])  # an integer column with gaps reads as floats
    _, fitted = fit_features(*one_column(gaps, "categorical"))
    assert column_state(fitted, "x")["levels"] == ["3", "4", MISSING]


def test_true_and_one_in_a_text_column_are_different_levels() -> None:
    values = pd.Series([True, 1, False, 0, "1", 1.0, True, None, "b"], dtype=object)
    X, fitted = fit_features(*one_column(values, "categorical"))
    levels = column_state(fitted, "x")["levels"]
    assert levels == ["1", "true", "0", "b", "false", MISSING]
    names = [f"x={lv}" for lv in levels]
    assert fitted["feature_names"] == names
    hot = [names[int(j)] for j in np.argmax(X, axis=1)]
    assert hot == ["x=true", "x=1", "x=false", "x=0", "x=1", "x=1", "x=true", "x=(missing)", "x=b"]
    codes = model_matrix(pd.DataFrame({"x": values}), fitted)[0][:, 0]
    assert codes[0] != codes[1] and codes[2] != codes[3]
    # each pair on its own
    for pair, names in (([True, 1], ["1", "true"]), ([False, 0], ["0", "false"])):
        values = pd.Series([*pair, "b", *pair], dtype=object)
        _, fitted = fit_features(*one_column(values, "categorical"))
        assert column_state(fitted, "x")["levels"] == [*names, "b"]


def test_numeric_text_and_booleans_as_numbers() -> None:
    _, fitted = fit_features(*one_column(["1", "3", "abc", " 5 "], "numeric"))
    col = column_state(fitted, "x")
    assert col["n_missing"] == 1 and col["median"] == 3.0
    _, fitted = fit_features(*one_column([True, False, True, True], "numeric"))
    assert column_state(fitted, "x")["mean"] == 0.75


def test_transform_of_many_rows_fills_every_row() -> None:
    n = 70_000  # more than one block of the transpose
    rng = np.random.default_rng(8)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y"], n)})
    spec = build_spec(df, {"a": "numeric", "b": "categorical"}, "id")
    X, fitted = fit_features(df, spec)
    a = column_state(fitted, "a")
    assert np.allclose(X[:, 0], (df["a"] - a["mean"]) / a["std"], atol=1e-5)
    b = column_state(fitted, "b")
    onehot = (df["b"].to_numpy()[:, None] == np.array(b["levels"])) * b["scale"]
    assert np.allclose(X[:, 1:], onehot, atol=1e-6)


def test_dependence_screen_edges() -> None:
    n = 400
    a = np.tile([0.0, 1.0], n // 2)
    b = np.tile([0.0, 0.0, 1.0, 1.0], n // 4)  # exactly independent of a: G = 0
    rng = np.random.default_rng(1)
    c = np.where(rng.random(n) < 0.9, a, 1 - a)  # yes/no that follows a
    flat = np.full(n, 2.0)  # one value: no test with anything
    screen = dependence_screen(np.column_stack([a, b]).astype(np.float32), [2, 2])
    assert screen == [{"partner": None, "p_value": 1.0, "noise": True}] * 2
    # a 2 x 2 table is a test (1 degree of freedom); a constant column between is skipped
    X = np.column_stack([a, flat, c, b]).astype(np.float32)
    screen = dependence_screen(X, [2, 2, 2, 2])
    assert [row["partner"] for row in screen] == [2, None, 0, None]
    assert screen[0]["p_value"] < 1e-10 and not screen[0]["noise"]
    assert screen[1] == {"partner": None, "p_value": 1.0, "noise": True}
    # one column alone is never called noise: there is nothing to compare it with
    assert dependence_screen(a[:, None].astype(np.float32), [2]) == [
        {"partner": None, "p_value": 1.0, "noise": False}
    ]
    # a pair is tested from 10 customers observed in both columns: here 5 and 5 that agree,
    # G = 20 log 2 on 1 degree of freedom
    same = np.column_stack([a[:12], a[:12]]).astype(np.float32)
    same[10:, 1] = np.nan
    screen = dependence_screen(same, [2, 2])
    assert screen[0]["p_value"] == pytest.approx(chi2.sf(20 * np.log(2), 1), rel=1e-12)
    same[9, 0] = np.nan  # 9 customers: no test
    assert dependence_screen(same, [2, 2])[0] == {"partner": None, "p_value": 1.0, "noise": True}


def test_categorical_contribution_counts_only_the_levels_seen() -> None:
    rng = np.random.default_rng(6)
    n = 300
    labels = rng.integers(0, 2, n)
    codes = np.where(rng.random(n) < 0.7, labels, 1 - labels)  # levels 0 and 1 of 4
    out = feature_contributions(codes.astype(np.float32)[:, None], [4], labels)[0]
    mi = mutual_info_score(labels, codes)
    p = np.bincount(codes) / n
    assert out["explained"] == pytest.approx(mi / -(p * np.log(p)).sum(), rel=1e-9)
    # two segments, two levels used: one extra parameter
    assert out["bic_gain"] == pytest.approx(2 * n * mi - 1 * np.log(n), rel=1e-9)
