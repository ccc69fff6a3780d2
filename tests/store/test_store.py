"""The content-addressed object store: round trips, idempotence, atomic writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtrail.errors import SegtrailError
from segtrail.store.objects import ObjectStore


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _no_temporaries(store: ObjectStore) -> None:
    assert store.temporaries() == []
    assert not [p for p in _files(store.root) if p.name.startswith(".tmp")]


def test_put_and_read_table(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    table = pa.table({"id": ["a", "b", None], "x": [1.5, None, -2.0], "n": [1, 2, 3]})
    digest, size = store.put_table(table)
    path = store.path(digest)
    assert path.parent.name == digest[:2]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.stat().st_size == size
    assert store.read_table(digest).equals(table)
    assert store.read_table(digest, columns=["x"]).column_names == ["x"]
    assert list(store.walk()) == [path]
    _no_temporaries(store)


def test_objects_get_the_mode_of_any_new_file(tmp_path: Path) -> None:
    """Not mkstemp's owner-only 0600: a teammate sharing the folder must read them."""
    store = ObjectStore(tmp_path / "objects")
    digest, _ = store.put_bytes(b"shared")
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    assert store.path(digest).stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_put_is_idempotent(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    table = pa.table({"id": list(range(100))})
    first = store.put_table(table)
    stamp = store.path(first[0]).stat().st_mtime_ns
    second = store.put_table(table)
    assert first == second
    assert store.put_bytes(store.path(first[0]).read_bytes()) == first
    assert len(_files(store.root)) == 1
    assert store.path(first[0]).stat().st_mtime_ns == stamp  # not rewritten
    other = store.put_table(pa.table({"id": list(range(101))}))
    assert other[0] != first[0]
    assert len(_files(store.root)) == 2
    _no_temporaries(store)


def test_put_bytes_names_objects_by_sha256(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    data = b"any bytes at all"
    digest, size = store.put_bytes(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert store.path(digest).read_bytes() == data


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(tmp_path / "objects")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put_bytes(b"payload")
    assert _files(store.root) == []


def test_reading_a_missing_object_is_a_clear_error(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    with pytest.raises(SegtrailError, match="missing"):
        store.read_table("ab" * 32)


# Dtypes fitted state may hold, in both byte orders.
DTYPES = st.sampled_from(
    [
        np.dtype(t)
        for t in [
            "float32",
            "float64",
            ">f8",
            "int8",
            "int32",
            ">i4",
            "int64",
            "uint8",
            "uint16",
            "uint64",
            "bool",
            "complex128",
            "datetime64[ns]",
            "timedelta64[s]",
            "<U6",
            "S4",
        ]
    ]
)
ARRAYS = DTYPES.flatmap(
    lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0))
)
NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(arrays=st.dictionaries(NAMES, ARRAYS, min_size=1, max_size=4), fortran=st.booleans())
def test_arrays_round_trip(arrays: dict[str, np.ndarray], fortran: bool, tmp_path_factory) -> None:
    store = ObjectStore(tmp_path_factory.mktemp("objects"))
    if fortran:  # non-contiguous inputs must come back with the same values
        arrays = {k: np.asfortranarray(v) for k, v in arrays.items()}
    digest, _ = store.put_arrays(arrays)
    back = store.read_arrays(digest)
    assert back.keys() == arrays.keys()
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype
        assert back[name].shape == array.shape
        # Bytes, not ==: NaN and NaT must come back too.
        assert np.ascontiguousarray(back[name]).tobytes() == np.ascontiguousarray(array).tobytes()
        assert back[name].flags.writeable
    assert store.put_arrays(arrays)[0] == digest  # same arrays, same object
    _no_temporaries(store)


def test_put_arrays_refuses_object_dtype(tmp_path: Path) -> None:
    """Object arrays would store memory addresses (or need pickles): refuse them."""
    store = ObjectStore(tmp_path / "objects")
    with pytest.raises(SegtrailError, match="object"):
        store.put_arrays({"labels": np.array(["a", None], dtype=object)})
    with pytest.raises(SegtrailError):
        store.put_arrays({"record": np.zeros(2, dtype=[("a", "i4"), ("b", "f8")])})
    assert _files(store.root) == []


def test_read_arrays_refuses_object_dtype(tmp_path: Path) -> None:
    """A crafted object (not written by put_arrays) naming an object dtype is refused."""
    store = ObjectStore(tmp_path / "objects")
    table = pa.table(
        {
            "name": ["evil"],
            "dtype": ["|O"],
            "shape": pa.array([[1]], pa.list_(pa.int64())),
            "data": pa.array([b"\x00" * 8], pa.large_binary()),
        }
    )
    digest, _ = store.put_table(table)
    with pytest.raises(SegtrailError, match="object-dtype"):
        store.read_arrays(digest)


def test_objects_are_plain_parquet(tmp_path: Path) -> None:
    """Fitted state is an inspectable Parquet table, readable without segtrail."""
    store = ObjectStore(tmp_path / "objects")
    digest, _ = store.put_arrays({"centers": np.eye(3, dtype=np.float32)})
    table = pq.read_table(store.path(digest))
    assert table.column_names == ["name", "dtype", "shape", "data"]
    assert table["shape"].to_pylist() == [[3, 3]]
