"""What was done with the segments: campaigns (who got what, who responded), lookalike
audiences, and exported files, each traceable to the version it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from segtrail.errors import Conflict
from segtrail.store import schema
from segtrail.store.audit import ObjectRegistry
from segtrail.store.metadata import dumps, loads

if TYPE_CHECKING:
    from segtrail.store.metadata import MetadataStore

Row = dict[str, Any]


@dataclass(frozen=True)
class NewCampaign:
    name: str
    strategy: str
    source: str
    rows: int
    unknown_customers: int
    summary: dict
    object: tuple[str, int]  # (hash, bytes)


@dataclass(frozen=True)
class NewAudience:
    name: str
    kind: str
    dataset_id: int
    seed: dict
    method: str
    params: dict
    quality: dict
    object: tuple[str, int]


def _unique_name(connection: Connection, table: Any, name: str, what: str) -> None:
    if connection.execute(select(table.c.id).where(table.c.name == name)).first():
        raise Conflict(f"{what} {name!r} already exists")


class Campaigns:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def append(self, new: NewCampaign, author: str, details: dict) -> None:
        c = schema.campaigns

        def work(connection: Connection) -> None:
            _unique_name(connection, c, new.name, "campaign")
            event_id = self.db.record_event(
                connection, author, "campaign-import", new.name, details
            )
            ObjectRegistry.register(connection, new.object[0], "campaign", new.object[1])
            connection.execute(
                insert(c).values(
                    name=new.name,
                    strategy=new.strategy,
                    source=new.source,
                    rows=new.rows,
                    unknown_customers=new.unknown_customers,
                    summary=dumps(new.summary),
                    object_hash=new.object[0],
                    event_id=event_id,
                )
            )

        self.db.write(work, what=f"campaign {new.name}")

    def exists(self, name: str) -> bool:
        return bool(self.list(name=name))

    def list(self, name: str | None = None, strategy: str | None = None) -> list[Row]:
        """Recorded campaigns (optionally one by name, or those of one strategy), oldest
        first."""
        c, e = schema.campaigns, schema.events
        query = select(c, e.c.at, e.c.author).join(e, c.c.event_id == e.c.id).order_by(c.c.id)
        if name is not None:
            query = query.where(c.c.name == name)
        if strategy is not None:
            query = query.where(c.c.strategy == strategy)
        return [{**r, "summary": loads(r["summary"])} for r in self.db.fetch(query)]


class Audiences:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def append(self, new: NewAudience, author: str, details: dict) -> None:
        au = schema.audiences

        def work(connection: Connection) -> None:
            _unique_name(connection, au, new.name, "an audience named")
            event_id = self.db.record_event(connection, author, "lookalike", new.name, details)
            ObjectRegistry.register(connection, new.object[0], "audience", new.object[1])
            connection.execute(
                insert(au).values(
                    name=new.name,
                    kind=new.kind,
                    dataset_id=new.dataset_id,
                    seed=dumps(new.seed),
                    method=new.method,
                    params=dumps(new.params),
                    quality=dumps(new.quality),
                    object_hash=new.object[0],
                    event_id=event_id,
                )
            )

        self.db.write(work, what=f"audience {new.name}")

    def names(self) -> set[str]:
        return {r["name"] for r in self.db.fetch(select(schema.audiences.c.name))}

    def list(self, name: str | None = None) -> list[Row]:
        au, e = schema.audiences, schema.events
        query = select(au, e.c.at, e.c.author).join(e, au.c.event_id == e.c.id).order_by(au.c.id)
        if name is not None:
            query = query.where(au.c.name == name)
        return [
            {**r, **{k: loads(r[k]) for k in ("seed", "params", "quality")}}
            for r in self.db.fetch(query)
        ]


class Exports:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def append(
        self,
        target: str,
        fmt: str,
        path: str,
        rows: int,
        sha256: str,
        provenance: dict,
        author: str,
    ) -> None:
        def work(connection: Connection) -> None:
            event_id = self.db.record_event(
                connection, author, "export", target, {"path": path, "format": fmt, **provenance}
            )
            connection.execute(
                insert(schema.exports).values(
                    target=target,
                    format=fmt,
                    path=path,
                    rows=rows,
                    sha256=sha256,
                    provenance=dumps(provenance),
                    event_id=event_id,
                )
            )

        self.db.write(work, what=f"the export of {target}")
