"""Background jobs: long work (segment, revisit, lookalike, report, big imports) runs in a
worker while the request that asked for it returns at once with a job id to follow.

Each server process runs its jobs in a small thread pool. Why threads and not a process per
job: the heavy steps are numpy/scikit-learn/pyarrow calls that release the GIL, so threads
use the cores; a thread shares the process's open workspace and reports progress by a plain
callback, with no pickling of arguments, results or errors. `max_workers` bounds how much CPU
jobs take from the requests; further jobs wait, state "queued".

Job states live in the metadata database (table `jobs`, store/jobs.py), not in the process's
memory: with `segtrail serve --workers N` the poll for a job lands on any worker process, and
each answers from the table. Progress is written at most every `flush_seconds` per job (the
newest message wins; nothing said last is lost, a flusher thread writes it). A process that
dies (killed, out of memory) cannot mark its jobs failed, so readers do: every job row names
its owner (host, pid and the process's start time); a reader on the same host sees at once
that the owner is gone, and any reader sees that its heartbeat (every `beat_seconds`) stopped
for `stale_seconds`. Such a job turns failed with a message saying so, never "running" forever.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segtrail.errors import SegtrailError

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

log = logging.getLogger("segtrail.web.jobs")

KEEP_FINISHED = timedelta(days=7)  # finished jobs are forgotten after this long
DIED = (
    "the server process running this job stopped before it finished (restarted, killed or "
    "out of memory); nothing of it was recorded, start it again"
)

Progress = Callable[[str, "float | None"], None]


@dataclass(frozen=True)
class WithLinks:
    """What a job function returns when its work wrote files: the result (as `--json`
    prints it) and download URLs by name, shown beside it in the job's `links`."""

    result: Any
    links: dict[str, str]


