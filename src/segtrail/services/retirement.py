"""Retire and restore datasets and strategies (`segtrail dataset retire NAME`, `segtrail
strategy retire NAME`, and `restore` for both).

A retired dataset or strategy leaves the lists (`datasets`, `strategy list`; `--all` shows
it), stays readable everywhere else (`dataset show`, `why`, plans, reports, history, with a
"retired" mark), and is refused where new work would build on it: segmenting a retired
dataset, mapping a retired strategy. Everything recorded about it stays as it was."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segtrail.errors import InvalidInput
from segtrail.services.results import Retirement
from segtrail.store.retirements import RESTORE

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace


def retire(ws: Workspace, kind: str, name: str, reason: str | None = None) -> Retirement:
    """Retire dataset or strategy `name` (every version of a dataset name)."""
    row = ws.meta.retirements.set(kind, name, True, (reason or "").strip() or None, ws.author)
    return _public(row)


def restore(ws: Workspace, kind: str, name: str) -> Retirement:
    """Bring a retired dataset or strategy back into the lists and into use."""
    return _public(ws.meta.retirements.set(kind, name, False, None, ws.author))


def retired_names(ws: Workspace, kind: str) -> dict[str, dict]:
    """Name -> {at, author, reason} for every `kind` retired now."""
    return {name: _mark(row) for name, row in ws.meta.retirements.retired(kind).items()}


def retired_mark(ws: Workspace, kind: str, name: str) -> dict | None:
    """{at, author, reason} when `name` is retired now, else None."""
    return retired_names(ws, kind).get(name)


def check_in_use(ws: Workspace, kind: str, name: str, doing: str) -> None:
    """Refuse new work on a retired dataset or strategy, in one line that says how to
    restore it."""
    mark = retired_mark(ws, kind, name)
    if mark is not None:
        raise InvalidInput(
            f"{kind} {name} is retired ({mark['at'][:10]}, {mark['author']}); cannot {doing}; "
            f"`{RESTORE[kind]} {name}` brings it back"
        )


def _mark(row: dict) -> dict:
    return {"at": row["at"], "author": row["author"], "reason": row["reason"]}


def _public(row: dict) -> Retirement:
    return Retirement(
        kind=row["kind"],
        name=row["name"],
        retired=row["retired"],
        at=row["at"],
        author=row["author"],
        reason=row["reason"],
    )
