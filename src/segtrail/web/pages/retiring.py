"""Retiring and restoring a dataset or a strategy from the pages: who may (the API's rule:
write access in every lens the object concerns), what the forms post, where a person lands
afterwards, and the sentence that says what happened.

Retiring hides a dataset name (every version of it) or a strategy from the lists and refuses
new work on it; nothing is deleted and restoring undoes it (services/retirement.py). The
pages show the form only to people who may use it; everyone else sees why not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from segtrail.errors import Forbidden
from segtrail.services.access import Role, require_write
from segtrail.web.api.common import lenses_mapping_strategy, lenses_on_dataset
from segtrail.web.hints import page_words

KINDS = ("dataset", "strategy")
# Where the form came from (a hidden field): the page to go back to afterwards. A fixed set,
# so a posted value can never send anyone elsewhere.
BACK = {"home": "/", "datasets": "/datasets", "strategies": "/strategies"}


@dataclass(frozen=True)
class RetireControl:
    """What a page needs to draw the retire (or restore) form of one object."""

    kind: str  # dataset | strategy
    name: str
    retired: dict | None  # {at, author, reason} while retired
    denied: str | None  # why the signed-in user may not retire or restore it, in words
    back: str  # a BACK key: where the form's page is

    @property
    def action(self) -> str:
        base = "/datasets/" if self.kind == "dataset" else "/strategies/"
        return base + quote(self.name, safe="") + ("/restore" if self.retired else "/retire")


def concerned_lenses(ws: Any, kind: str, name: str) -> set[str]:
    """The lenses retiring `name` concerns: those segmented from the dataset, or those whose
    plan maps the strategy."""
    if kind == "dataset":
        return lenses_on_dataset(ws, name)
    return lenses_mapping_strategy(ws, name)


def require_retire(principal: Any, ws: Any, kind: str, name: str) -> None:
    """Forbidden unless `principal` may retire or restore `name` (as the API decides):
    viewers never, analysts only where every lens concerned is theirs, admins always."""
    require_write(principal, None)  # a viewer is refused before anything is read
    if principal.role == Role.ADMIN:
        return
    for lens in sorted(concerned_lenses(ws, kind, name)):
        require_write(principal, lens)


def denied_reason(principal: Any, ws: Any, kind: str, name: str) -> str | None:
    """None when `principal` may retire or restore `name`; else why not, in words."""
    if principal is None:
        return "sign in to change this"
    try:
        require_retire(principal, ws, kind, name)
    except Forbidden as refused:
        return page_words(str(refused))
    return None


def control(
    principal: Any, ws: Any, kind: str, name: str, retired: dict | None, back: str
) -> RetireControl:
    return RetireControl(kind, name, retired, denied_reason(principal, ws, kind, name), back)


def landing(kind: str, name: str, back: str, done: str) -> str:
    """Where to go after retiring or restoring (`done`): the page the form was on, saying so."""
    if back in BACK:
        target = BACK[back]
    elif kind == "dataset":
        target = "/datasets/" + quote(name, safe="")
    else:
        target = "/strategies"
    anchor = f"#strategy-{quote(name, safe='')}" if kind == "strategy" and back != "home" else ""
    return f"{target}?{urlencode({done: name})}{anchor}"


def outcome_words(
    kind: str, retired: str, restored: str, names: set[str], retired_now: set[str]
) -> str | None:
    """The flash after a retire or a restore. The name comes from the URL, so it is said only
    when it matches what is recorded (a crafted link cannot announce a retirement that did
    not happen); Jinja escapes it."""
    what = "customer data" if kind == "dataset" else "strategy"
    if retired and retired in retired_now:
        return (
            f"Retired {what} {retired}: it is off the lists and cannot be used for new work. "
            "Nothing was deleted, and Restore brings it back."
        )
    if restored and restored in names and restored not in retired_now:
        return f"Restored {what} {restored}: it is listed and can be used again."
    return None
