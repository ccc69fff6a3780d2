"""Ingest a customer table as a stream of record batches, written to Parquet as it is read.

The file is read in record batches; each batch is checked (ids present, kinds) and written
to the object store's temporary file, hashed on the way, so memory stays flat whatever the
file's size. Ids are checked unique over the whole file before the object is put in place.

Arrow infers a CSV column's type from the first block only; a whole-file read would widen
it when a later value does not fit (an integer column with text a million rows down). We do
the same by starting again: the column gets the first type in Arrow's inference order that
the offending value parses as, and the file is read again with the types learnt so far.
Boolean words ('yes'/'no', stored as booleans), numbers written as text ('$1,234.00',
stored as float64, see kinds.NOT_NUMBER_SHARE) and integer ids (stored as integers) are
decided the same way: from the first batch, corrected by a restart when a later batch (for
numbers: the whole column) disagrees. Restarts are rare (real files rarely change type past
their first megabytes) and each is a plain re-read, so the stored dataset is the one a
whole-file read would give.

Arrow's streaming CSV reader parses on one thread, while its whole-file reader uses every
core. So a CSV file is cut into pieces at line breaks (what Arrow's own blocks do when
values hold no line breaks) and the pieces are parsed by a thread per core, a few ahead of
the writer and in file order: memory stays flat and the parse no longer waits on one core.
Anything that piece-wise parsing cannot word exactly (a ragged row, a line break inside
quotes at a cut) sends the file back to the streaming reader, which reads it as before.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from segtrail.engine.kinds import (
    MAX_CATEGORY_LEVELS,
    NOT_NUMBER_SHARE,
    TextNumbers,
    are_boolean_words,
    coerce_to_kind,
    count_not_numbers,
    infer_kind,
    read_text_numbers,
    summarize,
    with_text_note,
)
from segtrail.errors import InputError
from segtrail.readers import (
    MISSING_MARKERS,
    CsvFormat,
    SourceOptions,
    all_plain_integers,
    check_header,
    check_id_column,
    check_parquet_ids,
    check_unique_ids,
    csv_convert_options,
    csv_error,
    csv_format,
    csv_read_options,
    empty_ids_message,
    first_true,
    integer_ids,
    mark_missing,
    open_input,
    parquet_error,
    read_excel,
    row_words,
    sniff,
    trim_ids,
)

BLOCK_SIZE = 1 << 20  # CSV bytes per batch (Arrow's default, its fastest); a longer row raises it
PIECE_SIZE = 8 << 20  # CSV bytes per piece parsed in parallel (after a first block's worth)
# Encodings in which a line break is the byte b"\n" or b"\r" and never part of a character:
# a file in them can be cut at those bytes. UTF-16 cannot.
PIECEWISE_ENCODINGS = ("utf-8", "cp1252", "latin-1")
MAX_BLOCK_SIZE = 1 << 30
ROW_GROUP_ROWS = 1 << 18  # rows per Parquet row group (batches are gathered to this)
PARQUET_BATCH_ROWS = 1 << 17
KEEP_BYTES = 512 << 20  # batches up to this size stay in memory for the summaries
MAX_RESTARTS = 64
# Arrow's CSV type inference order (arrow/csv/inference_internal.h): a column gets the first
# of these that parses all its values. Past the last: text.
INFERENCE_ORDER = (
    pa.null(),
    pa.int64(),
    pa.bool_(),
    pa.float64(),
    pa.date32(),
    pa.time32("s"),
    pa.timestamp("s"),
    pa.timestamp("ns"),
    pa.timestamp("s", "UTC"),
    pa.timestamp("ns", "UTC"),
    pa.string(),
)
ANY_BUT_LINE_BREAKS = re.compile(rb"[^\r\n]")
CONVERSION_ERROR = re.compile(
    r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (.+?): "
    r"(?:invalid value|expected (?:no|a) zone offset in) '(.*)'(?:\.[^']*)?$",
    re.S,
)


@dataclass
class Plan:
    """What a read has learnt so far; a restart reads the file again with it."""

    types: dict[str, pa.DataType] = field(default_factory=dict)  # CSV column types
    ids_text: bool | None = None  # None: decide from the first batch
    booleans: set[str] = field(default_factory=set)  # text columns stored as booleans
    not_booleans: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)  # text columns stored as float64
    not_numbers: set[str] = field(default_factory=set)  # read whole: they break the rule
    encoding: str | None = None  # CSV: overrides the detected encoding
    newlines: bool = False  # CSV: quoted values may hold line breaks
    serial: bool = False  # CSV: read with Arrow's streaming reader, not in parallel pieces
    block_size: int | None = None  # CSV: None is BLOCK_SIZE; a very long row raises it


class Restart(Exception):
    def __init__(self, plan: Plan) -> None:
        super().__init__("restart")
        self.plan = plan


@dataclass(frozen=True)
class Ingested:
    """A dataset object written to the store, with its columns' kinds and summaries."""

    digest: str
    size: int
    rows: int
    columns: list[dict]
    format: str
    details: dict  # what was learnt about the file: encoding, delimiter, decimal...