def process_started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, Linux /proc), None if there is no
    such process or no /proc: with the pid it names one process even after pids wrap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> str:
    """The owner name of jobs run by this process: host:pid:start."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_started(pid) or '?'}"


def owner_alive(owner: str) -> bool | None:
    """True/False when the owner runs on this host (checked in /proc), None when that cannot
    be told from here (another host, no /proc): then its heartbeat decides."""
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or started == "?" or not pid.isdigit():
        return None
    return process_started(int(pid)) == started


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class _Running:
    """What the flusher writes for one running job: its newest progress, once."""

    message: str = "started"
    fraction: float | None = None
    dirty: bool = False


class JobRunner:
    """`submit(kind, fn, **kwargs)` runs `fn(progress=..., **kwargs)` in a worker of this
    process and returns the job's id at once; `snapshot(id)` gives its state, progress,
    result or error, from any process serving the same workspace."""

    def __init__(
        self,
        workspace: Workspace,
        max_workers: int = 2,
        *,
        flush_seconds: float = 0.3,
        beat_seconds: float = 5.0,
        stale_seconds: float = 60.0,
    ) -> None:
        self.table = workspace.meta.jobs  # store/jobs.py: the rows every process shares
        self.owner = this_process()
        self.flush_seconds = flush_seconds
        self.beat_seconds = beat_seconds
        self.stale_seconds = stale_seconds
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="segtrail-job")
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def submit(
        self, kind: str, fn: Callable[..., Any], *, author: str | None = None, **kwargs: Any
    ) -> str:
        job_id = uuid.uuid4().hex
        self.table.add(job_id, kind, author, self.owner, "waiting for a worker")
        self._start_flusher()
        self._pool.submit(self._run, job_id, kind, fn, kwargs)
        return job_id

    def snapshot(self, job_id: str) -> dict[str, Any] | None:
        """The job as JSON (one row: state, message and result agree)."""
        row = self.table.get(job_id)
        if row is None:
            return None
        if row["state"] in ("queued", "running") and self._owner_died(row):
            log.warning("job %s (%s): its process %s is gone", job_id, row["kind"], row["owner"])
            self.table.fail(job_id, DIED)
            row = self.table.get(job_id) or row
        return {
            "id": row["id"],
            "kind": row["kind"],
            "author": row["author"],
            "state": row["state"],
            "message": row["message"],
            "fraction": row["fraction"],
            "result": row["result"],
            "error": row["error"],
            "links": dict(row["links"]),
        }

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)
        # Jobs cancelled before they started: this process will not run them. (One still
        # running either finishes before the process exits, or readers see the process gone.)
        with self._lock:
            running = set(self._running)
        for job_id in self.table.unfinished_of(self.owner):
            if job_id not in running:
                self.table.fail(job_id, DIED)

    def _owner_died(self, row: dict[str, Any]) -> bool:
        if row["owner"] == self.owner:
            return False
        alive = owner_alive(row["owner"])
        if alive is not None:
            return not alive
        quiet = datetime.now(UTC) - _parse_time(row["beat_at"])
        return quiet.total_seconds() > self.stale_seconds

    # --- the worker side -------------------------------------------------------------------

    def _run(self, job_id: str, kind: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        running = _Running()
        with self._lock:
            self._running[job_id] = running

        def progress(message: str, fraction: float | None = None) -> None:
            with self._lock:
                running.message = str(message)
                if fraction is not None and math.isfinite(fraction):
                    running.fraction = min(max(float(fraction), 0.0), 1.0)
                running.dirty = True

        try:
            self.table.progress(job_id, "running", "started", None)
            try:
                value = fn(progress=progress, **kwargs)
                links = value.links if isinstance(value, WithLinks) else {}
                result = json_ready(value.result if isinstance(value, WithLinks) else value)
            except SegtrailError as e:
                error = {"kind": e.code, "message": str(e), "field": e.field}
                self._finish(job_id, error=error)
            except Exception as e:  # a bug, or the machine (disk full): the job fails
                log.exception("job %s (%s) failed", job_id, kind)
                words = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                self._finish(job_id, error={"kind": "internal", "message": words, "field": None})
            else:
                try:
                    self._finish(job_id, result=result, links=links)
                except (TypeError, ValueError) as e:  # a result JSON cannot hold: say so
                    log.exception("job %s (%s): its result could not be stored", job_id, kind)
                    words = f"the result could not be stored: {e}"
                    self._finish(
                        job_id, error={"kind": "internal", "message": words, "field": None}
                    )
        except Exception:  # the database itself failed: nothing more this thread can say
            log.exception("job %s (%s): its state could not be recorded", job_id, kind)
        finally:
            with self._lock:
                self._running.pop(job_id, None)

    def _finish(
        self,
        job_id: str,
        *,
        result: Any = None,
        error: dict | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            running = self._running.get(job_id)
            fraction = running.fraction if running else None
            if running:
                running.dirty = False  # the final state replaces any progress not yet written
        self.table.finish(
            job_id,
            message=error["message"] if error else "done",
            fraction=fraction if error else 1.0,
            result=result,
            error=error,
            links=links,
        )

    # --- the flusher: throttled progress and the heartbeat --------------------------------

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(
                target=self._flush_loop, name="segtrail-job-flusher", daemon=True
            )
        self._flusher.start()
        # Old finished jobs go once per process start (cheap: one DELETE).
        cutoff = (datetime.now(UTC) - KEEP_FINISHED).isoformat().replace("+00:00", "Z")
        try:
            self.table.forget_finished(cutoff)
        except Exception:
            log.exception("forgetting old jobs failed")

    def _flush_loop(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.wait(self.flush_seconds):
            try:
                self._flush()
                if time.monotonic() - last_beat >= self.beat_seconds:
                    last_beat = time.monotonic()
                    if self._running:
                        self.table.beat(self.owner)
            except Exception:  # the database is away for a moment: try again next round
                log.exception("writing job progress failed")

    def _flush(self) -> None:
        with self._lock:
            pending = [
                (job_id, r.message, r.fraction) for job_id, r in self._running.items() if r.dirty
            ]
            for job_id, _, _ in pending:
                self._running[job_id].dirty = False
        for job_id, message, fraction in pending:
            self.table.progress(job_id, "running", message, fraction)


def json_ready(value: Any) -> Any:
    """A typed result (or anything nested) as JSON-ready data: `to_dict()`, NaN as null."""
    if hasattr(value, "to_dict") and not isinstance(value, type):
        value = value.to_dict()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value
