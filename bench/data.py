"""Benchmark data: wide synthetic customer tables, generated once and cached in bench/.data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from common import DATA


def customer_table(rows: int, numeric: int, categorical: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(8, numeric))
    group = rng.integers(0, 8, rows)
    columns = {"customer_id": pa.array(np.char.add("C", np.arange(rows).astype(str)))}
    for j in range(numeric):
        values = centres[group, j] + rng.normal(0, 1, rows)
        if j % 4 == 0:  # some money-like skewed columns
            values = np.round(np.exp(values / 2) * 50, 2)
        columns[f"x{j:02d}"] = pa.array(values)
    levels = np.array(["north", "south", "east", "west", "online", "store"])
    for j in range(categorical):
        columns[f"c{j}"] = pa.array(levels[(group + rng.integers(0, 2, rows) + j) % len(levels)])
    return pa.table(columns)


def csv_file(rows: int, numeric: int, categorical: int) -> str:
    path = DATA / f"customers_{rows}_{numeric}_{categorical}.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(customer_table(rows, numeric, categorical), path)
    return str(path)


def _millions(millions: int, numeric: int, categorical: int):
    """`millions` tables of 1M rows each, with unique ids throughout."""
    for part in range(millions):
        table = customer_table(1_000_000, numeric, categorical, seed=part)
        ids = np.char.add("C", (np.arange(1_000_000) + part * 1_000_000).astype(str))
        yield table.set_column(0, "customer_id", pa.array(ids))


def big_csv_file(millions: int, numeric: int, categorical: int) -> str:
    """`millions` x 1M rows written one million at a time (unique ids throughout), so the
    generator itself never holds more than one million rows."""
    return _write_millions("csv", pacsv.CSVWriter, millions, numeric, categorical)


def big_parquet_file(millions: int, numeric: int, categorical: int) -> str:
    """As big_csv_file, as Parquet (snappy, one row group per million rows, as Arrow and
    Spark write them by default)."""
    return _write_millions("parquet", pq.ParquetWriter, millions, numeric, categorical)


def _write_millions(
    suffix: str, writer_class, millions: int, numeric: int, categorical: int
) -> str:
    """Write `_millions` one table at a time with `writer_class(path, schema)` (Arrow's CSV
    or Parquet writer), under a temporary name renamed when complete; reused if present."""
    path = DATA / f"customers_{millions}M_{numeric}_{categorical}.{suffix}"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        writer = None
        for table in _millions(millions, numeric, categorical):
            if writer is None:
                writer = writer_class(partial, table.schema)
            writer.write_table(table)
        writer.close()
        partial.rename(path)
    return str(path)


def parquet_file(rows: int, numeric: int, categorical: int) -> str:
    path = DATA / f"customers_{rows}_{numeric}_{categorical}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        pq.write_table(customer_table(rows, numeric, categorical), path)
    return str(path)
