"""Streaming ingest stores what a whole-file read would: same types, values and kinds.

The reference reads the whole file with `pyarrow.csv.read_csv` (which infers each column's
type over every row) and applies the first release's per-column steps (ids trimmed and
made integers when all are plain integers, boolean words stored as booleans, numbers
written as text as float64 (kinds.NOT_NUMBER_SHARE), empty columns as text) and writes it
as Parquet. The stream reads the same file in blocks of a
few hundred bytes, so that types change between batches and the restarts are exercised.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtrail import stream_ingest
from segtrail.engine.kinds import coerce_to_kind, infer_kind
from segtrail.readers import SourceOptions, mark_missing, normalize_ids
from segtrail.store.objects import LocalObjectStore

# Values that make Arrow's inference walk its order: ints, booleans, floats, dates, times,
# timestamps, boolean words, missing markers, text, numbers written as text and placeholders.
CELLS = [
    "1", "0", "42", "-7", "2.5", "1e3", "true", "False", "yes", "no", "2024-01-31",
    "2024-01-31 10:00:00", "2024-01-31T10:00:00.5", "2024-01-31T10:00:00Z", "12:30",
    "", "NA", "NULL", "abc", "north", "x;y", "$1,234.50", " 12 ", "45%", "-", "unknown",
]  # fmt: skip


def _reference(path: Path, id_column: str) -> tuple[pa.Table, dict[str, str]]:
    options = SourceOptions()
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={id_column: pa.string()},
            strings_can_be_null=False,
            null_values=list(pacsv.ConvertOptions().null_values),
        ),
    )
    table = mark_missing(table, id_column, options)
    table = normalize_ids(table, id_column, path.name, 1, ids_from_text=True)
    kinds = {}
    for name in table.column_names:
        kinds[name] = kind = infer_kind(table[name], is_id=name == id_column)
        table = table.set_column(
            table.column_names.index(name), name, coerce_to_kind(table[name], kind)
        )
    # As stored: Parquet has no seconds unit, so timestamp[s] comes back as timestamp[ms].
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return pq.read_table(io.BytesIO(sink.getvalue())), kinds


def _stream(path: Path, id_column: str, store: LocalObjectStore) -> tuple[pa.Table, dict[str, str]]:
    stored = stream_ingest.ingest_stream(
        store.put_stream, lambda d, c: store.read_table(d, columns=c), path, id_column
    )
    table = pq.read_table(store.path(stored.digest))
    return table, {c["name"]: c["kind"] for c in stored.columns}


@st.composite
def csv_files(draw) -> str:
    rows = draw(st.integers(min_value=5, max_value=120))
    n_columns = draw(st.integers(min_value=1, max_value=4))
    ids = draw(st.sampled_from(["int", "text", "late-text"]))
    columns = []
    for _ in range(n_columns):
        # Mostly one kind of value, and now and then (often late) another one.
        main = draw(st.lists(st.sampled_from(CELLS), min_size=1, max_size=2))
        other = draw(st.sampled_from(CELLS))
        switch_at = draw(st.integers(min_value=0, max_value=rows))
        columns.append((main, other, switch_at))
    lines = ["id," + ",".join(f"c{j}" for j in range(n_columns))]
    for i in range(rows):
        identifier = str(i) if ids == "int" or (ids == "late-text" and i < rows - 1) else f"C{i}"
        cells = [
            (main[i % len(main)] if i < switch_at else other) for main, other, switch_at in columns
        ]
        lines.append(",".join([identifier, *(f'"{c}"' if "," in c else c for c in cells)]))
    return "\n".join(lines) + "\n"


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=csv_files(),
    block_size=st.sampled_from([128, 256, 1024]),
    piece_size=st.sampled_from([64, 300, 1 << 20]),
    serial=st.booleans(),
)
def test_stream_matches_a_whole_file_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    block_size: int,
    piece_size: int,
    serial: bool,
) -> None:
    """Read in parallel pieces, or (serial) by Arrow's streaming reader as when the pieces
    cannot be used (UTF-16, quoted line breaks)."""
    monkeypatch.setattr(stream_ingest, "BLOCK_SIZE", block_size)
    monkeypatch.setattr(stream_ingest, "PIECE_SIZE", piece_size)
    if serial:
        monkeypatch.setattr(stream_ingest, "PIECEWISE_ENCODINGS", ())
    monkeypatch.setattr(stream_ingest, "ROW_GROUP_ROWS", 16)
    path = tmp_path / "mixed.csv"
    path.write_text(text)
    expected, expected_kinds = _reference(path, "id")
    store = LocalObjectStore(tmp_path / f"objects-{block_size}-{abs(hash(text))}")
    table, kinds = _stream(path, "id", store)
    assert kinds == expected_kinds
    assert table.schema.types == expected.schema.types
    assert table.to_pylist() == expected.to_pylist()


@pytest.mark.parametrize("sizes", [(1000, 1000), (1001, 997), (333, 777), (1 << 20, 5000)])
@pytest.mark.parametrize("ids", ["C", ""])
def test_quoted_line_breaks_across_the_pieces_parsed_in_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sizes: tuple[int, int], ids: str
) -> None:
    """A piece cut inside a quoted value holding a line break (and a delimiter, so that the
    rest of the value looks like a row of text) is noticed: every value comes out whole."""
    block_size, piece_size = sizes
    monkeypatch.setattr(stream_ingest, "BLOCK_SIZE", block_size)
    monkeypatch.setattr(stream_ingest, "PIECE_SIZE", piece_size)
    path = tmp_path / "notes.csv"
    path.write_text("id,note\n" + "".join(f'{ids}{i},"a{i}\nb,c"\n' for i in range(2000)))
    expected, expected_kinds = _reference(path, "id")
    table, kinds = _stream(path, "id", LocalObjectStore(tmp_path / "objects"))
    assert kinds == expected_kinds
    assert table.to_pylist() == expected.to_pylist()
    assert table["note"][1999].as_py() == "a1999\nb,c"


def test_pieces_are_cut_at_line_breaks_and_skip_blank_ones() -> None:
    """Pieces end at a line break (\\n or \\r), grow past their size to reach one, keep every
    byte in order and leave out pieces of nothing but line breaks."""
    text = b"h1,h2\r\n" + b"a,1\n" * 5 + b"\n\n\n" + b"x" * 50 + b"\nlast,2"
    pieces = [bytes(p) for p in stream_ingest._line_pieces(io.BytesIO(text), 8, 6)]
    joined = b"".join(pieces)
    lines = re.compile(rb"[\r\n]+")
    assert lines.split(joined) == lines.split(text)  # every line, in order
    assert len(text) - 3 <= len(joined) <= len(text)  # at most the blank lines left out
    assert all(p.endswith((b"\n", b"\r")) for p in pieces[:-1])
    assert pieces[-1] == b"last,2"
    assert all(p.strip(b"\r\n") for p in pieces)
    assert any(p.startswith(b"x" * 50) for p in pieces)  # grew past 6 bytes to its line break


def test_integer_column_turning_to_text_after_the_first_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Integers for many blocks, then words (too many for numbers with a few placeholders,
    see kinds.NOT_NUMBER_SHARE): stored as text, every value kept, one object."""
    monkeypatch.setattr(stream_ingest, "BLOCK_SIZE", 4096)
    rows = [f"{i},{i % 97},{i * 0.5}" for i in range(20_000)]
    rows += [f"{i},{('red', 'blue', 'unknown')[i % 3]},1.5" for i in range(20_000, 22_000)]
    path = tmp_path / "late.csv"
    path.write_text("id,code,score\n" + "\n".join(rows) + "\n")
    store = LocalObjectStore(tmp_path / "objects")
    table, kinds = _stream(path, "id", store)
    assert table.schema.field("code").type == pa.string()
    assert table["code"][0].as_py() == "0" and table["code"][-1].as_py() == "red"
    assert kinds == {"id": "id", "code": "categorical", "score": "numeric"}
    objects, temporaries = store.listing()
    assert len(objects) == 1 and not temporaries  # restarts leave no extra object
    assert store.temporaries() == []


