"""Declared algorithm parameters (engine/algorithms/params.py): what each constraint accepts
against a plain reference written here (bounds compared one by one, as the scikit-learn
documentation states them), how accepted values are normalized, and the one-line messages
a user reads for a wrong or unknown parameter (checked word for word)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from segtrail.engine.algorithms.params import (
    AUTO,
    Interval,
    Numbers,
    Options,
    Param,
    Range,
    check_params,
)
from segtrail.errors import InvalidInput

CLOSED = ("left", "right", "both", "neither")


def _reference_accepts(kind: type, low, high, closed: str, value) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if kind is int and not isinstance(value, int | np.integer):
        return False
    if kind is float:
        if not isinstance(value, int | float | np.integer | np.floating | Fraction):
            return False
        if not math.isfinite(value):
            return False
    if low is not None:
        if closed in ("left", "both") and not value >= low:
            return False
        if closed in ("right", "neither") and not value > low:
            return False
    if high is not None:
        if closed in ("right", "both") and not value <= high:
            return False
        if closed in ("left", "neither") and not value < high:
            return False
    return True


VALUES = [
    -1, 0, 1, 2, 3, 4, 5, 9, np.int64(3), np.int32(5), -0.5, 0.0, 0.5, 1.0, 2.5, 4.0, 4.5,
    np.float32(2.5), Fraction(1, 2), math.inf, -math.inf, math.nan, True, False, np.bool_(True),
    "3", None, [3],
]  # fmt: skip


@pytest.mark.parametrize("kind", [int, float])
@pytest.mark.parametrize("closed", CLOSED)
@pytest.mark.parametrize(("low", "high"), [(1, 4), (None, 4), (1, None), (None, None), (0, 1)])
def test_interval_accepts_like_the_reference(kind: type, closed: str, low, high) -> None:
    interval = Interval(kind, low, high, closed)
    for value in VALUES:
        assert interval.accepts(value) is _reference_accepts(kind, low, high, closed, value), value


def test_interval_defaults_are_unbounded_and_closed() -> None:
    interval = Interval(int)
    assert interval.accepts(-(10**9)) and interval.accepts(10**9)
    assert Interval(int, 1, 3).accepts(1) and Interval(int, 1, 3).accepts(3)
    assert Interval(int, 1, 3).closed == "both"


def test_interval_normalizes_to_its_kind() -> None:
    assert Interval(int).normalize(np.int64(3)) == 3
    assert type(Interval(int).normalize(np.int64(3))) is int
    assert type(Interval(float).normalize(2)) is float
    assert Interval(float).normalize(np.float32(0.5)) == 0.5


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (Interval(int, 1, None, "left"), "a whole number >= 1"),
        (Interval(int, 1, 10, "both"), "a whole number >= 1 and <= 10"),
        (Interval(float, 0, 1, "neither"), "a number > 0 and < 1"),
        (Interval(float, 0, 0.5, "right"), "a number > 0 and <= 0.5"),
        (Interval(float, None, 2.5e-7, "left"), "a number < 2.5e-07"),
        (Interval(float), "a number"),
    ],
)
def test_interval_describe(interval: Interval, text: str) -> None:
    assert interval.describe() == text


def test_options() -> None:
    options = Options(("full", "diag"))
    assert options.accepts("full") and options.accepts("diag")
    assert not options.accepts("Full") and not options.accepts(1) and not options.accepts(None)
    assert options.normalize(np.str_("full")) == "full" and type(options.normalize("x")) is str
    assert options.describe() == "one of 'full', 'diag'"
    assert Options(("auto",)).describe() == "'auto'"


def test_range() -> None:
    k = Range(Interval(int, 2, 30))
    for value, ok in [
        ((2, 30), True), ([3, 3], True), ((np.int64(2), 5), True), ((5, 3), False),
        ((1, 5), False), ((2, 31), False), ((2.0, 5), False), ("25", False), ((2,), False),
        ((2, 3, 4), False), (5, False), (None, False),
    ]:  # fmt: skip
        assert bool(k.accepts(value)) is ok, value
    assert k.normalize((np.int64(2), 5)) == [2, 5] and type(k.normalize((2, 5))[0]) is int
    assert k.describe() == "two whole numbers low <= high, each >= 2 and <= 30"


def test_numbers() -> None:
    layout = Numbers(int, 1)
    assert layout.accepts([1, 2, 3]) and layout.accepts((5,)) and layout.accepts([])
    assert layout.accepts(iter([1, 2]))
    assert not layout.accepts([0, 2]) and not layout.accepts([1.5]) and not layout.accepts("12")
    assert not layout.accepts(3)
    assert (
        layout.normalize([np.int64(2)]) == [2] and type(layout.normalize([np.int64(2)])[0]) is int
    )
    assert layout.describe() == "a list of numbers >= 1"
    shares = Numbers(float)
    assert shares.accepts([0, 0.5]) and not shares.accepts([-0.1])
    assert shares.normalize([1]) == [1.0] and type(shares.normalize([1])[0]) is float
    assert shares.describe() == "a list of numbers >= 0"


K = Param("k", (Interval(int, 2, 30),), None, "segments")
INIT = Param("init", (Options(("k-means++", "random")),), "k-means++", "start", model=False)
TOL = Param("tol", (Interval(float, 0, None, "neither"),), 1e-4, "tolerance")
EPS = Param("eps", (Interval(float, 0, None, "neither"), Options(("auto",))), AUTO, "radius")
RANGE = Param("k_range", (Range(Interval(int, 2, 30)),), [2, 12], "k searched")
LAYOUT = Param("layout", (Numbers(int, 1),), None, "columns", option=False)


def test_param_kind_and_description() -> None:
    assert K.kind is int and TOL.kind is float and INIT.kind is str
    assert EPS.kind is str  # a number or a word: read as text
    assert RANGE.kind is list and LAYOUT.kind is list
    assert Param("mix", (Interval(int), Interval(float)), 1, "").kind is float
    assert EPS.describe() == "a number > 0 or 'auto'"
    assert K.model and not INIT.model and K.option and not LAYOUT.option


def test_check_params_fills_defaults_and_normalizes() -> None:
    declared = (K, INIT, TOL, EPS)
    assert check_params("kmeans", declared, {}) == {
        "k": None, "init": "k-means++", "tol": 1e-4, "eps": None,
    }  # fmt: skip
    assert check_params("kmeans", declared, None) == check_params("kmeans", declared, {})
    got = check_params("kmeans", declared, {"k": np.int64(4), "tol": 1, "eps": "auto"})
    assert got == {"k": 4, "init": "k-means++", "tol": 1.0, "eps": "auto"}
    assert type(got["k"]) is int and type(got["tol"]) is float
    # None counts as not given
    assert check_params("kmeans", declared, {"init": None})["init"] == "k-means++"
    # the first constraint that takes the value normalizes it
    assert check_params("dbscan", (EPS,), {"eps": 2})["eps"] == 2.0


def test_a_value_outside_its_declaration_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_params("kmeans", (K, TOL), {"k": 1})
    assert str(caught.value) == "k must be a whole number >= 2 and <= 30 for kmeans, got 1"
    assert caught.value.field == "k"
    with pytest.raises(InvalidInput) as caught:
        check_params("dbscan", (EPS,), {"eps": "big"})
    assert str(caught.value) == "eps must be a number > 0 or 'auto' for dbscan, got 'big'"
    assert caught.value.field == "eps"


def test_an_unknown_parameter_is_refused_with_what_is_taken() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_params("kmeans", (K, TOL), {"tol": 0.1, "eps": 1, "gamma": 2})
    assert str(caught.value) == "kmeans does not take eps, gamma (it takes: k, tol)"
    assert caught.value.field == "eps"
    with pytest.raises(InvalidInput) as caught:
        check_params("plain", (), {"x": 1})
    assert str(caught.value) == "plain does not take x (it takes: no parameters)"


@pytest.mark.parametrize("name", ["k", "k_range"])
def test_k_for_an_algorithm_that_finds_k_itself(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_params("dbscan", (EPS,), {name: 5, "other": 1})
    assert str(caught.value) == (
        f"dbscan finds the number of segments itself: leave out {name}, other"
    )
    # an algorithm that takes k but not k_range is told what it takes instead
    with pytest.raises(InvalidInput) as caught:
        check_params("kmeans", (K,), {"k_range": [2, 5]})
    assert str(caught.value) == "kmeans does not take k_range (it takes: k)"


def test_every_pair_of_closed_bounds_reads_back() -> None:
    assert Interval(int, 1, 2, "left").bounds_text() == ">= 1 and < 2"
    assert Interval(int, 1, 2, "right").bounds_text() == "> 1 and <= 2"
    assert Interval(int, 1, 2, "both").bounds_text() == ">= 1 and <= 2"
    assert Interval(int, 1, 2, "neither").bounds_text() == "> 1 and < 2"
    assert Interval(int).bounds_text() == ""
