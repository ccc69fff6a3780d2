"""The jobs table (store/jobs.py): a job's row from queued to done or failed, what a finished
job refuses, heartbeats per owner and forgetting old jobs. Which process owns a job and when
it is taken for dead is the web layer's business (tests/web/test_jobs_*.py); these tests
read and write rows through the store only, on a SQLite file."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update
from tests.store.conftest import write_locked

from segtrail.errors import Conflict
from segtrail.store import metadata, schema
from segtrail.store.metadata import MetadataStore

A, B, C = "a" * 32, "b" * 32, "c" * 32
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty metadata file, made once (migrating takes most of a test's time)."""
    path = tmp_path_factory.mktemp("jobs") / "template.db"
    store = MetadataStore(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MetadataStore]:
    monkeypatch.setattr(metadata, "BUSY_TIMEOUT_MS", 50)  # a busy database is given up on
    shutil.copyfile(migrated, tmp_path / "m.db")
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    yield store
    store.dispose()


def _set(db: MetadataStore, job_id: str, **values: object) -> None:
    """Change a row behind the store's back (e.g. set a time back)."""
    j = schema.jobs
    db.write(lambda c: c.execute(update(j).where(j.c.id == job_id).values(**values)))


def _raw(db: MetadataStore, job_id: str) -> dict:
    return db.fetch(select(schema.jobs).where(schema.jobs.c.id == job_id))[0]


def test_a_new_job_is_queued_with_nothing_done_yet(db: MetadataStore) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting for a worker")
    job = db.jobs.get(A)
    assert job is not None
    assert re.fullmatch(STAMP, job["created_at"]) and job["beat_at"] == job["created_at"]
    assert {k: v for k, v in job.items() if k not in ("created_at", "beat_at")} == {
        "id": A,
        "kind": "segment",
        "author": "ana",
        "state": "queued",
        "message": "waiting for a worker",
        "fraction": None,
        "result": None,
        "error": None,
        "links": {},
        "owner": "host:1:1",
        "finished_at": None,
    }
    assert _raw(db, A)["links"] == "{}"
    assert db.jobs.get(B) is None


def test_a_job_without_an_author_is_kept_as_such(db: MetadataStore) -> None:
    db.jobs.add(A, "revisit", None, "host:1:1", "queued")
    assert db.jobs.get(A)["author"] is None  # type: ignore[index]


def test_progress_is_recorded_on_an_unfinished_job(db: MetadataStore) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    _set(db, A, beat_at="2000-01-01T00:00:00.000000Z")
    assert db.jobs.progress(A, "running", "clustering", 0.25) is True
    job = db.jobs.get(A)
    assert job is not None
    assert (job["state"], job["message"], job["fraction"]) == ("running", "clustering", 0.25)
    assert job["beat_at"] > "2000-01-01T00:00:00.000000Z" and re.fullmatch(STAMP, job["beat_at"])
    assert job["finished_at"] is None
    assert db.jobs.progress(A, "running", "profiling", None) is True
    assert db.jobs.get(A)["fraction"] is None  # type: ignore[index]


def test_progress_of_an_unknown_job_changes_nothing(db: MetadataStore) -> None:
    assert db.jobs.progress(A, "running", "x", 0.5) is False
    assert db.jobs.get(A) is None


def test_a_job_done_keeps_its_result_and_links(db: MetadataStore) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    db.jobs.progress(A, "running", "clustering", 0.5)
    result = {"segmentation": "s1", "k": np.int64(4), "share": np.float32(0.5)}
    links = {"csv": "/download/1", "audience": "/download/2"}
    assert db.jobs.finish(A, message="done", fraction=1.0, result=result, links=links) is True
    job = db.jobs.get(A)
    assert job is not None
    assert job["state"] == "done" and job["message"] == "done" and job["fraction"] == 1.0
    assert job["result"] == {"segmentation": "s1", "k": 4, "share": 0.5}
    assert job["links"] == links and job["error"] is None
    assert re.fullmatch(STAMP, job["finished_at"]) and job["beat_at"] == job["finished_at"]
    raw = _raw(db, A)  # JSON with sorted keys, as in every other metadata column
    assert raw["result"] == '{"k": 4, "segmentation": "s1", "share": 0.5}'
    assert raw["links"] == '{"audience": "/download/2", "csv": "/download/1"}'


def test_a_job_done_without_result_or_links(db: MetadataStore) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    assert db.jobs.finish(A, message="nothing to say", fraction=None) is True
    job = db.jobs.get(A)
    assert job is not None and job["state"] == "done"
    assert job["result"] is None and job["error"] is None and job["links"] == {}
    raw = _raw(db, A)
    assert raw["result"] is None and raw["error"] is None and raw["links"] == "{}"


def test_a_result_that_is_falsy_is_kept(db: MetadataStore) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    db.jobs.finish(A, message="done", fraction=1.0, result=[])
    assert db.jobs.get(A)["result"] == []  # type: ignore[index]
    assert _raw(db, A)["result"] == "[]"


def test_a_job_with_an_error_is_failed(db: MetadataStore) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    error = {"kind": "invalid_input", "message": "no column 'x'", "field": "columns"}
    assert db.jobs.finish(A, message="no column 'x'", fraction=0.3, error=error) is True
    job = db.jobs.get(A)
    assert job is not None
    assert (job["state"], job["message"], job["fraction"]) == ("failed", "no column 'x'", 0.3)
    assert job["error"] == error and job["result"] is None and job["finished_at"] is not None


