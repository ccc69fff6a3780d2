"""Read a customer table from a user's file (CSV, Parquet, Excel) into Arrow, or refuse it.

Every refusal is an `InputError` whose one-line message names the file and, where it
applies, the row and column. Rows are counted from 1 for the first data row; for CSV the
file line is given too (the header is line 1).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from segtrail.errors import InputError

SNIFF_BYTES = 64 * 1024
PLAIN_INTEGER = r"^(0|-?[1-9][0-9]*)$"
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
PARQUET_MAGIC = b"PAR1"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode text" export
# Bytes that occur in text files: printable ASCII, tab/CR/LF/FF, and 0x80-0xFF (non-ASCII
# characters in UTF-8 or a single-byte code page).
TEXT_BYTES = bytes([9, 10, 12, 13, *range(32, 127), *range(128, 256)])


@dataclass(frozen=True)
class SourceTable:
    """A table read from a file, with what we learnt about the file on the way."""

    table: pa.Table
    format: str  # csv | parquet | excel
    encoding: str | None = None
    delimiter: str | None = None


def read_table(path: str | Path, id_column: str | None = None) -> SourceTable:
    """Read `path` by its content (and extension): CSV with detected delimiter and encoding,
    Parquet, or Excel. Raises InputError for anything that is not a usable table.
    A CSV's or workbook's `id_column` is read as text, so ids such as '00123' keep their
    zeros (see `normalize_ids(ids_from_text=True)`)."""
    path = Path(path)
    name = path.name
    head = _read_head(path)
    if not head:
        raise InputError(f"{name}: the file is empty")
    suffix = path.suffix.lower()
    if head.startswith(PARQUET_MAGIC) or suffix in PARQUET_SUFFIXES:
        return SourceTable(_read_parquet(path), "parquet")
    if suffix in EXCEL_SUFFIXES or head.startswith(OLE_MAGIC):
        return SourceTable(_read_excel(path, id_column), "excel")
    if head.startswith(ZIP_MAGIC):
        raise InputError(f"{name}: not a table (a zip archive); give a .xlsx name if it is Excel")
    if not head.startswith(UTF16_BOMS) and _looks_binary(head):
        raise InputError(f"{name}: not a table (binary content); expected CSV, Parquet or Excel")
    return _read_csv(path, head, id_column)


def _looks_binary(head: bytes) -> bool:
    """NUL bytes, or more control bytes than a stray one in a text field would explain."""
    if b"\x00" in head:
        return True
    controls = len(head.translate(None, TEXT_BYTES))
    return controls > max(4, len(head) // 100)


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the file ({e.strerror or e})") from None


# --- CSV -----------------------------------------------------------------------------------


def _detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else cp1252 (the Windows superset of
    Latin-1 that spreadsheets export), else Latin-1, which decodes any byte. Statistical
    detectors guess Baltic or Arabic code pages for short Western samples, so we don't."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if head.startswith(UTF16_BOMS):
        return "utf-16"
    try:
        # A multi-byte character may be cut at the end of a sample shorter than the file.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < SNIFF_BYTES)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _detect_delimiter(text: str) -> str:
    lines = text.splitlines()[:50]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the sample may end mid-line
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        # One column, or nothing the sniffer recognises: count candidates in the header.
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _read_csv(path: Path, head: bytes, id_column: str | None) -> SourceTable:
    name = path.name
    encoding = _detect_encoding(head)
    text = head.decode(encoding, errors="replace")
    if not text.strip():
        raise InputError(f"{name}: the file has no content but blank lines")
    delimiter = _detect_delimiter(text.lstrip("\ufeff"))
    table = _parse_csv(path, encoding, delimiter, id_column)
    if encoding == "utf-8" and any(pa.types.is_binary(f.type) for f in table.schema):
        # Invalid UTF-8 past the sniffed sample: Arrow falls back to binary columns.
        encoding = "cp1252"
        table = _parse_csv(path, encoding, delimiter, id_column)
    if table.num_columns == 0:
        raise InputError(f"{name}: no columns found")
    if table.num_rows == 0:
        raise InputError(f"{name}: the file has a header but no rows")
    return SourceTable(table, "csv", encoding=encoding, delimiter=delimiter)


def _parse_csv(path: Path, encoding: str, delimiter: str, id_column: str | None) -> pa.Table:
    # Arrow's default null markers ("", NA, N/A, NaN, null, ...) apply to every column.
    read_options = pacsv.ReadOptions(encoding="utf8" if encoding == "utf-8" else encoding)
    convert_options = pacsv.ConvertOptions(
        strings_can_be_null=True, column_types={id_column: pa.string()} if id_column else None
    )
    try:
        # Fast path: Arrow splits the file into blocks at raw newlines and parses them in
        # parallel. A quoted value holding a line break (addresses, notes) can break that
        # split; the parse then fails and we read again allowing newlines in values.
        return _arrow_csv(path, read_options, delimiter, convert_options, newlines=False)
    except pa.ArrowInvalid:
        pass
    try:
        return _arrow_csv(path, read_options, delimiter, convert_options, newlines=True)
    except pa.ArrowInvalid as e:
        message = str(e)
        if "Expected" in message and "columns" in message:
            raise InputError(_ragged_row_message(path, encoding, delimiter)) from None
        if "Empty CSV file" in message:
            raise InputError(f"{path.name}: the file is empty") from None
        if "Duplicate" in message or "duplicate" in message:
            raise InputError(f"{path.name}: {message}") from None
        raise InputError(f"{path.name}: cannot parse as CSV ({message.splitlines()[0]})") from None


def _arrow_csv(path, read_options, delimiter, convert_options, *, newlines: bool) -> pa.Table:
    return pacsv.read_csv(
        path,
        read_options=read_options,
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines),
        convert_options=convert_options,
    )


def _ragged_row_message(path: Path, encoding: str, delimiter: str) -> str:
    """Find the first row whose field count differs from the header's (error path only)."""
    with path.open(encoding=encoding, errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, [])
        for row_number, row in enumerate(reader, start=1):
            if row and len(row) != len(header):
                return (
                    f"{path.name}: row {row_number} (line {reader.line_num}) has {len(row)} "
                    f"fields but the header has {len(header)} columns"
                )
    return f"{path.name}: rows have different numbers of fields than the header"


