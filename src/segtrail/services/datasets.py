"""Datasets: ingest a customer table as an immutable, versioned snapshot; list and show them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segtrail.errors import InvalidInput, NotFound
from segtrail.services.refs import check_name, parse_ref, stem_to_name
from segtrail.services.results import DatasetInfo, DatasetSummary
from segtrail.store.datasets import Lineage, NewDataset

# Arrow and the readers are imported by the functions that read or write data, not here:
# read commands (`show`, `log`, `datasets`) resolve datasets through this module and
# should not pay for them at start-up.

COMPRESSED_SUFFIXES = {".gz", ".zst", ".zstd"}  # customers.csv.gz is dataset 'customers'

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

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
    source_name: str | None = None,
) -> DatasetInfo:
    """Read, validate and store a customer table. The file is read in batches and written
    to a temporary object as it goes; the object is put in place only once the whole file
    has been checked, and before the row that points at it. `na`: more missing-value
    markers; `decimal`: the decimal mark (None: detect); `sheet`: an Excel sheet's name or
    1-based position; `source_name`: what to record as the source instead of the file's
    path (an upload's own file name: its temporary path means nothing later)."""
    from segtrail.readers import SourceOptions
    from segtrail.stream_ingest import ingest_stream

    path = Path(path)
    stem = Path(path.stem).stem if path.suffix.lower() in COMPRESSED_SUFFIXES else path.stem
    name = check_name(name, "dataset") if name else stem_to_name(stem)
    if decimal not in (None, ".", ","):
        raise InvalidInput(f"decimal mark must be '.' or ',', not {decimal!r}")
    options = SourceOptions(na=tuple(na), decimal=decimal, sheet=sheet)
    stored = ingest_stream(ws.objects.put_stream, _column_reader(ws), path, id_column, options)
    new = NewDataset(
        name=name,
        object_hash=stored.digest,
        object_bytes=stored.size,
        id_column=id_column,
        source=source_name or str(path.resolve()),
        source_bytes=path.stat().st_size,
        source_format=stored.format,
        rows=stored.rows,
        columns=stored.columns,
    )
    details = {"source": source_name or str(path), "rows": stored.rows, "id_column": id_column}
    row, created = ws.meta.datasets.append(new, ws.author, details)
    if not created:
        return DatasetInfo(**_public(row), unchanged=True)
    read = {k: v for k, v in stored.details.items() if v is not None}
    if row["version"] == 1:
        similar = _same_shape(ws, row)
        if similar is not None:
            read["same_columns_as"] = similar
    return DatasetInfo(**_public(row), unchanged=False, **read)


def _column_reader(ws: Workspace):
    """How ingest reads columns back from the object it has just written, for the summaries
    of a file too large to keep in memory. From a local store: those columns alone, from the
    object's file (a verified read would hold the whole object in memory for each column,
    4.5 GB for a 20M x 23 file; the bytes were hashed as they were written a moment ago).
    From a shared store: the verified read."""
    from segtrail.store.objects import LocalObjectStore

    if isinstance(ws.objects, LocalObjectStore):
        import pyarrow.parquet as pq

        objects = ws.objects
        return lambda digest, columns: pq.read_table(objects.path(digest), columns=columns)
    return lambda digest, columns: ws.objects.read_table(digest, columns=columns)


def _same_shape(ws: Workspace, row: dict) -> str | None:
    """The name of another dataset whose latest version has the same id column and the same
    columns: a new file of it imported under a new name (customers_v2.csv) by mistake."""
    shape = (row["id_column"], {c["name"] for c in row["columns"]})
    latest: dict[str, dict] = {}
    for other in ws.meta.datasets.list():  # ordered by name, version: the last one wins
        if other["name"] != row["name"]:
            latest[other["name"]] = other
    for name, other in latest.items():
        if (other["id_column"], {c["name"] for c in other["columns"]}) == shape:
            return name
    return None


@dataclass(frozen=True)
class PreparedDataset:
    """A checked and encoded dataset version (`data`: Parquet bytes), not yet written."""

    new: NewDataset  # object_hash and object_bytes are filled in when written
    data: Any
    details: dict  # the ingest event's details


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
    details: dict,
    unique_ids: bool = True,
    lineage: Lineage | None = None,
) -> PreparedDataset:
    """Infer column kinds, check ids (unless `unique_ids` is False: order lines repeat a
    customer), summarise and encode an in-memory table. `label` names it in errors."""
    import pyarrow as pa

    from segtrail.engine.kinds import (
        coerce_to_kind,
        infer_kind,
        is_text,
        read_text_numbers,
        summarize,
        with_text_note,
    )
    from segtrail.readers import check_unique_ids
    from segtrail.store.objects import encode_table

    kinds, from_text = {}, {}
    for column_name in table.column_names:
        column = table[column_name]
        kinds[column_name] = kind = infer_kind(column, is_id=column_name == id_column)
        if kind == "numeric" and is_text(column.type):  # numbers written as text
            values, found = read_text_numbers(column)
            coerced, from_text[column_name] = pa.chunked_array([values]), found.note()
        else:
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
                "summary": with_text_note(
                    summarize(table[column_name], kinds[column_name]), from_text.get(column_name)
                ),
            }
            for column_name in table.column_names
        ]
        data = encoded.result()
    new = NewDataset(
        name=name,
        object_hash="",
        object_bytes=0,
        id_column=id_column,
        source=source,
        source_bytes=source_bytes,
        source_format=source_format,
        rows=table.num_rows,
        columns=columns,
        lineage=lineage,
    )
    return PreparedDataset(new, data, details)