def test_a_dead_workers_job_turns_failed(db: MetadataStore) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    db.jobs.progress(A, "running", "clustering", 0.5)
    assert db.jobs.fail(A, "the worker process stopped") is True
    job = db.jobs.get(A)
    assert job is not None
    assert (job["state"], job["message"], job["fraction"]) == (
        "failed",
        "the worker process stopped",
        None,
    )
    assert job["error"] == {
        "kind": "internal",
        "message": "the worker process stopped",
        "field": None,
    }
    assert job["finished_at"] is not None and job["links"] == {}
    db.jobs.add(B, "segment", "ana", "host:1:1", "waiting")
    db.jobs.fail(B, "cancelled", kind="cancelled")
    assert db.jobs.get(B)["error"]["kind"] == "cancelled"  # type: ignore[index]


@pytest.mark.parametrize("ending", ["done", "failed"])
def test_a_finished_job_is_never_changed_again(db: MetadataStore, ending: str) -> None:
    """A job taken for dead (failed) whose process was only slow must not turn running or
    done afterwards, and a done job must not be failed by a late clean-up."""
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    if ending == "done":
        db.jobs.finish(A, message="done", fraction=1.0, result={"k": 3})
    else:
        db.jobs.fail(A, "the worker process stopped")
    before = db.jobs.get(A)
    assert db.jobs.progress(A, "running", "still here", 0.9) is False
    assert db.jobs.finish(A, message="late", fraction=1.0, result={"k": 4}) is False
    assert db.jobs.fail(A, "late clean-up") is False
    assert db.jobs.get(A) == before


def test_a_heartbeat_stamps_only_its_owners_unfinished_jobs(db: MetadataStore) -> None:
    old = "2000-01-01T00:00:00.000000Z"
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    db.jobs.add(B, "segment", "ana", "host:1:1", "waiting")
    db.jobs.add(C, "segment", "ana", "host:2:2", "waiting")
    db.jobs.progress(A, "running", "clustering", 0.1)
    db.jobs.finish(B, message="done", fraction=1.0)
    for job_id in (A, B, C):
        _set(db, job_id, beat_at=old)
    db.jobs.beat("host:1:1")
    beats = {job_id: _raw(db, job_id)["beat_at"] for job_id in (A, B, C)}
    assert beats[A] > old and re.fullmatch(STAMP, beats[A])
    assert beats[B] == old  # finished: its last sign of life stays
    assert beats[C] == old  # another owner's
    db.jobs.add("d" * 32, "segment", "ana", "host:1:1", "waiting")  # queued counts too
    _set(db, "d" * 32, beat_at=old)
    db.jobs.beat("host:1:1")
    assert _raw(db, "d" * 32)["beat_at"] > old


def test_unfinished_of_an_owner(db: MetadataStore) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    db.jobs.add(B, "segment", "ana", "host:1:1", "waiting")
    db.jobs.add(C, "segment", "ana", "host:1:1", "waiting")
    db.jobs.add("d" * 32, "segment", "ana", "host:2:2", "waiting")
    db.jobs.progress(B, "running", "clustering", 0.1)
    db.jobs.finish(C, message="done", fraction=1.0)
    assert sorted(db.jobs.unfinished_of("host:1:1")) == [A, B]
    assert db.jobs.unfinished_of("host:2:2") == ["d" * 32]
    assert db.jobs.unfinished_of("host:3:3") == []


def test_forget_finished_removes_only_jobs_finished_before(db: MetadataStore) -> None:
    for job_id in (A, B, C):
        db.jobs.add(job_id, "segment", "ana", "host:1:1", "waiting")
    db.jobs.add("d" * 32, "segment", "ana", "host:1:1", "waiting")  # still unfinished
    db.jobs.finish(A, message="done", fraction=1.0)
    db.jobs.finish(B, message="done", fraction=1.0)
    db.jobs.fail(C, "stopped")
    _set(db, A, finished_at="2026-01-01T00:00:00.000000Z")
    _set(db, B, finished_at="2026-01-02T00:00:00.000000Z")
    _set(db, C, finished_at="2026-01-03T00:00:00.000000Z")
    assert db.jobs.forget_finished("2026-01-02T00:00:00.000000Z") == 1  # strictly before
    assert db.jobs.get(A) is None and db.jobs.get(B) is not None
    assert db.jobs.forget_finished("2026-01-03T00:00:00.000001Z") == 2
    assert db.jobs.get(B) is None and db.jobs.get(C) is None
    assert db.jobs.forget_finished("9999-12-31T00:00:00.000000Z") == 0
    assert db.jobs.get("d" * 32) is not None  # never finished: never forgotten


@pytest.mark.parametrize(
    ("change", "what"),
    [
        (lambda jobs: jobs.add(B, "segment", "ana", "host:1:1", "waiting"), "a job"),
        (lambda jobs: jobs.progress(A, "running", "x", 0.5), "a job's state"),
        (lambda jobs: jobs.fail(A, "stopped"), "a job's state"),
        (lambda jobs: jobs.beat("host:1:1"), "a job's heartbeat"),
        (lambda jobs: jobs.forget_finished("9999"), "forgetting old jobs"),
    ],
)
def test_a_busy_database_names_the_change_it_refused(
    db: MetadataStore, tmp_path: Path, change, what: str
) -> None:
    db.jobs.add(A, "segment", "ana", "host:1:1", "waiting")
    before = db.jobs.get(A)
    with (
        write_locked(tmp_path / "m.db"),
        pytest.raises(
            Conflict,
            match=rf"^the workspace database stayed busy for 0 s \(another writer\); "
            rf"{what} was not recorded, try again$",
        ),
    ):
        change(db.jobs)
    assert db.jobs.get(A) == before and db.jobs.get(B) is None