# --- Parquet and Excel ---------------------------------------------------------------------


def _read_parquet(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{path.name}: not a valid Parquet file ({first})") from None
    if table.num_columns == 0:
        raise InputError(f"{path.name}: no columns found")
    if table.num_rows == 0:
        raise InputError(f"{path.name}: the table has columns but no rows")
    return table


def _read_excel(path: Path, id_column: str | None) -> pa.Table:
    import pandas as pd

    # pandas turns text cells that look like numbers into numbers; the id column keeps the
    # cells as they are, so a text id '00123' keeps its zeros.
    dtype = {id_column: object} if id_column else None
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=dtype)
    except Exception as e:  # openpyxl/xlrd raise many kinds of errors for bad files
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{path.name}: not a readable Excel workbook ({first})") from None
    if frame.shape[1] == 0:
        raise InputError(f"{path.name}: the first sheet is empty")
    if frame.shape[0] == 0:
        raise InputError(f"{path.name}: the first sheet has a header but no rows")
    unnamed = [str(c) for c in frame.columns if str(c).startswith("Unnamed:")]
    if unnamed:
        raise InputError(f"{path.name}: the header row has empty cells ({', '.join(unnamed)})")
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        if frame[column].dtype == object:
            # Mixed cells (numbers and text) in one Excel column: keep them as text.
            values = frame[column]
            frame[column] = values.where(values.isna(), values.astype(str))
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as e:
        raise InputError(f"{path.name}: cannot convert the sheet to a table ({e})") from None


