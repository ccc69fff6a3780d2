"""Numbers written as text in a numeric column (CSV exports from spreadsheets and CRMs):
an adversarial corpus of spellings, each with its expected reading. The reference is
Python's own float() of the spelling after the documented normalisation (surrounding
spaces, thousands commas, one currency or percent sign dropped), written here, not taken
from segtrail; a spelling that is not a number must be counted and named, never dropped."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from segtrail.engine.features import (
    build_spec,
    describe_spec,
    fit_features,
    model_matrix,
    read_numbers,
    transform_features,
)
from segtrail.engine.profiles import profile_segments
from segtrail.errors import InputError

NBSP, NNBSP = "\u00a0", "\u202f"

# Spellings read as numbers
READ = [
    "12",
    "-12",
    "+12",
    "  12  ",
    "\t7\n",
    "0",
    "-0",
    "007",
    "3.25",
    ".5",
    "-.5",
    "5.",
    "1e5",
    "1E-3",
    "+2.5e+2",
    "1,234",
    "12,345",
    "123,456",
    "1,234,567.89",
    "-1,234.5",
    "+1,000,000",
    "$12",
    "$1,234.56",
    "-$5",
    "+$5",
    "$ 12",
    "€12",
    "€ 1,200",
    "12€",
    "12 €",
    " 12 $ ",
    f"12{NBSP}€",
    f"12{NNBSP}€",
    "£3.50",
    "¥1,000",
    "45%",
    "12.5 %",
    "-3%",
    f"{NBSP}99{NBSP}",
    "1,234e2",
]

# Spellings that are not numbers: counted and named, read as missing
NOT_READ = [
    "1,23",  # invalid grouping
    "12,34",
    "1,2345",
    ",123",
    "1,,234",
    "1234,567",  # a group of four before a comma
    "1.234,5",  # decimal comma: the locale decides, and a file does not say
    "12,5",
    "1.234.567",
    "1 234",  # space or apostrophe separators
    "1'234",
    "(12)",  # accounting negative
    "12-",
    "--12",
    "+-12",
    "- 12",
    "$12$",
    "$12%",
    "12%%",
    "$$12",
    "12  €",  # two spaces between
    "US$12",
    "12 USD",
    "EUR 12",
    "12.3.4",
    ".",
    "-",
    "+",
    "e5",
    "1e",
    "1e+",
    "0x1A",
    "1_000",  # Python's float() reads it; a spreadsheet never writes it
    "١٢",  # Arabic-Indic digits: float() reads them too
    "inf",
    "-Infinity",
    "nan",
    "1e400",  # beyond the float range
    "n/a",
    "twelve",
    "12abc",
    "abc12",
    "%",
    "€",
]

CURRENCY_OR_PERCENT = re.compile("[$€£¥%]")


def reference(spelling: str) -> float:
    """The documented normalisation, then Python's float()."""
    text = spelling.strip()
    text = CURRENCY_OR_PERCENT.sub("", text, count=1)
    text = text.replace(",", "").replace(NBSP, "").replace(NNBSP, "").replace(" ", "")
    return float(text)


def test_the_corpus_reads_as_documented_in_every_string_dtype() -> None:
    spellings = READ + NOT_READ + [None, "", "   "]
    for dtype in (object, "string", "str"):
        values, unread = read_numbers(pd.Series(spellings, dtype=dtype), "x")
        assert unread is not None
        for spelling, value, bad in zip(spellings, values, unread, strict=True):
            if spelling in READ:
                assert value == reference(spelling), (dtype, spelling, value)
                assert not bad, (dtype, spelling)
            elif spelling in NOT_READ:
                assert np.isnan(value) and bad, (dtype, spelling, value)
            else:  # missing or blank: missing, not "not a number"
                assert np.isnan(value) and not bad, (dtype, spelling)


@pytest.mark.parametrize("spelling", READ)
def test_each_readable_spelling_alone_is_the_float_python_reads(spelling: str) -> None:
    values, unread = read_numbers(pd.Series([spelling, "1"]), "x")
    assert unread is None
    assert values[0] == reference(spelling)


@pytest.mark.parametrize("spelling", NOT_READ)
def test_each_unreadable_spelling_is_flagged_beside_a_number(spelling: str) -> None:
    values, unread = read_numbers(pd.Series(["5", spelling]), "x")
    assert values[0] == 5.0 and np.isnan(values[1])
    assert unread is not None and unread.tolist() == [False, True]


def one_column(values, kind: str = "numeric") -> tuple[pd.DataFrame, dict]:
    df = pd.DataFrame({"id": [str(i) for i in range(len(values))], "x": values})
    return df, build_spec(df, {"id": "id", "x": kind}, "id")


def test_unreadable_values_are_counted_and_named_in_the_description() -> None:
    text = ["$1,200", "soon", None, "1.234,5", "$800", "soon", "n/a", "1,000", "??", ""]
    df, spec = one_column(text)
    X, fitted = fit_features(df, spec)
    col = fitted["columns"][0]
    assert (col["n_unreadable"], col["n_missing"]) == (5, 7)  # None and "" are missing only
    assert col["unreadable_examples"] == ["soon", "1.234,5", "n/a"]  # the first three
    assert describe_spec(fitted)[0]["transform"] == (
        "5 values are not numbers (e.g. 'soon', '1.234,5', 'n/a'): read as missing, "
        "missing -> median 1000, standardized"
    )
    # the numbers read are the ones used: 1200, 800, 1000, the rest the median 1000
    read = np.array([1200, 1000, 1000, 1000, 800, 1000, 1000, 1000, 1000, 1000], dtype=float)
    assert np.allclose(X[:, 0], (read - read.mean()) / read.std(), atol=1e-6)
    assert np.array_equal(transform_features(df, fitted), X)
    M = model_matrix(df, fitted)[0][:, 0]  # the class model leaves them out
    assert np.isnan(M).tolist() == [False, True, True, True, False, True, True, False, True, True]


