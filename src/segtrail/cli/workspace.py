"""Workspace commands: init, fsck, events."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import typer
from rich.table import Table

from segtrail.cli.app import JSON_OPTION, app, console, open_workspace, options, print_json


@app.command()
def init(
    directory: Path = typer.Argument(Path("."), help="Folder for the new workspace."),
    database_url: str = typer.Option(
        None,
        "--database-url",
        help="SQLAlchemy URL of the metadata database (e.g. postgresql://...); "
        "default: SQLite inside .segtrail/.",
        show_default=False,
    ),
    objects_url: str = typer.Option(
        None,
        "--objects",
        help="Where data objects live: a folder, or an fsspec URL such as "
        "file:///mnt/team/objects or s3://bucket/prefix (install the matching fsspec "
        "backend, e.g. s3fs); default: .segtrail/objects.",
        show_default=False,
    ),
) -> None:
    """Create a workspace (DIR/.segtrail/) that will hold one history."""
    from segtrail.services.workspace import Workspace

    ws = Workspace.init(
        directory, database_url=database_url, objects_url=objects_url, author=options.author
    )
    console.print(f"Initialized empty segtrail workspace in {ws.dir}")
    console.print("Next: segtrail ingest customers.csv --id customer_id")


@app.command()
def fsck(
    prune: bool = typer.Option(
        False,
        "--prune",
        help="Remove objects no record references and unfinished temporary files "
        "(left by failed or interrupted commands) older than the grace period.",
    ),
    grace_hours: float = typer.Option(
        24.0,
        "--grace-hours",
        help="With --prune: keep anything younger than this many hours "
        "(it may belong to a command still running).",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Re-hash every object and check every reference. Exit 2 when something is wrong."""
    result = open_workspace().fsck(prune=prune, grace_hours=grace_hours)
    if json_output:
        print_json(result)
    else:
        for digest in result["removed"]["objects"]:
            console.print(f"removed: object {digest[:12]} (unreferenced)")
        for name in result["removed"]["temporaries"]:
            console.print(f"removed: temporary file {name}")
        for problem in result["problems"]:
            console.print(f"problem: {problem}")
        for note in result["notes"]:
            console.print(f"note: {note}")
        state = "clean" if result["clean"] else f"{len(result['problems'])} problem(s)"
        console.print(f"checked {result['objects']} object(s): {state}")
    if not result["clean"]:
        raise typer.Exit(2)


@app.command()
def events(
    limit: int = typer.Option(
        50, "--limit", "-n", min=1, max=10**9, help="How many of the newest events."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """The event log: every recorded action, newest first, with author and UTC time."""
    rows = open_workspace().events(limit)
    if json_output:
        print_json(rows)
        return
    table = Table("id", "at (UTC)", "author", "action", "subject", box=None)
    for r in rows:
        table.add_row(
            str(r["id"]), r["at"][:19].replace("T", " "), r["author"], r["action"], r["subject"]
        )
    console.print(table)


@app.command()
def demo(
    directory: Path = typer.Argument(Path("demo-workspace"), help="Folder for the demo workspace."),
    customers: int = typer.Option(50_000, "--customers", help="How many sample customers."),
) -> None:
    """Build a workspace from the built-in sample data and tell the essays' stories."""
    from segtrail.services.demo import build_demo

    ws = build_demo(directory, customers, say=console.print)
    # Name the command as it can be typed here: `segtrail` when on PATH, else its full path.
    exe = "segtrail" if shutil.which("segtrail") else str(Path(sys.argv[0]).resolve())
    w = f"{exe} -w {ws.root}"
    console.print("\nTry next:")
    for line in (
        f"{w} log",
        f"{w} show marketing@1",
        f"{w} plan show accounts@2",
        f"{w} why s4-community",
        f"{w} diff accounts@1 accounts@2",
        f"{w} compare accounts accounts-product --flag fit=poor",
        f"{w} campaign report app-push-q1",
        f"{w} campaign design app-push-q2 --strategy app-push --mde 0.02 --dry-run",
        f"{w} campaign report email-guide-q2 --vs-holdout",
        f"open {ws.root}/reports/marketing-1.html",
    ):
        console.print(f"  {line}")


@app.command()
def config(
    name: str = typer.Argument(None, help="A setting: engine or spark_master (none: list all)."),
    value: str = typer.Argument(None, help="New value (none: show the current one)."),
    unset: bool = typer.Option(False, "--unset", help="Remove the setting (back to default)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show or change workspace settings, e.g. `segtrail config engine spark` makes
    `segment` and `revisit` run on Spark unless --engine says otherwise."""
    ws = open_workspace()
    if unset or value is not None:
        if name is None:
            raise typer.BadParameter("name the setting to change")
        current = ws.set_setting(name, None if unset else value)
    else:
        current = ws.settings()
        if name is not None:
            if name not in current:
                ws.set_setting(name, None)  # refuses an unknown name with the list of names
            current = {name: current[name]}
    if json_output:
        print_json(current)
        return
    for key, setting in current.items():
        console.print(f"{key} = {setting if setting is not None else '(not set)'}")
