"""What ordering event ids by commit costs PostgreSQL writers: concurrent renames per second
with the commit-order lock (store/metadata.py `record_event`) and without it.

    .venv/bin/python bench/bench_event_order.py"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import Figure

WRITERS = 6
SECONDS = 20.0

NOTES = (
    "A real PostgreSQL server (tests/pgserver.py: Debian's binaries, a unix socket, fsync off "
    "as for the tests; with fsync on, each commit, during which the lock is held, takes "
    "longer); 6 threads of one process rename segments of one version through one open "
    "workspace (its connection pool) for 20 s each way, every rename its own transaction with "
    "its event. The baseline is the same code with `record_event` patched in this script to "
    "skip `pg_advisory_xact_lock`: ids then come straight from the sequence, in whatever "
    "order transactions commit."
)


def _unordered_record_event(self, connection, author, action, subject, details) -> int:
    from sqlalchemy import insert

    from segtrail.store import schema
    from segtrail.store.metadata import utc_now

    result = connection.execute(
        insert(schema.events).values(
            at=utc_now(),
            author=author,
            action=action,
            subject=subject,
            details=json.dumps(details, sort_keys=True, default=str),
        )
    )
    return int(result.inserted_primary_key[0])


def renames_per_second(root: Path) -> tuple[float, float]:
    """Renames per second and their p95 seconds, WRITERS threads for SECONDS."""
    from segtrail.services.workspace import Workspace

    latencies: list[float] = []
    with Workspace.open(root, author="bench") as ws:
        stop = time.monotonic() + SECONDS

        def writer(w: int) -> None:
            mine = ws.for_author(f"writer-{w}")
            i = 0
            while time.monotonic() < stop:
                start = time.perf_counter()
                mine.name("sales@1", (w + i) % 3, f"writer {w} round {i}")
                latencies.append(time.perf_counter() - start)
                i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return len(latencies) / SECONDS, float(np.percentile(latencies, 95))


def run() -> list[Figure]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pgserver import PostgresServer
    from segtrail.services.workspace import Workspace
    from segtrail.store import metadata

    server = PostgresServer.start()
    try:
        folder = Path(tempfile.mkdtemp(prefix="segtrail-event-order-"))
        url = server.create_database()
        csv = folder / "customers.csv"
        rng = np.random.default_rng(0)
        rows = ["customer_id,spend,visits"] + [
            f"C{i},{rng.normal(100, 30):.2f},{rng.normal(5, 2):.2f}" for i in range(300)
        ]
        csv.write_text("\n".join(rows) + "\n")
        with Workspace.init(folder / "ws", author="bench", database_url=url) as ws:
            ws.ingest(csv, "customer_id", "customers")
            ws.segment("customers", "sales", "three groups", algorithm="kmeans", k=3)
        ordered, ordered_p95 = renames_per_second(folder / "ws")
        original = metadata.MetadataStore.record_event
        metadata.MetadataStore.record_event = _unordered_record_event
        try:
            unordered, unordered_p95 = renames_per_second(folder / "ws")
        finally:
            metadata.MetadataStore.record_event = original
    finally:
        server.stop()
    # seconds per rename (1 / rate): the figure's ratio is the lock's cost in throughput
    return [
        Figure(
            f"PostgreSQL renames, {WRITERS} concurrent writers, event ids in commit order",
            f"{ordered:.0f} renames/s (p95 {ordered_p95 * 1000:.0f} ms)",
            1 / ordered,
            f"without the commit-order lock: {unordered:.0f} renames/s "
            f"(p95 {unordered_p95 * 1000:.0f} ms)",
            1 / unordered,
        )
    ]


if __name__ == "__main__":
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.chdir(Path(__file__).resolve().parent)
    from common import write_results

    figures = run()
    for figure in figures:
        print(figure.line())
    write_results("event_order", ".venv/bin/python bench/bench_event_order.py", figures, NOTES)
