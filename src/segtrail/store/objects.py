"""Immutable, content-addressed data objects (Parquet files named by their SHA-256).

An object is serialized in memory, hashed, written to a temporary file in the same folder,
flushed to disk and renamed into place. Rename is atomic, so a reader sees the whole object
or nothing; a crash leaves at most a stray temporary file, which `fsck` reports but ignores.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from segtrail.atomic import FILE_MODE, atomic_write
from segtrail.errors import SegtrailError

SUFFIX = ".parquet"
RECENT_READS = 4  # Arrow tables kept by ObjectStore.read_table (immutable, so safe)


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._recent: dict[tuple[str, tuple[str, ...] | None], pa.Table] = {}

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}{SUFFIX}"

    def put_table(self, table: pa.Table, *, dictionary: list[str] | None = None) -> tuple[str, int]:
        """Store a table; returns (sha256, size in bytes). Idempotent for identical bytes."""
        return self.put_bytes(encode_table(table, dictionary))

    def put_bytes(self, data: bytes | pa.Buffer) -> tuple[str, int]:
        view = memoryview(data)
        digest = hashlib.sha256(view).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest, len(view)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, view, prefix=".tmp-")  # fsck recognises ".tmp-" leftovers
        _fsync_dir(target.parent)
        return digest, len(view)

    def put_stream(self, write: Callable[[BinaryIO], None]) -> tuple[str, int]:
        """Store what `write(file)` writes, without holding it in memory: the bytes go to a
        temporary file and are hashed as they pass; when `write` returns, the file is flushed
        and renamed to its content address. If `write` raises, nothing is stored.
        Returns (sha256, size in bytes). Idempotent for identical bytes."""
        # The temporary lives in a two-letter folder that is never a digest prefix, so the
        # `??/.tmp-*` leftovers check (fsck) sees it and no object listing does.
        folder = self.root / "tm"
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                hashing = _HashingWriter(f)
                write(hashing)
                f.flush()
                os.fsync(f.fileno())
            digest, size = hashing.digest.hexdigest(), hashing.size
            target = self.path(digest)
            if target.exists():
                Path(tmp).unlink()
                return digest, size
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return digest, size

    def read_table(self, digest: str, columns: list[str] | None = None) -> pa.Table:
        """Read an object (or some of its columns). Objects never change, so the last few
        reads are kept: a command that looks at one version several times (why, report,
        compare) decodes its assignments once."""
        key = (digest, tuple(columns) if columns is not None else None)
        if key in self._recent:
            self._recent[key] = self._recent.pop(key)  # most recently used goes last
            return self._recent[key]
        path = self.path(digest)
        if not path.exists():
            raise SegtrailError(f"object {digest[:12]} is missing from the workspace; run fsck")
        table = pq.read_table(path, columns=columns)
        self._recent[key] = table
        if len(self._recent) > RECENT_READS:
            self._recent.pop(next(iter(self._recent)))
        return table

    def put_arrays(self, arrays: dict[str, np.ndarray]) -> tuple[str, int]:
        """Store named numpy arrays (fitted state) as a plain Parquet table: name, dtype,
        shape, raw bytes. Safe to load: no pickles, nothing executes."""
        names = sorted(arrays)
        # asarray, not ascontiguousarray: the latter turns a 0-d array into shape (1,).
        values = [np.asarray(arrays[n], order="C") for n in names]
        for name, value in zip(names, values, strict=True):
            # Object arrays would store memory addresses; a structured dtype's fields would
            # not survive `dtype.str`. Neither is needed for fitted state.
            if value.dtype.hasobject or np.dtype(value.dtype.str) != value.dtype:
                raise SegtrailError(f"array {name!r}: cannot store dtype {value.dtype} safely")
        table = pa.table(
            {
                "name": pa.array(names, pa.string()),
                "dtype": pa.array([v.dtype.str for v in values], pa.string()),
                "shape": pa.array([list(v.shape) for v in values], pa.list_(pa.int64())),
                "data": pa.array([v.tobytes() for v in values], pa.large_binary()),
            }
        )
        return self.put_table(table)

    def read_arrays(self, digest: str) -> dict[str, np.ndarray]:
        table = self.read_table(digest).to_pydict()
        out = {}
        for name, dtype, shape, data in zip(
            table["name"], table["dtype"], table["shape"], table["data"], strict=True
        ):
            if np.dtype(dtype).hasobject:
                raise SegtrailError(f"object {digest[:12]}: refusing an object-dtype array")
            out[name] = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
        return out

    def walk(self) -> Iterator[Path]:
        if self.root.exists():
            yield from sorted(self.root.glob(f"??/*{SUFFIX}"))

    def temporaries(self) -> list[Path]:
        return sorted(self.root.glob("??/.tmp-*")) if self.root.exists() else []


class _HashingWriter:
    """A write-only file that hashes and counts the bytes on their way to `file`."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.file.write(data)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:  # the store closes the real file after `write` returns
        self.closed = True


def encode_table(table: pa.Table, dictionary: list[str] | None = None) -> pa.Buffer:
    """Parquet bytes of a table (snappy). `dictionary` names the columns worth dictionary
    encoding (categories); by default Arrow tries it on every column, which costs a third of
    the write on wide numeric tables and gains nothing there."""
    sink = pa.BufferOutputStream()
    pq.write_table(
        table, sink, compression="snappy", use_dictionary=True if dictionary is None else dictionary
    )
    return sink.getvalue()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
