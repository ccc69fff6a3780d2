"""`segtrail serve --workers 2`: two real worker processes on one port, on SQLite and on
PostgreSQL. A job started through one is followed through both (every poll opens a new
connection, and the kernel hands connections to either process), its download is served by
any of them, and after its process is killed the other still answers for it from the
workspace's `jobs` table. A job whose process is killed mid-way turns failed with a message
saying so. Concurrent writers through both processes lose nothing (SQLite's WAL, busy timeout
and BEGIN IMMEDIATE make the second process's writers wait their turn)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from tests.web.api.conftest import LiveServer, customers_csv

from segtrail.services import access
from segtrail.services.access import Role
from segtrail.services.workspace import Workspace
from segtrail.web.jobs import DIED


def make_workspace(root: Path, database_url: str | None) -> dict[str, str]:
    with Workspace.init(root, author="setup", database_url=database_url) as ws:
        ws.ingest(
            customers_csv(root.parent / "customers.csv", rows=300), "customer_id", "customers"
        )
        ws.segment(
            "customers", "sales", "three groups", exclude=["channel"], algorithm="kmeans", k=3
        )
        return {"ana": access.add_user(ws, "ana", Role.ANALYST, ["sales"]).token}


def fresh(url: str, token: str) -> httpx.Client:
    """A client that opens a new connection per request: polls spread over the workers."""
    return httpx.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def job_row(root: Path, job_id: str) -> dict:
    with Workspace.open(root) as ws:
        row = ws.meta.jobs.get(job_id)
    assert row is not None
    return row


def owner_pid(row: dict) -> int:
    return int(row["owner"].split(":")[1])


def worker_pids(server: LiveServer) -> set[int]:
    """The worker processes of the server (children of its process, as uvicorn spawns them)."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    pids = {int(p) for p in children.read_text().split()}
    # uvicorn's spawn start method adds a resource tracker: keep the processes serving us
    return {p for p in pids if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text()}


def poll(http: httpx.Client, job_id: str, timeout: float = 300) -> tuple[dict, int]:
    """Poll until the job is finished; returns its last state and the number of polls."""
    deadline, polls = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        answer = http.get(f"/api/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        polls += 1
        state = answer.json()
        if state["state"] in ("done", "failed"):
            return state, polls
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished after {timeout} s")


@pytest.fixture
def served(tmp_path: Path, database_url: str | None) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "ws"
    return root, make_workspace(root, database_url)


def test_jobs_and_downloads_are_answered_by_every_worker(served):
    root, tokens = served
    server = LiveServer(root, "--workers", "2")
    try:
        assert len(worker_pids(server)) == 2
        with fresh(server.url, tokens["ana"]) as http:
            started = http.post(
                "/api/v1/segmentations",
                json={
                    "dataset": "customers",
                    "lens": "sales",
                    "hypothesis": "spend and visits alone",
                    "features": ["spend", "visits"],
                    "algorithm": "kmeans",
                    "k": 3,
                },
            )
            assert started.status_code == 202, started.text
            job, polls = poll(http, started.json()["job"])
            assert job["state"] == "done", job
            assert job["result"]["version"] == "sales@2" and job["fraction"] == 1.0
            assert polls >= 2
            for _ in range(4):  # the job's page too, from whichever worker
                page = http.get(f"/jobs/{started.json()['job']}")
                assert page.status_code == 200 and "Done." in page.text, page.text[:300]

            report = http.post("/api/v1/versions/sales@2/report", json={})
            assert report.status_code == 202, report.text
            done, _ = poll(http, report.json()["job"])
            assert done["state"] == "done", done
            link = done["links"]["report"]
            for _ in range(6):  # fresh connections: both workers serve the shared file
                file = http.get(link)
                assert file.status_code == 200 and b"<html" in file.content[:2000].lower()

            # The process that ran the report dies; the other still answers for its job
            # (from the jobs table) and serves its download (from the shared folder).
            row = job_row(root, report.json()["job"])
            os.kill(owner_pid(row), signal.SIGKILL)
            for _ in range(6):
                again = http.get(f"/api/v1/jobs/{report.json()['job']}")
                assert again.status_code == 200 and again.json() == done
                assert http.get(link).status_code == 200
    finally:
        server.stop()
    with Workspace.open(root) as ws:
        assert ws.show("sales@2")["hypothesis"] == "spend and visits alone"


def test_a_job_whose_worker_is_killed_turns_failed(served):
    root, tokens = served
    server = LiveServer(root, "--workers", "2")
    try:
        with fresh(server.url, tokens["ana"]) as http:
            # no algorithm and no k: the default path compares models over k = 2..12, long
            # enough to kill its process while it runs
            started = http.post(
                "/api/v1/segmentations",
                json={"dataset": "customers", "lens": "sales", "hypothesis": "let it choose"},
            )
            assert started.status_code == 202, started.text
            job_id = started.json()["job"]
            deadline = time.monotonic() + 120
            while http.get(f"/api/v1/jobs/{job_id}").json()["state"] != "running":
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.05)
            victim = owner_pid(job_row(root, job_id))
            assert victim in worker_pids(server)
            os.kill(victim, signal.SIGKILL)
            job, _ = poll(http, job_id, timeout=120)
            assert job["state"] == "failed", job
            assert job["message"] == DIED and job["error"]["kind"] == "internal"
            assert job["result"] is None
            # the server goes on (uvicorn starts a new worker in the killed one's place)
            assert http.get("/api/v1/versions/sales@1").status_code == 200
    finally:
        server.stop()
    with Workspace.open(root) as ws:
        assert [v["version"] for v in ws.log("sales")] == ["sales@1"]  # nothing half-recorded


def test_concurrent_writers_through_both_workers_lose_nothing(served):
    root, tokens = served
    server = LiveServer(root, "--workers", "2")
    answered: list[tuple[int, str]] = []
    failures: list[str] = []

    def writer(w: int) -> None:
        with fresh(server.url, tokens["ana"]) as http:
            for i in range(12):
                segment, name = (w + i) % 3, f"writer {w} round {i}"
                answer = http.post(
                    f"/api/v1/versions/sales@1/segments/{segment}/name", json={"name": name}
                )
                if answer.status_code == 200:
                    answered.append((segment, name))
                else:
                    failures.append(f"{answer.status_code}: {answer.text[:200]}")

    try:
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    assert failures == []
    assert len(answered) == 6 * 12
    with Workspace.open(root) as ws:
        shown = ws.show("sales@1")
        history = {(s["segment"], h["name"]) for s in shown["segments"] for h in s["name_history"]}
        ids = [e["id"] for e in ws.events()]
    assert set(answered) <= history
    assert len(ids) == len(set(ids))
