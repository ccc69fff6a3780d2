"""Dataset versions: NAME@N, each an immutable snapshot (one object) with its schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, func, insert, select

from segtrail.store import schema
from segtrail.store.audit import ObjectRegistry
from segtrail.store.metadata import dumps, loads

if TYPE_CHECKING:
    from segtrail.store.metadata import MetadataStore

Row = dict[str, Any]


@dataclass(frozen=True)
class Lineage:
    """Where a dataset came from beyond its source file: `kind` "transactions" (derived from
    order lines: the spec, as-of time and counts) or "sql" (the query and the URL without its
    password). `derived_from` is the position, in the list given to `append_all`, of the
    dataset it was derived from, so both are recorded in one transaction."""

    kind: str
    spec: dict
    derived_from: int | None = None


@dataclass(frozen=True)
class NewDataset:
    """What `Datasets.append` records (the version number is allocated by the store)."""

    name: str
    object_hash: str
    object_bytes: int
    id_column: str
    source: str
    source_bytes: int
    source_format: str
    rows: int
    columns: list[dict]  # [{name, kind, type, summary}]
    lineage: Lineage | None = None


def _select() -> Select:
    d, e = schema.datasets, schema.events
    return select(d, e.c.at.label("created_at"), e.c.author).join(e, d.c.event_id == e.c.id)


def _decoded(row: Row) -> Row:
    return {**row, "columns": loads(row["columns"])}


class Datasets:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    def append(self, new: NewDataset, author: str, details: dict) -> tuple[Row, bool]:
        """Record the next version of `new.name`, unless its newest version already holds
        the same object with the same id column. Returns (row, created)."""
        return self.append_all([(new, details)], author)[0]

    def append_all(
        self, items: list[tuple[NewDataset, dict]], author: str
    ) -> list[tuple[Row, bool]]:
        """`append` for several datasets (with their event details) in one transaction;
        a lineage's `derived_from` refers to an earlier item, recorded or unchanged."""

        def work(connection: Connection) -> list[tuple[int, bool]]:
            out: list[tuple[int, bool]] = []
            for new, details in items:
                dataset_id, created = self._append(connection, new, author, details)
                if created and new.lineage is not None:
                    parent = new.lineage.derived_from
                    connection.execute(
                        insert(schema.dataset_lineage).values(
                            dataset_id=dataset_id,
                            derived_from_id=None if parent is None else out[parent][0],
                            kind=new.lineage.kind,
                            spec=dumps(new.lineage.spec),
                        )
                    )
                out.append((dataset_id, created))
            return out

        names = ", ".join(new.name for new, _ in items)
        written = self.db.write(work, what=f"dataset {names}")
        return [(self.by_id(dataset_id), created) for dataset_id, created in written]

    def _append(
        self, connection: Connection, new: NewDataset, author: str, details: dict
    ) -> tuple[int, bool]:
        d = schema.datasets
        latest = connection.execute(
            select(d.c.id, d.c.version, d.c.object_hash, d.c.id_column)
            .where(d.c.name == new.name)
            .order_by(d.c.version.desc())
            .limit(1)
        ).first()
        if (
            latest is not None
            and latest.object_hash == new.object_hash
            and latest.id_column == new.id_column
        ):
            return int(latest.id), False
        version = (latest.version if latest else 0) + 1
        event_id = self.db.record_event(
            connection, author, "ingest", f"{new.name}@{version}", details
        )
        ObjectRegistry.register(connection, new.object_hash, "dataset", new.object_bytes)
        result = connection.execute(
            insert(d).values(
                name=new.name,
                version=version,
                object_hash=new.object_hash,
                id_column=new.id_column,
                source=new.source,
                source_bytes=new.source_bytes,
                source_format=new.source_format,
                rows=new.rows,
                columns=dumps(new.columns),
                event_id=event_id,
            )
        )
        return int(result.inserted_primary_key[0]), True

    def lineage(self, dataset_id: int) -> Row | None:
        """The dataset's lineage row (kind, spec decoded, derived_from_id), or None."""
        lin = schema.dataset_lineage
        rows = self.db.fetch(select(lin).where(lin.c.dataset_id == dataset_id))
        return {**rows[0], "spec": loads(rows[0]["spec"])} if rows else None

    def by_id(self, dataset_id: int) -> Row | None:
        rows = self.db.fetch(_select().where(schema.datasets.c.id == dataset_id))
        return _decoded(rows[0]) if rows else None

    def get(self, name: str, version: int | None = None) -> Row | None:
        """`name@version`, or the newest version of `name`."""
        d = schema.datasets
        query = _select().where(d.c.name == name)
        if version is not None:
            query = query.where(d.c.version == version)
        rows = self.db.fetch(query.order_by(d.c.version.desc()).limit(1))
        return _decoded(rows[0]) if rows else None

    def newest(self) -> Row | None:
        """The most recently recorded dataset version, whatever its name."""
        rows = self.db.fetch(_select().order_by(schema.datasets.c.id.desc()).limit(1))
        return _decoded(rows[0]) if rows else None

    def list(self) -> list[Row]:
        d = schema.datasets
        return [_decoded(r) for r in self.db.fetch(_select().order_by(d.c.name, d.c.version))]

    def count(self) -> int:
        rows = self.db.fetch(select(func.count().label("n")).select_from(schema.datasets))
        return int(rows[0]["n"])
