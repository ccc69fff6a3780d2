"""Health (no sign-in needed) and background jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from segtrail import __version__
from segtrail.errors import NotFound
from segtrail.web.api.common import answer
from segtrail.web.api.models import ERROR_RESPONSES, Health, JobState
from segtrail.web.deps import current_principal, jobs_of, pool_of

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health(request: Request) -> Any:
    """Whether the server is up and its workspace readable (no sign-in needed)."""
    schema_version = pool_of(request).base.meta.schema_version()
    return answer({"status": "ok", "version": __version__, "schema_version": schema_version})


@router.get("/jobs/{job_id}", response_model=JobState, responses=ERROR_RESPONSES, name="get_job")
def get_job(job_id: str, request: Request, principal: Any = Depends(current_principal)) -> Any:
    """A background job: state (queued, running, done, failed), live progress (message and
    fraction), and its result or error when finished."""
    snapshot = jobs_of(request).snapshot(job_id)
    if snapshot is None:
        raise NotFound(f"no job {job_id!r} (jobs are forgotten when the server restarts)")
    return answer(snapshot)
