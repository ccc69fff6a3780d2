"""Helpers shared by the API's routers: answering with a result's JSON, the write guard,
and the lens a version reference belongs to."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response

from segtrail.services.refs import parse_ref
from segtrail.web.deps import csrf_protect, current_principal, jobs_of
from segtrail.web.jobs import json_ready


class ResultResponse(Response):
    """A typed result (or list of them) as the JSON `--json` prints: `to_dict()`, NaN and
    infinities as null, anything else (dates, numpy scalars) as text."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(
            json_ready(content), default=str, ensure_ascii=False, allow_nan=False
        ).encode("utf-8")


def answer(result: Any, status_code: int = 200) -> ResultResponse:
    return ResultResponse(result, status_code=status_code)


def writer(
    request: Request, principal: Any = Depends(current_principal), _: None = Depends(csrf_protect)
) -> Any:
    """The signed-in user, for a write: cookie-signed writes must pass the CSRF check."""
    return principal


def require_write(principal: Any, lens: str | None) -> None:
    """Forbidden unless `principal` may write in `lens` (None: strategies and campaigns)."""
    from segtrail.services import access

    access.require_write(principal, lens)


def require_write_in(principal: Any, lenses: set[str]) -> None:
    """Forbidden unless `principal` may write everywhere in `lenses` (and, as for any
    shared object, strategies and campaigns: lens None)."""
    require_write(principal, None)
    for lens in sorted(lenses):
        require_write(principal, lens)


def lenses_on_dataset(ws: Any, name: str) -> set[str]:
    """The lenses with a version segmented from any version of dataset `name`: retiring
    the dataset concerns them (no new version of them can be made from it)."""
    return {entry.lens for entry in ws.log() if entry.dataset.split("@")[0] == name}


def lenses_mapping_strategy(ws: Any, name: str) -> set[str]:
    """The lenses whose current plan of some version maps strategy `name`."""
    return {m["lens"] for m in ws.why(name).mappings if m["mapped"]}


def require_admin(principal: Any) -> None:
    from segtrail.services import access

    access.require_admin(principal)


def lens_of(ref: str) -> str:
    """The lens of `LENS@N` (or of `LENS`), checked as the CLI checks it."""
    return parse_ref(ref, "segmentation").name


def accepted(request: Request, job_id: str, kind: str) -> ResultResponse:
    """202: the work runs as a job; follow it at the URL given."""
    url = str(request.url_for("get_job", job_id=job_id).path)
    snapshot = jobs_of(request).snapshot(job_id) or {"state": "queued"}
    return answer(
        {"job": job_id, "kind": kind, "state": snapshot["state"], "url": url},
        status_code=202,
    )
