"""The event log: every action with its author and UTC time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segtrail.services.results import Event

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def list_events(ws: Workspace, limit: int | None = None) -> list[Event]:
    """Newest first; `limit` keeps the newest few."""
    return [Event(**row) for row in ws.meta.events.list(limit)]
