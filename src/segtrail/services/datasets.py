"""Datasets: ingest a customer table as an immutable, versioned snapshot; list and show them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, insert, select

from segtrail.engine.kinds import coerce_to_kind, infer_kind, summarize
from segtrail.errors import NotFound
from segtrail.readers import check_columns, check_unique_ids, normalize_ids, read_table
from segtrail.services.refs import check_name, parse_ref, stem_to_name
from segtrail.store import schema
from segtrail.store.metadata import utc_now
from segtrail.store.objects import encode_table

if TYPE_CHECKING:
    import pandas as pd

    from segtrail.services.workspace import Workspace


def ingest(ws: Workspace, path: str | Path, id_column: str, name: str | None = None) -> dict:
    """Read, validate and store a customer table. Nothing is written before the whole file
    has been read and checked; the object is written before the row that points at it."""
    path = Path(path)
    name = check_name(name, "dataset") if name else stem_to_name(path.stem)
    source = read_table(path, id_column)
    table = source.table
    check_columns(table, path.name)
    line_offset = 1 if source.format == "csv" else None
    table = normalize_ids(
        table,
        id_column,
        path.name,
        line_offset,
        ids_from_text=source.format in ("csv", "excel"),
        check_unique=False,  # checked below, while the object is encoded
    )
    prepared = prepare_dataset(
        table,
        name=name,
        id_column=id_column,
        label=path.name,
        line_offset=line_offset,
        source=str(path.resolve()),
        source_bytes=path.stat().st_size,
        source_format=source.format,
    )
    (result,) = record_datasets(ws, [prepared])
    details = {"encoding": source.encoding, "delimiter": source.delimiter}
    return {**result, **{k: v for k, v in details.items() if v}}


@dataclass(frozen=True)
class Lineage:
    """Where a dataset came from beyond its source file: `kind` transactions or sql, the
    spec as JSON-able data, and the dataset it was derived from (an index into the list
    given to `record_datasets`, so both can be recorded in one transaction)."""

    kind: str
    spec: dict
    derived_from: int | None = None


@dataclass(frozen=True)
class PreparedDataset:
    """A checked, encoded dataset version, not yet written anywhere."""

    name: str
    id_column: str
    rows: int
    columns: list[dict]
    data: Any  # the encoded Parquet bytes
    source: str
    source_bytes: int
    source_format: str
    lineage: Lineage | None = None


def prepare_dataset(
    table: pa.Table,
    *,
    name: str,
    id_column: str,
    label: str,
    line_offset: int | None,
    source: str,
    source_bytes: int,
    source_format: str,
    unique_ids: bool = True,
    lineage: Lineage | None = None,
) -> PreparedDataset:
    """Infer column kinds, check ids (unless `unique_ids` is False: order lines repeat a
    customer), summarise and encode an in-memory table. `label` names it in errors."""
    kinds = {}
    for column_name in table.column_names:
        column = table[column_name]
        kinds[column_name] = kind = infer_kind(column, is_id=column_name == id_column)
        coerced = coerce_to_kind(column, kind)
        if coerced is not column:
            table = table.set_column(table.column_names.index(column_name), column_name, coerced)

    # Encoding the Parquet object and the remaining checks and summaries all run in Arrow
    # without the GIL: overlap them. Nothing reaches the disk until every check has passed.
    dictionary = [c for c, kind in kinds.items() if kind in ("categorical", "boolean")]
    with ThreadPoolExecutor(max_workers=1) as pool:
        encoded = pool.submit(encode_table, table, dictionary)
        if unique_ids:
            check_unique_ids(table, id_column, label, line_offset)
        columns = [
            {
                "name": column_name,
                "kind": kinds[column_name],
                "type": str(table[column_name].type),
                "summary": summarize(table[column_name], kinds[column_name]),
            }
            for column_name in table.column_names
        ]
        data = encoded.result()
    return PreparedDataset(
        name, id_column, table.num_rows, columns, data, source, source_bytes, source_format, lineage
    )


def record_datasets(ws: Workspace, prepared: list[PreparedDataset]) -> list[dict]:
    """Write the objects, then record every dataset whose content differs from its latest
    version, with its lineage, in one metadata transaction. Each result says `unchanged`."""
    digests = [ws.objects.put_bytes(p.data) for p in prepared]
    latest = [_latest_version(ws, p.name) for p in prepared]
    unchanged = [
        old is not None and old["object_hash"] == digest and old["id_column"] == p.id_column
        for p, old, (digest, _) in zip(prepared, latest, digests, strict=True)
    ]
    ids: list[int] = []
    refs: list[str] = []
    with ws.meta.begin() as connection:
        for p, old, same, (digest, size) in zip(prepared, latest, unchanged, digests, strict=True):
            if same:
                ids.append(old["id"])
                refs.append(f"{old['name']}@{old['version']}")
                continue
            version = 1 + (
                connection.execute(
                    select(func.max(schema.datasets.c.version)).where(
                        schema.datasets.c.name == p.name
                    )
                ).scalar()
                or 0
            )
            details = {"source": p.source, "rows": p.rows, "id_column": p.id_column}
            if p.lineage is not None:
                details["lineage"] = p.lineage.kind
            event_id = ws.meta.record_event(
                connection, ws.author, "ingest", f"{p.name}@{version}", details
            )
            register_object(connection, digest, "dataset", size)
            result = connection.execute(
                insert(schema.datasets).values(
                    name=p.name,
                    version=version,
                    object_hash=digest,
                    id_column=p.id_column,
                    source=p.source,
                    source_bytes=p.source_bytes,
                    source_format=p.source_format,
                    rows=p.rows,
                    columns=json.dumps(p.columns),
                    event_id=event_id,
                )
            )
            ids.append(int(result.inserted_primary_key[0]))
            refs.append(f"{p.name}@{version}")
            if p.lineage is not None:
                parent = p.lineage.derived_from
                connection.execute(
                    insert(schema.dataset_lineage).values(
                        dataset_id=ids[-1],
                        derived_from_id=None if parent is None else ids[parent],
                        kind=p.lineage.kind,
                        spec=json.dumps(p.lineage.spec, sort_keys=True, default=str),
                    )
                )
    return [
        {**_public(resolve_dataset(ws, ref)), "unchanged": same}
        for ref, same in zip(refs, unchanged, strict=True)
    ]


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


def lineage_of(ws: Workspace, dataset_id: int) -> dict | None:
    """How a dataset was made when a file does not say it all (see `Lineage`), or None."""
    lin = schema.dataset_lineage
    rows = ws.meta.fetch(select(lin).where(lin.c.dataset_id == dataset_id))
    if not rows:
        return None
    row = rows[0]
    out = {"kind": row["kind"], "spec": json.loads(row["spec"]), "derived_from": None}
    if row["derived_from_id"] is not None:
        parent = resolve_dataset(ws, row["derived_from_id"])
        out["derived_from"] = f"{parent['name']}@{parent['version']}"
    return out


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
    info["lineage"] = lineage_of(ws, row["id"])
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
