"""Long work as background jobs: the request answers 202 at once with a job to follow; the
job reports progress, ends done with what the CLI's --json prints, or failed with an error
kind and message, and the server keeps serving either way. Against a real `segtrail serve`."""

from __future__ import annotations

from tests.web.api.conftest import wait_for_job

from segtrail.services.workspace import Workspace


def test_segment_runs_as_a_job_with_progress(live, served):
    with live.client(served.tokens["ana"]) as http:
        answer = http.post(
            "/api/v1/segmentations",
            json={
                "dataset": "customers",
                "lens": "marketing",
                "hypothesis": "Spend alone splits the customers",
                "features": ["spend", "visits"],
                "algorithm": "kmeans",
                "k": 3,
            },
        )
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        assert accepted["state"] in ("queued", "running")  # answered before the work is done
        assert accepted["url"] == f"/api/v1/jobs/{accepted['job']}"
        job = wait_for_job(http, accepted["job"])
    assert job["state"] == "done", job
    assert job["kind"] == "segment" and job["author"] == "ana"
    assert job["fraction"] == 1.0
    assert len(job["seen"]) >= 2  # progress messages, not only the final state
    version = job["result"]["version"]
    assert version.startswith("marketing@")
    with Workspace.open(served.root) as ws:
        shown = ws.show(version)
    assert shown["author"] == "ana"
    assert shown["hypothesis"] == "Spend alone splits the customers"
    assert job["result"]["segments"] == shown.to_dict()["segments"]


def test_a_failing_job_fails_cleanly_and_the_server_goes_on(live, served):
    with Workspace.open(served.root) as ws:
        versions_before = len(ws.log())
    with live.client(served.tokens["admin"]) as http:
        answer = http.post(
            "/api/v1/segmentations",
            json={
                "dataset": "customers",
                "lens": "product",
                "hypothesis": "A column that is not there",
                "features": ["no_such_column"],
                "algorithm": "kmeans",
                "k": 2,
            },
        )
        assert answer.status_code == 202
        job = wait_for_job(http, answer.json()["job"])
        assert job["state"] == "failed"
        assert job["error"]["kind"] == "invalid_input"
        assert "no_such_column" in job["error"]["message"]
        assert job["result"] is None
        # the server still answers, and a next job runs
        assert http.get("/api/v1/health").status_code == 200
        again = http.post("/api/v1/versions/product@1/report", json={})
        assert again.status_code == 202
        report = wait_for_job(http, again.json()["job"])
        assert report["state"] == "done", report
        downloaded = http.get(report["links"]["report"])
        assert downloaded.status_code == 200
        assert b"<html" in downloaded.content[:2000].lower()
    with Workspace.open(served.root) as ws:
        assert len(ws.log()) == versions_before


def test_jobs_need_a_token_and_unknown_jobs_are_404(live, served):
    with live.client() as anonymous:
        assert anonymous.get("/api/v1/jobs/abc").status_code == 401
    with live.client(served.tokens["vic"]) as viewer:
        assert viewer.get("/api/v1/jobs/abc").status_code == 404
        refused = viewer.post(
            "/api/v1/segmentations",
            json={"dataset": "customers", "lens": "marketing", "hypothesis": "x"},
        )
        assert refused.status_code == 403


def test_lookalike_job_links_its_audience(client, served):
    answer = client.post(
        "/api/v1/lookalikes",
        json={"pool": "customers", "seed": "marketing@1:0", "size": 20, "name": "like-young"},
        headers=served.headers("ana"),
    )
    assert answer.status_code == 202, answer.text
    job = wait_for_job(client, answer.json()["job"], headers=served.headers("ana"))
    assert job["state"] == "done", job
    assert job["result"]["audience"] == "like-young"
    assert job["result"]["size"] == 20
    file = client.get(job["links"]["audience"], headers=served.headers("vic"))
    assert file.status_code == 200
    assert len(file.text.strip().splitlines()) == 21  # header + 20 customers