def test_a_clean_text_column_is_read_whole_and_its_state_says_nothing_more() -> None:
    df, spec = one_column([" 1,000 ", "$2,000", "3000", "4,000.00"])
    X, fitted = fit_features(df, spec)
    col = fitted["columns"][0]
    assert "n_unreadable" not in col and col["n_missing"] == 0
    assert describe_spec(fitted)[0]["transform"] == "standardized"
    same, _ = fit_features(*one_column([1000.0, 2000.0, 3000.0, 4000.0]))
    assert np.array_equal(X, same)


def test_infinite_numbers_are_not_numbers_in_a_float_column_too() -> None:
    df, spec = one_column([1.0, 2.0, np.inf, 4.0, -np.inf, np.nan])
    X, fitted = fit_features(df, spec)
    assert np.isfinite(X).all()
    col = fitted["columns"][0]
    assert (col["n_unreadable"], col["n_missing"]) == (2, 3)
    assert col["median"] == 2.0
    assert describe_spec(fitted)[0]["transform"].startswith(
        "2 values are not numbers (e.g. 'inf', '-inf'): read as missing, missing -> median 2"
    )


def test_a_column_of_words_is_refused_by_features_and_profiles_alike() -> None:
    df, spec = one_column(["young", "old", None])
    message = r"^column 'x' is marked numeric but holds text$"
    with pytest.raises(InputError, match=message):
        fit_features(df, spec)
    with pytest.raises(InputError, match=message):
        profile_segments(df, {"x": "numeric"}, np.array([0, 1, 1]))


def test_numbers_mixed_with_text_in_one_column_are_read() -> None:
    values, unread = read_numbers(pd.Series([3, "1,500", 2.5, None, "x", True], dtype=object), "v")
    assert values[:3].tolist() == [3.0, 1500.0, 2.5]
    assert np.isnan(values[3:]).all()
    assert unread is not None and unread.tolist() == [False] * 4 + [True, True]


def test_profiles_read_the_same_numbers_as_the_features() -> None:
    text = ["$100", "1,000", "oops", "200", "2,000", "300"]
    labels = np.array([0, 1, 0, 0, 1, 1])
    profile = profile_segments(pd.DataFrame({"x": text}), {"x": "numeric"}, labels)
    medians = {
        s["segment"]: next(e for e in s["numeric"] if e["column"] == "x")["median"]
        for s in profile["segments"]
    }
    assert medians == {0: 150.0, 1: 1000.0}  # "oops" left out, as the features leave it


def test_new_customers_without_a_number_are_placed_at_the_median() -> None:
    _, fitted = fit_features(*one_column(["1,000", "2,000", "3,000", "$4,000"]))
    new = pd.DataFrame({"id": ["a", "b"], "x": ["n/a", None]})
    placed = transform_features(new, fitted)  # no number among them: not refused
    median_row = transform_features(pd.DataFrame({"id": ["m"], "x": [2500.0]}), fitted)
    assert np.array_equal(placed, np.vstack([median_row, median_row]))
    assert np.isnan(model_matrix(new, fitted)[0]).all()


def test_numbers_of_every_numeric_dtype_come_as_float64() -> None:
    cases = [
        (pd.Series([3, 1]), [3.0, 1.0]),
        (pd.Series([3, None], dtype="Int64"), [3.0, np.nan]),
        (pd.Series([True, None, False], dtype="boolean"), [1.0, np.nan, 0.0]),
        (pd.Series([1.5, np.nan]), [1.5, np.nan]),
    ]
    for series, expected in cases:
        values, unread = read_numbers(series, "x")
        assert values.dtype == np.float64, series.dtype
        assert np.array_equal(values, expected, equal_nan=True) and unread is None


def test_missing_values_alone_are_missing_and_leave_the_state_as_it_was() -> None:
    # a float column with gaps: nothing unreadable, nothing more in the fitted state
    _, fitted = fit_features(*one_column([1.0, np.nan, 3.0, 4.0]))
    assert "n_unreadable" not in fitted["columns"][0]
    assert fitted["columns"][0]["n_missing"] == 1
    # a text column with no value at all (None, or NaN as pandas writes a gap)
    for gaps in ([None, None, None], [None, np.nan, ""]):
        X, fitted = fit_features(*one_column(pd.Series(gaps, dtype=object)))
        col = fitted["columns"][0]
        assert col["n_missing"] == 3 and "n_unreadable" not in col
        assert np.array_equal(X, np.zeros((3, 1), dtype=np.float32))
    # numbers and text mixed in one column, with gaps written as NaN
    values, unread = read_numbers(pd.Series([2, "1,500", np.nan, "x"], dtype=object), "v")
    assert np.array_equal(values, [2.0, 1500.0, np.nan, np.nan], equal_nan=True)
    assert unread is not None and unread.tolist() == [False, False, False, True]
