"""Ingest from order lines and from SQL: the two inputs that are not a tidy customer file.

`ingest_transactions` records the order lines as they are (dataset NAME-transactions) and
the customer dataset NAME derived from them, with its lineage (the lines' version, the spec,
the as-of time and what was left out), in one metadata transaction. `ingest_sql` records
the result of a query, with the query and the URL (without its password) as lineage.
Everything is read and checked before anything is written.

The two datasets are prepared side by side: DuckDB derives the customers while a second
thread checks and summarises the lines (both mostly outside the GIL). A Parquet file of
lines is not read into Arrow for DuckDB (DuckDB reads the file in place) and not encoded
again: its bytes are the lines' object when no column needs converting.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from segtrail.engine.transactions import TransactionSpec, check_spec, customers_from_transactions
from segtrail.errors import InputError, InvalidInput
from segtrail.readers import check_header, normalize_ids, parquet_schema, read_table, sniff
from segtrail.services.datasets import (
    PreparedDataset,
    prepare_dataset,
    prepare_parquet_lines,
    record_datasets,
)
from segtrail.services.refs import check_name, stem_to_name
from segtrail.services.results import DatasetInfo, TransactionsIngest
from segtrail.store.datasets import Lineage
from segtrail.store.sql_source import default_name, read_sql

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

LINES_SUFFIX = "-transactions"


class _Source:
    """A table read from a file or a query, with what the dataset row records about it.
    A Parquet file is not read here: `parquet` is its path, `table` stays None."""

    def __init__(
        self,
        path: str | Path | None,
        sql: str | None,
        url: str | None,
        id_column: str,
        *,
        parquet_in_place: bool = False,
    ):
        if (path is None) == (sql is None):
            raise InvalidInput("give either a file or a SQL query (with its database URL)")
        if sql is not None and not url:
            raise InvalidInput("a SQL query needs the URL of the database to run it on")
        self.lineage: Lineage | None = None
        self.table: pa.Table | None = None
        self.parquet: Path | None = None
        if path is not None:
            path = Path(path)
            self.label, self.stem = path.name, path.stem
            self.source, self.bytes = str(path.resolve()), path.stat().st_size
            if parquet_in_place and sniff(path).format == "parquet":
                self.parquet, self.format = path, "parquet"
                self.stat = _stat(path)
                self.columns = parquet_schema(path, id_column).names
            else:
                read = read_table(path, id_column)
                self.table, self.format = read.table, read.format
                self.columns = self.table.column_names
            self.ids_from_text = self.format in ("csv", "excel")
            self.line_offset = 1 if self.format == "csv" else None
        else:
            read = read_sql(sql, url)
            self.table, self.format, self.label = read.table, "sql", "the query result"
            self.columns = self.table.column_names
            self.stem = default_name(sql)
            self.source, self.bytes = read.url, 0
            self.ids_from_text = False
            self.line_offset = None
            self.lineage = Lineage("sql", {"query": read.query, "url": read.url})
        check_header(self.columns, self.label)

    @property
    def lines(self) -> pa.Table | Path:
        """What DuckDB reads: the table, or the Parquet file where it lies."""
        return self.table if self.table is not None else self.parquet

    def prepare_lines(self, name: str, id_column: str) -> PreparedDataset:
        if self.parquet is not None:
            try:
                data = self.parquet.read_bytes()
            except OSError as e:
                reason = e.strerror or e
                raise InputError(f"{self.label}: cannot read the file ({reason})") from None
            prepared = prepare_parquet_lines(
                data, name=name, id_column=id_column, label=self.label, source=self.source,
                details={}, lineage=self.lineage,
            )  # fmt: skip
            details = {"source": self.source, "rows": prepared.new.rows, "id_column": id_column}
            return replace(prepared, details=details)
        assert self.table is not None
        return prepare_dataset(
            self.table,
            name=name,
            id_column=id_column,
            label=self.label,
            line_offset=self.line_offset,
            source=self.source,
            source_bytes=self.bytes,
            source_format=self.format,
            details={"source": self.source, "rows": self.table.num_rows, "id_column": id_column},
            unique_ids=False,  # a customer has many lines
            lineage=self.lineage,
        )

    def check_unchanged(self) -> None:
        """DuckDB read the Parquet file from disk, the lines' object came from the bytes read
        beside it: the two are the same file only if it did not change meanwhile."""
        if self.parquet is not None and _stat(self.parquet) != self.stat:
            raise InputError(f"{self.label}: the file changed while it was read; run it again")


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


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
    source = _Source(path, sql, url, spec.customer, parquet_in_place=True)
    name = name or stem_to_name(source.stem)
    lines_name = check_name(f"{name}{LINES_SUFFIX}"[:200], "dataset")
    check_spec(spec, source.columns)  # a bad spec is refused before any work starts
    with ThreadPoolExecutor(max_workers=1) as pool:
        preparing = pool.submit(source.prepare_lines, lines_name, spec.customer)
        derived = customers_from_transactions(source.lines, spec)
        customers = normalize_ids(
            derived.table, spec.customer, source.label, None, ids_from_text=source.ids_from_text
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
            details={
                "derived_from": lines_name,
                "rows": table.num_rows,
                "id_column": spec.customer,
            },
            lineage=lineage,
        )
        lines = preparing.result()
    source.check_unchanged()
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