@dataclass
class _Source:
    """One format's batches, and how to name rows in its messages."""

    path: Path
    format: str
    line_offset: int | None
    ids_from_text: bool
    batches: Callable[[Plan], Iterator[pa.RecordBatch]]
    details: Callable[[Plan], dict]
    # At most how many rows the source holds, given its number of columns (None: unknown).
    max_rows: Callable[[int], int | None]


def ingest_stream(
    put_stream: Callable[[Callable[[BinaryIO], None]], tuple[str, int]],
    read_object: Callable[[str, list[str]], pa.Table],
    path: str | Path,
    id_column: str,
    options: SourceOptions | None = None,
) -> Ingested:
    """Read, check and store `path` as one Parquet object through `put_stream` (see
    ObjectStore.put_stream); nothing is stored unless every check passes. `read_object`
    reads columns back for the summaries of files too large to keep in memory."""
    path = Path(path)
    options = options or SourceOptions()
    source = _open_source(path, id_column, options)
    plan = Plan()
    for _ in range(MAX_RESTARTS):
        writer = _DatasetWriter(source, id_column, plan)
        try:
            digest, size = put_stream(writer.write)
        except Restart as restart:
            plan = restart.plan
            continue
        break
    else:  # pragma: no cover - each restart settles at least one column for good
        raise InputError(f"{path.name}: column types keep changing; cannot read the file")
    columns = writer.columns or _describe(writer, lambda name: read_object(digest, [name])[name])
    return Ingested(digest, size, writer.rows, columns, source.format, source.details(plan))


# --- sources -------------------------------------------------------------------------------


def _open_source(path: Path, id_column: str, options: SourceOptions) -> _Source:
    sniffed = sniff(path)
    if sniffed.format == "parquet":
        return _Source(
            path,
            "parquet",
            None,
            False,
            lambda plan: _parquet_batches(path, id_column),
            lambda plan: {},
            lambda columns: _parquet_rows(path),
        )
    if sniffed.format == "excel":
        table, sheet = read_excel(path, id_column, options)
        check_id_column(table.column_names, id_column, path.name)
        return _Source(
            path,
            "excel",
            None,
            True,
            lambda plan: iter(table.to_batches(max_chunksize=PARQUET_BATCH_ROWS)),
            lambda plan: {"sheet": sheet},
            lambda columns: table.num_rows,
        )
    fmt = csv_format(path, sniffed, options)

    def details(plan: Plan) -> dict:
        return {
            "encoding": plan.encoding or fmt.encoding,
            "delimiter": fmt.delimiter,
            "decimal": fmt.decimal,
            "decimal_detected": fmt.decimal_detected,
            "compression": fmt.compression,
        }

    return _Source(
        path,
        "csv",
        1,
        True,
        lambda plan: _csv_batches(path, fmt, id_column, options, plan),
        details,
        lambda columns: _csv_max_rows(path, fmt, columns),
    )


def _csv_max_rows(path: Path, fmt: CsvFormat, columns: int) -> int | None:
    """A row of `columns` values takes at least `columns` bytes (the separators and the line
    break), in any encoding; a compressed file's size says nothing."""
    if fmt.compression is not None:
        return None
    return path.stat().st_size // max(columns, 1)


def _parquet_rows(path: Path) -> int | None:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # the batches word the damage
        return None


