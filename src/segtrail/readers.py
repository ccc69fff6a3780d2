"""Read a customer table from a user's file (CSV, Parquet, Excel) into Arrow, or refuse it.

Every refusal is an `InputError` whose one-line message names the file and, where it
applies, the row and column. Rows are counted from 1 for the first data row; for CSV the
file line is given too (the header is line 1).

This module finds out what a file is (format, compression, encoding, delimiter, decimal
mark) and reads it whole (`read_table`, for the small files of `assign`, campaigns and
audiences). `segtrail.stream_ingest` reads a dataset in record batches with the same
options and checks.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from segtrail.engine.arrays import null_of, text_array
from segtrail.errors import InputError

SNIFF_BYTES = 64 * 1024
SNIFF_ROWS = 200
PLAIN_INTEGER = r"^(0|-?[1-9][0-9]*)$"
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
PARQUET_MAGIC = b"PAR1"
COMPRESSION_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode text" export
# Bytes that occur in text files: printable ASCII, tab/CR/LF/FF, and 0x80-0xFF (non-ASCII
# characters in UTF-8 or a single-byte code page).
TEXT_BYTES = bytes([9, 10, 12, 13, *range(32, 127), *range(128, 256)])
DELIMITERS = ",;\t|"
# What a spreadsheet writes for "missing" (Arrow's list): missing in every column but the id
# column, where only an empty cell is a missing id ('NA' or 'NULL' can be a real id).
MISSING_MARKERS = tuple(pacsv.ConvertOptions().null_values)
DECIMAL_COMMA = re.compile(r"^[+-]?[0-9]+,[0-9]+$")
DECIMAL_POINT = re.compile(r"^[+-]?[0-9]*\.[0-9]+$")
# Id types that have no text form worth keeping as a customer id.
NESTED_OR_BYTES = (
    pa.types.is_list,
    pa.types.is_large_list,
    pa.types.is_fixed_size_list,
    pa.types.is_map,
    pa.types.is_struct,
    pa.types.is_union,
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_fixed_size_binary,
)


@dataclass(frozen=True)
class SourceOptions:
    """What the user told us about the file: extra missing-value markers (`--na`), the
    decimal mark (`--decimal`, None: detect) and the Excel sheet (`--sheet`)."""

    na: tuple[str, ...] = ()
    decimal: str | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    decimal: str = "."
    compression: str | None = None
    decimal_detected: bool = False


@dataclass(frozen=True)
class SourceTable:
    """A table read from a file, with what we learnt about the file on the way."""

    table: pa.Table
    format: str  # csv | parquet | excel
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    compression: str | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class Sniffed:
    """A file's first bytes (decompressed) and what they say it is."""

    format: str  # csv | parquet | excel
    head: bytes
    compression: str | None = None


def read_table(
    path: str | Path, id_column: str | None = None, options: SourceOptions | None = None
) -> SourceTable:
    """Read `path` whole by its content (and extension): CSV with detected delimiter and
    encoding, Parquet, or Excel. Raises InputError for anything that is not a usable table.
    A CSV's or workbook's `id_column` is read as text, so ids such as '00123' keep their
    zeros (see `normalize_ids(ids_from_text=True)`)."""
    path = Path(path)
    options = options or SourceOptions()
    sniffed = sniff(path)
    if sniffed.format == "parquet":
        return SourceTable(_read_parquet(path, id_column), "parquet")
    if sniffed.format == "excel":
        table, sheet = read_excel(path, id_column, options)
        return SourceTable(table, "excel", sheet=sheet)
    fmt = csv_format(path, sniffed, options)
    table = _read_csv_whole(path, fmt, id_column, options)
    if fmt.encoding == "utf-8" and any(pa.types.is_binary(f.type) for f in table.schema):
        # Invalid UTF-8 past the sniffed sample: Arrow falls back to binary columns.
        fmt = CsvFormat("cp1252", fmt.delimiter, fmt.decimal, fmt.compression)
        table = _read_csv_whole(path, fmt, id_column, options)
    check_not_empty(table, path.name)
    return SourceTable(
        table, "csv", fmt.encoding, fmt.delimiter, fmt.decimal, compression=fmt.compression
    )


