"""fsck: re-hash every object and check every reference from the metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, text

from segtrail.store import schema
from segtrail.store.objects import sha256_file

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


def fsck(ws: Workspace) -> dict:
    """Returns {"problems": [...], "notes": [...], "objects": n}; clean when no problems.
    Stray temporaries and unreferenced objects (left by an interrupted command) are notes:
    they never hold recorded data."""
    problems: list[str] = []
    notes: list[str] = []
    with ws.meta.read() as connection:
        if connection.dialect.name == "sqlite":
            result = connection.execute(text("PRAGMA integrity_check")).scalar()
            if result != "ok":
                problems.append(f"database integrity check failed: {result}")
            for row in connection.execute(text("PRAGMA foreign_key_check")):
                problems.append(f"table {row[0]} row {row[1]}: broken reference to {row[2]}")
        registered = {row.hash: row.bytes for row in connection.execute(select(schema.objects))}
        referenced: set[str] = set()
        version = ws.meta.schema_version()
        for table, column in OBJECT_REFERENCES:
            if not _table_in_schema(table.name, version):
                continue
            for (digest,) in connection.execute(select(table.c[column])):
                referenced.add(digest)
                if digest not in registered:
                    problems.append(
                        f"{table.name}.{column}: object {digest[:12]} is not registered"
                    )

    on_disk = {}
    for path in ws.objects.walk():
        digest = path.name.removesuffix(".parquet")
        on_disk[digest] = path
        actual = sha256_file(path)
        if actual != digest:
            problems.append(f"object {digest[:12]}: content hash is {actual[:12]} (corrupted)")
    for digest in sorted(registered):
        if digest not in on_disk:
            problems.append(f"object {digest[:12]} is recorded but missing from objects/")
        elif on_disk[digest].stat().st_size != registered[digest]:
            problems.append(f"object {digest[:12]}: size differs from the recorded size")
    unreferenced = sorted(set(on_disk) - referenced)
    if unreferenced:
        notes.append(
            f"{len(unreferenced)} object(s) not referenced by any record "
            "(left by an interrupted command; harmless)"
        )
    temporaries = ws.objects.temporaries()
    if temporaries:
        notes.append(f"{len(temporaries)} unfinished temporary file(s) (harmless)")
    return {"problems": problems, "notes": notes, "objects": len(on_disk), "clean": not problems}


def _table_in_schema(name: str, version: int) -> bool:
    return any(
        name in {t.name for t in m.tables} for m in schema.MIGRATIONS if m.version <= version
    )
