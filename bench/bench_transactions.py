"""10M order lines to customers (DuckDB) against a pandas groupby of the same definitions."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from common import BIN, DATA, Figure, time_process

from segtrail.engine.transactions import TransactionSpec, customers_from_transactions

LINES = 10_000_000
CUSTOMERS = 1_000_000
CATEGORIES = np.array(["home", "garden", "kitchen", "toys", "books", "music", "sport", "tech"])
START = datetime(2023, 1, 1)
ARGS = [
    "--transactions",
    "--customer",
    "customer_id",
    "--date",
    "ts",
    "--amount",
    "quantity*unit_price",
    "--order",
    "invoice",
    "--category",
    "category",
    "--quiet",
]
SPEC = TransactionSpec(
    customer="customer_id",
    date="ts",
    amount="quantity*unit_price",
    order="invoice",
    category="category",
)
NOTES = (
    "Both sides start from the same in-memory Arrow table of order lines (1M customers, "
    "~3 lines per order, 2% returns, 0.5% zero amounts, 0.1% without a customer id) and compute "
    "every customer column (frequency by order, monetary, returns, recency, tenure, average "
    "order value, purchase days, mean days between orders, 90-day spend share, top-5 category "
    "shares and top category); the pandas side's conversion from Arrow is part of its time. "
    "The whole `segtrail ingest --transactions` also records the 10M lines as a dataset: "
    "from Parquet, DuckDB reads the file in place and the file's own bytes are the lines' "
    "object (summarised column by column beside the aggregation); from CSV, the file is "
    "read into Arrow and the lines are encoded as Parquet beside the aggregation. "
    "The machine is shared with other helpers' test runs: absolute seconds are noisy."
)


def order_lines(rows: int = LINES, customers: int = CUSTOMERS, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    orders = rows // 3
    order_customer = rng.integers(0, customers, orders)
    order_time = rng.integers(0, 730 * 86400, orders)
    line_order = np.sort(rng.integers(0, orders, rows))
    quantity = rng.integers(1, 6, rows)
    quantity[rng.random(rows) < 0.02] *= -1  # returns
    quantity[rng.random(rows) < 0.005] = 0
    ids = np.char.add("C", order_customer[line_order].astype(str)).astype(object)
    ids[rng.random(rows) < 0.001] = None
    seconds = order_time[line_order] + rng.integers(0, 120, rows)
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "invoice": pa.array(line_order + 500_000),
            "ts": pa.array(np.datetime64(START, "s") + seconds.astype("timedelta64[s]")),
            "quantity": pa.array(quantity),
            "unit_price": pa.array(np.round(rng.gamma(2.0, 6.0, rows), 2)),
            "category": pa.array(CATEGORIES[rng.integers(0, len(CATEGORIES), rows)]),
        }
    )


def pandas_customers(lines: pa.Table, as_of: datetime | None = None) -> pd.DataFrame:
    """The same definitions as segtrail.engine.transactions, written as pandas groupbys."""
    df = lines.to_pandas()
    df["amount"] = (df["quantity"] * df["unit_price"]).round(6)
    as_of = as_of or df["ts"].max()
    df = df[df["customer_id"].notna() & df["ts"].notna() & (df["amount"] != 0)]
    df = df[df["ts"] <= as_of]
    buy = df[df["amount"] > 0]
    by = buy.groupby("customer_id")
    orders = buy.groupby(["customer_id", "invoice"])["ts"].min().groupby("customer_id")
    out = pd.DataFrame(
        {
            "frequency": orders.size(),
            "monetary": by["amount"].sum(),
            "first": by["ts"].min(),
            "last": by["ts"].max(),
            "first_order": orders.min(),
            "last_order": orders.max(),
            "purchase_days": buy["ts"].dt.floor("D").groupby(buy["customer_id"]).nunique(),
            "recent": buy[buy["ts"] > as_of - timedelta(days=90)]
            .groupby("customer_id")["amount"]
            .sum(),
        }
    )
    returns = -df[df["amount"] < 0].groupby("customer_id")["amount"].sum()
    out = out.reindex(out.index.union(returns.index))
    out["returns_value"] = returns.reindex(out.index).fillna(0.0)
    out["frequency"] = out["frequency"].fillna(0).astype("int64")
    out["monetary"] = out["monetary"].fillna(0.0)
    out["purchase_days"] = out["purchase_days"].fillna(0).astype("int64")
    day = pd.Timedelta(days=1)
    out["recency_days"] = np.floor((as_of - out["last"]) / day)
    out["tenure_days"] = np.floor((as_of - out["first"]) / day)
    out["avg_order_value"] = out["monetary"] / out["frequency"].replace(0, np.nan)
    gaps = (out["last_order"] - out["first_order"]) / day
    out["mean_days_between_orders"] = gaps / (out["frequency"] - 1).where(out["frequency"] > 1)
    out["spend_share_90d"] = out["recent"].fillna(0.0) / out["monetary"].replace(0, np.nan)
    spend = buy.groupby(["customer_id", "category"])["amount"].sum().unstack(fill_value=0.0)
    top = buy.groupby("category")["amount"].sum().sort_values(ascending=False).index[:5]
    for category in top:
        out[f"share_{category}"] = spend[category].reindex(out.index) / out["monetary"].replace(
            0, np.nan
        )
    spend = spend[sorted(spend.columns)].round(6)  # exact ties: alphabetical, as in segtrail
    out["top_category"] = spend.idxmax(axis=1).reindex(out.index)
    return out.drop(columns=["first", "last", "first_order", "last_order", "recent"])


def _parquet(lines: pa.Table) -> str:
    path = DATA / f"order_lines_{lines.num_rows}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        pq.write_table(lines, path)
    return str(path)


def _csv(lines: pa.Table) -> str:
    path = DATA / f"order_lines_{lines.num_rows}.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        pacsv.write_csv(lines, partial)
        partial.rename(path)
    return str(path)


def _whole(path: str, repeats: int) -> tuple[float, int]:
    """Best wall time and its peak memory of `segtrail ingest --transactions` on `path`."""
    whole = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            ws = f"{tmp}/ws"
            time_process([str(BIN / "segtrail"), "init", ws])
            whole.append(time_process([str(BIN / "segtrail"), "-w", ws, "ingest", path, *ARGS]))
            shutil.rmtree(ws)
    return min(whole)


def _check_same(ours: pa.Table, theirs: pd.DataFrame) -> None:
    mine = ours.to_pandas().set_index("customer_id").sort_index()
    theirs = theirs.sort_index()
    assert mine.index.equals(theirs.index), "different customers"
    for column in theirs.columns:
        if column == "top_category":
            assert (mine[column].fillna("") == theirs[column].fillna("")).all(), column
        else:
            np.testing.assert_allclose(
                mine[column].to_numpy(float),
                theirs[column].to_numpy(float),
                rtol=1e-9,
                err_msg=column,
            )


def run(repeats: int = 1) -> list[Figure]:
    lines = order_lines()
    subject, baseline = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ours = customers_from_transactions(lines, SPEC)
        subject.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = pandas_customers(lines)
        baseline.append(time.perf_counter() - start)
    _check_same(ours.table, theirs)
    del theirs
    parquet = _whole(_parquet(lines), repeats)
    csv = _whole(_csv(lines), repeats)
    return [
        Figure(
            f"{LINES // 1_000_000}M order lines to {ours.counts['customers']:,} customers",
            "segtrail customers_from_transactions (DuckDB)",
            min(subject),
            "pandas groupby of the same definitions",
            min(baseline),
            goal=1.0,
        ),
        *(
            Figure(
                f"`segtrail ingest --transactions`, {LINES // 1_000_000}M lines ({kind})",
                "whole process (reads, records lines and customers)",
                seconds,
                "pandas groupby of the same definitions",
                min(baseline),
                extra={"goal": "under 15 s", "peak memory": f"{rss} MiB"},
            )
            for kind, (seconds, rss) in (("Parquet", parquet), ("CSV", csv))
        ),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(DATA.parent))
    for figure in run(1):
        print(figure.line())
