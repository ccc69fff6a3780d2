"""fsck: re-hash every object and check every reference from the metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segtrail.store.objects import sha256_file

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def fsck(ws: Workspace) -> dict:
    """Returns {"problems": [...], "notes": [...], "objects": n}; clean when no problems.
    Stray temporaries and unreferenced objects (left by an interrupted command) are notes:
    they never hold recorded data."""
    problems: list[str] = ws.meta.integrity_problems()
    notes: list[str] = []
    registered = ws.meta.objects.registered()
    referenced: set[str] = set()
    for where, digest in ws.meta.objects.references():
        referenced.add(digest)
        if digest not in registered:
            problems.append(f"{where}: object {digest[:12]} is not registered")

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
