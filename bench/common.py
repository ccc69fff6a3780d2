"""Shared helpers for benchmarks: timing whole processes and functions, peak memory,
and the RESULTS.md writer. Every figure is a ratio against a baseline measured in the same
run, so the number means something on a noisy machine."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
RESULTS = HERE / "RESULTS.md"
BIN = Path(sys.executable).parent


@dataclass
class Figure:
    name: str
    subject: str
    subject_seconds: float
    baseline: str
    baseline_seconds: float
    goal: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.subject_seconds / self.baseline_seconds

    def line(self) -> str:
        goal = ""
        if self.goal is not None:
            goal = f" (goal <= {self.goal}x: {'met' if self.ratio <= self.goal else 'NOT met'})"
        extra = "".join(f"; {k} {v}" for k, v in self.extra.items())
        return (
            f"{self.name}: {self.ratio:.2f}x{goal} — "
            f"{self.subject} {self.subject_seconds:.2f} s vs {self.baseline} "
            f"{self.baseline_seconds:.2f} s{extra}"
        )


def time_process(args: list[str], env: dict | None = None) -> tuple[float, int]:
    """Wall time of a whole process and its peak RSS in MiB.

    The peak is the child's own VmHWM, read from /proc while it runs: wait4's ru_maxrss
    is not, because Linux carries the parent's high-water mark into a forked child across
    exec, so after a bench that grew this process to 3 GB every later command would seem
    to peak at 3 GB."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    peak = HighWater(proc.pid)
    _, status, _usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    peak.stop()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"benchmark command failed: {' '.join(map(str, args))}")
    return elapsed, peak.mib


class HighWater:
    """Polls a process's VmHWM (its own peak resident memory since its last exec)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.mib = pid, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        path = f"/proc/{self.pid}/status"
        while not self._done.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.mib = max(self.mib, int(line.split()[1]) // 1024)
            except (OSError, ValueError):
                return
            self._done.wait(0.02)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def best_of(n: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(n))


def time_call(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_rss_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def write_results(section: str, command: str, figures: list[Figure], notes: str = "") -> None:
    """Replace (or add) one section of RESULTS.md, keeping the others."""
    body = [f"## {section}", "", f"Command: `{command}`", ""]
    body += [f"- {f.line()}" for f in figures]
    if notes:
        body += ["", notes]
    block = "\n".join(body) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else _header()
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(block + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    )
    RESULTS.write_text(text)


def _header() -> str:
    import platform

    return (
        "# Benchmark results\n\n"
        "Produced by `make bench` (bench/run.py). Each figure is a ratio against a baseline "
        "measured in the same run on the same machine (best of several runs each), so it can be "
        f"compared across machines. Machine of the last run: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.\n"
    )
