"""The small Arrow builders against pyarrow's own constructors (the independent reference):
the same values, types and nulls, whatever the input's dtype or memory layout."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from segtrail.engine.arrays import int64_array, null_of, text_array


@pytest.mark.parametrize(
    "values",
    [
        ["a", "bc", "", "déjà vu", "日本", "x" * 300],
        [],
        [""],
        ["only"],
    ],
)
def test_text_array_matches_pa_array(values: list[str]) -> None:
    got = text_array(iter(values))  # any iterable, read once
    assert got.type == pa.string()
    assert got.equals(pa.array(values, pa.string()))
    assert got.to_pylist() == values
    got.validate(full=True)


@pytest.mark.parametrize(
    "values",
    [
        np.array([3, -1, 2**40, 0], dtype=np.int64),
        np.array([7, 0, -5], dtype=np.int32),
        np.array([1, 255], dtype=np.uint8),
        np.arange(10, dtype=np.int64)[::3],  # not contiguous
        np.array([], dtype=np.int64),
    ],
)
def test_int64_array_matches_pa_array(values: np.ndarray) -> None:
    got = int64_array(values)
    assert got.type == pa.int64()
    assert got.null_count == 0
    assert got.equals(pa.array(values.tolist(), pa.int64()))
    got.validate(full=True)


def test_int64_array_shares_a_contiguous_int64_arrays_memory() -> None:
    values = np.arange(5, dtype=np.int64)
    got = int64_array(values)
    values[2] = 99  # no copy was made: the Arrow array sees the change
    assert got.to_pylist() == [0, 1, 99, 3, 4]


@pytest.mark.parametrize("type_", [pa.bool_(), pa.int64(), pa.float64(), pa.string()])
def test_null_of_is_a_null_scalar_of_the_type(type_: pa.DataType) -> None:
    got = null_of(type_)
    assert isinstance(got, pa.Scalar)
    assert got.type == type_
    assert not got.is_valid
    assert got.equals(pa.scalar(None, type_))
