"""Job states in the workspace's `jobs` table (web/jobs.py over store/jobs.py), on SQLite and
PostgreSQL: a job run by one runner is read by another (as another server process would),
progress is written throttled but the last word is never lost, and a job whose owner is on
another host is failed once its heartbeat has stopped for `stale_seconds`, not before."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from segtrail.services.workspace import Workspace
from segtrail.web.jobs import DIED, JobRunner, owner_alive, this_process


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None):
    with Workspace.init(tmp_path / "ws", author="setup", database_url=database_url) as ws:
        yield ws


def wait_finished(runner: JobRunner, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = runner.snapshot(job_id)
        if job and job["state"] in ("done", "failed"):
            return job
        time.sleep(0.02)
    raise AssertionError("the job did not finish")


def test_another_runner_reads_progress_and_result(ws):
    mine, theirs = JobRunner(ws, flush_seconds=0.05), JobRunner(ws)
    told, go_on = threading.Event(), threading.Event()

    def work(progress, n):
        for i in range(200):  # many more calls than writes: throttled
            progress(f"step {i}", i / 200)
        told.set()
        assert go_on.wait(30)
        return {"answer": n, "ratio": float("nan")}

    job_id = mine.submit("test", work, author="ana", n=42)
    assert told.wait(30)
    deadline = time.monotonic() + 10
    while theirs.snapshot(job_id)["message"] != "step 199":  # the last word is written
        assert time.monotonic() < deadline, theirs.snapshot(job_id)
        time.sleep(0.02)
    running = theirs.snapshot(job_id)
    assert running["state"] == "running" and running["fraction"] == pytest.approx(199 / 200)
    go_on.set()
    done = wait_finished(theirs, job_id)
    assert done == {
        "id": job_id,
        "kind": "test",
        "author": "ana",
        "state": "done",
        "message": "done",
        "fraction": 1.0,
        "result": {"answer": 42, "ratio": None},  # NaN as null, as JSON can say it
        "error": None,
        "links": {},
    }
    mine.shutdown()
    theirs.shutdown()


def test_a_job_of_a_silent_owner_elsewhere_fails_after_the_stale_time(ws):
    elsewhere = "another-host:4242:1234"
    assert owner_alive(elsewhere) is None  # not this host: its heartbeat decides
    assert owner_alive(this_process()) is True
    ws.meta.jobs.add("a" * 32, "segment", "ana", elsewhere, "waiting for a worker")
    patient = JobRunner(ws, stale_seconds=60)
    assert patient.snapshot("a" * 32)["state"] == "queued"
    time.sleep(1.2)
    strict = JobRunner(ws, stale_seconds=1)
    failed = strict.snapshot("a" * 32)
    assert (failed["state"], failed["message"]) == ("failed", DIED)
    assert failed["error"] == {"kind": "internal", "message": DIED, "field": None}
    # finished is final: a late word from the owner changes nothing
    assert ws.meta.jobs.progress("a" * 32, "running", "still here", 0.5) is False
    assert patient.snapshot("a" * 32)["state"] == "failed"
