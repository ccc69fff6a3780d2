"""Verified object reads: reading a 1M-row assignments object with its content hash checked vs
reading the same Parquet file without the check."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from common import Figure

from segtrail.store.objects import LocalObjectStore

ROWS = 1_000_000
REPEATS = 30
NOTES = (
    "The object is written exactly as `segment` writes assignments (customer_id strings, "
    "segment int32, confidence float32; snappy). Verified: `ObjectStore.read_table` on a store "
    "with nothing cached (the bytes are read once into memory, hashed with SHA-256 chunk by "
    "chunk while reading, then parsed from that buffer). Unverified: `pyarrow.parquet."
    "read_table` on the file, as before verification existed. Both read from the page cache "
    "(the file is read once before timing). Best of 30 each, the two sides interleaved. "
    "Measured while other sessions shared the 2 cores (load average 14 to 30), so wall-time "
    "figures swing between runs (0.44x to 1.58x seen); CPU time (the whole process, Arrow's "
    "threads included) is the steadier figure of what verification costs: hashing 9 MiB "
    "(1.19x to 1.25x seen)."
)


def _assignments(rows: int) -> pa.Table:
    rng = np.random.default_rng(7)
    return pa.table(
        {
            "customer_id": pa.array([f"C{i:07d}" for i in range(rows)]),
            "segment": pa.array(rng.integers(0, 8, rows).astype(np.int32)),
            "confidence": pa.array(rng.random(rows, dtype=np.float32)),
        }
    )


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process, Arrow's threads included)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "objects"
        digest, size = LocalObjectStore(root).put_table(_assignments(ROWS))
        path = LocalObjectStore(root).path(digest)
        path.read_bytes()  # into the page cache, for both sides alike
        figures = []
        for label, columns in (
            ("all columns", None),
            ("customer_id + segment (what export/why read)", ["customer_id", "segment"]),
        ):

            def verified(columns: list[str] | None = columns) -> tuple[float, float]:
                store = LocalObjectStore(root)  # nothing cached
                return _timed(lambda: store.read_table(digest, columns=columns))

            def unverified(columns: list[str] | None = columns) -> tuple[float, float]:
                return _timed(lambda: pq.read_table(path, columns=columns))

            verified()  # warm up imports and allocators
            unverified()
            # Interleaved, so a burst of load from other sessions hits both sides alike.
            pairs = [(verified(), unverified()) for _ in range(REPEATS)]
            for measure, index in (("wall", 0), ("CPU", 1)):
                figures.append(
                    Figure(
                        f"read a 1M-row assignments object, {label}, {measure} time",
                        "verified ObjectStore.read_table",
                        min(v[index] for v, _ in pairs),
                        "pyarrow.parquet.read_table (no hash check)",
                        min(u[index] for _, u in pairs),
                        goal=1.15,
                        extra={"object size": f"{size / 2**20:.1f} MiB"},
                    )
                )
        return figures
