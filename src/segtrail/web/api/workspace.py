"""The workspace as a whole: the event log and fsck (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from segtrail.services.results import Event, FsckReport
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import answer, require_admin
from segtrail.web.api.models import ERROR_RESPONSES, model_of
from segtrail.web.deps import current_principal, workspace_for

router = APIRouter(tags=["workspace"], responses=ERROR_RESPONSES)


@router.get("/events", response_model=list[model_of(Event)])
def events(
    limit: Annotated[int | None, Query(ge=1, le=10000)] = None,
    q: Annotated[
        str | None, Query(description="Only events whose author, action or subject has this")
    ] = None,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """The event log, newest first: who did what, when (`segtrail events --json`)."""
    rows = ws.events(None if q else limit)
    if q:
        needle = q.casefold()
        rows = [
            e
            for e in rows
            if any(needle in str(e[k]).casefold() for k in ("author", "action", "subject"))
        ][:limit]
    return answer(rows)


@router.get("/fsck", response_model=model_of(FsckReport))
def fsck(
    principal: Any = Depends(current_principal), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Re-hash every object and check every reference (admins; `segtrail fsck --json`)."""
    require_admin(principal)
    return answer(ws.fsck())
