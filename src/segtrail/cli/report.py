"""`segtrail report`: one self-contained offline HTML file for a version, or for a diff."""

from __future__ import annotations

from pathlib import Path

import typer

from segtrail.cli.app import (
    JSON_OPTION,
    QUIET_OPTION,
    StepProgress,
    app,
    console,
    open_workspace,
    print_json,
)


@app.command()
def report(
    ref: str = typer.Argument(..., help="Version to report on (LENS@N)."),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write (e.g. report.html)."),
    diff: str = typer.Option(
        None, "--diff", help="Report how customers moved from REF to this version instead."
    ),
    value: str = typer.Option(
        None,
        "--value",
        help="Numeric column whose sum is the customers' value, shown per segment "
        "(default: a column named like monetary, revenue, clv or annual_spend, if any).",
    ),
    quiet: bool = QUIET_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Write an offline HTML report: a summary on top (segments, sizes, value, strategies,
    changes since the parent), then projection, profiles, stability, strategy map, campaign
    results, lineage and the raw parameters; with --diff, how customers moved (Sankey,
    contingency, fates) and what carrying the plan would do to each strategy."""
    ws = open_workspace()
    with StepProgress(quiet or json_output) as progress:
        progress(f"drawing the report of {ref}")
        result = ws.report(ref, out, diff, value=value)
    if json_output:
        print_json(result)
        return
    what = f"{result['version']} -> {result['diff']}" if result["diff"] else result["version"]
    size = result["bytes"]
    shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(size / 1e3, 1):.0f} kB"
    value = f", value: sum of {result['value']}" if result.get("value") else ""
    console.print(f"wrote {result['out']} ({what}, {shown}{value})")
