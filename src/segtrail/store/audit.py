"""The event log (who did what, when) and the registry of data objects."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from segtrail.store import schema
from segtrail.store.metadata import loads, utc_now

if TYPE_CHECKING:
    from segtrail.store.metadata import MetadataStore

# Every metadata column that points at an object, found from the schema's foreign keys, so a
# table added later is checked by fsck without touching this file.
OBJECT_REFERENCES = tuple(
    (table, column.name)
    for table in schema.metadata.sorted_tables
    for column in table.columns
    if any(fk.target_fullname == "objects.hash" for fk in column.foreign_keys)
)
IN_CHUNK = 500  # digests per IN (...) list: under every database's parameter limit


def _contains(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (escape character: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Events:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def append(self, author: str, action: str, subject: str, details: dict) -> int:
        """An event with no other record (e.g. `init`)."""
        return self.db.write(
            lambda c: self.db.record_event(c, author, action, subject, details), what=action
        )

    def newest_id(self) -> int:
        """The id of the newest event, 0 for none: the history's stamp (web/cache.py). Exact
        on both databases: event ids are taken in commit order (`record_event`), so every
        event with an id up to this one is visible and none committed later has a smaller
        one. One index lookup, no row read."""
        with self.db.read() as connection:
            return int(connection.execute(select(func.max(schema.events.c.id))).scalar() or 0)

    def list(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        e = schema.events
        query = select(e).order_by(e.c.id.desc())
        if limit:
            query = query.limit(limit)
        return [{**r, "details": loads(r["details"])} for r in self.db.fetch(query)]

    def search(
        self,
        text: str | None = None,
        action: str | None = None,
        author: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first, filtered in SQL: `text` anywhere in the subject or the details
        (case-insensitive, taken literally: % and _ match themselves), `action` and `author`
        exactly. Returns one page of rows and how many match in all."""
        e = schema.events
        conditions = []
        if text:
            # details are stored as JSON (non-ASCII and quotes escaped): look for the text
            # as typed in the subject, and as JSON writes it in the details
            in_json = json.dumps(text)[1:-1]
            conditions.append(
                e.c.subject.ilike(_contains(text), escape="\\")
                | e.c.details.ilike(_contains(in_json), escape="\\")
            )
        if action:
            conditions.append(e.c.action == action)
        if author:
            conditions.append(e.c.author == author)
        query = select(e).where(*conditions).order_by(e.c.id.desc()).limit(limit).offset(offset)
        total = select(func.count().label("n")).select_from(e).where(*conditions)
        rows = [{**r, "details": loads(r["details"])} for r in self.db.fetch(query)]
        return rows, int(self.db.fetch(total)[0]["n"])

    def kinds(self) -> dict[str, list[str]]:
        """The distinct actions and authors in the log (for filter choices), sorted."""
        e = schema.events
        actions = self.db.fetch(select(e.c.action).distinct().order_by(e.c.action))
        authors = self.db.fetch(select(e.c.author).distinct().order_by(e.c.author))
        return {
            "actions": [r["action"] for r in actions],
            "authors": [r["author"] for r in authors],
        }

    def count(self) -> int:
        return int(
            self.db.fetch(select(func.count().label("n")).select_from(schema.events))[0]["n"]
        )


class ObjectRegistry:
    """Which objects the metadata knows (hash, kind, size)."""

    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    @staticmethod
    def register(connection: Connection, digest: str, kind: str, size: int) -> None:
        """Inside a writer's transaction: record an object once (content-addressed). Two
        writers registering the same content at once both succeed: the second insert is a
        no-op (ON CONFLICT DO NOTHING on both backends), not a clash to retry."""
        row = {"hash": digest, "kind": kind, "bytes": size, "created_at": utc_now()}
        # Imported here: the PostgreSQL dialect costs a read command's start-up on SQLite.
        if connection.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        connection.execute(upsert(schema.objects).values(**row).on_conflict_do_nothing())

    def registered(self) -> dict[str, int]:
        """Size in bytes of every registered object, by hash."""
        return {r["hash"]: r["bytes"] for r in self.db.fetch(select(schema.objects))}

    def references(self) -> list[tuple[str, str]]:
        """(table.column, hash) of every reference from a record to an object."""
        version = self.db.schema_version()
        present = {t.name for m in schema.migrations() if m.version <= version for t in m.tables}
        out = []
        with self.db.read() as connection:
            for table, column in OBJECT_REFERENCES:
                if table.name not in present:
                    continue
                for (digest,) in connection.execute(select(table.c[column])):
                    out.append((f"{table.name}.{column}", digest))
        return out

    def referenced(self, digest: str) -> bool:
        return any(d == digest for _where, d in self.references())

    def in_use(self, digests: Iterable[str]) -> set[str]:
        """Which of `digests` a record uses (registered, or pointed at), read afresh: what
        prune and a failed command's take-back ask just before removing anything."""
        wanted = sorted(set(digests))
        version = self.db.schema_version()
        if version < 1 or not wanted:
            return set()
        present = {t.name for m in schema.migrations() if m.version <= version for t in m.tables}
        columns = [(schema.objects, "hash")] + [
            (table, column) for table, column in OBJECT_REFERENCES if table.name in present
        ]
        found: set[str] = set()
        with self.db.read() as connection:
            for table, column in columns:
                for start in range(0, len(wanted), IN_CHUNK):
                    chunk = wanted[start : start + IN_CHUNK]
                    query = select(table.c[column]).where(table.c[column].in_(chunk))
                    found.update(connection.execute(query).scalars())
        return found

    def kind(self, digest: str) -> str | None:
        """What an object is ("dataset", "assignments", ...), if registered."""
        rows = self.db.fetch(select(schema.objects.c.kind).where(schema.objects.c.hash == digest))
        return rows[0]["kind"] if rows else None
