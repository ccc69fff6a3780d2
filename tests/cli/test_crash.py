"""Crash safety: `segtrail ingest` killed with SIGKILL at random moments leaves either the
old state (no dataset) or the new state (the whole dataset), and fsck stays clean.

Each ingest runs in its own process, which imports segtrail first and then waits for a
go-ahead before running the same `segtrail.cli.main` the console script runs. So the ~1.5 s
of imports is not part of the measured duration and every kill lands in ingest's own work
(reading, writing the object, committing); and the next process can start its imports
while the current one is checked, which keeps 20 kills well inside the time budget.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from segtrail.services.workspace import Workspace

Runner = Callable[..., Any]

ROWS = 600_000
KILLS = 20
WORKER = """
import sys
import segtrail.cli
# what ingest imports lazily, loaded before the clock starts
import segtrail.services.datasets, segtrail.stream_ingest, segtrail.readers
sys.stdout.write("ready\\n")
sys.stdout.flush()
sys.stdin.readline()
sys.argv = ["segtrail", *sys.argv[1:]]
segtrail.cli.main()
"""

# SQLite only: what is under test is that the workspace's own database file survives a
# SIGKILL mid-commit (SQLite's journal on the local disk). A PostgreSQL server is another
# process whose commit either happened or not; killing the client tests nothing new there.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600,000 customers x 10 columns (~50 MB): ingest takes a second or more."""
    rng = np.random.default_rng(7)
    n = ROWS
    table = pa.table(
        {
            "customer_id": np.arange(n) + 1_000_000,
            "age": rng.integers(18, 90, n),
            "spend": rng.gamma(2.0, 50.0, n).round(2),
            "visits": rng.poisson(3, n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "channel": rng.choice(["web", "app", "store"], n),
            "member": rng.choice(["yes", "no"], n),
            "score": rng.normal(0, 1, n),
            "tenure": rng.integers(0, 120, n),
            "email": pa.array([f"user{i}@example.com" for i in range(n)]),
        }
    )
    path = tmp_path_factory.mktemp("crash") / "big.csv"
    pacsv.write_csv(table, path)
    return path


class Ingest:
    """An ingest process, imported and waiting for `go()`."""

    def __init__(self, root: Path, source: Path) -> None:
        self.root = root
        args = ["--workspace", root, "ingest", source, "--id", "customer_id"]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def go(self) -> float:
        assert self.proc.stdout.readline() == "ready\n", self.proc.stderr.read()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return time.perf_counter()

    def kill_after(self, delay: float, *, from_first_write: bool = False) -> int:
        """SIGKILL `delay` seconds after the go-ahead, or after the first file appears in
        objects/ (the moment the object write starts); returns the exit code."""
        start = self.go()
        if from_first_write:
            objects = self.root / ".segtrail" / "objects"
            while self.proc.poll() is None and not any(objects.rglob("*")):
                time.sleep(0.001)
            start = time.perf_counter()
        try:
            self.proc.wait(timeout=max(0.0, delay - (time.perf_counter() - start)))
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=60)
        return self.proc.returncode


def _new_workspace(root: Path) -> Path:
    Workspace.init(root, author="tester").close()
    return root


def _check_old_or_new(cli: Runner, root: Path) -> bool:
    """fsck clean, and the dataset absent or whole. Returns whether it is there."""
    fsck = cli("fsck", cwd=root)
    assert fsck.code == 0, fsck.out + fsck.err
    listed = cli("datasets", "--json", cwd=root)
    assert listed.code == 0, listed.err
    if not listed.json():
        return False
    assert [(d["dataset"], d["rows"]) for d in listed.json()] == [("big@1", ROWS)]
    shown = cli("dataset", "show", "big@1", "--json", cwd=root)
    assert shown.code == 0, shown.err
    info = shown.json()
    assert info["rows"] == ROWS
    objects = root / ".segtrail" / "objects"
    table = pq.read_table(objects / info["object"][:2] / f"{info['object']}.parquet")
    assert table.num_rows == ROWS
    assert len(table["customer_id"].unique()) == ROWS
    return True


def test_killed_ingest_leaves_old_or_new_state(big_csv: Path, tmp_path: Path, cli: Runner):
    # Measure one complete ingest (after imports) to spread the kills over its duration.
    measure = Ingest(_new_workspace(tmp_path / "measure"), big_csv)
    go = measure.go()
    _out, err = measure.proc.communicate(timeout=120)
    duration = time.perf_counter() - go
    assert measure.proc.returncode == 0, err
    assert _check_old_or_new(cli, tmp_path / "measure")

    rng = random.Random(20240601)
    # Half the kills spread over the whole run. Half aimed at the moment the object write
    # starts, 2 ms to 0.25 s after it (log-uniform, for fast and slow disks alike): writing
    # the object and committing the metadata take only milliseconds here, and that is where a
    # crash could tear something; uniform delays would rarely land there.
    kills = [(rng.uniform(0, 1.05 * duration), False) for _ in range(KILLS // 2)]
    kills += [(0.002 * 2 ** rng.uniform(0, 7), True) for _ in range(KILLS - len(kills))]
    rng.shuffle(kills)

    outcomes = []
    upcoming = Ingest(_new_workspace(tmp_path / "ws0"), big_csv)
    for i, (delay, from_first_write) in enumerate(kills):
        current = upcoming
        code = current.kill_after(delay, from_first_write=from_first_write)
        if i + 1 < len(kills):  # start the next one's imports while this one is checked
            upcoming = Ingest(_new_workspace(tmp_path / f"ws{i + 1}"), big_csv)
        present = _check_old_or_new(cli, current.root)
        assert code in (0, -signal.SIGKILL), (code, current.proc.stderr)
        assert present or code != 0, "ingest reported success but the dataset is missing"
        outcomes.append((round(delay, 2), from_first_write, code, present))

    killed = sum(code == -signal.SIGKILL for _, _, code, _ in outcomes)
    assert killed >= KILLS // 2, f"most runs should be killed mid-ingest: {outcomes}"
