"""Dataset commands: ingest, datasets, dataset show."""

from __future__ import annotations

from datetime import UTC, datetime
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
    err_console,
    open_workspace,
    print_json,
)
from segtrail.cli.retired import retired_line
from segtrail.errors import InvalidInput
from segtrail.report.words import column_summary

if TYPE_CHECKING:
    from segtrail.engine.transactions import TransactionSpec
    from segtrail.services.results import DatasetInfo

dataset_app = typer.Typer(help="Inspect one dataset.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@app.command()
def ingest(
    file: Path = typer.Argument(
        None,
        help="CSV (any delimiter; UTF-8 or Latin-1; may be .gz or .zst compressed), Parquet "
        "or Excel (or --sql).",
    ),
    id_column: str = typer.Option(
        None, "--id", help="The column that identifies a customer (not with --transactions)."
    ),
    name: str = typer.Option(
        None, "--name", help="Dataset name (default: the file's stem, or the query's table)."
    ),
    sql: str = typer.Option(None, "--sql", help="Read a SQL query's result instead of a file."),
    url: str = typer.Option(
        None,
        "--from",
        help="SQLAlchemy URL for --sql: postgresql+psycopg://..., sqlite:///FILE, duckdb:///FILE.",
    ),
    transactions: bool = typer.Option(
        False,
        "--transactions",
        help="The table holds order lines: record them as NAME-transactions and derive NAME, one row per customer.",
    ),
    customer: str = typer.Option(
        None, "--customer", help="--transactions: the customer id column."
    ),
    date: str = typer.Option(
        None, "--date", help="--transactions: the order line's date/time column."
    ),
    amount: str = typer.Option(
        None,
        "--amount",
        help="--transactions: a column, or a sum/product of columns such as Quantity*UnitPrice (> 0 purchase, < 0 return).",
    ),
    order: str = typer.Option(
        None,
        "--order",
        help="--transactions: the order id column (default: orders are purchase days).",
    ),
    category: str = typer.Option(
        None, "--category", help="--transactions: a category column, for top category shares."
    ),
    as_of: str = typer.Option(
        None,
        "--as-of",
        help="--transactions: the moment recency is measured from, e.g. 2024-12-31 or 2024-12-31T18:00 (default: the latest line).",
    ),
    window: int = typer.Option(
        None, "--window", help="--transactions: use only the last DAYS days up to the as-of time."
    ),
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
    """Import a customer table as a new immutable dataset version NAME@N: from a file or a
    SQL query, or derived from order lines with --transactions."""
    if (file is None) == (sql is None):
        raise InvalidInput("give a FILE or --sql QUERY --from URL (one of them)")
    if sql is not None and not url:
        raise InvalidInput("--sql needs --from URL (the database to run the query on)")
    if url and sql is None:
        raise InvalidInput("--from URL goes with --sql QUERY")
    ws = open_workspace()
    if transactions:
        spec = _transaction_spec(id_column, customer, date, amount, order, category, as_of, window)
        with StepProgress(quiet or json_output) as progress:
            progress("reading order lines and deriving customers")
            result = ws.ingest_transactions(spec, path=file, sql=sql, url=url, name=name)
        if json_output:
            print_json(result)
            return
        lines = result["transactions"]
        console.print(
            f"{result['dataset']}{' (unchanged)' if result['unchanged'] else ''} from "
            f"{lines['dataset']}{' (unchanged)' if lines['unchanged'] else ''}, "
            f"as of {result['as_of'].replace('T', ' ')}"
        )
        console.print(f"  {result['summary']}")
        return
    extra = [
        f
        for f, v in (
            ("--customer", customer),
            ("--date", date),
            ("--amount", amount),
            ("--order", order),
            ("--category", category),
            ("--as-of", as_of),
            ("--window", window),
        )
        if v is not None
    ]
    if extra:
        raise InvalidInput(f"{extra[0]} goes with --transactions")
    if not id_column:
        raise InvalidInput("--id COLUMN is required: the column that identifies a customer")
    with StepProgress(quiet or json_output) as progress:
        if sql is not None:
            progress("running the query")
            result = ws.ingest_sql(sql, url, id_column, name)
        else:
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
    if result.get("same_columns_as"):
        other = result["same_columns_as"]
        err_console.print(
            f"note: {file.name} has the same columns and id as dataset {other}; if it is a new "
            f"version of {other}, ingest it with --name {other} (this made a new dataset "
            f"{result['name']}; `segtrail dataset retire {result['name']}` hides it)"
        )


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


def _transaction_spec(
    id_column: str | None,
    customer: str | None,
    date: str | None,
    amount: str | None,
    order: str | None,
    category: str | None,
    as_of: str | None,
    window: int | None,
) -> TransactionSpec:
    customer = customer or id_column
    missing = [
        f for f, v in (("--customer", customer), ("--date", date), ("--amount", amount)) if not v
    ]
    if missing:
        raise InvalidInput(f"--transactions needs {', '.join(missing)}")
    # Imported here: it brings DuckDB and Arrow, which `--help` and other commands never use.
    from segtrail.engine.transactions import TransactionSpec

    return TransactionSpec(
        customer=customer,
        date=date,
        amount=amount,
        order=order,
        category=category,
        as_of=None if as_of is None else _moment(as_of),
        window_days=window,
    )


def _moment(text: str) -> datetime:
    """--as-of: ISO 8601; a date alone is 00:00 that day; a zoned time becomes UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"--as-of {text!r} is not a date or time (expected e.g. 2024-12-31 or 2024-12-31T18:00)"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


ALL_OPTION = typer.Option(False, "--all", help="Also list retired datasets (marked).")


@app.command("datasets")
def list_datasets(include_retired: bool = ALL_OPTION, json_output: bool = JSON_OPTION) -> None:
    """List every dataset version (retired names only with --all)."""
    _list_datasets(include_retired, json_output)


@dataset_app.command("list")
def dataset_list(include_retired: bool = ALL_OPTION, json_output: bool = JSON_OPTION) -> None:
    """List every dataset version (the same as `segtrail datasets`)."""
    _list_datasets(include_retired, json_output)


def _list_datasets(include_retired: bool, json_output: bool) -> None:
    every = open_workspace().datasets(include_retired=True)
    rows = [r for r in every if include_retired or not r.get("retired")]
    if json_output:
        print_json(rows)
        return
    hidden = len({r["name"] for r in every if r.get("retired")}) if not include_retired else 0
    note = f"{hidden} retired dataset name(s) not shown; --all lists them" if hidden else ""
    if not rows:
        console.print(note or "no datasets yet; try: segtrail ingest FILE --id COLUMN")
        return
    table = Table("dataset", "rows", "columns", "id column", "created (UTC)", "author", box=None)
    for r in rows:
        table.add_row(
            r["dataset"] + (" (retired)" if r.get("retired") else ""),
            f"{r['rows']:,}",
            str(r["n_columns"]),
            r["id_column"],
            r["created_at"][:19].replace("T", " "),
            r["author"],
        )
    console.print(table)
    if note:
        console.print(note)


@dataset_app.command("retire")
def dataset_retire(
    name: str = typer.Argument(..., help="The dataset name (every version of it is retired)."),
    reason: str = typer.Option(None, "--reason", help="Why, for the history."),
) -> None:
    """Hide a dataset from the lists and refuse to segment it; its versions, the
    segmentations built on it and its history stay. `dataset restore` undoes it."""
    r = open_workspace().dataset_retire(name, reason)
    console.print(
        f"retired dataset {r['name']}: hidden from `segtrail datasets` (shown with --all); "
        f"`segtrail dataset restore {r['name']}` brings it back"
    )


@dataset_app.command("restore")
def dataset_restore(name: str = typer.Argument(..., help="The retired dataset name.")) -> None:
    """Bring a retired dataset back into the lists and into use."""
    r = open_workspace().dataset_restore(name)
    console.print(f"restored dataset {r['name']}")


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
    if info.get("retired"):
        console.print(retired_line("dataset", info["name"], info["retired"]))
    _print_lineage(info.get("lineage"))
    table = Table("column", "kind", "type", "missing", "summary", box=None)
    for column in info["columns"]:
        s = column["summary"]
        table.add_row(
            column["name"],
            column["kind"],
            column["type"],
            f"{s['missing_share']:.1%}",
            column_summary(column["kind"], s),
        )
    console.print(table)


def _print_lineage(lineage: dict | None) -> None:
    if not lineage:
        return
    spec = lineage["spec"]
    if lineage["kind"] == "sql":
        console.print(f"query: {spec['query']}")
        return
    words = [f"customer {spec['customer']}", f"date {spec['date']}", f"amount {spec['amount']}"]
    words += [f"{k} {spec[k]}" for k in ("order", "category") if spec.get(k)]
    if spec.get("window_days"):
        words.append(f"window {spec['window_days']} days")
    console.print(
        f"derived from {lineage['derived_from']} ({', '.join(words)}), "
        f"as of {spec['as_of'].replace('T', ' ')}"
    )
    console.print(f"  {spec['summary']}")
