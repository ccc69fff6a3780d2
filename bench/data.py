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


def parquet_file(rows: int, numeric: int, categorical: int) -> str:
    path = DATA / f"customers_{rows}_{numeric}_{categorical}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        pq.write_table(customer_table(rows, numeric, categorical), path)
    return str(path)
