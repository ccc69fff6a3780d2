"""Workspace settings (`segtrail config`): a few typed defaults kept in the workspace's
config.json beside the database and objects locations.

Each setting is declared once below with its check; a change is also recorded as an event,
so the history says who switched the workspace to Spark and when.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from segtrail.atomic import atomic_write
from segtrail.compute import ENGINES, check_engine
from segtrail.errors import InvalidInput

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

CONFIG = "config.json"


def _master(value: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput("spark_master must not be empty (e.g. local[*], spark://HOST:7077)")
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    check: Callable[[str], str]


SETTINGS = {
    s.name: s
    for s in (
        Setting("engine", f"where compute runs: {' or '.join(ENGINES)}", check_engine),
        Setting(
            "spark_master",
            "where the Spark engine runs: local[*], spark://HOST:PORT or sc://HOST",
            _master,
        ),
    )
}


def settings(ws: Workspace) -> dict[str, Any]:
    """Every declared setting with its value (None: not set, the built-in default applies)."""
    config = _read(ws)
    return {name: config.get(name) for name in SETTINGS}


def set_setting(ws: Workspace, name: str, value: str | None) -> dict[str, Any]:
    """Set (or with None, unset) one setting; returns every setting after the change."""
    if name not in SETTINGS:
        raise InvalidInput(f"unknown setting {name!r}; settings: {', '.join(SETTINGS)}")
    if value is not None:
        value = SETTINGS[name].check(value)
    config = _read(ws)
    if value is None:
        config.pop(name, None)
    else:
        config[name] = value
    atomic_write(ws.dir / CONFIG, (json.dumps(config, indent=2) + "\n").encode())
    ws.meta.events.append(ws.author, "config", name, {"value": value})
    return settings(ws)


def _read(ws: Workspace) -> dict[str, Any]:
    return json.loads((ws.dir / CONFIG).read_text())
