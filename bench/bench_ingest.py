"""Ingest of a 1M-row x 23-column CSV against pyarrow read_csv + write_table of the same file."""

from __future__ import annotations

import shutil
import sys
import tempfile

from common import BIN, Figure, time_process

from data import csv_file

BASELINE = """
import sys, pyarrow.csv as c, pyarrow.parquet as p
p.write_table(c.read_csv(sys.argv[1]), sys.argv[2])
"""


def run(repeats: int = 3) -> list[Figure]:
    path = csv_file(1_000_000, 19, 3)  # id + 19 numeric + 3 categorical = 23 columns
    subject, baseline, memory = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            out = f"{tmp}/baseline.parquet"
            baseline.append(time_process([sys.executable, "-c", BASELINE, path, out])[0])
            ws = f"{tmp}/ws"
            time_process([str(BIN / "segtrail"), "init", ws])
            seconds, rss = time_process(
                [str(BIN / "segtrail"), "-w", ws, "ingest", path, "--id", "customer_id"]
            )
            subject.append(seconds)
            memory.append(rss)
            shutil.rmtree(ws)
    return [
        Figure(
            "ingest 1M x 23 CSV",
            "`segtrail ingest` (whole process)",
            min(subject),
            "pyarrow read_csv + write_table (whole process)",
            min(baseline),
            goal=1.5,
            extra={"peak memory": f"{max(memory)} MiB"},
        )
    ]
