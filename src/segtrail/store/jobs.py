"""Background jobs of the team server (table `jobs`, schema step 11): state, progress, result.

Kept in the metadata database rather than in one server process's memory so that every
worker process of `segtrail serve --workers N` answers for every job, whichever process runs
it. Not history: a job's row changes as it runs (no event is recorded, so a job's progress
does not change the history's stamp and does not empty the servers' caches); what the job
did is recorded by its own action. Which process owns a job and whether it is still alive
is the web layer's business (web/jobs.py); this module only reads and writes rows.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from segtrail.store import schema
from segtrail.store.metadata import _json_default, loads, utc_now

if TYPE_CHECKING:
    from segtrail.store.metadata import MetadataStore

UNFINISHED = ("queued", "running")


def _json(value: Any) -> str:
    # Results are already JSON-ready (web/jobs.py `json_ready`, NaN as null); numpy scalars
    # left inside become numbers, as in every other metadata column.
    return json.dumps(value, sort_keys=True, default=_json_default)


class Jobs:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def add(self, job_id: str, kind: str, author: str | None, owner: str, message: str) -> None:
        now = utc_now()
        row = {
            "id": job_id,
            "kind": kind,
            "author": author,
            "state": "queued",
            "message": message,
            "fraction": None,
            "links": "{}",
            "owner": owner,
            "created_at": now,
            "beat_at": now,
        }
        self.db.write(lambda c: c.execute(insert(schema.jobs).values(**row)), what="a job")

    def progress(self, job_id: str, state: str, message: str, fraction: float | None) -> bool:
        """Record progress of a job still unfinished; False if it is finished meanwhile (e.g.
        marked failed because its process was taken for dead)."""
        return self._update_unfinished(
            job_id, state=state, message=message, fraction=fraction, beat_at=utc_now()
        )

    def finish(
        self,
        job_id: str,
        *,
        message: str,
        fraction: float | None,
        result: Any = None,
        error: dict[str, Any] | None = None,
        links: dict[str, str] | None = None,
    ) -> bool:
        """Done (no `error`) or failed; only a job still unfinished is changed."""
        now = utc_now()
        return self._update_unfinished(
            job_id,
            state="failed" if error else "done",
            message=message,
            fraction=fraction,
            result=None if result is None else _json(result),
            error=None if error is None else _json(error),
            links=_json(dict(links or {})),
            beat_at=now,
            finished_at=now,
        )

    def fail(self, job_id: str, message: str, kind: str = "internal") -> bool:
        """Failed with `message` (a job whose process died), if it is still unfinished."""
        error = {"kind": kind, "message": message, "field": None}
        return self.finish(job_id, message=message, fraction=None, error=error)

    def beat(self, owner: str) -> None:
        """The owner is alive: stamp its unfinished jobs (one statement for all of them)."""
        j = schema.jobs
        query = (
            update(j).where(j.c.owner == owner, j.c.state.in_(UNFINISHED)).values(beat_at=utc_now())
        )
        self.db.write(lambda c: c.execute(query), what="a job's heartbeat")

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self.db.fetch(select(schema.jobs).where(schema.jobs.c.id == job_id))
        if not rows:
            return None
        row = rows[0]
        return {
            **row,
            "result": loads(row["result"]),
            "error": loads(row["error"]),
            "links": loads(row["links"]) or {},
        }

    def unfinished_of(self, owner: str) -> list[str]:
        j = schema.jobs
        query = select(j.c.id).where(j.c.owner == owner, j.c.state.in_(UNFINISHED))
        return [row["id"] for row in self.db.fetch(query)]

    def forget_finished(self, before: str) -> int:
        """Remove jobs finished before `before` (an ISO UTC time); returns how many."""
        j = schema.jobs
        query = delete(j).where(j.c.finished_at.is_not(None), j.c.finished_at < before)
        return self.db.write(lambda c: c.execute(query).rowcount, what="forgetting old jobs")

    def _update_unfinished(self, job_id: str, **values: Any) -> bool:
        j = schema.jobs
        query = update(j).where(j.c.id == job_id, j.c.state.in_(UNFINISHED)).values(**values)
        return bool(self.db.write(lambda c: c.execute(query).rowcount, what="a job's state"))
