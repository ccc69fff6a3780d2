"""Background jobs: long work (segment, revisit, lookalike, report, big imports) runs in a
worker while the request that asked for it returns at once with a job id to follow.

The runner is a small thread pool in the server process, with job states in memory. Why
threads and not a process per job: the heavy steps are numpy/scikit-learn/pyarrow calls
that release the GIL, so threads use the cores; a thread shares the server's open workspace
(its database connection pool) and reports progress by a plain callback, with no pickling of
arguments, results or errors across processes. What that costs: a job cannot be killed
mid-way, and job states do not survive a server restart (the work a job finished is recorded
in the workspace all the same; only the job's own status line is gone). `max_workers`
bounds how much CPU jobs take from the requests; further jobs wait, state "queued".
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from segtrail.errors import SegtrailError

log = logging.getLogger("segtrail.web.jobs")

KEEP_FINISHED = 500  # finished jobs remembered (oldest forgotten first)

Progress = Callable[[str, "float | None"], None]


@dataclass(frozen=True)
class WithLinks:
    """What a job function returns when its work wrote files: the result (as `--json`
    prints it) and download URLs by name, shown beside it in the job's `links`."""

    result: Any
    links: dict[str, str]


@dataclass
class Job:
    id: str
    kind: str
    author: str | None
    state: str = "queued"  # queued | running | done | failed
    message: str = "waiting for a worker"
    fraction: float | None = None
    result: Any = None
    error: dict | None = None
    links: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "author": self.author,
            "state": self.state,
            "message": self.message,
            "fraction": self.fraction,
            "result": self.result,
            "error": self.error,
            "links": dict(self.links),
        }


class JobRunner:
    """`submit(kind, fn, **kwargs)` runs `fn(progress=..., **kwargs)` in a worker and returns
    the job's id at once; `get(id)` gives its state, progress, result or error."""

    def __init__(self, max_workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="segtrail-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def submit(
        self, kind: str, fn: Callable[..., Any], *, author: str | None = None, **kwargs: Any
    ) -> str:
        job = Job(id=uuid.uuid4().hex, kind=kind, author=author)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job, fn, kwargs)
        return job.id

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def snapshot(self, job_id: str) -> dict[str, Any] | None:
        """The job as JSON, read under the lock so state, message and result agree."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.to_dict()

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # --- the worker side -------------------------------------------------------------------

    def _run(self, job: Job, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        def progress(message: str, fraction: float | None = None) -> None:
            with self._lock:
                job.message = str(message)
                if fraction is not None and math.isfinite(fraction):
                    job.fraction = min(max(float(fraction), 0.0), 1.0)

        with self._lock:
            job.state, job.message = "running", "started"
        try:
            value = fn(progress=progress, **kwargs)
            links = value.links if isinstance(value, WithLinks) else {}
            result = json_ready(value.result if isinstance(value, WithLinks) else value)
        except SegtrailError as e:
            self._finish(job, error={"kind": e.code, "message": str(e), "field": e.field})
        except Exception as e:  # a bug, or the machine (disk full): the job fails, not the server
            log.exception("job %s (%s) failed", job.id, job.kind)
            words = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            self._finish(job, error={"kind": "internal", "message": words, "field": None})
        else:
            self._finish(job, result=result, links=links)

    def _finish(
        self,
        job: Job,
        *,
        result: Any = None,
        error: dict | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            job.result, job.error, job.links = result, error, dict(links or {})
            job.state = "failed" if error else "done"
            job.message = error["message"] if error else "done"
            if not error:
                job.fraction = 1.0
            job.finished_at = time.time()

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished_at is not None]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job_id]


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
