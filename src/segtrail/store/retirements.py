"""Retired datasets and strategies: hidden from lists, kept in history.

Retiring and restoring are rows of one append-only table; the latest row per (kind, name)
is the current state. A dataset is retired by name, every version of it at once: the name
is what people pick from a list, and a mistaken import is a name (customers_v2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select

from segtrail.errors import InvalidInput, NotFound
from segtrail.store import schema

if TYPE_CHECKING:
    from segtrail.store.metadata import MetadataStore

Row = dict[str, Any]
KINDS = ("dataset", "strategy")
RESTORE = {"dataset": "segtrail dataset restore", "strategy": "segtrail strategy restore"}


class Retirements:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def set(self, kind: str, name: str, retired: bool, reason: str | None, author: str) -> Row:
        """Retire (or with `retired` False, restore) `name`: one new row and its event, in
        one transaction that checks the name exists and is not in that state already."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")

        def work(connection: Connection) -> int:
            if not _exists(connection, kind, name):
                raise NotFound(f"no {kind} {name!r}; `segtrail {_listing(kind)}` lists them")
            current = _latest(connection, kind, name)
            now = bool(current and current["retired"])
            if now == retired:
                if retired:
                    raise InvalidInput(
                        f"{kind} {name} is retired already; `{RESTORE[kind]} {name}` brings it back"
                    )
                raise InvalidInput(f"{kind} {name} is not retired; nothing to restore")
            action = f"{kind}-{'retire' if retired else 'restore'}"
            event_id = self.db.record_event(
                connection, author, action, name, {"reason": reason} if reason else {}
            )
            result = connection.execute(
                insert(schema.retirements).values(
                    kind=kind, name=name, retired=retired, reason=reason, event_id=event_id
                )
            )
            return int(result.inserted_primary_key[0])

        row_id = self.db.write(work, what=f"{'retiring' if retired else 'restoring'} {name}")
        return self._rows(schema.retirements.c.id == row_id)[0]

    def retired(self, kind: str) -> dict[str, Row]:
        """Names of `kind` retired now, each with its latest row (at, author, reason)."""
        r = schema.retirements
        latest = select(func.max(r.c.id)).where(r.c.kind == kind).group_by(r.c.name)
        rows = self._rows(r.c.id.in_(latest))
        return {row["name"]: row for row in rows if row["retired"]}

    def history(self, kind: str, name: str) -> list[Row]:
        """Every retire and restore of one name, oldest first."""
        r = schema.retirements
        return self._rows((r.c.kind == kind) & (r.c.name == name))

    def _rows(self, where: Any) -> list[Row]:
        r, e = schema.retirements, schema.events
        query = (
            select(r, e.c.at, e.c.author)
            .join(e, r.c.event_id == e.c.id)
            .where(where)
            .order_by(r.c.id)
        )
        return [{**row, "retired": bool(row["retired"])} for row in self.db.fetch(query)]


def _exists(connection: Connection, kind: str, name: str) -> bool:
    table = schema.datasets if kind == "dataset" else schema.strategies
    return connection.execute(select(table.c.id).where(table.c.name == name)).first() is not None


def _latest(connection: Connection, kind: str, name: str) -> Row | None:
    r = schema.retirements
    row = connection.execute(
        select(r.c.retired)
        .where((r.c.kind == kind) & (r.c.name == name))
        .order_by(r.c.id.desc())
        .limit(1)
    ).first()
    return {"retired": bool(row.retired)} if row else None


def _listing(kind: str) -> str:
    return "datasets --all" if kind == "dataset" else "strategy list --all"