def test_written_object_is_named_by_the_hash_of_its_bytes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "small.csv"
    path.write_text("id,x\n1,2\n2,3\n")
    store = LocalObjectStore(tmp_path / "objects")
    stored = stream_ingest.ingest_stream(
        store.put_stream, lambda d, c: store.read_table(d, columns=c), path, "id"
    )
    data = store.path(stored.digest).read_bytes()
    assert hashlib.sha256(data).hexdigest() == stored.digest
    assert stored.size == len(data)
    assert pq.read_table(io.BytesIO(data)).to_pylist() == [{"id": 1, "x": 2}, {"id": 2, "x": 3}]


def test_summaries_read_back_when_too_large_to_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the memory budget, kinds and summaries come from the stored object: the same."""
    path = tmp_path / "people.csv"
    rows = [f"{i},{i % 5},{['a', 'b', 'c'][i % 3]},{'yes' if i % 2 else 'no'}" for i in range(500)]
    path.write_text("id,n,c,b\n" + "\n".join(rows) + "\n")
    kept = stream_ingest.ingest_stream(
        LocalObjectStore(tmp_path / "o1").put_stream, None, path, "id"
    ).columns
    monkeypatch.setattr(stream_ingest, "KEEP_BYTES", 0)
    store = LocalObjectStore(tmp_path / "o2")
    read_back = stream_ingest.ingest_stream(
        store.put_stream, lambda d, c: store.read_table(d, columns=c), path, "id"
    ).columns
    assert read_back == kept
    assert [c["kind"] for c in kept] == ["id", "numeric", "categorical", "boolean"]


# --- Parquet --------------------------------------------------------------------------------

PARQUET_COLUMNS = {
    "int": st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=1, max_size=3),
    "float": st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=3),
    "text": st.lists(
        st.one_of(st.none(), st.sampled_from(["yes", "no", "north", " ", "NA", "x"])),
        min_size=1,
        max_size=3,
    ),
}


@st.composite
def parquet_tables(draw) -> pa.Table:
    """Columns that hold one kind of value and now and then (often late) another one, so
    that what a column is (boolean words, all empty, categories) shows only in a later
    batch or row group."""
    rows = draw(st.integers(min_value=1, max_value=120))
    types = {"int": pa.int64(), "float": pa.float64(), "text": pa.string()}
    if draw(st.booleans()):
        columns = {"id": pa.array(range(rows), pa.int64())}
    else:
        columns = {"id": pa.array([f" C{i}" for i in range(rows)], pa.string())}
    for j in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(sorted(PARQUET_COLUMNS)))
        main = draw(PARQUET_COLUMNS[kind])
        other = draw(PARQUET_COLUMNS[kind])[0]
        switch_at = draw(st.integers(min_value=0, max_value=rows))
        values = [main[i % len(main)] if i < switch_at else other for i in range(rows)]
        columns[f"c{j}"] = pa.array(values, types[kind])
    return pa.table(columns)


def _parquet_reference(table: pa.Table, id_column: str) -> tuple[pa.Table, dict[str, str]]:
    """The whole table, with the first release's per-column steps (as `_reference`)."""
    table = normalize_ids(table, id_column, "t.parquet", None)
    kinds = {}
    for name in table.column_names:
        kinds[name] = kind = infer_kind(table[name], is_id=name == id_column)
        table = table.set_column(
            table.column_names.index(name), name, coerce_to_kind(table[name], kind)
        )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return pq.read_table(io.BytesIO(sink.getvalue())), kinds


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=parquet_tables(),
    batch_rows=st.sampled_from([3, 16, 1 << 17]),
    group_rows=st.sampled_from([5, 50, 1 << 20]),
)
def test_parquet_stream_matches_a_whole_file_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: pa.Table, batch_rows: int,
    group_rows: int,
) -> None:  # fmt: skip
    """Read row group by row group, in batches of a few rows: the stored table and kinds are
    a whole read's."""
    monkeypatch.setattr(stream_ingest, "PARQUET_BATCH_ROWS", batch_rows)
    monkeypatch.setattr(stream_ingest, "ROW_GROUP_ROWS", 16)
    path = tmp_path / f"t-{abs(hash(str(table.to_pydict())))}-{batch_rows}-{group_rows}.parquet"
    pq.write_table(table, path, row_group_size=group_rows)
    expected, expected_kinds = _parquet_reference(table, "id")
    store = LocalObjectStore(tmp_path / f"objects-{path.stem}")
    stored, kinds = _stream(path, "id", store)
    assert kinds == expected_kinds
    assert stored.schema.types == expected.schema.types
    assert stored.to_pylist() == expected.to_pylist()