def prepare_parquet_lines(
    data: bytes,
    *,
    name: str,
    id_column: str,
    label: str,
    source: str,
    details: dict,
    lineage: Lineage | None = None,
) -> PreparedDataset:
    """A Parquet file's bytes (`data`) as a dataset whose ids need not be unique (order
    lines), stored as they are when no column needs converting: the object is then the
    file itself, and no second Parquet file is encoded. Kinds and summaries are read column
    by column from those bytes, with the same functions as `prepare_dataset`, so the record
    is the one it would make. A column it would store differently (boolean words, an
    all-empty column) sends the table through `prepare_dataset`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from segtrail.engine.kinds import coerce_to_kind, infer_kind, summarize
    from segtrail.readers import parquet_error

    def read(columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(pa.BufferReader(data), columns=columns)
        except Exception as e:  # Arrow raises many kinds of errors for damaged files
            raise parquet_error(label, e) from None

    new = NewDataset(
        name=name,
        object_hash="",
        object_bytes=0,
        id_column=id_column,
        source=source,
        source_bytes=len(data),
        source_format="parquet",
        rows=0,
        columns=[],
        lineage=lineage,
    )
    columns, rows = [], 0
    names = pq.ParquetFile(pa.BufferReader(data)).schema_arrow.names
    for column_name in names:
        column = read([column_name])[column_name]
        kind = infer_kind(column, is_id=column_name == id_column)
        if coerce_to_kind(column, kind) is not column:
            table = read()
            return prepare_dataset(
                table, name=name, id_column=id_column, label=label, line_offset=None,
                source=source, source_bytes=len(data), source_format="parquet",
                details=details, unique_ids=False, lineage=lineage,
            )  # fmt: skip
        rows = len(column)
        summary = summarize(column, kind)
        columns.append(
            {"name": column_name, "kind": kind, "type": str(column.type), "summary": summary}
        )
    return PreparedDataset(replace(new, rows=rows, columns=columns), data, details)


def record_datasets(ws: Workspace, prepared: list[PreparedDataset]) -> list[DatasetInfo]:
    """Write the objects, then record every dataset whose content differs from its newest
    version (with its lineage) in one metadata transaction. Each result says `unchanged`."""
    items = []
    for p in prepared:
        digest, size = ws.objects.put_bytes(p.data)
        details = (
            p.details if p.new.lineage is None else {**p.details, "lineage": p.new.lineage.kind}
        )
        items.append((replace(p.new, object_hash=digest, object_bytes=size), details))
    written = ws.meta.datasets.append_all(items, ws.author)
    return [DatasetInfo(**_public(row), unchanged=not created) for row, created in written]


def lineage_of(ws: Workspace, dataset_id: int) -> dict | None:
    """How a dataset was made when its source file does not say it all, or None."""
    row = ws.meta.datasets.lineage(dataset_id)
    if row is None:
        return None
    out = {"kind": row["kind"], "spec": row["spec"], "derived_from": None}
    if row["derived_from_id"] is not None:
        parent = resolve_dataset(ws, row["derived_from_id"])
        out["derived_from"] = f"{parent['name']}@{parent['version']}"
    return out


def resolve_dataset(ws: Workspace, ref: str | int) -> dict:
    """A dataset row by `NAME`, `NAME@N` or numeric id; NAME alone is its latest version."""
    if isinstance(ref, int):
        row, label = ws.meta.datasets.by_id(ref), f"dataset #{ref}"
    else:
        parsed = parse_ref(ref, "dataset")
        row, label = ws.meta.datasets.get(parsed.name, parsed.version), str(parsed)
    if row is None:
        raise NotFound(f"no dataset {label}; `segtrail datasets` lists them")
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
    return ws.meta.datasets.newest()


def list_datasets(ws: Workspace, include_retired: bool = False) -> list[DatasetSummary]:
    """Every dataset version, by name then version; retired names only with
    `include_retired` (and then marked)."""
    from segtrail.services.retirement import retired_names

    retired = retired_names(ws, "dataset")
    out = []
    for row in ws.meta.datasets.list():
        if row["name"] in retired and not include_retired:
            continue
        public = _public(row)
        public["n_columns"] = len(public.pop("columns"))
        out.append(DatasetSummary(**public, retired=retired.get(row["name"])))
    return out


def get_dataset(ws: Workspace, ref: str, rows: int = 0) -> DatasetInfo:
    """A dataset's metadata; with `rows`, also its first `rows` rows by id under "data"."""
    from segtrail.services.retirement import retired_mark

    row = resolve_dataset(ws, ref)
    return DatasetInfo(
        **_public(row),
        lineage=lineage_of(ws, row["id"]),
        retired=retired_mark(ws, "dataset", row["name"]),
        data=first_rows(ws, row, rows) if rows > 0 else None,
    )