def _parquet_batches(path: Path, id_column: str) -> Iterator[pa.RecordBatch]:
    """The file's record batches, one row group at a time: Arrow's reader over the whole
    file keeps what it has read until the end (live memory grew to 1.36 GB over a 1.3 GB
    file of 10M x 23, and took four times as long); a row group at a time it stays near one
    row group's size (210 MB there)."""
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except Exception as e:  # Arrow raises many kinds of errors for damaged files
        raise parquet_error(path.name, e) from None
    check_header(schema.names, path.name)
    check_id_column(schema.names, id_column, path.name)
    check_parquet_ids(schema, id_column, path.name)
    if parquet.metadata.num_rows == 0:
        raise InputError(f"{path.name}: the table has columns but no rows")
    for group in range(parquet.num_row_groups):
        batches = parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group])
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception as e:
                raise parquet_error(path.name, e) from None
            yield batch


def _csv_batches(
    path: Path, fmt: CsvFormat, id_column: str, options: SourceOptions, plan: Plan
) -> Iterator[pa.RecordBatch]:
    if plan.encoding:
        fmt = replace(fmt, encoding=plan.encoding)
    if plan.serial or plan.newlines or fmt.encoding not in PIECEWISE_ENCODINGS:
        return _csv_batches_serial(path, fmt, id_column, options, plan)
    return _csv_batches_in_pieces(path, fmt, id_column, options, plan)


def _csv_batches_in_pieces(
    path: Path, fmt: CsvFormat, id_column: str, options: SourceOptions, plan: Plan
) -> Iterator[pa.RecordBatch]:
    """The file's batches, parsed piece by piece on every core and yielded in file order.
    The first piece (about one block, as Arrow's streaming reader infers types from its
    first block) is parsed alone; its types are then given for every other piece."""
    parse = pacsv.ParseOptions(delimiter=fmt.delimiter)
    encoding = csv_read_options(fmt).encoding
    types: dict[str, pa.DataType] | None = dict(plan.types) or None
    workers = max(2, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        with open_input(path, fmt.compression) as raw:
            pieces = _line_pieces(raw, BLOCK_SIZE, PIECE_SIZE)
            first = next(pieces, None)
            if first is None:
                raise Restart(replace(plan, serial=True))  # empty: the reader words it
            head = pacsv.read_csv(
                pa.py_buffer(first),
                read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False),
                parse_options=parse,
                convert_options=csv_convert_options(fmt, id_column, options, plan.types),
            )
            _check_cut(head, plan)
            names = head.column_names
            check_header(names, path.name)
            check_id_column(names, id_column, path.name)
            if fmt.encoding == "utf-8" and any(pa.types.is_binary(t) for t in head.schema.types):
                raise Restart(replace(plan, encoding="cp1252"))  # invalid UTF-8 in a value
            types = dict(zip(names, head.schema.types, strict=True))
            convert = csv_convert_options(fmt, id_column, options, types)

            def parse_piece(piece: memoryview) -> list[pa.RecordBatch]:
                # Arrow's 1 MB blocks within a piece: one block per piece costs a third more
                # CPU (it no longer fits the CPU's cache).
                read = pacsv.ReadOptions(encoding=encoding, column_names=names, use_threads=False)
                table = pacsv.read_csv(
                    pa.py_buffer(piece), read_options=read, parse_options=parse,
                    convert_options=convert,
                )  # fmt: skip
                _check_cut(table, plan)
                # One batch per piece, not one per block: each batch's checks cost the main
                # thread a fixed part (a regular expression compiled, Python calls), and
                # the copy here runs beside it
                table = table.combine_chunks()
                return [mark_missing(b, id_column, options) for b in table.to_batches()]

            ahead: deque = deque()
            for piece in pieces:
                ahead.append(pool.submit(parse_piece, piece))
                if head is not None:  # the first piece goes out once the next are under way
                    yield from (mark_missing(b, id_column, options) for b in head.to_batches())
                    head = None
                if len(ahead) > workers:
                    yield from ahead.popleft().result()
            if head is not None:
                yield from (mark_missing(b, id_column, options) for b in head.to_batches())
            while ahead:
                yield from ahead.popleft().result()
    except pa.ArrowInvalid as e:
        raise _piece_failure(fmt, options, plan, types, e) from None
    except OSError as e:
        raise InputError(f"{path.name}: cannot read the file ({e.strerror or e})") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _check_cut(table: pa.Table, plan: Plan) -> None:
    """A piece cut inside a quoted value (a line break in it) parses without complaint when
    that value is in the last column: the value then ends with the line break the piece was
    cut at. Seen, the file is read with quoted line breaks allowed, as one stream. (A value
    that really ends with a line break is read that way too: slower, never wrong.) Cut in
    any other column, the row comes out short and Arrow refuses it."""
    if table.num_rows == 0 or table.num_columns == 0:
        return
    last = table.column(table.num_columns - 1)
    if pa.types.is_string(last.type) or pa.types.is_large_string(last.type):
        value = last[len(last) - 1].as_py()
        if value is not None and value.endswith(("\n", "\r")):
            raise Restart(replace(plan, newlines=True))


