"""Small Arrow values built without `pa.array` or `pa.scalar` on Python or numpy objects.

Those calls make pyarrow import pandas (a second or so on a busy machine), which reading a
CSV or Parquet file, checking it and summarizing its columns never need.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa


def text_array(values: Iterable[str]) -> pa.Array:
    """A string array of `values`."""
    encoded = [v.encode() for v in values]
    offsets = np.cumsum([0, *map(len, encoded)], dtype=np.int32)
    return pa.StringArray.from_buffers(
        len(encoded), pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded))
    )


def int64_array(values: np.ndarray) -> pa.Array:
    """An int64 array sharing a numpy array's memory."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def null_of(type_: pa.DataType) -> pa.Scalar:
    """A null scalar of `type_`."""
    return pa.nulls(1, type_)[0]


def float64_array(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A float64 array of `values`, null where `valid` (booleans) is False."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    return pa.Array.from_buffers(pa.float64(), len(values), [_bits(valid), pa.py_buffer(values)])


def bool_array(values: np.ndarray) -> pa.Array:
    """A boolean array of numpy booleans (a filter's mask)."""
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, _bits(values)])


def _bits(values: np.ndarray | None) -> pa.Buffer | None:
    if values is None:
        return None
    return pa.py_buffer(np.packbits(np.asarray(values, dtype=bool), bitorder="little"))