def test_parquet_summaries_read_back_when_too_large_to_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the memory budget, the summaries of a Parquet file's columns are read back from
    the stored object, column by column: the same as those kept in memory."""
    path = tmp_path / "people.parquet"
    n = 3000
    table = pa.table(
        {
            "id": [f"P{i}" for i in range(n)],
            "n": [i % 7 for i in range(n)],
            "c": [["a", "b", "c"][i % 3] for i in range(n)],
            "b": ["yes" if i % 2 else "no" for i in range(n)],
            "x": [i * 0.25 if i % 11 else None for i in range(n)],
        }
    )
    pq.write_table(table, path, row_group_size=700)
    monkeypatch.setattr(stream_ingest, "PARQUET_BATCH_ROWS", 128)
    kept = stream_ingest.ingest_stream(
        LocalObjectStore(tmp_path / "o1").put_stream, None, path, "id"
    ).columns
    monkeypatch.setattr(stream_ingest, "KEEP_BYTES", 0)
    store = LocalObjectStore(tmp_path / "o2")
    read = []
    stored = stream_ingest.ingest_stream(
        store.put_stream,
        lambda d, c: read.append(c) or pq.read_table(store.path(d), columns=c),
        path,
        "id",
    )
    assert stored.columns == kept
    assert read == [["n"], ["c"], ["b"], ["x"]]  # one column at a time
    assert [c["kind"] for c in kept] == ["id", "numeric", "categorical", "boolean", "numeric"]