def _line_pieces(raw: BinaryIO, first: int, size: int) -> Iterator[memoryview]:
    """The stream's bytes in pieces of about `first`, then `size`, bytes, each ending at a
    line break (a piece grows until it holds one); pieces of nothing but line breaks are
    left out, as Arrow skips empty lines. Each piece is read into its own buffer and handed
    out as a view: no copy of the bytes but the part line carried to the next piece."""
    carry = b""
    want = first
    while True:
        buffer = bytearray(len(carry) + want)
        buffer[: len(carry)] = carry
        filled = len(carry) + _read_into(raw, memoryview(buffer)[len(carry) :])
        if filled == len(carry):  # the end of the stream
            if ANY_BUT_LINE_BREAKS.search(carry):
                yield memoryview(carry)
            return
        cut = buffer.rfind(b"\n", 0, filled) + 1
        cut = max(cut, buffer.rfind(b"\r", cut, filled) + 1)  # old Mac files end lines so
        if cut == 0:  # no line break yet: read on
            carry = bytes(buffer[:filled])
            continue
        piece = memoryview(buffer)[:cut]
        if ANY_BUT_LINE_BREAKS.search(piece):
            yield piece
        carry = bytes(buffer[cut:filled])
        want = size


def _read_into(raw: BinaryIO, view: memoryview) -> int:
    """Fill `view` from the stream (a decompressing stream returns a little at a time);
    returns how many bytes came, fewer only at the end of the stream."""
    filled = 0
    while filled < len(view):
        n = raw.readinto(view[filled:])
        if not n:
            break
        filled += n
    return filled


def _piece_failure(
    fmt: CsvFormat,
    options: SourceOptions,
    plan: Plan,
    types: dict[str, pa.DataType] | None,
    error: pa.ArrowInvalid,
) -> Restart:
    """A value of a wider type or not UTF-8: the same restart as the streaming reader's.
    Anything else is read again by the streaming reader, which words the error (or finds
    quoted line breaks) exactly as before."""
    message = str(error)
    if "invalid UTF8" in message and fmt.encoding == "utf-8":
        return Restart(replace(plan, encoding="cp1252"))
    conversion = CONVERSION_ERROR.match(message.strip())
    if conversion and types is not None:
        position, _type_name, value = conversion.groups()
        column = list(types)[int(position)]
        return Restart(
            replace(plan, types={**types, column: _wider_type(types[column], value, fmt, options)})
        )
    return Restart(replace(plan, serial=True))


def _csv_batches_serial(
    path: Path, fmt: CsvFormat, id_column: str, options: SourceOptions, plan: Plan
) -> Iterator[pa.RecordBatch]:
    convert = csv_convert_options(fmt, id_column, options, plan.types)
    # Column types as far as known: after a restart, all of them (in file order).
    plan_types: dict[str, pa.DataType] | None = dict(plan.types) or None
    parse = pacsv.ParseOptions(delimiter=fmt.delimiter, newlines_in_values=plan.newlines)
    try:
        with open_input(path, fmt.compression) as raw:
            reader = pacsv.open_csv(
                raw,
                read_options=csv_read_options(fmt, plan.block_size or BLOCK_SIZE),
                parse_options=parse,
                convert_options=convert,
            )
            check_header(reader.schema.names, path.name)
            check_id_column(reader.schema.names, id_column, path.name)
            if fmt.encoding == "utf-8" and any(pa.types.is_binary(t) for t in reader.schema.types):
                raise Restart(replace(plan, encoding="cp1252"))  # invalid UTF-8 in a value
            plan_types = dict(zip(reader.schema.names, reader.schema.types, strict=True))
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                yield mark_missing(batch, id_column, options)
    except pa.ArrowInvalid as e:
        raise _csv_failure(path, fmt, options, plan, plan_types, e) from None
    except OSError as e:
        raise InputError(f"{path.name}: cannot read the file ({e.strerror or e})") from None


