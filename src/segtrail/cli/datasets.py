"""Dataset commands: ingest, datasets, dataset show."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from segtrail.cli.app import (
    JSON_OPTION,
    QUIET_OPTION,
    StepProgress,
    app,
    console,
    err_console,
    open_workspace,
    print_json,
)

dataset_app = typer.Typer(help="Inspect one dataset.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@app.command()
def ingest(
    file: Path = typer.Argument(
        ..., help="CSV (any delimiter; UTF-8 or Latin-1), Parquet or Excel."
    ),
    id_column: str = typer.Option(..., "--id", help="The column that identifies a customer."),
    name: str = typer.Option(None, "--name", help="Dataset name (default: the file's stem)."),
    quiet: bool = QUIET_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Import a customer table as a new immutable dataset version NAME@N."""
    ws = open_workspace()
    with StepProgress(quiet or json_output) as progress:
        progress(f"reading and checking {file.name}")
        result = ws.ingest(file, id_column, name)
    if json_output:
        print_json(result)
        return
    if result["unchanged"]:
        console.print(f"{result['dataset']} (unchanged: same content as the latest version)")
        return
    kinds: dict[str, int] = {}
    for column in result["columns"]:
        kinds[column["kind"]] = kinds.get(column["kind"], 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    console.print(result["dataset"])
    console.print(f"  {result['rows']:,} customers, {len(result['columns'])} columns ({summary})")
    if result.get("same_columns_as"):
        other = result["same_columns_as"]
        err_console.print(
            f"note: {file.name} has the same columns and id as dataset {other}; if it is a new "
            f"version of {other}, ingest it with --name {other} (this made a new dataset "
            f"{result['name']})"
        )


@app.command("datasets")
def list_datasets(json_output: bool = JSON_OPTION) -> None:
    """List every dataset version."""
    rows = open_workspace().datasets()
    if json_output:
        print_json(rows)
        return
    if not rows:
        console.print("no datasets yet; try: segtrail ingest FILE --id COLUMN")
        return
    table = Table("dataset", "rows", "columns", "id column", "created (UTC)", "author", box=None)
    for r in rows:
        table.add_row(
            r["dataset"],
            f"{r['rows']:,}",
            str(r["n_columns"]),
            r["id_column"],
            r["created_at"][:19].replace("T", " "),
            r["author"],
        )
    console.print(table)


@dataset_app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME or NAME@N (NAME alone: the latest version)."),
    rows: int = typer.Option(0, "--rows", help="Also include the first N rows (by id) in --json."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Schema, row count, missing share and a summary per column."""
    ws = open_workspace()
    if json_output:
        print_json(ws.dataset(ref, rows=rows))
        return
    info = ws.dataset(ref)
    console.print(f"{info['dataset']}  {info['rows']:,} customers, id column '{info['id_column']}'")
    console.print(
        f"source: {info['source']} ({info['source_format']}), "
        f"{info['created_at'][:19]} by {info['author']}"
    )
    table = Table("column", "kind", "type", "missing", "summary", box=None)
    for column in info["columns"]:
        s = column["summary"]
        table.add_row(
            column["name"],
            column["kind"],
            column["type"],
            f"{s['missing_share']:.1%}",
            _summary_words(column["kind"], s),
        )
    console.print(table)


def _summary_words(kind: str, s: dict) -> str:
    if kind == "numeric" and "mean" in s:
        return (
            f"mean {s['mean']:,.4g}, median {s['median']:,.4g}, "
            f"range {s['min']:,.4g}..{s['max']:,.4g}"
        )
    if kind == "categorical":
        top = ", ".join(f"{t['value']} {t['share']:.0%}" for t in s.get("top", [])[:3])
        return f"{s['distinct']} levels: {top}"
    if kind in ("text", "id") and s.get("distinct") is not None:
        return f"{s['distinct']:,} distinct"
    if kind == "boolean" and s.get("true_share") is not None:
        return f"{s['true_share']:.0%} true"
    if kind == "datetime" and "min" in s:
        return f"{s['min'][:10]} .. {s['max'][:10]}"
    return ""