def sniff(path: Path) -> Sniffed:
    """Which reader a file needs, from its first bytes and its name; refuses what is not a
    table at all (empty, binary, an archive)."""
    name = path.name
    head = _read_head(path)
    if not head:
        raise InputError(f"{name}: the file is empty")
    suffix = path.suffix.lower()
    if head.startswith(PARQUET_MAGIC) or suffix in PARQUET_SUFFIXES:
        return Sniffed("parquet", head)
    if suffix in EXCEL_SUFFIXES or head.startswith(OLE_MAGIC):
        return Sniffed("excel", head)
    if head.startswith(ZIP_MAGIC):
        raise InputError(f"{name}: not a table (a zip archive); give a .xlsx name if it is Excel")
    compression = next((c for m, c in COMPRESSION_MAGIC.items() if head.startswith(m)), None)
    if compression:
        head = _read_head(path, compression)
        if not head:
            raise InputError(f"{name}: the file is empty once decompressed ({compression})")
    if not head.startswith(UTF16_BOMS) and _looks_binary(head):
        raise InputError(f"{name}: not a table (binary content); expected CSV, Parquet or Excel")
    return Sniffed("csv", head, compression)


def _looks_binary(head: bytes) -> bool:
    """NUL bytes, or more control bytes than a stray one in a text field would explain."""
    if b"\x00" in head:
        return True
    controls = len(head.translate(None, TEXT_BYTES))
    return controls > max(4, len(head) // 100)


def _read_head(path: Path, compression: str | None = None) -> bytes:
    try:
        if compression is None:
            with path.open("rb") as f:
                return f.read(SNIFF_BYTES)
        with open_input(path, compression) as f:
            return f.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the file ({e.strerror or e})") from None
    except pa.ArrowException as e:  # a damaged compressed stream
        raise InputError(f"{path.name}: cannot decompress ({compression}): {e}") from None


def open_input(path: Path, compression: str | None) -> pa.NativeFile:
    """The file's bytes, decompressed as they are read."""
    return pa.input_stream(str(path), compression=compression)


def check_not_empty(table: pa.Table, name: str) -> None:
    if table.num_columns == 0:
        raise InputError(f"{name}: no columns found")
    if table.num_rows == 0:
        raise InputError(f"{name}: the file has a header but no rows")


# --- CSV: format detection -----------------------------------------------------------------


def csv_format(path: Path, sniffed: Sniffed, options: SourceOptions) -> CsvFormat:
    """Encoding, delimiter and decimal mark of a CSV file, from its first bytes."""
    encoding = _detect_encoding(sniffed.head)
    text = sniffed.head.decode(encoding, errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise InputError(f"{path.name}: the file has no content but blank lines")
    delimiter = _detect_delimiter(text)
    decimal, detected = options.decimal or ".", False
    if options.decimal is None and delimiter != ",":
        detected = _uses_decimal_commas(text, delimiter)
        decimal = "," if detected else "."
    return CsvFormat(encoding, delimiter, decimal, sniffed.compression, detected)


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


def _sample_rows(text: str, delimiter: str) -> list[list[str]]:
    """The header and up to SNIFF_ROWS rows of the sample, parsed with `delimiter`; a last
    row the sample may have cut short is left out."""
    complete = text if text.endswith(("\n", "\r")) else text[: max(text.rfind("\n"), 0)]
    reader = csv.reader(io.StringIO(complete or text, newline=""), delimiter=delimiter)
    rows = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) > SNIFF_ROWS:
                break
    except csv.Error:
        pass
    return rows


def _detect_delimiter(text: str) -> str:
    """The delimiter that splits the header into most columns... among those that also give
    the header's field count on the sample rows. The header decides first: a value such as
    '";x;y"' in the first data row must not outvote it. One column: ','."""
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        rows = _sample_rows(text, delimiter)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:]
        agreeing = sum(len(r) == width for r in body) / len(body) if body else 1.0
        score = (agreeing, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _uses_decimal_commas(text: str, delimiter: str) -> bool:
    """Numbers written '12,5' (and none written '12.5') in the sample's cells."""
    commas = points = 0
    for row in _sample_rows(text, delimiter)[1:]:
        for cell in row:
            cell = cell.strip()
            if DECIMAL_COMMA.match(cell):
                commas += 1
            elif DECIMAL_POINT.match(cell):
                points += 1
    return commas > 0 and points == 0


def csv_convert_options(
    fmt: CsvFormat,
    id_column: str | None,
    options: SourceOptions,
    column_types: dict[str, pa.DataType] | None = None,
) -> pacsv.ConvertOptions:
    """Arrow's conversion: the id column as text, missing markers for typed columns (text
    columns get theirs in `mark_missing`, so that the id column can keep 'NA' as an id)."""
    types = dict(column_types or {})
    if id_column:
        types[id_column] = pa.string()
    return pacsv.ConvertOptions(
        column_types=types,
        null_values=[*MISSING_MARKERS, *options.na],
        strings_can_be_null=False,
        decimal_point=fmt.decimal,
    )


def csv_read_options(fmt: CsvFormat, block_size: int | None = None) -> pacsv.ReadOptions:
    encoding = "utf8" if fmt.encoding == "utf-8" else fmt.encoding
    return pacsv.ReadOptions(encoding=encoding, block_size=block_size)


def mark_missing(
    table: pa.Table | pa.RecordBatch, id_column: str | None, options: SourceOptions
) -> pa.Table | pa.RecordBatch:
    """Missing-value markers in text columns become nulls: Arrow's list and `--na` in every
    column but the id column, where only an empty cell (and `--na`) is missing."""
    markers = text_array([*MISSING_MARKERS, *options.na])
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        # The id column's blank cells become missing when the ids are trimmed (trim_ids).
        if pa.types.is_string(column.type) and (name != id_column or options.na):
            value_set = text_array(options.na) if name == id_column else markers
            missing = pc.is_in(column, value_set=value_set)
            if pc.any(missing).as_py():
                column = pc.if_else(missing, null_of(pa.string()), column)
        columns.append(column)
    return type(table).from_arrays(columns, names=table.column_names)


# --- CSV: whole-file reading and errors ----------------------------------------------------


def _read_csv_whole(
    path: Path, fmt: CsvFormat, id_column: str | None, options: SourceOptions
) -> pa.Table:
    convert = csv_convert_options(fmt, id_column, options)
    error: pa.ArrowInvalid | None = None
    # Fast path first: Arrow splits the file into blocks at raw newlines. A quoted value
    # holding a line break can break that split; then read again allowing them.
    for newlines in (False, True):
        try:
            with open_input(path, fmt.compression) as f:
                table = pacsv.read_csv(
                    f,
                    read_options=csv_read_options(fmt, 64 << 20),
                    parse_options=pacsv.ParseOptions(
                        delimiter=fmt.delimiter, newlines_in_values=newlines
                    ),
                    convert_options=convert,
                )
            return mark_missing(table, id_column, options)
        except pa.ArrowInvalid as e:
            error = e
    raise csv_error(path, fmt, error)


def csv_error(path: Path, fmt: CsvFormat, error: Exception) -> InputError:
    """One line for a CSV Arrow could not parse."""
    message = str(error)
    if "Expected" in message and "columns" in message:
        return InputError(ragged_row_message(path, fmt))
    if "Empty CSV file" in message:
        return InputError(f"{path.name}: the file is empty")
    if "Duplicate" in message or "duplicate" in message:
        return InputError(f"{path.name}: {message}")
    first = message.splitlines()[0] if message else type(error).__name__
    return InputError(f"{path.name}: cannot parse as CSV ({first})")


def ragged_row_message(path: Path, fmt: CsvFormat) -> str:
    """Find the first row whose field count differs from the header's (error path only)."""
    with open_input(path, fmt.compression) as raw:
        text = io.TextIOWrapper(raw, encoding=fmt.encoding, errors="replace", newline="")
        reader = csv.reader(text, delimiter=fmt.delimiter)
        header = next(reader, [])
        for row_number, row in enumerate(reader, start=1):
            if row and len(row) != len(header):
                return (
                    f"{path.name}: row {row_number} (line {reader.line_num}) has {len(row)} "
                    f"fields but the header has {len(header)} columns"
                )
    return f"{path.name}: rows have different numbers of fields than the header"


# --- Parquet and Excel ---------------------------------------------------------------------


def check_parquet_ids(schema: pa.Schema, id_column: str | None, name: str) -> None:
    """An id column of nested or byte values cannot identify a customer: say so."""
    if id_column is None or id_column not in schema.names:
        return
    id_type = schema.field(id_column).type
    if any(test(id_type) for test in NESTED_OR_BYTES):
        raise InputError(
            f"{name}: column '{id_column}' holds {id_type} values, which cannot be customer "
            "ids; use a column of text or whole numbers"
        )


def parquet_error(name: str, error: BaseException) -> InputError:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return InputError(f"{name}: not a valid Parquet file ({first})")


def parquet_schema(path: Path, id_column: str | None) -> pa.Schema:
    """A Parquet file's schema from its footer, with the checks `read_table` makes on the
    whole table (a damaged file, an id column of nested values, no columns, no rows); the
    data pages are not read."""
    try:
        footer = pq.ParquetFile(path)
        schema, rows = footer.schema_arrow, footer.metadata.num_rows
        footer.close()
    except Exception as e:  # Arrow raises many kinds of errors for damaged files
        raise parquet_error(path.name, e) from None
    check_parquet_ids(schema, id_column, path.name)
    if not schema.names:
        raise InputError(f"{path.name}: no columns found")
    if rows == 0:
        raise InputError(f"{path.name}: the table has columns but no rows")
    return schema


def _read_parquet(path: Path, id_column: str | None) -> pa.Table:
    try:
        table = pq.read_table(path)
    except Exception as e:  # Arrow raises many kinds of errors for damaged files
        raise parquet_error(path.name, e) from None
    check_parquet_ids(table.schema, id_column, path.name)
    if table.num_columns == 0:
        raise InputError(f"{path.name}: no columns found")
    if table.num_rows == 0:
        raise InputError(f"{path.name}: the table has columns but no rows")
    return table


def read_excel(path: Path, id_column: str | None, options: SourceOptions) -> tuple[pa.Table, str]:
    """One sheet of a workbook (`options.sheet`: a name or a 1-based position; default the
    first), with the header checked as a CSV header is. Returns the table and sheet name."""
    import pandas as pd

    name = path.name
    try:
        book = pd.ExcelFile(path)
        sheet = _pick_sheet(book.sheet_names, options.sheet, name)
        # header=None: the header row is checked here (pandas would rename a repeated
        # 'age' to 'age.1'); keep_default_na=False: ids such as 'NA' stay ids, and the
        # missing markers are applied below, column by column.
        frame = pd.read_excel(
            book, sheet_name=sheet, header=None, dtype=object, keep_default_na=False
        )
    except InputError:
        raise
    except Exception as e:  # openpyxl/xlrd raise many kinds of errors for bad files
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{name}: not a readable Excel workbook ({first})") from None
    where = f"sheet '{sheet}'"
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(f"{name}: {where} is empty")
    header = [_header_cell(v) for v in frame.iloc[0]]
    empty = [str(i) for i, h in enumerate(header, start=1) if not h.strip()]
    if empty:
        raise InputError(f"{name}: {where}: the header row has empty cells (column {empty[0]})")
    check_header(header, f"{name}: {where}")
    if frame.shape[0] == 1:
        raise InputError(f"{name}: {where} has a header but no rows")
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
    markers = {*MISSING_MARKERS, *options.na}
    for column in header:
        values = frame[column]
        missing = values.isin(["", *options.na] if column == id_column else markers)
        values = values.mask(missing | values.isna())
        if column != id_column:
            values = values.infer_objects()
        if values.dtype == object:
            # Mixed cells (numbers and text) in one Excel column: keep them as text.
            values = values.where(values.isna(), values.astype(str))
        frame[column] = values
    try:
        return pa.Table.from_pandas(frame, preserve_index=False), sheet
    except (pa.ArrowException, TypeError, ValueError) as e:
        raise InputError(f"{name}: cannot convert {where} to a table ({e})") from None


def _header_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pick_sheet(sheets: list[str], wanted: str | None, name: str) -> str:
    if not sheets:
        raise InputError(f"{name}: the workbook has no sheets")
    if wanted is None:
        return sheets[0]
    if wanted in sheets:
        return wanted
    if wanted.isdigit() and 1 <= int(wanted) <= len(sheets):
        return sheets[int(wanted) - 1]
    listed = ", ".join(f"{i} '{s}'" for i, s in enumerate(sheets, start=1))
    raise InputError(f"{name}: no sheet '{wanted}' (sheets: {listed})")


# --- checks on the header and the id column ------------------------------------------------


def check_header(names: Iterable[str], where: str) -> None:
    seen: set[str] = set()
    for position, column in enumerate(names, start=1):
        if not column.strip():
            raise InputError(f"{where}: column {position} has an empty name in the header")
        if column in seen:
            raise InputError(f"{where}: column '{column}' appears twice in the header")
        seen.add(column)


def check_columns(table: pa.Table, name: str) -> None:
    """Column names must be unique and non-empty."""
    check_header(table.column_names, name)


def check_id_column(names: list[str], id_column: str, name: str) -> None:
    if id_column not in names:
        available = ", ".join(names[:20])
        raise InputError(f"{name}: no id column '{id_column}' (columns: {available})")


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
    check_id_column(table.column_names, id_column, name)
    where = row_words(line_offset)
    ids = trim_ids(table[id_column], id_column, name)
    if ids.null_count:
        first = first_true(pc.is_null(ids))
        raise InputError(empty_ids_message(name, id_column, where(first), ids.null_count))
    if ids_from_text and pa.types.is_string(ids.type) and all_plain_integers(ids):
        ids = integer_ids(ids) or ids
    table = table.set_column(table.column_names.index(id_column), id_column, ids)
    if check_unique:
        check_unique_ids(table, id_column, name, line_offset)
    return table


def trim_ids(ids: pa.ChunkedArray | pa.Array, id_column: str, name: str):
    """Ids as integers or trimmed text; blank text is a missing id (null)."""
    if pa.types.is_dictionary(ids.type):
        ids = pc.cast(ids, ids.type.value_type)
    if any(test(ids.type) for test in NESTED_OR_BYTES):
        raise InputError(
            f"{name}: column '{id_column}' holds {ids.type} values, which cannot be customer "
            "ids; use a column of text or whole numbers"
        )
    if not (pa.types.is_integer(ids.type) or pa.types.is_string(ids.type)):
        ids = pc.cast(ids, pa.string())
    if pa.types.is_string(ids.type):
        ids = pc.utf8_trim_whitespace(ids)
        # length 0 -> blank (cast, not a comparison with a Python 0: see engine/arrays.py)
        blank = pc.invert(pc.cast(pc.utf8_length(ids), pa.bool_()))
        ids = pc.if_else(blank, null_of(pa.string()), ids)
    return ids


def empty_ids_message(name: str, id_column: str, where_first: str, count: int) -> str:
    return f"{name}: {where_first}, column '{id_column}': empty id ({count:,} rows have no id)"


def all_plain_integers(ids) -> bool:
    """Every id written as a plain integer (nulls aside): no leading zeros, no '+'."""
    return bool(pc.all(pc.match_substring_regex(ids, PLAIN_INTEGER)).as_py() is not False)


def integer_ids(ids):
    """The ids as int64, or None when one is beyond int64 (then they stay text)."""
    try:
        return pc.cast(ids, pa.int64())
    except pa.ArrowInvalid:
        return None


def check_unique_ids(table: pa.Table, id_column: str, name: str, line_offset: int | None) -> None:
    """Refuse duplicate ids, naming the first duplicated id, its rows and the count."""
    ids = table[id_column]
    # the common case; the costlier count below only runs to explain. (unique, not
    # count_distinct: the same hash table, built in half the time at 1M text ids)
    if ids.null_count == 0 and len(pc.unique(ids)) == len(ids):
        return
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


def first_true(mask) -> int:
    """The position of the first true value of a boolean array (one is known to be true)."""
    return pc.indices_nonzero(mask)[0].as_py()


def row_words(line_offset: int | None) -> Callable[[int], str]:
    """How to name a 0-based row index in messages: 'row 5 (line 6)' for CSV, else 'row 5'."""

    def where(index: int) -> str:
        row = index + 1
        return f"row {row} (line {row + line_offset})" if line_offset is not None else f"row {row}"

    return where


__all__ = [
    "CsvFormat",
    "SourceOptions",
    "SourceTable",
    "check_columns",
    "check_unique_ids",
    "normalize_ids",
    "parquet_schema",
    "read_table",
    "row_words",
]
