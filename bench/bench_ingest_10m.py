"""Ingest of a 10M-row x 23-column CSV (3.3 GB) and Parquet: peak memory stays flat while
streaming."""

from __future__ import annotations

import shutil
import sys
import tempfile

from common import BIN, Figure, time_process

from data import big_csv_file, big_parquet_file

CSV_BASELINE = """
import sys, pyarrow.csv as c, pyarrow.parquet as p
p.write_table(c.read_csv(sys.argv[1]), sys.argv[2])
"""
PARQUET_BASELINE = """
import sys, pyarrow.parquet as p
p.write_table(p.read_table(sys.argv[1]), sys.argv[2])
"""
MEMORY_GOAL_MIB = 1536

NOTES = (
    "The goal here is memory, not time: `segtrail ingest` reads, checks and writes the file "
    f"in record batches, so its peak memory stays under {MEMORY_GOAL_MIB} MiB whatever the "
    "file's size; the baseline holds the whole table. `BENCH_10M=csv` or `=parquet` runs one "
    "of the two (each takes minutes)."
)


def _figure(kind: str, path: str, baseline_script: str) -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        baseline, baseline_rss = time_process(
            [sys.executable, "-c", baseline_script, path, f"{tmp}/baseline.parquet"]
        )
        ws = f"{tmp}/ws"
        time_process([str(BIN / "segtrail"), "init", ws])
        seconds, rss = time_process(
            [str(BIN / "segtrail"), "-w", ws, "ingest", path, "--id", "customer_id"]
        )
        shutil.rmtree(ws)
    met = "met" if rss <= MEMORY_GOAL_MIB else "NOT met"
    reader = "read_csv" if kind == "CSV" else "read_table"
    return Figure(
        f"ingest 10M x 23 {kind}",
        "`segtrail ingest` (whole process)",
        seconds,
        f"pyarrow {reader} + write_table (whole process)",
        baseline,
        extra={
            "peak memory": f"{rss} MiB (goal <= {MEMORY_GOAL_MIB} MiB: {met})",
            "baseline peak memory": f"{baseline_rss} MiB",
        },
    )


def run() -> list[Figure]:
    import os

    which = os.environ.get("BENCH_10M", "csv,parquet").split(",")
    figures = []
    if "csv" in which:
        figures.append(_figure("CSV", big_csv_file(10, 19, 3), CSV_BASELINE))
    if "parquet" in which:
        figures.append(_figure("Parquet", big_parquet_file(10, 19, 3), PARQUET_BASELINE))
    return figures


if __name__ == "__main__":
    for figure in run():
        print(figure.line())
