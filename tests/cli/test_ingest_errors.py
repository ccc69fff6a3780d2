"""Bad input to `segtrail ingest`: exit code 2, one clear line on stderr naming the file
(and row/column where it applies), no traceback, and the workspace byte-for-byte as before.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

Maker = Callable[[Path], Path]
Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]


def _text(name: str, content: str, encoding: str = "utf-8") -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content.encode(encoding))
        return path

    return make


def _bytes(name: str, content: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return make


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _truncated_parquet(folder: Path) -> Path:
    data = _parquet_bytes(pa.table({"id": list(range(1000)), "x": [1.5] * 1000}))
    path = folder / "truncated.parquet"
    path.write_bytes(data[: len(data) // 2])
    return path


def _garbled_parquet(folder: Path) -> Path:
    """Right magic bytes at both ends, garbage in the middle (footer length included)."""
    data = bytearray(_parquet_bytes(pa.table({"id": list(range(100)), "x": ["a"] * 100})))
    for i in range(4, len(data) - 4):
        data[i] ^= 0x5A
    path = folder / "garbled.parquet"
    path.write_bytes(bytes(data))
    return path


def _parquet_table(name: str, table: pa.Table) -> Maker:
    return _bytes(name, _parquet_bytes(table))


def _excel(name: str, frame: pd.DataFrame) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        frame.to_excel(path, index=False)
        return path

    return make


def _binary(folder: Path) -> Path:
    # A PNG-like header then bytes without NUL: no NUL byte to give it away.
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 4
    path = folder / "picture.csv"
    path.write_bytes(data)
    return path


def _random_bytes(folder: Path) -> Path:
    path = folder / "noise.dat"
    path.write_bytes(os.urandom(4096))
    return path


# (case id, file maker, id column, fragments the one-line message must contain)
CASES: list[tuple[str, Maker, str, tuple[str, ...]]] = [
    (
        "missing-id-column",
        _text("people.csv", "cust,age\n1,30\n2,40\n"),
        "customer_id",
        ("people.csv", "customer_id", "cust"),
    ),
    (
        "duplicate-ids",
        _text("dups.csv", "id,age\n1,30\n2,40\n2,41\n3,50\n2,60\n"),
        "id",
        ("dups.csv", "duplicate", "2", "row 2", "row 3"),
    ),
    (
        "duplicate-string-ids",
        _text("dups2.csv", "id,age\nA7,30\nB1,40\nA7,41\n"),
        "id",
        ("dups2.csv", "'A7'", "row 1", "row 3"),
    ),
    (
        "null-id",
        _text("nulls.csv", "id,age\n1,30\n2,40\n,41\n4,50\n"),
        "id",
        ("nulls.csv", "row 3", "line 4", "'id'", "empty id"),
    ),
    (
        "blank-string-id",
        _text("blank.csv", "id,age\nA,30\n   ,40\nC,50\n"),
        "id",
        ("blank.csv", "row 2", "line 3", "'id'", "empty id"),
    ),
    ("empty-file", _bytes("empty.csv", b""), "id", ("empty.csv", "empty")),
    ("blank-lines", _bytes("blank_lines.csv", b"\n\n  \n"), "id", ("blank_lines.csv",)),
    ("header-only", _text("header.csv", "id,age,region\n"), "id", ("header.csv", "no rows")),
    (
        "ragged-row-long",
        _text("ragged.csv", "id,a,b\n1,2,3\n2,3,4\n3,4,5,6\n4,5,6\n"),
        "id",
        ("ragged.csv", "row 3", "line 4", "4 fields", "3 columns"),
    ),
    (
        "ragged-row-short",
        _text("short.csv", "id;a;b\n1;2;3\n2;3\n"),
        "id",
        ("short.csv", "row 2", "line 3", "2 fields"),
    ),
    (
        "duplicate-column",
        _text("twice.csv", "id,age,age\n1,2,3\n"),
        "id",
        ("twice.csv", "'age'", "twice"),
    ),
    (
        "empty-column-name",
        _text("noname.csv", "id,,b\n1,2,3\n"),
        "id",
        ("noname.csv", "column 2", "empty name"),
    ),
    ("binary-png-like", _binary, "id", ("picture.csv", "not a table")),
    ("binary-random", _random_bytes, "id", ("noise.dat", "not a table")),
    ("binary-nul", _bytes("nul.csv", b"id,a\n1,\x00\x00\x00\n"), "id", ("nul.csv", "not a table")),
    (
        "corrupt-parquet-magic",
        _bytes("broken.parquet", b"PAR1" + b"\x13\x37" * 200),
        "id",
        ("broken.parquet", "Parquet"),
    ),
    ("truncated-parquet", _truncated_parquet, "id", ("truncated.parquet", "Parquet")),
    ("garbled-parquet", _garbled_parquet, "id", ("garbled.parquet", "Parquet")),
    (
        "parquet-duplicate-ids",
        _parquet_table("dup.parquet", pa.table({"id": ["a", "b", "a"], "x": [1, 2, 3]})),
        "id",
        ("dup.parquet", "'a'", "row 1", "row 3"),
    ),
    (
        "parquet-null-id",
        _parquet_table("nullid.parquet", pa.table({"id": [1, None, 3], "x": [1, 2, 3]})),
        "id",
        ("nullid.parquet", "row 2", "empty id"),
    ),
    (
        "parquet-no-rows",
        _parquet_table("norows.parquet", pa.table({"id": pa.array([], pa.int64())})),
        "id",
        ("norows.parquet", "no rows"),
    ),
    (
        "csv-named-parquet",
        _text("mislabelled.parquet", "id,a\n1,2\n"),
        "id",
        ("mislabelled.parquet", "Parquet"),
    ),
    (
        "corrupt-xlsx",
        _bytes("book.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50),
        "id",
        ("book.xlsx", "Excel"),
    ),
    ("text-named-xlsx", _text("sheet.xlsx", "id,a\n1,2\n"), "id", ("sheet.xlsx", "Excel")),
    (
        "xlsx-duplicate-ids",
        _excel("dups.xlsx", pd.DataFrame({"id": ["x1", "x2", "x1"], "v": [1, 2, 3]})),
        "id",
        ("dups.xlsx", "'x1'", "row 1", "row 3"),
    ),
    (
        "xlsx-missing-id-column",
        _excel("noid.xlsx", pd.DataFrame({"cid": [1, 2], "v": [1, 2]})),
        "id",
        ("noid.xlsx", "'id'", "cid"),
    ),
    (
        "xlsx-empty-header-cell",
        _excel("gap.xlsx", pd.DataFrame({"id": [1, 2], "": [3, 4]})),
        "id",
        ("gap.xlsx", "header", "empty"),
    ),
    ("xlsx-empty-sheet", _excel("blank.xlsx", pd.DataFrame()), "id", ("blank.xlsx", "empty")),
    ("zip-not-excel", _bytes("archive.csv", b"PK\x03\x04" + b"\x01" * 64), "id", ("archive.csv",)),
    ("no-such-file", lambda folder: folder / "absent.csv", "id", ("absent.csv", "no such file")),
    ("a-folder", lambda folder: folder, "id", ("folder",)),
]


def _check_refused(result, fragments: tuple[str, ...]) -> None:
    assert result.code == 2, result
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    line = lines[0]
    assert line.startswith("error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"


@pytest.mark.parametrize(
    ("maker", "id_column", "fragments"),
    [pytest.param(m, i, f, id=case) for case, m, i, f in CASES],
)
def test_bad_input_is_refused_and_changes_nothing(
    populated: Path,
    cli: Runner,
    tree_hash: TreeHash,
    tmp_path: Path,
    maker: Maker,
    id_column: str,
    fragments,
) -> None:
    source_dir = tmp_path / "inputs"
    source_dir.mkdir()
    path = maker(source_dir)
    before = tree_hash(populated)
    result = cli("ingest", path, "--id", id_column)
    _check_refused(result, fragments)
    assert tree_hash(populated) == before


def test_duplicate_message_counts_ids_and_extra_rows(
    populated: Path, cli: Runner, tmp_path: Path
) -> None:
    # ids 2 (x3) and 5 (x2) are duplicated: 2 duplicate ids, 3 extra rows.
    path = tmp_path / "many.csv"
    path.write_text("id,v\n1,a\n2,b\n2,c\n5,d\n2,e\n5,f\n")
    result = cli("ingest", path, "--id", "id")
    _check_refused(result, ("many.csv", "2 duplicate ids", "3 extra rows"))


def test_null_id_message_counts_rows(populated: Path, cli: Runner, tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    path.write_text("id,v\n1,a\n,b\n3,c\n  ,d\n")
    result = cli("ingest", path, "--id", "id")
    _check_refused(result, ("holes.csv", "row 2", "line 3", "2 rows have no id"))


def test_na_option_makes_a_marker_a_missing_id(
    populated: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path
) -> None:
    path = tmp_path / "holes.csv"
    path.write_text("id,v\n1,a\nNA,b\n3,c\n-,d\n")
    before = tree_hash(populated)
    result = cli("ingest", path, "--id", "id", "--na", "NA", "--na", "-")
    _check_refused(result, ("holes.csv", "row 2", "line 3", "2 rows have no id"))
    assert tree_hash(populated) == before


def test_ragged_row_after_first_block(populated: Path, cli: Runner, tmp_path: Path) -> None:
    """The row is found and named even far into a file Arrow reads in several blocks."""
    path = tmp_path / "long.csv"
    body = "".join(f"{i},{i * 2},name {i}\n" for i in range(60_000))
    path.write_text("id,x,name\n" + body + "60000,1\n" + "60001,2,z\n")
    result = cli("ingest", path, "--id", "id")
    _check_refused(result, ("long.csv", "row 60001", "line 60002", "2 fields"))


def test_invalid_dataset_name(
    populated: Path, cli: Runner, tree_hash: TreeHash, customers_csv: Path
) -> None:
    before = tree_hash(populated)
    result = cli("ingest", customers_csv, "--id", "customer_id", "--name", "bad name!")
    _check_refused(result, ("bad name!",))
    assert tree_hash(populated) == before


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read a chmod 000 file"
)
def test_unreadable_file(populated: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path) -> None:
    path = tmp_path / "secret.csv"
    path.write_text("id,a\n1,2\n")
    path.chmod(0)
    try:
        before = tree_hash(populated)
        result = cli("ingest", path, "--id", "id")
        _check_refused(result, ("secret.csv", "cannot read"))
        assert tree_hash(populated) == before
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        ("dups.csv", b"id,age\n1,30\n1,31\n", ("dups.csv", "duplicate", "row 1", "row 2")),
        ("blob.csv", b"\x00\x01\x02binary", ("blob.csv", "not a table")),
    ],
)
def test_real_console_script_refuses_bad_input(
    populated: Path,
    run: Runner,
    tree_hash: TreeHash,
    tmp_path: Path,
    name: str,
    content: bytes,
    fragments,
) -> None:
    """The installed `segtrail` script: exit code 2 and one stderr line, nothing changed."""
    path = tmp_path / name
    path.write_bytes(content)
    before = tree_hash(populated)
    result = run("ingest", path, "--id", "id")
    _check_refused(result, fragments)
    assert tree_hash(populated) == before
