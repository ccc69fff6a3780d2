"""Ingest from order lines and from SQL: the two inputs that are not a tidy customer file.

`ingest_transactions` records the order lines as they are (dataset NAME-transactions) and
the customer dataset NAME derived from them, with its lineage (the lines' version, the spec,
the as-of time and what was left out), in one metadata transaction. `ingest_sql` records
the result of a query, with the query and the URL (without its password) as lineage.
Everything is read and checked before anything is written.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from segtrail.engine.transactions import TransactionSpec, customers_from_transactions
from segtrail.errors import InvalidInput
from segtrail.readers import check_columns, normalize_ids, read_table
from segtrail.services.datasets import prepare_dataset, record_datasets
from segtrail.services.refs import check_name, stem_to_name
from segtrail.services.results import DatasetInfo, TransactionsIngest
from segtrail.store.datasets import Lineage
from segtrail.store.sql_source import default_name, read_sql

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

LINES_SUFFIX = "-transactions"


class _Source:
    """A table read from a file or a query, with what the dataset row records about it."""

    def __init__(self, path: str | Path | None, sql: str | None, url: str | None, id_column: str):
        if (path is None) == (sql is None):
            raise InvalidInput("give either a file or a SQL query (with its database URL)")
        if sql is not None and not url:
            raise InvalidInput("a SQL query needs the URL of the database to run it on")
        self.lineage: Lineage | None = None
        if path is not None:
            path = Path(path)
            read = read_table(path, id_column)
            self.table, self.format, self.label = read.table, read.format, path.name
            self.stem = path.stem
            self.source, self.bytes = str(path.resolve()), path.stat().st_size
            self.ids_from_text = read.format in ("csv", "excel")
            self.line_offset = 1 if read.format == "csv" else None
        else:
            read = read_sql(sql, url)
            self.table, self.format, self.label = read.table, "sql", "the query result"
            self.stem = default_name(sql)
            self.source, self.bytes = read.url, 0
            self.ids_from_text = False
            self.line_offset = None
            self.lineage = Lineage("sql", {"query": read.query, "url": read.url})
        check_columns(self.table, self.label)


def ingest_sql(
    ws: Workspace, query: str, url: str, id_column: str, name: str | None = None
) -> DatasetInfo:
    """A customer table from a SQL query; the same result as the latest version records
    nothing new."""
    name = check_name(name, "dataset") if name else None
    source = _Source(None, query, url, id_column)
    name = name or stem_to_name(source.stem)
    table = normalize_ids(source.table, id_column, source.label, None, check_unique=False)
    prepared = prepare_dataset(
        table,
        name=name,
        id_column=id_column,
        label=source.label,
        line_offset=None,
        source=source.source,
        source_bytes=source.bytes,
        source_format=source.format,
        details={"source": source.source, "rows": table.num_rows, "id_column": id_column},
        lineage=source.lineage,
    )
    (result,) = record_datasets(ws, [prepared])
    return result


def ingest_transactions(
    ws: Workspace,
    spec: TransactionSpec,
    *,
    path: str | Path | None = None,
    sql: str | None = None,
    url: str | None = None,
    name: str | None = None,
) -> TransactionsIngest:
    """Order lines from a file or a query -> NAME-transactions (the lines) and NAME (one
    row per customer, see engine/transactions.py for every definition)."""
    name = check_name(name, "dataset") if name else None
    source = _Source(path, sql, url, spec.customer)
    name = name or stem_to_name(source.stem)
    lines_name = check_name(f"{name}{LINES_SUFFIX}"[:200], "dataset")
    derived = customers_from_transactions(source.table, spec)
    customers = normalize_ids(
        derived.table, spec.customer, source.label, None, ids_from_text=source.ids_from_text
    )
    lines = prepare_dataset(
        source.table,
        name=lines_name,
        id_column=spec.customer,
        label=source.label,
        line_offset=source.line_offset,
        source=source.source,
        source_bytes=source.bytes,
        source_format=source.format,
        details={
            "source": source.source,
            "rows": source.table.num_rows,
            "id_column": spec.customer,
        },
        unique_ids=False,  # a customer has many lines
        lineage=source.lineage,
    )
    used = replace(spec, as_of=derived.as_of)
    lineage = Lineage(
        "transactions",
        {
            **used.as_dict(),
            "as_of_given": spec.as_of is not None,
            "date_format": derived.date_format,
            "categories": derived.categories,
            "counts": derived.counts,
            "summary": derived.summary(),
        },
        derived_from=0,
    )
    table = _plain(customers)
    derived_dataset = prepare_dataset(
        table,
        name=name,
        id_column=spec.customer,
        label=source.label,
        line_offset=None,
        source=source.source,
        source_bytes=source.bytes,
        source_format=source.format,
        details={"derived_from": lines_name, "rows": table.num_rows, "id_column": spec.customer},
        lineage=lineage,
    )
    recorded_lines, recorded = record_datasets(ws, [lines, derived_dataset])
    return TransactionsIngest(
        details=recorded.to_dict(),
        transactions=recorded_lines,
        as_of=derived.as_of.isoformat(),
        counts=derived.counts,
        summary=derived.summary(),
        date_format=derived.date_format,
    )


def _plain(table: pa.Table) -> pa.Table:
    """Chunks from DuckDB are small; one chunk per column encodes and summarises faster."""
    return table.combine_chunks()


__all__ = ["ingest_sql", "ingest_transactions"]
