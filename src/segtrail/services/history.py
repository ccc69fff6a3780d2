"""The event log: every action with its author and UTC time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def list_events(ws: Workspace, limit: int | None = None) -> list[dict]:
    """Newest first; `limit` keeps the newest few."""
    return ws.meta.events.list(limit)
