"""fsck: re-hash every object and check every reference; `prune` removes what nothing uses.

Works on any object store (the local folder or shared storage): it sees objects only through
the store's listing and streamed reads.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text

from segtrail.errors import SegtrailError
from segtrail.store import schema

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

# Every metadata column that points at an object, found from the schema's foreign keys, so a
# table added later is checked without touching this file.
OBJECT_REFERENCES = tuple(
    (table, column.name)
    for table in schema.metadata.sorted_tables
    for column in table.columns
    if any(fk.target_fullname == "objects.hash" for fk in column.foreign_keys)
)
DEFAULT_GRACE_HOURS = 24.0


def fsck(ws: Workspace, *, prune: bool = False, grace_hours: float = DEFAULT_GRACE_HOURS) -> dict:
    """Returns {"problems": [...], "notes": [...], "objects": n, "clean": bool, "removed":
    {...}}; clean when no problems. Stray temporaries and unreferenced objects (left by an
    interrupted or failed command) are notes: they never hold recorded data.

    With `prune`, unreferenced objects and stray temporaries older than `grace_hours` are
    removed first (younger ones may belong to a command still running) and listed under
    "removed". Pruning is refused when the database records no history at all: then every
    object looks unreferenced, and the database is what is missing."""
    if grace_hours < 0:
        raise SegtrailError(f"the grace period must be 0 hours or more, not {grace_hours:g}")
    problems: list[str] = []
    notes: list[str] = []
    version = ws.meta.schema_version()
    problems += _database_problems(ws)
    registered, referenced, empty = _recorded(ws, version, problems)
    objects, temporaries = ws.objects.listing()
    removed: dict[str, list[str]] = {"objects": [], "temporaries": []}

    if empty and objects:
        problems.append(
            f"the metadata database records no history, but the object store holds "
            f"{len(objects)} object(s): the database was probably deleted, emptied or "
            "replaced; restore it from a backup (nothing is pruned until then)"
        )
    elif prune:
        cutoff = time.time() - grace_hours * 3600
        candidates = {
            digest: stored.modified
            for digest, stored in objects.items()
            if digest not in referenced and digest not in registered and stored.modified < cutoff
        }
        removed["objects"] = ws.objects.remove_unused(
            candidates, lambda digests: _referenced_now(ws, version, digests)
        )
        for stored in temporaries:
            if stored.modified < cutoff and ws.objects.remove_temporary(stored):
                removed["temporaries"].append(stored.name)
        if removed["objects"] or removed["temporaries"]:
            objects, temporaries = ws.objects.listing()

    for digest in sorted(objects):
        actual = _hash(ws, digest)
        if actual is None:
            continue  # removed meanwhile (another prune): nothing to check
        if actual != digest:
            problems.append(f"object {digest[:12]}: content hash is {actual[:12]} (corrupted)")
    for digest in sorted(registered):
        if digest not in objects:
            problems.append(f"object {digest[:12]} is recorded but missing from the object store")
        elif objects[digest].size != registered[digest]:
            problems.append(f"object {digest[:12]}: size differs from the recorded size")
    unreferenced = sorted(set(objects) - referenced - set(registered))
    if unreferenced and not empty:
        notes.append(
            f"{len(unreferenced)} object(s) not referenced by any record "
            "(left by an interrupted or failed command; harmless; "
            "`segtrail fsck --prune` removes them)"
        )
    if temporaries:
        notes.append(f"{len(temporaries)} unfinished temporary file(s) (harmless)")
    if removed["objects"] or removed["temporaries"]:
        notes.append(
            f"pruned {len(removed['objects'])} unreferenced object(s) and "
            f"{len(removed['temporaries'])} temporary file(s) older than {grace_hours:g} hour(s)"
        )
    return {
        "problems": problems,
        "notes": notes,
        "objects": len(objects),
        "clean": not problems,
        "removed": removed,
    }


def discard_unrecorded(ws: Workspace) -> list[str]:
    """Take back the objects this workspace's store itself created (in this process) that no
    record references: called when a command fails after writing its objects. An object
    another writer found or recorded meanwhile is kept (see `ObjectStore.remove_unused`)."""
    fresh = dict(ws.objects.fresh)
    if not fresh:
        return []
    version = ws.meta.schema_version()
    return ws.objects.remove_unused(fresh, lambda digests: _referenced_now(ws, version, digests))


def _database_problems(ws: Workspace) -> list[str]:
    problems = []
    with ws.meta.read() as connection:
        if connection.dialect.name == "sqlite":
            result = connection.execute(text("PRAGMA integrity_check")).scalar()
            if result != "ok":
                problems.append(f"database integrity check failed: {result}")
            for row in connection.execute(text("PRAGMA foreign_key_check")):
                problems.append(f"table {row[0]} row {row[1]}: broken reference to {row[2]}")
    return problems


def _recorded(
    ws: Workspace, version: int, problems: list[str]
) -> tuple[dict[str, int], set[str], bool]:
    """(registered objects with their sizes, referenced digests, whether the database
    records no history at all: no event, not even the `init` every workspace starts with)."""
    if version < 1:
        return {}, set(), True
    with ws.meta.read() as connection:
        empty = not connection.execute(select(func.count()).select_from(schema.events)).scalar()
        registered = {row.hash: row.bytes for row in connection.execute(select(schema.objects))}
        referenced: set[str] = set()
        for table, column in OBJECT_REFERENCES:
            if not _table_in_schema(table.name, version):
                continue
            for (digest,) in connection.execute(select(table.c[column])):
                referenced.add(digest)
                if digest not in registered:
                    problems.append(
                        f"{table.name}.{column}: object {digest[:12]} is not registered"
                    )
    return registered, referenced, empty


def _referenced_now(ws: Workspace, version: int, digests: Iterable[str]) -> set[str]:
    """Which of `digests` a record uses (registered or referenced), read afresh."""
    wanted = set(digests)
    if version < 1 or not wanted:
        return set()
    found: set[str] = set()
    with ws.meta.read() as connection:
        columns = [(schema.objects, "hash")] + [
            (table, column)
            for table, column in OBJECT_REFERENCES
            if _table_in_schema(table.name, version)
        ]
        ordered = sorted(wanted)
        for table, column in columns:
            for start in range(0, len(ordered), 500):  # stay under SQL parameter limits
                chunk = ordered[start : start + 500]
                query = select(table.c[column]).where(table.c[column].in_(chunk))
                found.update(connection.execute(query).scalars())
    return found


def _hash(ws: Workspace, digest: str) -> str | None:
    try:
        return ws.objects.hash_of(digest)
    except FileNotFoundError:
        return None


def _table_in_schema(name: str, version: int) -> bool:
    return any(
        name in {t.name for t in m.tables} for m in schema.MIGRATIONS if m.version <= version
    )
