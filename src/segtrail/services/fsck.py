"""fsck: re-hash every object and check every reference; `prune` removes what nothing uses.

Works on any object store (the local folder or shared storage): it sees objects only through
the store's listing and streamed reads.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from segtrail.errors import SegtrailError
from segtrail.services.results import FsckReport

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

DEFAULT_GRACE_HOURS = 24.0


def fsck(
    ws: Workspace, *, prune: bool = False, grace_hours: float = DEFAULT_GRACE_HOURS
) -> FsckReport:
    """Problems, notes, the number of objects, `clean` (no problems) and what was removed.
    Stray temporaries and unreferenced objects (left by an interrupted or failed command) are
    notes: they never hold recorded data.

    With `prune`, unreferenced objects and stray temporaries older than `grace_hours` are
    removed first (younger ones may belong to a command still running) and listed under
    "removed". Pruning is refused when the database records no history at all: then every
    object looks unreferenced, and the database is what is missing."""
    if grace_hours < 0:
        raise SegtrailError(f"the grace period must be 0 hours or more, not {grace_hours:g}")
    notes: list[str] = []
    problems = ws.meta.integrity_problems()
    # No event at all, not even the `init` every workspace starts with: the database was
    # deleted, emptied or replaced, and every object would look unreferenced.
    has_tables = ws.meta.schema_version() >= 1
    empty = not has_tables or ws.meta.events.count() == 0
    registered = ws.meta.objects.registered() if has_tables else {}
    referenced: set[str] = set()
    for where, digest in ws.meta.objects.references() if has_tables else []:
        referenced.add(digest)
        if digest not in registered:
            problems.append(f"{where}: object {digest[:12]} is not registered")
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
        removed["objects"] = ws.objects.remove_unused(candidates, ws.meta.objects.in_use)
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
    return FsckReport(
        problems=problems,
        notes=notes,
        objects=len(objects),
        clean=not problems,
        removed=removed,
    )


def discard_unrecorded(ws: Workspace) -> list[str]:
    """Take back the objects this workspace's store itself created (in this process) that no
    record references: called when a command fails after writing its objects. An object
    another writer found or recorded meanwhile is kept (see `ObjectStore.remove_unused`)."""
    fresh = dict(ws.objects.fresh)
    if not fresh:
        return []
    return ws.objects.remove_unused(fresh, ws.meta.objects.in_use)


def _hash(ws: Workspace, digest: str) -> str | None:
    try:
        return ws.objects.hash_of(digest)
    except FileNotFoundError:
        return None
