"""HTML reports of 200k customers: time against reading the same version, and page size."""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import Figure, best_of, time_call

N = 200_000
NOTES = (
    "The version report includes the summary's value per segment, the diff against the parent "
    "(changes and lineage colours) and a 5,000-customer projection; `show` is the read it "
    "builds on. Sizes: the page as written (plotly.js basic bundle inlined), and what it would "
    "weigh with the full plotly.js the plotly package ships. Measured while other sessions "
    "shared the machine's 2 cores: ratios are indicative."
)


def run(repeats: int = 3) -> list[Figure]:
    from plotly.offline import get_plotlyjs

    from segtrail.engine.sample import generate_customers
    from segtrail.report.bundle import plotly_js
    from segtrail.services.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="segtrail-bench-report-") as folder:
        root = Path(folder)
        frame, _ = generate_customers(N, seed=7)
        frame.to_parquet(root / "customers.parquet", index=False)
        ws = Workspace.init(root / "ws", author="bench")
        ws.ingest(root / "customers.parquet", "customer_id", name="customers")
        v1 = ws.segment("customers", "m", "all columns", k=6, algorithm="kmeans")["version"]
        v2 = ws.segment(
            "customers", "m", "behaviour only", k=6, algorithm="kmeans", exclude=["age", "region"]
        )["version"]
        out = root / "r.html"
        report = best_of(repeats, lambda: time_call(lambda: ws.report(v2, out)))
        size = out.stat().st_size
        full = size - len(plotly_js().encode()) + len(get_plotlyjs().encode())
        show = best_of(repeats, lambda: time_call(lambda: ws.show(v2)))
        diff_out = root / "d.html"
        diff_report = best_of(repeats, lambda: time_call(lambda: ws.report(v1, diff_out, diff=v2)))
        diff = best_of(repeats, lambda: time_call(lambda: ws.diff(v1, v2)))
        diff_size = diff_out.stat().st_size
        ws.close()
    return [
        Figure(
            f"version report, {N:,} customers",
            "segtrail report LENS@N",
            report,
            "segtrail show LENS@N (the read it builds on)",
            show,
            extra={"page": f"{size / 1e6:.2f} MB", "with full plotly.js": f"{full / 1e6:.2f} MB"},
        ),
        Figure(
            f"diff report, {N:,} customers",
            "segtrail report A --diff B",
            diff_report,
            "segtrail diff A B",
            diff,
            extra={"page": f"{diff_size / 1e3:.0f} kB"},
        ),
    ]
