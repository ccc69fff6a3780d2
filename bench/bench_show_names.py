"""`show` of a version whose segment was renamed 2,000 times, against `show` of the same
version before the renames: the name rows `show` reads are bounded in the store's query (the
current name and the newest 3 before it); what still grows is the database ranking the
version's label rows (segment_labels has no index)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import Figure

RENAMES = 2_000
REPEATS = 50

NOTES = (
    "In-process, on SQLite, a 500-customer version with 4 segments; segment 0 renamed "
    f"{RENAMES:,} times through `Workspace.name`. Best of {REPEATS} `show` calls each. Before "
    "this change `show` read every name a segment ever had (and the version page drew them), "
    "so its cost grew with every rename; `full history read` is that read alone "
    "(`store.segmentations.labels`), for scale. What still grows with renames is the database "
    "scanning and ranking the version's label rows (segment_labels has no index; an index on "
    "(segmentation_id, segment, id) would need a schema step, asked of the schema's owner). "
    "The machine is shared with other sessions: ratios are indicative."
)


def best(call, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved(first, second, repeats: int = REPEATS) -> tuple[float, float]:
    """Best times of two calls run turn about."""
    a, b = [], []
    for _ in range(repeats):
        for call, times in ((first, a), (second, b)):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
    return min(a), min(b)


def run() -> list[Figure]:
    from segtrail.services.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "customers.csv"
        rows = [f"C{i:05d},{20 + i % 50},{(i * 7.5) % 300:.2f}" for i in range(500)]
        data.write_text("customer_id,age,spend\n" + "\n".join(rows) + "\n")
        with Workspace.init(Path(tmp) / "ws", author="bench") as ws:
            ws.ingest(data, "customer_id", name="customers")
            ws.segment("customers", "bench", "age and spend", k=4, seed=1)
            before = best(lambda: ws.show("bench@1"))
            for i in range(RENAMES):
                ws.name("bench@1", 0, f"name {i}")
            row_id = ws.show("bench@1").id
            # alternated, so both see the same moments of a shared machine
            after, full = interleaved(
                lambda: ws.show("bench@1"), lambda: ws.meta.segmentations.labels(row_id)
            )
            listed = len(ws.show("bench@1").segments[0].name_history)
    return [
        Figure(
            f"show after {RENAMES:,} renames of one segment",
            "`Workspace.show` after the renames",
            after,
            "`Workspace.show` before them",
            before,
            extra={
                "names listed for the segment": listed,
                "show after, in ms": f"{after * 1000:.1f}",
                "show before, in ms": f"{before * 1000:.1f}",
                "full history read alone, in ms": f"{full * 1000:.1f}",
            },
        )
    ]
