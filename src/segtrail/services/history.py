"""The event log: every action with its author and UTC time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segtrail.errors import InvalidInput
from segtrail.services.results import Event, EventPage

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def list_events(ws: Workspace, limit: int | None = None) -> list[Event]:
    """Newest first; `limit` keeps the newest few."""
    return [Event(**row) for row in ws.meta.events.list(limit)]


MAX_PAGE_SIZE = 500


def search_events(
    ws: Workspace,
    text: str | None = None,
    action: str | None = None,
    author: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> EventPage:
    """One page of the event log, newest first: `text` anywhere in what the event is about
    or its details (case-insensitive), `action` and `author` exactly."""
    if page < 1:
        raise InvalidInput(f"invalid page {page}: pages are numbered from 1", field="page")
    if not 1 <= per_page <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"invalid page size {per_page}: between 1 and {MAX_PAGE_SIZE}", field="per_page"
        )
    text = (text or "").strip() or None
    rows, total = ws.meta.events.search(
        text, action or None, author or None, per_page, (page - 1) * per_page
    )
    choices = ws.meta.events.kinds()
    return EventPage(
        events=[Event(**row) for row in rows],
        total=total,
        page=page,
        per_page=per_page,
        pages=max(1, -(-total // per_page)),
        actions=choices["actions"],
        authors=choices["authors"],
    )