def _csv_failure(
    path: Path,
    fmt: CsvFormat,
    options: SourceOptions,
    plan: Plan,
    types: dict[str, pa.DataType] | None,
    error: pa.ArrowInvalid,
) -> Exception:
    """A Restart that fixes what went wrong, or the InputError to show."""
    message = str(error)
    block_size = plan.block_size or BLOCK_SIZE
    if "straddling object" in message and block_size < MAX_BLOCK_SIZE:
        return Restart(replace(plan, block_size=block_size * 4))  # a very long row
    if "invalid UTF8" in message and fmt.encoding == "utf-8":
        return Restart(replace(plan, encoding="cp1252"))
    conversion = CONVERSION_ERROR.match(message.strip())
    if conversion and types is not None:
        position, _type_name, value = conversion.groups()
        column = list(types)[int(position)]
        wider = _wider_type(types[column], value, fmt, options)
        return Restart(replace(plan, types={**types, column: wider}))
    if not plan.newlines and "conversion error" not in message:
        return Restart(replace(plan, newlines=True))  # quoted line breaks split a block
    return csv_error(path, fmt, error)


def _wider_type(current: pa.DataType, value: str, fmt: CsvFormat, options: SourceOptions):
    """The next type in Arrow's inference order after `current` that parses `value`."""
    order = INFERENCE_ORDER
    later = order[order.index(current) + 1 :] if current in order else ()
    one_cell = ('x\n"' + value.replace('"', '""') + '"\n').encode()
    for candidate in later[:-1]:
        try:
            pacsv.read_csv(
                pa.py_buffer(one_cell),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={"x": candidate},
                    null_values=[*MISSING_MARKERS, *options.na],
                    decimal_point=fmt.decimal,
                ),
            )
            return candidate
        except pa.ArrowInvalid:
            continue
    return pa.string()


# --- the writer ----------------------------------------------------------------------------