def first_rows(ws: Workspace, row: dict, n: int) -> list[dict]:
    """The first `n` rows by id as plain Python values, straight from Arrow: an integer
    column with gaps stays integers (pandas would turn it into floats)."""
    import pyarrow.compute as pc

    table = load_table(ws, row)
    n = min(n, table.num_rows)
    order = pc.select_k_unstable(table, k=n, sort_keys=[(row["id_column"], "ascending")])
    return table.take(order).to_pylist()


def load_table(ws: Workspace, row: dict, columns: list[str] | None = None) -> pa.Table:
    return ws.objects.read_table(row["object_hash"], columns=columns)


def load_frame(
    ws: Workspace, row: dict, columns: list[str] | None = None, keep_arrow: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The dataset as a pandas frame. Columns in ``keep_arrow`` stay Arrow-backed (only
    carried through, e.g. the customer ids `segment` writes back: a million Python strings
    cost a second to make and to turn back into Arrow)."""
    table = load_table(ws, row, columns)
    kept = [c for c in keep_arrow if c in table.column_names]
    if not kept:
        return table.to_pandas()
    import pandas as pd

    frame = table.drop_columns(kept).to_pandas()
    for name in kept:
        position = table.column_names.index(name)
        values = pd.arrays.ArrowExtensionArray(table.column(name))
        frame.insert(position, name, pd.Series(values, index=frame.index))
    return frame


def kinds_of(row: dict) -> dict[str, str]:
    return {c["name"]: c["kind"] for c in row["columns"]}
