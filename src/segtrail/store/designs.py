"""Campaign designs (the assignment to arms and control made before sending, with its power
per segment) and the workspace-wide holdout rule; both append-only."""

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
class NewDesign:
    name: str
    strategy: str
    segmentation_id: int
    groups: list[dict]  # [{group, share}], control first
    control: str
    seed: int
    params: dict  # alpha, power, mde, baseline
    power: dict  # {"segments": [...], "overall": {...}}
    holdout_id: int | None
    customers: int
    object: tuple[str, int]  # (hash, bytes) of the assignment


class Designs:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def append(self, new: NewDesign, author: str, details: dict) -> None:
        d = schema.campaign_designs

        def work(connection: Connection) -> None:
            if connection.execute(select(d.c.id).where(d.c.name == new.name)).first():
                raise Conflict(f"campaign {new.name!r} is already designed")
            event_id = self.db.record_event(
                connection, author, "campaign-design", new.name, details
            )
            ObjectRegistry.register(connection, new.object[0], "design", new.object[1])
            connection.execute(
                insert(d).values(
                    name=new.name,
                    strategy=new.strategy,
                    segmentation_id=new.segmentation_id,
                    groups=dumps(new.groups),
                    control=new.control,
                    seed=new.seed,
                    params=dumps(new.params),
                    power=dumps(new.power),
                    holdout_id=new.holdout_id,
                    customers=new.customers,
                    object_hash=new.object[0],
                    event_id=event_id,
                )
            )

        self.db.write(work, what=f"the design of campaign {new.name}")

    def list(self, name: str | None = None, strategy: str | None = None) -> list[Row]:
        """Recorded designs (optionally one by name, or those of one strategy), oldest
        first, JSON columns decoded."""
        d, e = schema.campaign_designs, schema.events
        query = select(d, e.c.at, e.c.author).join(e, d.c.event_id == e.c.id).order_by(d.c.id)
        if name is not None:
            query = query.where(d.c.name == name)
        if strategy is not None:
            query = query.where(d.c.strategy == strategy)
        return [
            {**r, **{k: loads(r[k]) for k in ("groups", "params", "power")}}
            for r in self.db.fetch(query)
        ]


class Holdouts:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def append(
        self, share: float, seed: int, method: str, summary: dict, author: str, replace: bool
    ) -> None:
        """Record a holdout; unless `replace`, only when there is none yet (checked in the
        writing transaction, so two people cannot both create the first one)."""
        h = schema.holdouts

        def work(connection: Connection) -> None:
            if not replace and connection.execute(select(h.c.id).limit(1)).first():
                raise Conflict(
                    "this workspace already has a holdout; changing it ends the long-run "
                    "control: replace it explicitly to do so"
                )
            event_id = self.db.record_event(
                connection, author, "holdout-create", "holdout", {"share": share, "seed": seed}
            )
            connection.execute(
                insert(h).values(
                    share=share, seed=seed, method=method, summary=dumps(summary), event_id=event_id
                )
            )

        self.db.write(work, what="the holdout")

    def list(self) -> list[Row]:
        """Every holdout recorded, oldest first (the last one is current)."""
        h, e = schema.holdouts, schema.events
        rows = self.db.fetch(
            select(h, e.c.at, e.c.author).join(e, h.c.event_id == e.c.id).order_by(h.c.id)
        )
        return [{**r, "summary": loads(r["summary"])} for r in rows]
