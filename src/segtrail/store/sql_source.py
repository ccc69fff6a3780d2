"""Read the result of a SQL query into Arrow, from any SQLAlchemy URL (PostgreSQL, SQLite
files, DuckDB files through duckdb-engine), or refuse it in one line.

It reads a user's database, not the metadata store, but lives in store/ because store/ is
the one layer that speaks SQL (tests/test_layers.py). The URL is only ever shown without
its password. A file database (SQLite, DuckDB) must
exist: opening a missing one would quietly create an empty file.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from segtrail.errors import InputError
from segtrail.store.metadata import with_driver

FETCH_ROWS = 50_000
FILE_DIALECTS = ("sqlite", "duckdb")


@dataclass(frozen=True)
class SqlTable:
    table: pa.Table
    url: str  # without the password
    query: str


def shown_url(url: str) -> str:
    """The URL as recorded and printed: never with its password."""
    # URL.set(password=None) means "leave it": replace the field instead.
    return _parse(url)._replace(password=None).render_as_string(hide_password=False)


def _parse(url: str) -> URL:
    try:
        return make_url(url.strip())
    except (ArgumentError, ValueError):
        raise InputError(
            "not a database URL (expected e.g. postgresql+psycopg://user@host/db, "
            "sqlite:///shop.db or duckdb:///shop.duckdb)"
        ) from None


def default_name(query: str) -> str:
    """A dataset name from the query's first table (`FROM schema.orders` -> orders)."""
    match = re.search(r"\bfrom\s+([\"`]?)([A-Za-z_][\w.]*)\1", query, re.IGNORECASE)
    return match.group(2).rsplit(".", 1)[-1] if match else "query"


def read_sql(query: str, url: str) -> SqlTable:
    """Run `query` and return every row as an Arrow table (numeric decimals as floats)."""
    if not query.strip():
        raise InputError("the SQL query is empty")
    parsed = _parse(url)
    shown = shown_url(url)
    backend = parsed.get_backend_name()
    if backend in FILE_DIALECTS:
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise InputError(f"{shown}: name a database file to read from")
        if not Path(database).is_file():
            raise InputError(f"{shown}: no such database file {database}")
    connect_args = {"read_only": True} if backend == "duckdb" else {}
    try:
        # `postgresql://` (as psql prints it) would ask for psycopg2: use the installed psycopg.
        engine = create_engine(with_driver(url.strip()), connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError, ImportError) as e:
        raise InputError(f"cannot use {shown}: {_first_line(e)}") from None
    try:
        try:
            connection = engine.connect()
        except (SQLAlchemyError, OSError) as e:
            raise InputError(f"cannot connect to {shown}: {_first_line(e)}") from None
        with connection:
            try:
                result = connection.execute(text(query))
                if not result.returns_rows:
                    raise InputError(f"the query on {shown} returned no table (use SELECT)")
                names = list(result.keys())
                chunks = []
                while rows := result.fetchmany(FETCH_ROWS):
                    chunks.append(_to_arrow(names, rows))
            except SQLAlchemyError as e:
                raise InputError(f"the query failed on {shown}: {_first_line(e)}") from None
    finally:
        engine.dispose()
    if not chunks:
        raise InputError(f"the query on {shown} returned no rows")
    try:
        table = pa.concat_tables(chunks, promote_options="permissive")
    except pa.ArrowException as e:
        raise InputError(f"the query on {shown}: a column changes type ({e})") from None
    return SqlTable(table, shown, query)


def _to_arrow(names: list[str], rows: list) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    arrays = []
    for name, values in zip(names, columns, strict=True):
        try:
            arrays.append(_array(values))
        except (pa.ArrowException, TypeError, ValueError) as e:
            raise InputError(f"column '{name}' of the query result: {e}") from None
    return pa.Table.from_arrays(arrays, names=[str(n) for n in names])


def _array(values: tuple) -> pa.Array:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, decimal.Decimal):  # NUMERIC columns: amounts, as floats
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if isinstance(sample, uuid.UUID):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if isinstance(sample, dt.datetime) and sample.tzinfo is not None:
        values = tuple(None if v is None else v.astimezone(dt.UTC) for v in values)
    return pa.array(values)


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    message = str(original).strip().splitlines()
    return message[0] if message else type(original).__name__


__all__ = ["SqlTable", "default_name", "read_sql", "shown_url"]
