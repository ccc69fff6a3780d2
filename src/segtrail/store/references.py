"""What the metadata says about objects: which are registered (with their sizes and kinds),
which records point at them, and whether the database records any history at all. Used by
fsck, by prune and by a failed command taking back its objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, text

from segtrail.store import schema
from segtrail.store.metadata import MetadataStore

# Every metadata column that points at an object, found from the schema's foreign keys, so a
# table added later is checked without touching this file.
OBJECT_REFERENCES = tuple(
    (table, column.name)
    for table in schema.metadata.sorted_tables
    for column in table.columns
    if any(fk.target_fullname == "objects.hash" for fk in column.foreign_keys)
)
IN_CHUNK = 500  # digests per IN (...) list: under every database's parameter limit


@dataclass
class Recorded:
    registered: dict[str, int] = field(default_factory=dict)  # digest -> recorded size
    referenced: set[str] = field(default_factory=set)  # digests some record points at
    # No event at all, not even the `init` every workspace starts with: the database was
    # deleted, emptied or replaced, and every object would look unreferenced.
    empty: bool = True
    problems: list[str] = field(default_factory=list)


def database_problems(meta: MetadataStore) -> list[str]:
    """The database's own consistency checks (SQLite: integrity and foreign keys)."""
    problems = []
    with meta.read() as connection:
        if connection.dialect.name == "sqlite":
            result = connection.execute(text("PRAGMA integrity_check")).scalar()
            if result != "ok":
                problems.append(f"database integrity check failed: {result}")
            for row in connection.execute(text("PRAGMA foreign_key_check")):
                problems.append(f"table {row[0]} row {row[1]}: broken reference to {row[2]}")
    return problems


def recorded_objects(meta: MetadataStore) -> Recorded:
    version = meta.schema_version()
    out = Recorded()
    if version < 1:
        return out
    with meta.read() as connection:
        out.empty = not connection.execute(select(func.count()).select_from(schema.events)).scalar()
        out.registered = {row.hash: row.bytes for row in connection.execute(select(schema.objects))}
        for table, column in _reference_columns(version):
            for (digest,) in connection.execute(select(table.c[column])):
                out.referenced.add(digest)
                if digest not in out.registered:
                    out.problems.append(
                        f"{table.name}.{column}: object {digest[:12]} is not registered"
                    )
    return out


def referenced_now(meta: MetadataStore, digests: Iterable[str]) -> set[str]:
    """Which of `digests` a record uses (registered or pointed at), read afresh."""
    wanted = sorted(set(digests))
    version = meta.schema_version()
    if version < 1 or not wanted:
        return set()
    found: set[str] = set()
    columns = [(schema.objects, "hash"), *_reference_columns(version)]
    with meta.read() as connection:
        for table, column in columns:
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start : start + IN_CHUNK]
                query = select(table.c[column]).where(table.c[column].in_(chunk))
                found.update(connection.execute(query).scalars())
    return found


def object_kind(meta: MetadataStore, digest: str) -> str | None:
    """What the metadata says an object is ("dataset", "assignments", ...), if known."""
    with meta.read() as connection:
        return connection.execute(
            select(schema.objects.c.kind).where(schema.objects.c.hash == digest)
        ).scalar()


def _reference_columns(version: int) -> list[tuple]:
    """The reference columns of the tables that exist at schema `version`."""
    present = {t.name for m in schema.MIGRATIONS if m.version <= version for t in m.tables}
    return [(table, column) for table, column in OBJECT_REFERENCES if table.name in present]
