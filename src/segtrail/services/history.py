"""The event log: every action with its author and UTC time."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import select

from segtrail.store import schema

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def list_events(ws: Workspace, limit: int | None = None) -> list[dict]:
    e = schema.events
    query = select(e).order_by(e.c.id.desc())
    if limit:
        query = query.limit(limit)
    with ws.meta.read() as connection:
        rows = connection.execute(query).mappings().all()
    return [{**dict(r), "details": json.loads(r["details"])} for r in rows]
