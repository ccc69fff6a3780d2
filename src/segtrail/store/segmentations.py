"""Segmentation versions (LENS@N) and what people say about them afterwards: segment names
and descriptions, tags, and statuses (draft, adopted, superseded, retired). Every change is a
new row with its event; the current view is the latest row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, func, insert, select

from segtrail.errors import InvalidInput
from segtrail.store import schema
from segtrail.store.audit import ObjectRegistry
from segtrail.store.metadata import dumps, loads

if TYPE_CHECKING:
    from segtrail.store.metadata import MetadataStore

Row = dict[str, Any]
JSON_COLUMNS = ("params", "metrics", "profiles", "feature_spec")
LIGHT_COLUMNS = (
    "id", "lens", "version", "parent_id", "dataset_id", "hypothesis", "algorithm", "seed", "k",
    "segtrail_version", "event_id",
)  # fmt: skip


@dataclass(frozen=True)
class NewSegmentation:
    """What `Segmentations.append` records (the version number is allocated by the store)."""

    lens: str
    dataset_id: int
    hypothesis: str
    algorithm: str
    params: dict
    feature_spec: dict
    seed: int
    k: int
    metrics: dict
    profiles: dict
    assignments: tuple[str, int]  # (object hash, bytes)
    state: tuple[str, int]
    segtrail_version: str
    labels: tuple[tuple[int, str, str], ...]  # (segment, automatic name, description)
    parent_id: int | None = None  # None: the newest version of the lens, like a commit


def _select(light: bool = False) -> Select:
    s, e = schema.segmentations, schema.events
    columns = [s.c[c] for c in LIGHT_COLUMNS] if light else [s]
    return select(*columns, e.c.at.label("created_at"), e.c.author).join(e, s.c.event_id == e.c.id)


def _decoded(row: Row) -> Row:
    return {**row, **{c: loads(row[c]) for c in JSON_COLUMNS if c in row}}


def _tag_row(segmentation_id: int, segment: int, key: str, value: str | None, event_id: int):
    """The insert of one tag change (value None removes the tag)."""
    return insert(schema.segment_tags).values(
        segmentation_id=segmentation_id, segment=segment, key=key, value=value, event_id=event_id
    )


class Segmentations:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def append(self, new: NewSegmentation, author: str, action: str, details: dict) -> Row:
        """Record the next version of `new.lens`, with its draft status and the automatic
        segment names, in one transaction."""
        s = schema.segmentations

        def work(connection: Connection) -> int:
            newest = connection.execute(
                select(s.c.id, s.c.version)
                .where(s.c.lens == new.lens)
                .order_by(s.c.version.desc())
                .limit(1)
            ).first()
            version = (newest.version if newest else 0) + 1
            parent_id = new.parent_id if new.parent_id is not None else (newest and newest.id)
            parent_ref = None
            if parent_id is not None:
                parent = connection.execute(
                    select(s.c.lens, s.c.version).where(s.c.id == parent_id)
                ).first()
                parent_ref = f"{parent.lens}@{parent.version}"
            event_id = self.db.record_event(
                connection,
                author,
                action,
                f"{new.lens}@{version}",
                {**details, "parent": parent_ref},
            )
            ObjectRegistry.register(
                connection, new.assignments[0], "assignments", new.assignments[1]
            )
            ObjectRegistry.register(connection, new.state[0], "fitted-state", new.state[1])
            result = connection.execute(
                insert(s).values(
                    lens=new.lens,
                    version=version,
                    parent_id=parent_id,
                    dataset_id=new.dataset_id,
                    hypothesis=new.hypothesis,
                    algorithm=new.algorithm,
                    params=dumps(new.params),
                    feature_spec=dumps(new.feature_spec),
                    seed=new.seed,
                    k=new.k,
                    metrics=dumps(new.metrics),
                    profiles=dumps(new.profiles),
                    assignments_hash=new.assignments[0],
                    state_hash=new.state[0],
                    segtrail_version=new.segtrail_version,
                    event_id=event_id,
                )
            )
            segmentation_id = int(result.inserted_primary_key[0])
            connection.execute(
                insert(schema.segmentation_status).values(
                    segmentation_id=segmentation_id, status="draft", event_id=event_id
                )
            )
            for segment, name, description in new.labels:
                connection.execute(
                    insert(schema.segment_labels).values(
                        segmentation_id=segmentation_id,
                        segment=segment,
                        name=name,
                        description=description,
                        event_id=event_id,
                    )
                )
            return segmentation_id

        segmentation_id = self.db.write(work, what=f"the new version of {new.lens}")
        return self.by_id(segmentation_id)

    # --- reading ---------------------------------------------------------------------------

    def by_id(self, segmentation_id: int) -> Row | None:
        rows = self.db.fetch(_select().where(schema.segmentations.c.id == segmentation_id))
        return _decoded(rows[0]) if rows else None

    def get(self, lens: str, version: int) -> Row | None:
        s = schema.segmentations
        rows = self.db.fetch(_select().where(s.c.lens == lens, s.c.version == version))
        return _decoded(rows[0]) if rows else None

    def newest(self, lens: str) -> Row | None:
        s = schema.segmentations
        rows = self.db.fetch(
            _select().where(s.c.lens == lens).order_by(s.c.version.desc()).limit(1)
        )
        return _decoded(rows[0]) if rows else None

    def list(self, lens: str | None = None) -> list[Row]:
        """Every version (of one lens or all), newest first, without the large columns."""
        s = schema.segmentations
        query = _select(light=True).order_by(s.c.id.desc())
        if lens is not None:
            query = query.where(s.c.lens == lens)
        return self.db.fetch(query)

    def statuses(self, segmentation_ids: list[int] | None = None) -> dict[int, list[Row]]:
        """Status history per segmentation id, oldest first."""
        st, e = schema.segmentation_status, schema.events
        query = select(st.c.segmentation_id, st.c.status, e.c.at, e.c.author).join(
            e, st.c.event_id == e.c.id
        )
        if segmentation_ids is not None:
            query = query.where(st.c.segmentation_id.in_(segmentation_ids))
        out: dict[int, list[Row]] = {}
        for row in self.db.fetch(query.order_by(st.c.id)):
            out.setdefault(row["segmentation_id"], []).append(
                {"status": row["status"], "at": row["at"], "author": row["author"]}
            )
        return out

    def adopted_version(self, lens: str) -> int | None:
        """The version of `lens` whose latest status is "adopted" (the newest such, should a
        workspace from an older release hold two)."""
        versions = {r["id"]: r["version"] for r in self.list(lens)}
        history = self.statuses(list(versions))
        adopted = [
            (h[-1]["at"], versions[i]) for i, h in history.items() if h[-1]["status"] == "adopted"
        ]
        return max(adopted)[1] if adopted else None

    def segment_numbers(self, segmentation_id: int) -> set[int]:
        """The segments a version has (those with a name row), without their histories: what
        a rename checks first, read without decoding every name the segments ever had."""
        sl = schema.segment_labels
        query = select(sl.c.segment).where(sl.c.segmentation_id == segmentation_id).distinct()
        return {row["segment"] for row in self.db.fetch(query)}

    def labels(self, segmentation_id: int) -> dict[int, list[Row]]:
        """Name/description history per segment, oldest first (every row: for the views
        that tell a segment's whole story; `recent_labels` for the bounded one)."""
        sl = schema.segment_labels
        query = _label_query().where(sl.c.segmentation_id == segmentation_id).order_by(sl.c.id)
        out: dict[int, list[Row]] = {}
        for row in self.db.fetch(query):
            out.setdefault(row["segment"], []).append(_label(row))
        return out

    def recent_labels(self, segmentation_id: int, earlier: int) -> dict[int, RecentLabels]:
        """Per segment: its current name and at most `earlier` names before it (oldest
        first), and how many names it has had in all. The bound is in the query (a window
        over each segment's rows, newest first), so a segment renamed a thousand times
        costs `earlier + 1` rows, not a thousand."""
        sl = schema.segment_labels
        newest_first = {"partition_by": sl.c.segment, "order_by": sl.c.id.desc()}
        # the window ranks this version's label rows by id alone (no strings to carry
        # through its sort); the names and their events (with JSON details) are then read
        # by primary key for the few rows kept, never for all of them
        ranked = (
            select(
                sl.c.id,
                func.row_number().over(**newest_first).label("rank"),
                func.count().over(partition_by=sl.c.segment).label("total"),
            )
            .where(sl.c.segmentation_id == segmentation_id)
            .subquery()
        )
        query = (
            _label_query(ranked.join(sl, sl.c.id == ranked.c.id))
            .add_columns(ranked.c.total)
            .where(ranked.c.rank <= earlier + 1)
            .order_by(ranked.c.id)
        )
        out: dict[int, RecentLabels] = {}
        for row in self.db.fetch(query):
            segment = out.setdefault(row["segment"], RecentLabels([], int(row["total"])))
            segment.names.append(_label(row))
        return out

    def names_at(self, segmentation_id: int, event_id: int) -> dict[int, str]:
        """Each segment's name as of one event (names are append-only rows, newest last)."""
        sl = schema.segment_labels
        query = (
            select(sl.c.segment, sl.c.name)
            .where(sl.c.segmentation_id == segmentation_id, sl.c.event_id <= event_id)
            .order_by(sl.c.id)
        )
        return {r["segment"]: r["name"] for r in self.db.fetch(query)}

    def tags(self, segmentation_id: int) -> dict[int, dict[str, str]]:
        """Current tags per segment (latest value per key; None removes)."""
        tg = schema.segment_tags
        query = select(tg).where(tg.c.segmentation_id == segmentation_id).order_by(tg.c.id)
        out: dict[int, dict[str, str]] = {}
        for row in self.db.fetch(query):
            tags = out.setdefault(row["segment"], {})
            if row["value"] is None:
                tags.pop(row["key"], None)
            else:
                tags[row["key"]] = row["value"]
        return out


class Annotations:
    """Names, tags and statuses: each a new row with its event, never an update."""

    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def name(
        self,
        segmentation_id: int,
        segment: int,
        name: str,
        description: str | None,
        author: str,
        subject: str,
    ) -> str:
        """Rename a segment (description None keeps the current one); returns the previous
        name, read in the same transaction."""
        sl = schema.segment_labels

        def work(connection: Connection) -> str:
            previous = connection.execute(
                select(sl.c.name, sl.c.description)
                .where(sl.c.segmentation_id == segmentation_id, sl.c.segment == segment)
                .order_by(sl.c.id.desc())
                .limit(1)
            ).first()
            event_id = self.db.record_event(
                connection,
                author,
                "name",
                subject,
                {"name": name, "previous": previous.name, "description": description},
            )
            connection.execute(
                insert(sl).values(
                    segmentation_id=segmentation_id,
                    segment=segment,
                    name=name,
                    description=description if description is not None else previous.description,
                    event_id=event_id,
                )
            )
            return previous.name

        return self.db.write(work, what=f"the name of {subject}")

    def inherit(
        self,
        segmentation_id: int,
        names: dict[int, tuple[str, str | None, str]],
        tags: dict[int, dict[str, str]],
        author: str,
        subject: str,
    ) -> None:
        """Give segments the names (segment -> (name, description, carried from LENS@N:S))
        and tags of the segments they continue, in one transaction with one event."""

        def work(connection: Connection) -> None:
            carried = {str(s): origin for s, (_n, _d, origin) in names.items()}
            event_id = self.db.record_event(
                connection, author, "inherit-names", subject, {"carried_from": carried}
            )
            for segment, (name, description, _origin) in names.items():
                connection.execute(
                    insert(schema.segment_labels).values(
                        segmentation_id=segmentation_id,
                        segment=segment,
                        name=name,
                        description=description,
                        event_id=event_id,
                    )
                )
            for segment, pairs in tags.items():
                for key, value in pairs.items():
                    connection.execute(_tag_row(segmentation_id, segment, key, value, event_id))

        self.db.write(work, what=f"the names carried onto {subject}")

    def tag(
        self,
        segmentation_id: int,
        segment: int,
        key: str,
        value: str | None,
        author: str,
        subject: str,
    ) -> None:
        def work(connection: Connection) -> None:
            event_id = self.db.record_event(
                connection, author, "tag", subject, {"key": key, "value": value}
            )
            connection.execute(_tag_row(segmentation_id, segment, key, value, event_id))

        self.db.write(work, what=f"the tag on {subject}")

    def set_status(
        self, segmentation_id: int, status: str, author: str, subject: str
    ) -> tuple[str, int | None]:
        """adopted: the lens's previously adopted version becomes superseded, in the same
        transaction, so two concurrent adopts leave exactly one adopted version. Returns
        (previous status, id of the superseded version or None)."""
        s, st = schema.segmentations, schema.segmentation_status

        def latest_status(connection: Connection, sid: int) -> str:
            row = connection.execute(
                select(st.c.status)
                .where(st.c.segmentation_id == sid)
                .order_by(st.c.id.desc())
                .limit(1)
            ).first()
            return row.status if row else "draft"

        def work(connection: Connection) -> tuple[str, int | None]:
            current = latest_status(connection, segmentation_id)
            if current == status:
                raise InvalidInput(f"{subject} is already {status}")
            superseded = None
            if status == "adopted":
                lens = connection.execute(
                    select(s.c.lens).where(s.c.id == segmentation_id)
                ).scalar()
                siblings = connection.execute(
                    select(s.c.id)
                    .where(s.c.lens == lens, s.c.id != segmentation_id)
                    .order_by(s.c.id)
                ).scalars()
                adopted = [i for i in siblings if latest_status(connection, i) == "adopted"]
                superseded = adopted[-1] if adopted else None
            else:
                adopted = []
            action = "adopt" if status == "adopted" else "retire"
            superseded_ref = None
            if superseded is not None:
                other = connection.execute(
                    select(s.c.lens, s.c.version).where(s.c.id == superseded)
                ).first()
                superseded_ref = f"{other.lens}@{other.version}"
            event_id = self.db.record_event(
                connection,
                author,
                action,
                subject,
                {"previous": current, "superseded": superseded_ref},
            )
            connection.execute(
                insert(st).values(segmentation_id=segmentation_id, status=status, event_id=event_id)
            )
            for sid in adopted:  # normally one; two only in a workspace from an older release
                connection.execute(
                    insert(st).values(segmentation_id=sid, status="superseded", event_id=event_id)
                )
            return current, superseded

        return self.db.write(work, what=f"the status of {subject}")


@dataclass(frozen=True)
class RecentLabels:
    """A segment's newest names (oldest first, the current one last) and how many it has
    had in all (the automatic name counts as one)."""

    names: list[Row]
    total: int


def _label_query(labels: Any = None) -> Select:
    """Names with who gave them when, from `labels` (segment_labels, or a join holding it)."""
    sl, e = schema.segment_labels, schema.events
    source = (labels if labels is not None else sl).join(e, sl.c.event_id == e.c.id)
    return select(
        sl.c.segment, sl.c.name, sl.c.description, e.c.at, e.c.author, e.c.action, e.c.details
    ).select_from(source)


def _label(row: Row) -> Row:
    """One name as the views show it: who gave it when, automatic or by a person, and the
    segment it was carried from (names inherited from a parent version)."""
    return {
        "name": row["name"],
        "description": row["description"],
        "at": row["at"],
        "author": row["author"],
        "automatic": row["action"] in ("segment", "revisit"),
        "carried_from": (
            loads(row["details"])["carried_from"].get(str(row["segment"]))
            if row["action"] == "inherit-names"
            else None
        ),
    }
