"""A numeric column's summary (what `dataset show` prints) against numpy on the same values:
missing values and non-finite ones (NaN, infinities) are left out of every figure, whichever
way the summary gets there (a column with none of them is summarized without a filtered
copy)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtrail.engine import kinds
from segtrail.engine.kinds import summarize

VALUES = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, None]),
)


def _reference(values: list[float | None], sample: int) -> dict:
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    out: dict = {"missing_share": sum(v is None for v in values) / len(values)}
    if len(finite) == 0:
        return out
    spread = finite[:: len(finite) // sample] if len(finite) > sample else finite
    if len(finite) > sample:
        out["quantiles_from_sample"] = len(spread)
    q = np.quantile(spread, [0.25, 0.5, 0.75])  # linear interpolation, as Arrow's default
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else None
    out.update(
        mean=float(np.mean(finite)), std=std, min=float(finite.min()), p25=float(q[0]),
        median=float(q[1]), p75=float(q[2]), max=float(finite.max()),
    )  # fmt: skip
    return out


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunks=st.lists(st.lists(VALUES, min_size=0, max_size=30), min_size=1, max_size=4),
    plain=st.booleans(),
)
def test_numeric_summary_matches_numpy(
    monkeypatch: pytest.MonkeyPatch, chunks: list[list[float | None]], plain: bool
) -> None:
    monkeypatch.setattr(kinds, "QUANTILE_SAMPLE", 7)  # small, so the sample is exercised too
    if plain:  # only finite values and no missing one: the path without a filtered copy
        chunks = [[v for v in c if v is not None and math.isfinite(v)] for c in chunks]
    values = [v for c in chunks for v in c]
    if not values:
        return
    column = pa.chunked_array([pa.array(c, pa.float64()) for c in chunks], pa.float64())
    got = summarize(column, "numeric")
    expected = _reference(values, 7)
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        if want is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(want, rel=1e-9, abs=1e-6), key


# --- kinds -----------------------------------------------------------------------------


def _col(values: list, type_: pa.DataType | None = None) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values, type_)])


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (_col([1, 2, 3]), "numeric"),
        (_col([1.5, None]), "numeric"),
        (_col([1], pa.int8()), "numeric"),
        (_col([1], pa.decimal128(5, 2)), "numeric"),
        (_col([True, None]), "boolean"),
        (_col([0], pa.timestamp("s")), "datetime"),
        (_col([0], pa.date32()), "datetime"),
        (pa.chunked_array([pa.array(["a", "b", "a"]).dictionary_encode()]), "categorical"),
        (_col([None, None], pa.null()), "categorical"),
        (_col([None, None], pa.string()), "categorical"),  # nothing to tell: not text
        (_col(["yes", "no", None, "no"]), "boolean"),
        (_col(["yes", "no", "Yes"]), "categorical"),  # three spellings: three raw values
        (_col([" T", "f"]), "boolean"),
        (_col(["yes", "yes"]), "boolean"),
        (_col(["yes", None]), "boolean"),  # one value, and it is a boolean word
        (_col(["blue", None]), "categorical"),
        (_col(["y", "n", "maybe"]), "categorical"),  # a third value: not boolean words
        (_col(["true", "yes"]), "categorical"),  # both say true: not opposite words
        (_col(["a", "b"], pa.large_string()), "categorical"),
        (_col([[1], [2]]), "text"),  # nested values are no feature
        (_col([b"x"], pa.binary()), "text"),
    ],
)
def test_infer_kind(column: pa.ChunkedArray, kind: str) -> None:
    assert kinds.infer_kind(column) == kind


def test_an_id_column_is_an_id_whatever_its_values() -> None:
    assert kinds.infer_kind(_col([1, 2]), is_id=True) == "id"
    assert kinds.infer_kind(_col(["a", "b"]), is_id=True) == "id"


@pytest.mark.parametrize(
    ("distinct", "rows", "kind"),
    [
        (20, 20, "categorical"),  # up to 20 levels always (even one row per level)
        (21, 21, "text"),
        (21, 42, "categorical"),  # up to half the rows
        (22, 42, "text"),
        (200, 400, "categorical"),  # up to 200 levels
        (201, 402, "text"),
        (201, 10_000, "text"),
    ],
)
def test_categorical_or_text_by_distinct_values(distinct: int, rows: int, kind: str) -> None:
    values = [f"v{i % distinct}" for i in range(rows)]
    assert len(set(values)) == distinct
    assert kinds.infer_kind(_col(values + [None] * 50)) == kind  # missing values not counted


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["yes", "no"], True),
        (["Y", " n "], True),
        (["TRUE"], True),
        (["t", "F"], True),
        ([True, False], True),  # str() of Python booleans
        (["yes", "true"], False),
        (["yes", "no", "y"], False),
        (["maybe"], False),
        ([], False),
        (["1", "0"], False),
        (["yes", "Yes", "no"], False),  # three raw values, even if two of them read alike
    ],
)
def test_are_boolean_words(values: list, expected: bool) -> None:
    assert kinds.are_boolean_words(iter(values)) is expected


def test_coerce_boolean_words_to_booleans() -> None:
    got = kinds.coerce_to_kind(_col([" Yes", "no", None, "Y", "f", "TRUE"]), "boolean")
    assert got.type == pa.bool_()
    assert got.to_pylist() == [True, False, None, True, False, True]
    large = kinds.coerce_to_kind(_col(["t", "n"], pa.large_string()), "boolean")
    assert large.to_pylist() == [True, False]


def test_coerce_keeps_other_columns_and_reads_all_empty_as_text() -> None:
    numbers = _col([1, 2])
    assert kinds.coerce_to_kind(numbers, "numeric") is numbers
    words = _col(["yes", "no"])
    assert kinds.coerce_to_kind(words, "categorical") is words
    flags = _col([True, False])
    assert kinds.coerce_to_kind(flags, "boolean") is flags
    empty = kinds.coerce_to_kind(_col([None, None], pa.null()), "categorical")
    assert empty.type == pa.string() and empty.to_pylist() == [None, None]


# --- summaries of the other kinds ------------------------------------------------------


def test_categorical_summary_counts_and_top_five() -> None:
    values = ["b"] * 4 + ["a"] * 4 + ["c"] * 3 + ["d", "e", "f", "g"] + [None] * 2
    got = summarize(_col(values), "categorical")
    assert got["missing_share"] == pytest.approx(2 / 17)
    assert got["distinct"] == 7
    # by count, ties by value; shares of all rows (missing included)
    assert got["top"] == [
        {"value": "a", "share": 4 / 17},
        {"value": "b", "share": 4 / 17},
        {"value": "c", "share": 3 / 17},
        {"value": "d", "share": 1 / 17},
        {"value": "e", "share": 1 / 17},
    ]


def test_categorical_top_is_by_count_not_by_value() -> None:
    values = ["a"] + ["z"] * 3 + ["m"] * 2
    got = summarize(_col(values), "categorical")
    assert [t["value"] for t in got["top"]] == ["z", "m", "a"]
    assert [t["share"] for t in got["top"]] == [3 / 6, 2 / 6, 1 / 6]


def test_categorical_summary_of_a_dictionary_column_without_missing() -> None:
    column = pa.chunked_array([pa.array(["x", "y", "x"]).dictionary_encode()])
    got = summarize(column, "categorical")
    assert got["missing_share"] == 0.0 and got["distinct"] == 2
    assert got["top"] == [{"value": "x", "share": 2 / 3}, {"value": "y", "share": 1 / 3}]


def test_text_summary_counts_distinct_only() -> None:
    got = summarize(_col(["a@x", "b@x", "a@x", None]), "text")
    assert got == {"missing_share": 0.25, "distinct": 2}
    nested = summarize(_col([[1], [2]]), "text")  # Arrow cannot count lists: no figure
    assert nested == {"missing_share": 0.0, "distinct": None}


def test_id_summary() -> None:
    assert summarize(_col(["a", "b", "c"]), "id") == {"missing_share": 0.0, "distinct": 3}


def test_boolean_summary() -> None:
    got = summarize(_col([True, False, True, None]), "boolean")
    assert got == {"missing_share": 0.25, "true_share": 2 / 3}
    assert summarize(_col([False, False]), "boolean")["true_share"] == 0.0
    assert summarize(_col([None], pa.bool_()), "boolean") == {
        "missing_share": 1.0,
        "true_share": None,
    }


def test_datetime_summary() -> None:
    column = _col([date(2024, 3, 1), None, date(2023, 1, 5)], pa.date32())
    assert summarize(column, "datetime") == {
        "missing_share": pytest.approx(1 / 3),
        "min": "2023-01-05",
        "max": "2024-03-01",
    }
    assert summarize(_col([None], pa.date32()), "datetime") == {"missing_share": 1.0}


def test_summary_of_an_empty_column() -> None:
    assert summarize(_col([], pa.float64()), "numeric") == {"missing_share": 0.0}
    assert summarize(_col([], pa.string()), "categorical")["missing_share"] == 0.0


def test_integer_columns_are_summarized_as_floats() -> None:
    got = summarize(_col([1, 2, 3, 4, None]), "numeric")
    assert got["mean"] == 2.5 and got["min"] == 1.0 and got["max"] == 4.0
    assert got["median"] == 2.5 and got["p25"] == 1.75 and got["p75"] == 3.25
    assert got["std"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert isinstance(got["min"], float) and "quantiles_from_sample" not in got
    huge = summarize(_col([2**62, 2**62 + 1]), "numeric")  # beyond 2**53: rounded, no error
    assert huge["min"] == float(2**62)


def test_missing_values_do_not_count_towards_the_quantile_sample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # finite values and missing ones only (no NaN or infinity): the quantile sample is
    # drawn from the 10 values, not from the 15 rows
    monkeypatch.setattr(kinds, "QUANTILE_SAMPLE", 7)
    values = [float(v) for v in (5, 1, 9, 3, 7, 2, 8, 4, 6, 10)]
    got = summarize(_col(values + [None] * 5), "numeric")
    expected = _reference(values + [None] * 5, 7)
    assert got["quantiles_from_sample"] == expected["quantiles_from_sample"] == 10
    for key in ("p25", "median", "p75", "mean", "min", "max", "std"):
        assert got[key] == pytest.approx(expected[key]), key


def test_all_missing_or_non_finite_numbers_have_no_figures() -> None:
    assert summarize(_col([None, None], pa.float64()), "numeric") == {"missing_share": 1.0}
    assert summarize(_col([math.nan, math.inf]), "numeric") == {"missing_share": 0.0}


def test_one_value_has_no_spread() -> None:
    got = summarize(_col([5.0]), "numeric")
    assert got["std"] is None and got["mean"] == got["min"] == got["max"] == 5.0


def test_documented_thresholds() -> None:
    assert kinds.MAX_CATEGORY_LEVELS == 200 and kinds.MAX_CATEGORY_SHARE == 0.5
    assert kinds.QUANTILE_SAMPLE == 100_000
    assert set(kinds.FEATURE_KINDS) < set(kinds.KINDS)
