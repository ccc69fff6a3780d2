"""Helpers for the concurrency tests: start many real `segtrail` processes at the same instant,
and judge each outcome the way a team member would see it.

Starting a console script costs ~1.5 s of imports (more on a loaded machine), which would
stagger "simultaneous" commands by whole seconds. So each process imports segtrail first,
says "ready", and waits for a go-ahead on stdin before running the same `segtrail.cli.main`
the console script runs: all of them then hit the workspace within milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from segtrail.errors import KINDS

CONFLICT_EXIT = KINDS["conflict"].exit_code  # the one exit code a Conflict error has
ISOLATED_VARS = ("SEGTRAIL_WORKSPACE", "SEGTRAIL_DATABASE_URL", "SEGTRAIL_AUTHOR")

WORKER = """
import sys
import segtrail.cli
import segtrail.services.datasets, segtrail.services.plans  # lazily imported by commands
sys.stdout.write("ready\\n")
sys.stdout.flush()
sys.stdin.readline()
sys.argv = ["segtrail", *sys.argv[1:]]
segtrail.cli.main()
"""


class Outcome(NamedTuple):
    args: tuple[str, ...]
    code: int
    out: str
    err: str


def writer_env(author: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARS}
    env.update(SEGTRAIL_AUTHOR=author, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return env


def run_at_once(
    commands: Sequence[Sequence[str]], cwd: Path, timeout: float = 600
) -> list[Outcome]:
    """Run every `segtrail ARGS` command in its own process, released together. (The
    timeout is for a machine shared with other work, where one `segtrail plan map` was
    measured at 10 s; on a quiet machine the whole takes seconds.)"""
    processes = []
    for i, args in enumerate(commands):
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, *args],
                cwd=cwd,
                env=writer_env(f"writer-{i}"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + timeout
    try:
        for process in processes:  # every one imported and waiting
            line = process.stdout.readline()  # type: ignore[union-attr]
            assert line == "ready\n", (line, process.stderr.read())  # type: ignore[union-attr]
        for process in processes:
            process.stdin.write("go\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
        outcomes = []
        for args, process in zip(commands, processes, strict=True):
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outcomes.append(Outcome(tuple(args), process.returncode, out, err))
        return outcomes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def succeeded(outcomes: Sequence[Outcome]) -> list[int]:
    """Check every outcome is either success (exit 0) or a clean conflict: exit 3 with one
    line on stderr and nothing else. No traceback anywhere. Returns the indexes that
    succeeded."""
    done = []
    for i, outcome in enumerate(outcomes):
        shown = f"{outcome.args}: exit {outcome.code}\nstdout: {outcome.out}\nstderr: {outcome.err}"
        assert "Traceback" not in outcome.out + outcome.err, shown
        if outcome.code == 0:
            done.append(i)
            continue
        assert outcome.code == CONFLICT_EXIT, shown
        assert outcome.err.startswith("error: "), shown
        assert outcome.err.count("\n") == 1 and outcome.err.endswith("\n"), shown
    return done
