"""Datasets: ingest a customer table as an immutable, versioned snapshot; list and show them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, insert, select

from segtrail.errors import InvalidInput, NotFound
from segtrail.readers import SourceOptions
from segtrail.services.refs import check_name, parse_ref, stem_to_name
from segtrail.store import schema
from segtrail.store.metadata import utc_now
from segtrail.stream_ingest import ingest_stream

COMPRESSED_SUFFIXES = {".gz", ".zst", ".zstd"}  # customers.csv.gz is dataset 'customers'

if TYPE_CHECKING:
    import pandas as pd

    from segtrail.services.workspace import Workspace


def ingest(
    ws: Workspace,
    path: str | Path,
    id_column: str,
    name: str | None = None,
    *,
    na: tuple[str, ...] = (),
    decimal: str | None = None,
    sheet: str | None = None,
) -> dict:
    """Read, validate and store a customer table. The file is read in batches and written
    to a temporary object as it goes; the object is put in place only once the whole file
    has been checked, and before the row that points at it. `na`: more missing-value
    markers; `decimal`: the decimal mark (None: detect); `sheet`: an Excel sheet's name or
    1-based position."""
    path = Path(path)
    stem = Path(path.stem).stem if path.suffix.lower() in COMPRESSED_SUFFIXES else path.stem
    name = check_name(name, "dataset") if name else stem_to_name(stem)
    if decimal not in (None, ".", ","):
        raise InvalidInput(f"decimal mark must be '.' or ',', not {decimal!r}")
    options = SourceOptions(na=tuple(na), decimal=decimal, sheet=sheet)
    stored = ingest_stream(
        ws.objects.put_stream,
        lambda digest, columns: ws.objects.read_table(digest, columns=columns),
        path,
        id_column,
        options,
    )
    digest, size, columns = stored.digest, stored.size, stored.columns
    # The names the metadata block below has always used for the source and its table.
    source = SimpleNamespace(format=stored.format)
    table = SimpleNamespace(num_rows=stored.rows)
    latest = _latest_version(ws, name)
    if latest is not None and latest["object_hash"] == digest and latest["id_column"] == id_column:
        return {**_public(latest), "unchanged": True}

    with ws.meta.begin() as connection:
        version = 1 + (
            connection.execute(
                select(func.max(schema.datasets.c.version)).where(schema.datasets.c.name == name)
            ).scalar()
            or 0
        )
        event_id = ws.meta.record_event(
            connection,
            ws.author,
            "ingest",
            f"{name}@{version}",
            {"source": str(path), "rows": table.num_rows, "id_column": id_column},
        )
        register_object(connection, digest, "dataset", size)
        connection.execute(
            insert(schema.datasets).values(
                name=name,
                version=version,
                object_hash=digest,
                id_column=id_column,
                source=str(path.resolve()),
                source_bytes=path.stat().st_size,
                source_format=source.format,
                rows=table.num_rows,
                columns=json.dumps(columns),
                event_id=event_id,
            )
        )
    row = resolve_dataset(ws, f"{name}@{version}")
    details = {k: v for k, v in stored.details.items() if v is not None}
    return {**_public(row), "unchanged": False, **details}


def register_object(connection: Any, digest: str, kind: str, size: int) -> None:
    exists = connection.execute(
        select(schema.objects.c.hash).where(schema.objects.c.hash == digest)
    ).first()
    if not exists:
        connection.execute(
            insert(schema.objects).values(hash=digest, kind=kind, bytes=size, created_at=utc_now())
        )


def _latest_version(ws: Workspace, name: str) -> dict | None:
    try:
        return resolve_dataset(ws, name)
    except NotFound:
        return None


def _select_datasets():
    d, e = schema.datasets, schema.events
    return select(d, e.c.at.label("created_at"), e.c.author).join(e, d.c.event_id == e.c.id)


def resolve_dataset(ws: Workspace, ref: str | int) -> dict:
    """A dataset row by `NAME`, `NAME@N` or numeric id; NAME alone is its latest version."""
    d = schema.datasets
    query = _select_datasets()
    if isinstance(ref, int):
        query = query.where(d.c.id == ref)
        label = f"dataset #{ref}"
    else:
        parsed = parse_ref(ref, "dataset")
        label = str(parsed)
        query = query.where(d.c.name == parsed.name)
        if parsed.version is not None:
            query = query.where(d.c.version == parsed.version)
        query = query.order_by(d.c.version.desc()).limit(1)
    with ws.meta.read() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no dataset {label}; `segtrail datasets` lists them")
    row = dict(row)
    row["columns"] = json.loads(row["columns"])
    return row


def _public(row: dict) -> dict:
    return {
        "dataset": f"{row['name']}@{row['version']}",
        "name": row["name"],
        "version": row["version"],
        "id_column": row["id_column"],
        "rows": row["rows"],
        "columns": row["columns"],
        "source": row["source"],
        "source_format": row["source_format"],
        "object": row["object_hash"],
        "created_at": row["created_at"],
        "author": row["author"],
    }


def newest_dataset(ws: Workspace) -> dict | None:
    """The most recently ingested dataset version, whatever its name."""
    rows = ws.meta.fetch(_select_datasets().order_by(schema.datasets.c.id.desc()).limit(1))
    if not rows:
        return None
    return resolve_dataset(ws, rows[0]["id"])


def list_datasets(ws: Workspace) -> list[dict]:
    d = schema.datasets
    with ws.meta.read() as connection:
        rows = connection.execute(_select_datasets().order_by(d.c.name, d.c.version)).mappings()
        out = []
        for row in rows:
            row = dict(row)
            row["columns"] = json.loads(row["columns"])
            public = _public(row)
            public["n_columns"] = len(public.pop("columns"))
            out.append(public)
    return out


def get_dataset(ws: Workspace, ref: str, rows: int = 0) -> dict:
    """A dataset's metadata; with `rows`, also its first `rows` rows by id under "data"."""
    row = resolve_dataset(ws, ref)
    info = _public(row)
    if rows > 0:
        info["data"] = first_rows(ws, row, rows)
    return info


def first_rows(ws: Workspace, row: dict, n: int) -> list[dict]:
    """The first `n` rows by id as plain Python values, straight from Arrow: an integer
    column with gaps stays integers (pandas would turn it into floats)."""
    table = load_table(ws, row)
    n = min(n, table.num_rows)
    order = pc.select_k_unstable(table, k=n, sort_keys=[(row["id_column"], "ascending")])
    return table.take(order).to_pylist()


def load_table(ws: Workspace, row: dict, columns: list[str] | None = None) -> pa.Table:
    return ws.objects.read_table(row["object_hash"], columns=columns)


def load_frame(ws: Workspace, row: dict, columns: list[str] | None = None) -> pd.DataFrame:
    """The dataset as a pandas frame (Arrow-backed strings stay cheap)."""
    return load_table(ws, row, columns).to_pandas()


def kinds_of(row: dict) -> dict[str, str]:
    return {c["name"]: c["kind"] for c in row["columns"]}