class _DatasetWriter:
    """Checks batches and writes them to one Parquet file (one read of the source)."""

    def __init__(self, source: _Source, id_column: str, plan: Plan) -> None:
        self.source = source
        self.id_column = id_column
        self.plan = plan
        self.name = source.path.name
        self.where = row_words(source.line_offset)
        self.rows = 0
        self.ids: list[pa.Array] = []
        self.kept: list[pa.RecordBatch] | None = []
        self.kept_bytes = 0
        self.schema: pa.Schema | None = None
        self.missing_ids = 0
        self.first_missing: int | None = None
        # distinct non-null values of each text column while they could be boolean words
        self.word_values: dict[str, set[str] | None] = {}
        # what reading each column of plan.numbers found so far, over its batches
        self.text_numbers: dict[str, TextNumbers] = {}
        # (values given, values surely not numbers) of text columns whose first batch with
        # values broke the rule: a cheap count, over every batch, of whether the whole column
        # might still keep it
        self.counted: dict[str, tuple[int, int]] = {}
        self.max_rows: int | None = None  # the source's, once its columns are known
        self.columns: list[dict] | None = None  # kinds and summaries, once known

    def write(self, file: BinaryIO) -> None:
        self._writer: pq.ParquetWriter | None = None
        try:
            self._write(file)
        finally:
            # Closed here, while `file` is open, even on failure (the store then deletes the
            # temporary file); left to the garbage collector it would write to a closed file.
            if self._writer is not None:
                self._writer.close()

    def _write(self, file: BinaryIO) -> None:
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        # Row groups are encoded on a thread of their own (Arrow lets go of the GIL), beside
        # the checks of the next batches; one at a time, so memory holds at most two.
        with ThreadPoolExecutor(max_workers=1) as encoding:
            written: Future | None = None
            for raw in self.source.batches(self.plan):
                batch = self._check(raw)
                if self.missing_ids:
                    continue  # still counting missing ids for the message; nothing to write
                if self._writer is None:
                    self.schema = batch.schema
                    self._writer = pq.ParquetWriter(
                        file,
                        batch.schema,
                        compression="snappy",
                        use_dictionary=self._dictionary_columns(batch),
                    )
                pending.append(batch)
                pending_rows += batch.num_rows
                self._keep(batch)
                if pending_rows >= ROW_GROUP_ROWS:
                    if written is not None:
                        written.result()
                    group = pa.Table.from_batches(pending)
                    written = encoding.submit(self._writer.write_table, group)
                    pending, pending_rows = [], 0
            if written is not None:
                written.result()
        if self.missing_ids:
            where = self.where(self.first_missing)
            raise InputError(empty_ids_message(self.name, self.id_column, where, self.missing_ids))
        if self._writer is None:
            raise InputError(f"{self.name}: the file has a header but no rows")
        self._settle_booleans()
        self._settle_numbers()
        # The last row group, the duplicate check and (for a file kept in memory) the column
        # summaries all run in Arrow without the GIL: overlap them.
        ids = pa.Table.from_arrays([pa.chunked_array(self.ids)], names=[self.id_column])
        with ThreadPoolExecutor(max_workers=1) as pool:
            unique = pool.submit(
                check_unique_ids, ids, self.id_column, self.name, self.source.line_offset
            )
            if pending:
                self._writer.write_table(pa.Table.from_batches(pending))
            if self.kept is not None:
                kept = pa.Table.from_batches(self.kept, self.schema)
                self.columns = _describe(self, kept.column, workers=os.cpu_count() or 1)
            unique.result()

    # per batch

    def _check(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.num_rows == 0:
            return batch
        start = self.rows
        self.rows += batch.num_rows
        if start == 0:
            self.max_rows = self.source.max_rows(batch.num_columns)
        columns = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if name == self.id_column:
                column = self._ids(column, start)
            elif pa.types.is_null(column.type):
                column = coerce_to_kind(column, "text")  # all-empty so far: text
            elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                column = self._text(name, column, first=start == 0)
                if not pa.types.is_boolean(column.type):
                    column = self._numbers(name, column, start)
            columns.append(column)
        return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)

    def _ids(self, ids: pa.Array, start: int) -> pa.Array:
        ids = trim_ids(ids, self.id_column, self.name)
        if ids.null_count:
            if not self.missing_ids:
                self.first_missing = start + first_true(pc.is_null(ids))
            self.missing_ids += ids.null_count
            return ids
        if self.source.ids_from_text and pa.types.is_string(ids.type):
            plain = all_plain_integers(ids)
            if self.plan.ids_text is None:
                self.plan = replace(self.plan, ids_text=not plain)
            if not self.plan.ids_text:
                as_integers = integer_ids(ids) if plain else None
                if as_integers is None:
                    raise Restart(replace(self.plan, ids_text=True))
                ids = as_integers
        self.ids.append(ids)
        return ids

    def _text(self, name: str, column: pa.Array, first: bool) -> pa.Array:
        values = self.word_values.get(name, set())
        if values is not None:
            if pc.count_distinct(column).as_py() > 2:
                values = None
            else:
                values |= set(pc.unique(column.drop_null()).to_pylist())
                if values and not are_boolean_words(values):
                    values = None
            self.word_values[name] = values
        if name not in self.plan.booleans and name not in self.plan.not_booleans:
            if values and first:  # boolean words or not, until a batch says otherwise
                self.plan = replace(self.plan, booleans={*self.plan.booleans, name})
            # Words only after empty batches, already stored as text: the column stays text
            # here, and _settle_booleans reads the file again with it as booleans.
            elif values is None:
                self.plan = replace(self.plan, not_booleans={*self.plan.not_booleans, name})
        if name in self.plan.booleans:
            if values is None:  # a later value is not a boolean word: store the column as text
                raise Restart(
                    replace(
                        self.plan,
                        booleans=self.plan.booleans - {name},
                        not_booleans={*self.plan.not_booleans, name},
                    )
                )
            return coerce_to_kind(pa.chunked_array([column]), "boolean").chunk(0)
        return column

    def _numbers(self, name: str, column: pa.Array, start: int) -> pa.Array:
        """Numbers written as text ('$1,234.00', see kinds.NOT_NUMBER_SHARE) are stored as
        float64, a value that is not a number as missing. Decided on the first batch in which
        the column has a value, as Arrow types a column from its first block, and settled
        over the whole column (_settle_numbers): what a whole-file read would store."""
        if name in self.plan.not_numbers:
            return column
        if name in self.counted:
            given, not_numbers = count_not_numbers(column)
            seen = self.counted[name]
            self._count(name, seen[0] + given, seen[1] + not_numbers)
            return column
        if name not in self.plan.numbers:
            found = TextNumbers.of(column)
            if not found.given:
                return column  # nothing to decide on yet
            if not found.are_numbers:
                self._count(name, found.given, found.not_numbers)
                return column
            self.plan = replace(self.plan, numbers={*self.plan.numbers, name})
            if start:  # earlier batches, all empty, were stored as text: read them again
                raise Restart(self.plan)
        values, found = read_text_numbers(column)
        self.text_numbers.setdefault(name, TextNumbers()).add(found)
        return values

    def _count(self, name: str, given: int, not_numbers: int) -> None:
        """Keep counting a text column that might still be numbers over the whole file, until
        its values not numbers are too many for any number of rows the source can hold: a
        column of words is then no longer read (in the 1M x 23 benchmark file, a CSV of 330
        MB that could hold 14M rows, after 72% of the file; in a Parquet file, whose rows are
        known, after 5% of them)."""
        if self.max_rows is not None and not_numbers > NOT_NUMBER_SHARE * self.max_rows:
            self.counted.pop(name, None)
            self.plan = replace(self.plan, not_numbers={*self.plan.not_numbers, name})
        else:
            self.counted[name] = (given, not_numbers)

    def _settle_numbers(self) -> None:
        """A column stored as numbers whose later batches held too many values that are not
        numbers is stored as text after all; a column stored as text whose first batch held
        too many may be numbers over the whole file (its count says it might): the file is
        read again with what is now known, and such a column is then read whole."""
        broken = {n for n, found in self.text_numbers.items() if not found.are_numbers}
        maybe = {
            n
            for n, (given, not_numbers) in self.counted.items()
            if TextNumbers(given=given, not_numbers=not_numbers).are_numbers
        }
        if broken or maybe:
            raise Restart(
                replace(
                    self.plan,
                    numbers=(self.plan.numbers - broken) | maybe,
                    not_numbers=self.plan.not_numbers | broken,
                )
            )

    def _settle_booleans(self) -> None:
        """A text column whose only values turned out to be boolean words (after empty first
        batches) is stored as booleans, as a whole-file read would."""
        late = {
            name
            for name, values in self.word_values.items()
            if values and name not in self.plan.booleans
        }
        if late:
            raise Restart(
                replace(
                    self.plan,
                    booleans=self.plan.booleans | late,
                    not_booleans=self.plan.not_booleans - late,
                )
            )

    def _dictionary_columns(self, batch: pa.RecordBatch) -> list[str]:
        """Columns worth dictionary encoding (few distinct values); a guess from the first
        batch, which only changes the object's size."""
        chosen = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            few_values = (
                name != self.id_column
                and pa.types.is_string(column.type)
                and pc.count_distinct(column).as_py() <= MAX_CATEGORY_LEVELS
            )
            kept_few = pa.types.is_boolean(column.type) or pa.types.is_dictionary(column.type)
            if kept_few or few_values:
                chosen.append(name)
        return chosen

    def _keep(self, batch: pa.RecordBatch) -> None:
        if self.kept is None:
            return
        self.kept_bytes += batch.nbytes
        if self.kept_bytes > KEEP_BYTES:
            self.kept = None  # too large: the summaries read the columns back one at a time
        else:
            self.kept.append(batch)


def _describe(
    writer: _DatasetWriter, column_of: Callable[[str], pa.ChunkedArray], workers: int = 1
) -> list[dict]:
    """Kind, type and summary of every column, over the whole column; `workers` columns at
    a time (Arrow's kernels run without the GIL, so columns in memory go on every core)."""

    assert writer.schema is not None

    def describe(name: str) -> dict:
        if name == writer.id_column:  # checked whole and unique while writing
            summary = {"missing_share": 0.0, "distinct": writer.rows}
            field_type = str(writer.schema.field(name).type)
            return {"name": name, "kind": "id", "type": field_type, "summary": summary}
        column = column_of(name)
        # numbers written as text were decided and stored as float64 while writing
        kind = infer_kind(column, is_id=False, numbers_from_text=False)
        found = writer.text_numbers.get(name)
        return {
            "name": name,
            "kind": kind,
            "type": str(column.type),
            "summary": with_text_note(summarize(column, kind), found and found.note()),
        }

    if workers == 1:
        return [describe(name) for name in writer.schema.names]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(describe, writer.schema.names))