# --- checks on the id column ---------------------------------------------------------------


def check_columns(table: pa.Table, name: str) -> None:
    """Column names must be unique and non-empty."""
    seen: set[str] = set()
    for position, column in enumerate(table.column_names, start=1):
        if not column.strip():
            raise InputError(f"{name}: column {position} has an empty name in the header")
        if column in seen:
            raise InputError(f"{name}: column '{column}' appears twice in the header")
        seen.add(column)


def normalize_ids(
    table: pa.Table,
    id_column: str,
    name: str,
    line_offset: int | None,
    *,
    ids_from_text: bool = False,
    check_unique: bool = True,
) -> pa.Table:
    """Check the id column (present, no nulls, no duplicates) and give it a stable type:
    integers stay integers; anything else becomes text, so '00123' keeps its zeros.
    `ids_from_text`: the ids were read as text (CSV, Excel); make them integers when all are
    written as a plain integer (no leading zeros, no '+'), as a typed file would store them."""
    if id_column not in table.column_names:
        available = ", ".join(table.column_names[:20])
        raise InputError(f"{name}: no id column '{id_column}' (columns: {available})")
    ids = table[id_column]
    where = row_words(line_offset)
    if ids.null_count:
        first = pc.index(pc.is_null(ids), True).as_py()
        raise InputError(
            f"{name}: {where(first)}, column '{id_column}': empty id "
            f"({ids.null_count:,} rows have no id)"
        )
    if not (pa.types.is_integer(ids.type) or pa.types.is_string(ids.type)):
        ids = pc.cast(ids, pa.string())
    if pa.types.is_string(ids.type):
        stripped = pc.utf8_trim_whitespace(ids)
        empty = pc.equal(pc.utf8_length(stripped), 0)
        if pc.any(empty).as_py():
            first = pc.index(empty, True).as_py()
            raise InputError(f"{name}: {where(first)}, column '{id_column}': empty id")
        ids = stripped
        if ids_from_text:
            ids = _plain_integers(ids)
    table = table.set_column(table.column_names.index(id_column), id_column, ids)
    if check_unique:
        check_unique_ids(table, id_column, name, line_offset)
    return table


def check_unique_ids(table: pa.Table, id_column: str, name: str, line_offset: int | None) -> None:
    """Refuse duplicate ids, naming the first duplicated id, its rows and the count."""
    ids = table[id_column]
    if pc.count_distinct(ids).as_py() == len(ids):
        return  # the common case; the costlier count below only runs to explain
    where = row_words(line_offset)
    counts = pc.value_counts(ids)
    duplicated = pc.filter(counts, pc.greater(counts.field("counts"), 1))
    value = duplicated.field("values")[0].as_py()
    rows = pc.indices_nonzero(pc.equal(ids, pa.scalar(value, ids.type))).to_pylist()[:3]
    extra_rows = int(pc.sum(duplicated.field("counts")).as_py()) - len(duplicated)
    raise InputError(
        f"{name}: column '{id_column}': {len(duplicated):,} duplicate ids "
        f"({extra_rows:,} extra rows); first: {value!r} at " + " and ".join(where(r) for r in rows)
    )


def _plain_integers(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    if not pc.all(pc.match_substring_regex(ids, PLAIN_INTEGER)).as_py():
        return ids
    try:
        return pc.cast(ids, pa.int64())
    except pa.ArrowInvalid:  # beyond int64: keep the digits as text
        return ids


def row_words(line_offset: int | None) -> Callable[[int], str]:
    """How to name a 0-based row index in messages: 'row 5 (line 6)' for CSV, else 'row 5'."""

    def where(index: int) -> str:
        row = index + 1
        return f"row {row} (line {row + line_offset})" if line_offset is not None else f"row {row}"

    return where


__all__ = [
    "SourceTable",
    "check_columns",
    "check_unique_ids",
    "normalize_ids",
    "read_table",
    "row_words",
]
