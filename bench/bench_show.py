"""`segtrail show` of a version over 1M customers, as a whole process, against
`segtrail --help` (the CLI's own start-up) run beside it."""

from __future__ import annotations

import compileall
import tempfile
from pathlib import Path

from common import BIN, Figure, time_process

from data import parquet_file

NOTES = (
    "`show` reads only metadata (the version's record, names, tags, statuses and profiles): "
    "its cost must not grow with the customer base, and it must not import what only "
    "segmenting needs (pandas, Arrow, scikit-learn, SciPy, DuckDB). Goal: under 1 s on this "
    "machine. segtrail's own modules are byte-compiled first, as `pip install` of a wheel "
    "does: the editable checkout under PYTHONDONTWRITEBYTECODE=1 would otherwise compile "
    "them from source on every start (~0.1 s of CPU), which no installed copy pays."
)


def run(repeats: int = 5) -> list[Figure]:
    path = parquet_file(1_000_000, 20, 3)
    import segtrail

    compileall.compile_dir(Path(segtrail.__file__).parent, quiet=1)
    segtrail = str(BIN / "segtrail")
    with tempfile.TemporaryDirectory() as tmp:
        ws = f"{tmp}/ws"
        time_process([segtrail, "init", ws])
        time_process([segtrail, "-w", ws, "ingest", path, "--id", "customer_id", "--name", "big"])
        time_process(
            [segtrail, "-w", ws, "segment", "-d", "big", "-l", "bench", "-m", "bench",
             "--algorithm", "kmeans", "--k", "8", "--quiet"]
        )  # fmt: skip
        show, memory = [], 0
        startup = []
        for _ in range(repeats):
            startup.append(time_process([segtrail, "--help"])[0])
            seconds, rss = time_process([segtrail, "-w", ws, "show", "bench@1"])
            show.append(seconds)
            memory = max(memory, rss)
    best = min(show)
    return [
        Figure(
            "show a 1M-customer version",
            "`segtrail show bench@1` (whole process)",
            best,
            "`segtrail --help` (whole process)",
            min(startup),
            extra={
                "seconds (goal < 1 s)": f"{best:.2f} ({'met' if best < 1 else 'NOT met'})",
                "peak memory": f"{memory} MiB",
            },
        )
    ]
