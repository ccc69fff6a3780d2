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
    """Write one section of RESULTS.md (see `rewrite_section`: prose written by hand is kept):
    its command line, its figures and the bench's notes (paragraphs recognized by their words,
    whatever their figures, so a note giving the load of the run is updated in place)."""
    note_lines = notes.splitlines()
    note_keys = {_words(line) for line in note_lines if _is_anchor(line)}
    text = RESULTS.read_text() if RESULTS.exists() else _header()
    blocks = [
        Block([f"Command: `{command}`"], lambda line: line.startswith("Command: ")),
        Block([f"- {f.line()}" for f in figures], FIGURE_LINE.match),
        Block(note_lines, lambda line: _is_anchor(line) and _words(line) in note_keys),
    ]
    RESULTS.write_text(rewrite_section(text, section, blocks))


FIGURE_LINE = re.compile(r"^- .+: \d+\.\d+x")  # as Figure.line writes it, after "- "


@dataclass
class Block:
    """Lines a writer owns in a section: what it writes there now, and how to recognize the
    lines it wrote there before."""

    lines: list[str]
    owns: Callable[[str], object]


def rewrite_section(text: str, section: str, blocks: list[Block]) -> str:
    """RESULTS.md `text` with section `section` brought up to date; the other sections and
    every line of this one that no block owns are kept byte for byte.

    The convention: a section is written by one tool (bench/run.py, bench/mutate.py...), which
    owns some blocks of lines in it (its `Command:` line, its figures or table rows, its
    notes); everything else in the section is prose written by hand and kept where it stands.
    A block spans from the first to the last line it recognizes (`Block.owns`) and is
    replaced whole, in place, by its new lines, so prose belongs outside the blocks (after
    the generated lines, as usual). A block not in the section yet goes after the block
    written before it (or under the heading). A section not in `text` is added at its end,
    its blocks separated by blank lines."""
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    if not found:
        body = [f"## {section}"]
        for block in blocks:
            body += ["", *block.lines] if block.lines else []
        return text.rstrip() + "\n\n" + "\n".join(body) + "\n"
    old = found.group(0).splitlines(keepends=True)
    replace: dict[int, tuple[int, list[str]]] = {}  # first old line -> (end, new lines)
    insert: dict[int, list[str]] = {}  # before this old line: blocks not in the section yet
    after, taken = 1, 1  # where a missing block goes; old lines up to here belong to a block
    for block in blocks:
        new = [f"{line}\n" for line in block.lines]
        owned = [i for i, line in enumerate(old) if i > 0 and block.owns(line.rstrip("\n"))]
        if not owned:  # (a block with no lines now and none before leaves no blank line)
            insert.setdefault(after, []).extend(["\n", *new] if new else [])
            continue
        if owned[0] < taken:
            raise ValueError(f"section {section!r}: the blocks of its writer overlap or cross")
        replace[owned[0]] = (owned[-1] + 1, new)
        after = taken = owned[-1] + 1
    lines: list[str] = []
    i = 0
    while i <= len(old):
        lines += insert.get(i, [])
        if i == len(old):
            break
        if i in replace:
            end, new = replace[i]
            lines += new
            i = end
        else:
            lines.append(old[i])
            i += 1
    return text[: found.start()] + "".join(lines) + text[found.end() :]


def _words(line: str) -> str:
    """A line without its figures: what stays the same from run to run."""
    return re.sub(r"\d+(?:[.,]\d+)*", "#", line.strip())


def _is_anchor(line: str) -> bool:
    """A line that can tell a note apart: with words in it (not a blank or |---| line)."""
    return re.search(r"[A-Za-z]", line) is not None


def _header() -> str:
    import platform

    return (
        "# Benchmark results\n\n"
        "Produced by `make bench` (bench/run.py). Each figure is a ratio against a baseline "
        "measured in the same run on the same machine (best of several runs each), so it can be "
        f"compared across machines. Machine of the last run: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.\n"
    )
