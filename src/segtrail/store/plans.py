"""Strategies (revisions of a tactic) and plans (which strategies target which segments of
one version). A plan change writes a whole new plan state: a numbered revision holding all
entries, so every past state reads back exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from segtrail.errors import Conflict, NotFound
from segtrail.store import schema
from segtrail.store.metadata import dumps, loads

if TYPE_CHECKING:
    from segtrail.store.metadata import MetadataStore

Row = dict[str, Any]


class StaleRevision(Conflict):
    """The plan moved on since the writer read it (compare-and-set failed). `current` is
    the plan state that is there now (revision, change, author, at)."""

    def __init__(self, message: str, current: Row) -> None:
        super().__init__(message)
        self.current = current


class Strategies:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def add(
        self,
        name: str,
        message: str,
        channels: list[str],
        offer: str | None,
        owner: str | None,
        author: str,
    ) -> None:
        st = schema.strategies

        def work(connection: Connection) -> None:
            if connection.execute(select(st.c.id).where(st.c.name == name)).first():
                raise Conflict(f"strategy {name!r} already exists; `segtrail strategy list`")
            event_id = self.db.record_event(
                connection, author, "strategy-add", name, {"channels": channels}
            )
            connection.execute(
                insert(st).values(
                    name=name,
                    revision=1,
                    message=message,
                    channels=dumps(channels),
                    offer=offer,
                    owner=owner,
                    event_id=event_id,
                )
            )

        self.db.write(work, what=f"strategy {name}")

    def revise(self, name: str, changes: dict[str, Any], author: str) -> int:
        """Record the next revision of a strategy: its newest revision with `changes`
        (message, channels, offer, owner) applied. Returns the new revision number."""
        st = schema.strategies

        def work(connection: Connection) -> int:
            latest = connection.execute(
                select(st).where(st.c.name == name).order_by(st.c.revision.desc()).limit(1)
            ).first()
            if latest is None:
                raise NotFound(f"no strategy {name!r}; add it with `segtrail strategy add`")
            values = {
                "message": latest.message,
                "channels": loads(latest.channels),
                "offer": latest.offer,
                "owner": latest.owner,
                **changes,
            }
            event_id = self.db.record_event(
                connection,
                author,
                "strategy-edit",
                name,
                {"revision": latest.revision + 1, "changed": sorted(changes)},
            )
            connection.execute(
                insert(st).values(
                    name=name,
                    revision=latest.revision + 1,
                    message=values["message"],
                    channels=dumps(values["channels"]),
                    offer=values["offer"],
                    owner=values["owner"],
                    event_id=event_id,
                )
            )
            return latest.revision + 1

        return self.db.write(work, what=f"the edit of strategy {name}")

    def rows(self, name: str | None = None) -> list[Row]:
        """Every revision (of one strategy or all), by name then revision."""
        st, e = schema.strategies, schema.events
        query = select(st, e.c.at.label("created_at"), e.c.author).join(e, st.c.event_id == e.c.id)
        if name is not None:
            query = query.where(st.c.name == name)
        rows = self.db.fetch(query.order_by(st.c.name, st.c.revision))
        return [{**r, "channels": loads(r["channels"])} for r in rows]


def _state(row: Row) -> Row:
    return {**row, "diff": loads(row["diff"])}


class Plans:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def states(self, segmentation_ids: list[int]) -> list[Row]:
        """Plan states of these versions, oldest first, with author and time."""
        ps, e = schema.plan_states, schema.events
        query = (
            select(ps, e.c.at, e.c.author)
            .join(e, ps.c.event_id == e.c.id)
            .where(ps.c.segmentation_id.in_(segmentation_ids))
            .order_by(ps.c.id)
        )
        return [_state(r) for r in self.db.fetch(query)]

    def latest_state(self, segmentation_id: int, revision: int | None = None) -> Row | None:
        """The newest plan state of one version (or its state at `revision`); None if there
        is none. One row, however many revisions the plan has (`states` reads them all)."""
        ps, e = schema.plan_states, schema.events
        query = (
            select(ps, e.c.at, e.c.author)
            .join(e, ps.c.event_id == e.c.id)
            .where(ps.c.segmentation_id == segmentation_id)
        )
        if revision is not None:
            query = query.where(ps.c.revision == revision)
        rows = self.db.fetch(query.order_by(ps.c.id.desc()).limit(1))
        return _state(rows[0]) if rows else None

    def state(self, plan_state_id: int) -> Row:
        ps, e = schema.plan_states, schema.events
        query = select(ps, e.c.at, e.c.author).join(e, ps.c.event_id == e.c.id)
        return _state(self.db.fetch(query.where(ps.c.id == plan_state_id))[0])

    def entries(self, plan_state_id: int) -> list[Row]:
        pe = schema.plan_entries
        rows = self.db.fetch(
            select(pe).where(pe.c.plan_state_id == plan_state_id).order_by(pe.c.id)
        )
        return [
            {
                "strategy": r["strategy"],
                "segments": loads(r["segments"]),
                "status": r["status"],
                "rationale": r["rationale"],
                "carry": loads(r["carry"]),
            }
            for r in rows
        ]

    def append(
        self,
        segmentation_id: int,
        expected_revision: int,
        entries: list[Row],
        *,
        change: str,
        action: str,
        author: str,
        version_ref: str,
        carried_from_id: int | None = None,
        diff: dict | None = None,
    ) -> int:
        """Write revision `expected_revision + 1` of the plan of one version, with all its
        entries, if the plan is still at `expected_revision` (0: never planned); else raise
        `StaleRevision` with the state that is there now. Returns the new revision."""
        ps, e = schema.plan_states, schema.events

        def work(connection: Connection) -> int:
            latest = connection.execute(
                select(ps.c.id, ps.c.revision, ps.c.change, e.c.at, e.c.author)
                .join(e, ps.c.event_id == e.c.id)
                .where(ps.c.segmentation_id == segmentation_id)
                .order_by(ps.c.revision.desc())
                .limit(1)
            ).first()
            current = latest.revision if latest else 0
            if current != expected_revision:
                raise StaleRevision(
                    f"the plan of {version_ref} changed while you were editing it: "
                    f"r{latest.revision} by {latest.author} at {latest.at[:19]} "
                    f"({latest.change}); nothing was recorded",
                    dict(latest._mapping),
                )
            revision = current + 1
            event_id = self.db.record_event(
                connection, author, action, f"{version_ref} plan r{revision}", {"change": change}
            )
            result = connection.execute(
                insert(ps).values(
                    segmentation_id=segmentation_id,
                    revision=revision,
                    previous_id=latest.id if latest else None,
                    carried_from_id=carried_from_id,
                    change=change,
                    diff=dumps(diff) if diff is not None else None,
                    event_id=event_id,
                )
            )
            state_id = int(result.inserted_primary_key[0])
            for entry in entries:
                connection.execute(
                    insert(schema.plan_entries).values(
                        plan_state_id=state_id,
                        strategy=entry["strategy"],
                        segments=dumps(entry["segments"]),
                        status=entry["status"],
                        rationale=entry.get("rationale"),
                        carry=dumps(entry["carry"]) if entry.get("carry") else None,
                    )
                )
            return revision

        return self.db.write(work, what=f"the plan change on {version_ref}")

    def versions_with(self, strategy: str) -> list[int]:
        """Ids of the versions whose plan ever held `strategy`, most recently mapped first."""
        pe, ps = schema.plan_entries, schema.plan_states
        rows = self.db.fetch(
            select(ps.c.segmentation_id, ps.c.id)
            .join(pe, pe.c.plan_state_id == ps.c.id)
            .where(pe.c.strategy == strategy)
            .order_by(ps.c.id.desc())
        )
        return list(dict.fromkeys(r["segmentation_id"] for r in rows))
