"""Dataset commands: ingest, datasets, dataset show."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from segtrail.cli.app import (
    JSON_OPTION,
    QUIET_OPTION,
    StepProgress,
    app,
    console,
    open_workspace,
    print_json,
)

if TYPE_CHECKING:
    from segtrail.services.results import DatasetInfo

dataset_app = typer.Typer(help="Inspect one dataset.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@app.command()
def ingest(
    file: Path = typer.Argument(
        ...,
        help="CSV (any delimiter; UTF-8 or Latin-1; may be .gz or .zst compressed), Parquet "
        "or Excel.",
    ),
    id_column: str = typer.Option(..., "--id", help="The column that identifies a customer."),
    name: str = typer.Option(None, "--name", help="Dataset name (default: the file's stem)."),
    na: list[str] = typer.Option(
        [],
        "--na",
        help="Also a missing value, in every column including the id column (repeatable). "
        "Without it only an empty cell is a missing id; 'NA', 'NULL' and the like are "
        "missing in the other columns.",
    ),
    decimal: str = typer.Option(
        None,
        "--decimal",
        help="Decimal mark of a CSV's numbers: '.' or ',' (default: detected; a comma only "
        "in files not separated by commas).",
        show_default=False,
    ),
    sheet: str = typer.Option(
        None,
        "--sheet",
        help="Excel: the sheet to read, by name or position (1 = first; default: the first).",
        show_default=False,
    ),
    quiet: bool = QUIET_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Import a customer table as a new immutable dataset version NAME@N."""
    ws = open_workspace()
    with StepProgress(quiet or json_output) as progress:
        progress(f"reading and checking {file.name}")
        result = ws.ingest(file, id_column, name, na=tuple(na), decimal=decimal, sheet=sheet)
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
    read_as = _read_as(result)
    if read_as:
        console.print(f"  read as {read_as}")


DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _read_as(result: DatasetInfo) -> str:
    """What was inferred about the file, in words: 'CSV, semicolon-separated, decimal
    comma (detected), cp1252, gzip'."""
    if result.get("source_format") == "excel" and result.get("sheet"):
        return f"Excel, sheet '{result['sheet']}'"
    if result.get("source_format") != "csv":
        return ""
    delimiter = result.get("delimiter", ",")
    words = ["CSV", f"{DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated"]
    if result.get("decimal") == ",":
        words.append("decimal comma" + (" (detected)" if result.get("decimal_detected") else ""))
    words.append(result.get("encoding", "utf-8"))
    if result.get("compression"):
        words.append(result["compression"])
    return ", ".join(words)


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
