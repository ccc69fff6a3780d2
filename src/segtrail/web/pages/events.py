"""The event log page: who did what, when; searchable by text, kind of action and author,
one page at a time (the search runs in the database, not over the whole log in Python)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from segtrail.web.deps import current_principal, workspace_for
from segtrail.web.pages.common import render
from segtrail.web.pages.words import action_heading

if TYPE_CHECKING:
    from segtrail.services.access import Principal
    from segtrail.services.workspace import Workspace

router = APIRouter(include_in_schema=False)

PER_PAGE = 50


def plain(value: object) -> str:
    """A detail's value as a person reads it: text as is, anything else as JSON with its
    characters kept (the template escapes it; JSON's \\u003c would hide what was typed)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def page_url(text: str, action: str, author: str, page: int, per_page: int) -> str:
    query = {k: v for k, v in (("q", text), ("action", action), ("author", author)) if v}
    if per_page != PER_PAGE:
        query["per_page"] = str(per_page)
    return "/events?" + urlencode({**query, "page": page})


@router.get("/events", response_class=HTMLResponse)
def events_page(
    request: Request,
    q: str = "",
    action: str = "",
    author: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    _principal: Principal = Depends(current_principal),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    found = ws.events_search(q, action, author, max(page, 1), per_page)
    pages, at = found["pages"], found["page"]
    return render(
        request,
        "events.html",
        title="History",
        nav="/events",
        found=found,
        q=q,
        action=action,
        author=author,
        action_heading=action_heading,
        plain=plain,
        previous=page_url(q, action, author, at - 1, per_page) if at > 1 else None,
        next=page_url(q, action, author, at + 1, per_page) if at < pages else None,
    )
