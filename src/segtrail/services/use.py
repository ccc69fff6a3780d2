"""Using a segmentation: export its assignments, assign new customers with its fitted state."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segtrail.atomic import atomic_write
from segtrail.engine.algorithms import get_algorithm
from segtrail.engine.features import model_matrix, transform_features
from segtrail.engine.membership import centre_margin, segment_centres
from segtrail.errors import InputError, InvalidInput, SegtrailError
from segtrail.readers import normalize_ids, read_table
from segtrail.services.datasets import load_frame, resolve_dataset
from segtrail.services.results import Assignment, Export
from segtrail.services.segmentations import ref_of, resolve_segmentation, segment_names

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


# A text cell starting with one of these is run as a formula when the CSV is opened in a
# spreadsheet (OWASP "CSV injection"): =HYPERLINK(...) as a customer id or segment name.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def output_format(out: str | Path) -> str:
    suffix = Path(out).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InvalidInput(f"{out}: the output name must end in .csv or .parquet")
    return OUTPUT_FORMATS[suffix]


def check_output(ws: Workspace, out: str | Path, formats: dict[str, str] = OUTPUT_FORMATS) -> str:
    """Refuse an output path before any work: a known suffix, an existing folder, and never
    inside the workspace's store (a file written there could replace an object)."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in formats:
        raise InvalidInput(f"{out}: the output name must end in {' or '.join(sorted(formats))}")
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise InvalidInput(f"{out}: folder {path.parent} does not exist")
    if folder == ws.dir or ws.dir in folder.parents:
        raise InvalidInput(f"{out}: will not write inside the workspace's store {ws.dir}")
    return formats[suffix]


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as formulas get a leading ' (OWASP's rule),
    which spreadsheets show as plain text."""
    out = frame
    for column in frame.columns:
        values = frame[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        risky = values.astype("string").str.startswith(FORMULA_START).fillna(False).to_numpy(bool)
        if risky.any():
            out = out.copy() if out is frame else out
            out[column] = values.where(~risky, "'" + values.astype("string"))
    return out


def write_frame(frame: pd.DataFrame, out: str | Path, *, raw: bool = False) -> str:
    """Write atomically (temporary file, then rename); returns the file's SHA-256. A CSV
    is made spreadsheet-safe unless `raw`."""
    out = Path(out)
    fmt = output_format(out)
    if out.parent and not out.parent.exists():
        raise InvalidInput(f"{out}: folder {out.parent} does not exist")
    if fmt == "csv":
        data = (frame if raw else spreadsheet_safe(frame)).to_csv(index=False).encode()
    else:
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
        data = sink.getvalue().to_pybytes()
    atomic_write(out, data)
    return hashlib.sha256(data).hexdigest()


def _labelled(labels: np.ndarray, confidence: np.ndarray, ids, names: dict[int, str]):
    return pd.DataFrame(
        {
            "customer_id": ids,
            "segment": labels.astype(np.int32),
            "segment_name": pd.Series(labels).map(names).fillna("unassigned").to_numpy(),
            "confidence": np.asarray(confidence, dtype=np.float32),
        }
    )


def record_export(
    ws: Workspace, target: str, fmt: str, out: Path, rows: int, digest: str, provenance: dict
) -> None:
    path = str(Path(out).resolve())
    ws.meta.exports.append(target, fmt, path, rows, digest, provenance, ws.author)


def _version_matrix(ws: Workspace, row: dict, ids: np.ndarray) -> np.ndarray:
    """The version's feature matrix for customers `ids` of its dataset (its fitted state)."""
    dataset = resolve_dataset(ws, row["dataset_id"])
    fitted = row["feature_spec"]["fitted"]
    id_column = dataset["id_column"]
    columns = [id_column, *dict.fromkeys(c["column"] for c in fitted["columns"])]
    frame = load_frame(ws, dataset, columns).set_index(id_column)
    return transform_features(frame.reindex(pd.Index(ids)), fitted)


