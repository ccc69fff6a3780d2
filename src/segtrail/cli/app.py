"""The Typer application, global options and rendering helpers shared by command modules."""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

app = typer.Typer(
    name="segtrail",
    help=(
        "Segment customers on what they do, map strategies onto the segments, and keep the "
        "thread from every tactic back to the clustering hypothesis that justified it."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Control characters other than newline and tab, as \x1b: shown, never obeyed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """User text (hypotheses, names, file contents) for a terminal: control characters are
    written out (`\x1b]0;PWNED\x07` must not retitle the window or clear the screen)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class SafeConsole(Console):
    """A rich console that renders every string it is given with `visible()`: plain
    prints, table cells and tree labels all pass through `render_str`. JSON output does
    not use it and stays exact."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible(text), **kwargs)


# Piped or redirected, print tables at their natural width rather than rich's 80 columns.
console = SafeConsole(
    highlight=False, soft_wrap=True, markup=False, width=None if sys.stdout.isatty() else 250
)
err_console = SafeConsole(stderr=True, highlight=False, markup=False)


@dataclass
class Options:
    workspace: Path | None = None
    author: str | None = None


options = Options()


def _version(value: bool) -> None:
    if value:
        from segtrail import __version__

        typer.echo(f"segtrail {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    workspace: Path = typer.Option(
        None,
        "--workspace",
        "-w",
        envvar="SEGTRAIL_WORKSPACE",
        help="Workspace folder (default: the nearest .segtrail/ upwards from here).",
        show_default=False,
    ),
    author: str = typer.Option(
        None,
        "--author",
        envvar="SEGTRAIL_AUTHOR",
        help="Who is acting, recorded with every change (default: git user.name, else OS user).",
        show_default=False,
    ),
    version: bool = typer.Option(
        False, "--version", help="Show the version and exit.", is_eager=True, callback=_version
    ),
) -> None:
    options.workspace = workspace
    options.author = author


def open_workspace():
    """The workspace of this command; `main` closes it (releasing its database connections)
    when the command ends, however it ends."""
    from segtrail.services.workspace import Workspace

    ws = Workspace.open(options.workspace, author=options.author)
    opened.append(ws)
    return ws


opened: list = []  # workspaces this command opened, closed by `close_workspaces`


def close_workspaces(*, failed: bool = False) -> None:
    """Close what the command opened. After a failed command, first remove the objects it
    wrote that no record references, so failures leave no orphans (best effort; `fsck
    --prune` catches the rest)."""
    while opened:
        ws = opened.pop()
        if failed:
            # Never hide the command's own error behind the clean-up's.
            with contextlib.suppress(Exception):
                ws.discard_unrecorded()
        ws.close()


def _finite(data: Any) -> Any:
    """NaN and infinities are not JSON: print them as null. Typed results print as their
    `to_dict()`."""
    if hasattr(data, "to_dict"):
        data = data.to_dict()
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def print_json(data: Any) -> None:
    text = json.dumps(_finite(data), indent=2, default=str, ensure_ascii=False, allow_nan=False)
    sys.stdout.write(text + "\n")


def show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
RAW_OPTION = typer.Option(
    False,
    "--raw",
    help="Write text cells exactly as they are. By default a CSV cell starting with = + - @ "
    "or a tab gets a leading ' so spreadsheets do not run it as a formula.",
)
QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="No progress output.")


class StepProgress:
    """A spinner with the current step on stderr, only on a terminal and without --quiet.
    Used as the `progress(message, fraction)` callback the services accept."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = show_progress(quiet)
        self._status = None

    def __enter__(self) -> StepProgress:
        if self.enabled:
            self._status = err_console.status("starting")
            self._status.__enter__()
        return self

    def __call__(self, message: str, fraction: float | None = None) -> None:
        if self._status is not None:
            suffix = f" ({fraction:.0%})" if fraction is not None else ""
            self._status.update(f"{message}{suffix}")

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)


def parse_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [part.strip() for part in text.split(",") if part.strip()]
    return items or None


def parse_pairs(text: str | None, what: str) -> dict[str, str]:
    """a=1,b=2 -> {"a": "1", "b": "2"}."""
    from segtrail.errors import SegtrailError

    out: dict[str, str] = {}
    for part in parse_list(text) or []:
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise SegtrailError(f"invalid {what} {part!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out