def _membership(
    row: dict, X: np.ndarray, labels: np.ndarray, stored: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(distance_to_centre, confidence 0..1): see engine/membership.py."""
    distance, confidence = centre_margin(X, labels, centres)
    if get_algorithm(row["algorithm"]).higher_confidence_is_better:
        # mixture models: the model's own posterior probability of the segment
        confidence = np.clip(np.asarray(stored, dtype=np.float32), 0, 1)
    return distance, confidence


def _training(ws: Workspace, row: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The version's customers: (ids, labels, stored per-customer values)."""
    table = ws.objects.read_table(row["assignments_hash"])
    return (
        table["customer_id"].to_numpy(zero_copy_only=False),
        table["segment"].to_numpy(),
        table["confidence"].to_numpy(),
    )


def export(ws: Workspace, ref: str, out: str | Path, *, raw: bool = False) -> Export:
    """customer_id, segment, segment_name, distance_to_centre and confidence (0..1) for every
    customer of the version."""
    row = resolve_segmentation(ws, ref)
    check_output(ws, out)
    ids, labels, stored = _training(ws, row)
    X = _version_matrix(ws, row, ids)
    distance, confidence = _membership(row, X, labels, stored, segment_centres(X, labels))
    frame = _labelled(labels, confidence, ids, segment_names(ws, row))
    frame.insert(3, "distance_to_centre", distance)
    digest = write_frame(frame, out, raw=raw)
    record_export(
        ws, ref_of(row), output_format(out), Path(out), len(frame), digest, {"version": ref_of(row)}
    )
    return Export(version=ref_of(row), out=str(out), rows=len(frame), sha256=digest)


def assign(
    ws: Workspace, ref: str, file: str | Path, out: str | Path, *, raw: bool = False
) -> Assignment:
    """Put new customers into the version's segments using its stored fitted state."""
    row = resolve_segmentation(ws, ref)
    check_output(ws, out)
    dataset = resolve_dataset(ws, row["dataset_id"])
    id_column = dataset["id_column"]
    source = read_table(file, id_column)
    name = Path(file).name
    if id_column not in source.table.column_names:
        raise InputError(f"{name}: no id column '{id_column}' (the id column of {dataset['name']})")
    # Ids are read as ingest reads them, so '00123' stays '00123' and matches the dataset.
    table = normalize_ids(
        source.table,
        id_column,
        name,
        1 if source.format == "csv" else None,
        ids_from_text=source.format in ("csv", "excel"),
    )
    frame = table.to_pandas()
    fitted = row["feature_spec"]["fitted"]
    try:
        if fitted.get("model_input") == "model_matrix":  # the latent class model's input
            X = model_matrix(frame, fitted)[0]
        else:
            X = transform_features(frame, fitted)
    except SegtrailError as e:
        raise InputError(f"{name}: {e}") from None
    params = row["params"]
    state = {**params["state"], **ws.objects.read_arrays(row["state_hash"])}
    labels, stored = get_algorithm(row["algorithm"]).assign(state, X)
    train_ids, train_labels, _ = _training(ws, row)
    centres = segment_centres(_version_matrix(ws, row, train_ids), train_labels)
    # distances are measured in the scaled feature space, whatever the model's input was
    scaled = X if fitted.get("model_input") != "model_matrix" else transform_features(frame, fitted)
    distance, confidence = _membership(row, scaled, labels, stored, centres)
    result = _labelled(labels, confidence, frame[id_column].to_numpy(), segment_names(ws, row))
    result.insert(3, "distance_to_centre", distance)
    digest = write_frame(result, out, raw=raw)
    counts = result["segment"].value_counts().sort_index()
    return Assignment(
        version=ref_of(row),
        out=str(out),
        rows=len(result),
        sha256=digest,
        segments={int(k): int(v) for k, v in counts.items()},
    )
