"""Inputs real files have (issue 15): each through the CLI, with the exit code, the one
line on stderr for a refusal, and the workspace unchanged where nothing should change."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]


def _refused(result, *fragments: str) -> str:
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def _ingest(cli: Runner, path: Path, *args: str) -> Any:
    result = cli("ingest", path, *args)
    assert result.code == 0, result.err
    assert result.err == ""
    return result


def _rows(cli: Runner, ref: str, n: int = 100) -> list[dict]:
    result = cli("dataset", "show", ref, "--json", "--rows", str(n))
    assert result.code == 0, result.err
    return result.json()["data"]


def _columns(cli: Runner, ref: str) -> dict[str, dict]:
    result = cli("dataset", "show", ref, "--json")
    assert result.code == 0, result.err
    return {c["name"]: c for c in result.json()["columns"]}


# --- Parquet ids of nested or byte types ----------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "type_words"),
    [
        (pa.array([[1], [2], [3]], pa.list_(pa.int64())), "list<"),
        (pa.array([[("a", 1)], [("b", 2)], [("c", 3)]], pa.map_(pa.string(), pa.int64())), "map<"),
        (pa.array([{"k": 1}, {"k": 2}, {"k": 3}]), "struct<"),
        (pa.array([b"\x00\x01", b"\x02", b"\x03"], pa.binary()), "binary"),
    ],
    ids=["list", "map", "struct", "binary"],
)
def test_parquet_ids_of_nested_or_binary_type_are_refused(
    populated: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path, ids, type_words: str
) -> None:
    path = tmp_path / "odd_ids.parquet"
    pq.write_table(pa.table({"cid": ids, "x": [1.0, 2.0, 3.0]}), path)
    before = tree_hash(populated)
    _refused(cli("ingest", path, "--id", "cid"), "odd_ids.parquet", "'cid'", type_words)
    assert tree_hash(populated) == before


# --- CSV delimiter sniffing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'id,note\n1,""";x;y"""\n2,plain\n3,"a;b"\n',
        'note,id\n""";x;y""",1\n"two; three",2\nfour,3\n',
    ],
    ids=["second-column", "first-column"],
)
def test_first_data_row_full_of_semicolons_keeps_the_header_delimiter(
    workspace: Path, cli: Runner, tmp_path: Path, text: str
) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(text)
    result = _ingest(cli, path, "--id", "id")
    assert "comma-separated" in result.out
    notes = {r["id"]: r["note"] for r in _rows(cli, "notes")}
    assert notes[1] == '";x;y"'


# --- very long cells ------------------------------------------------------------------------


@pytest.mark.parametrize("megabytes", [10, 20])
def test_a_cell_of_many_megabytes(
    workspace: Path, cli: Runner, tmp_path: Path, megabytes: int
) -> None:
    path = tmp_path / "long.csv"
    cell = "x" * (megabytes << 20)
    path.write_text(f"id,note,n\n1,short,1\n2,{cell},2\n3,end,3\n")
    _ingest(cli, path, "--id", "id")
    rows = _rows(cli, "long")
    assert [len(r["note"]) for r in rows] == [5, megabytes << 20, 3]
    assert [r["n"] for r in rows] == [1, 2, 3]


# --- decimal commas -------------------------------------------------------------------------


def test_semicolon_csv_with_decimal_commas_is_read_as_numbers(
    workspace: Path, cli: Runner, tmp_path: Path
) -> None:
    path = tmp_path / "umsatz.csv"
    lines = ["kunde;umsatz;rabatt;stadt"]
    lines += [f"{i};{i * 10},{i % 10}5;0,{i % 3};{['Köln', 'Bonn'][i % 2]}" for i in range(1, 50)]
    path.write_text("\n".join(lines) + "\n")
    result = _ingest(cli, path, "--id", "kunde")
    assert "semicolon-separated" in result.out
    assert "decimal comma (detected)" in result.out
    columns = _columns(cli, "umsatz")
    assert (columns["umsatz"]["kind"], columns["umsatz"]["type"]) == ("numeric", "double")
    assert columns["rabatt"]["kind"] == "numeric"
    first = _rows(cli, "umsatz", 1)[0]
    assert first == {"kunde": 1, "umsatz": 10.15, "rabatt": 0.1, "stadt": "Bonn"}
    json_result = cli("dataset", "show", "umsatz", "--json")
    assert json_result.code == 0


def test_decimal_option(workspace: Path, cli: Runner, tmp_path: Path) -> None:
    """`--decimal ,` where detection cannot tell (comma-separated, quoted values), and
    `--decimal .` to keep a semicolon file's '1,5' as text."""
    path = tmp_path / "quoted.csv"
    path.write_text('id,spend\n1,"12,5"\n2,"3,25"\n')
    _ingest(cli, path, "--id", "id", "--decimal", ",")
    assert [r["spend"] for r in _rows(cli, "quoted")] == [12.5, 3.25]

    codes = tmp_path / "codes.csv"
    codes.write_text("id;code\n1;1,5\n2;2,5\n")
    _ingest(cli, codes, "--id", "id", "--decimal", ".")
    assert [r["code"] for r in _rows(cli, "codes")] == ["1,5", "2,5"]


def test_decimal_option_refuses_other_marks(
    populated: Path, cli: Runner, tree_hash: TreeHash, customers_csv: Path
) -> None:
    before = tree_hash(populated)
    _refused(cli("ingest", customers_csv, "--id", "customer_id", "--decimal", "x"), "'x'")
    assert tree_hash(populated) == before


# --- ids that look like missing values ------------------------------------------------------


def test_ids_null_na_nan_are_ids(workspace: Path, cli: Runner, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("id,score\nNULL,1.5\nNA,NA\nNaN,3\nnull,\nn/a,5\n")
    result = _ingest(cli, path, "--id", "id")
    assert "5 customers" in result.out
    rows = {r["id"]: r["score"] for r in _rows(cli, "odd")}
    # The ids are kept; in the other columns 'NA' and an empty cell are still missing.
    assert rows == {"NULL": 1.5, "NA": None, "NaN": 3.0, "null": None, "n/a": 5.0}


def test_ids_null_na_in_parquet_and_excel_too(workspace: Path, cli: Runner, tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["NA", "NULL", "A1"], "v": ["x", "NA", "y"]})
    frame.to_excel(tmp_path / "book.xlsx", index=False)
    _ingest(cli, tmp_path / "book.xlsx", "--id", "id")
    assert {r["id"]: r["v"] for r in _rows(cli, "book")} == {"A1": "y", "NA": "x", "NULL": None}


# --- Excel sheets and headers ---------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A cover sheet first, the customers second."""
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"About": ["Q3 export", "do not edit"]}).to_excel(
            writer, sheet_name="Cover", index=False
        )
        pd.DataFrame({"id": [1, 2, 3], "spend": [1.5, 2.5, None]}).to_excel(
            writer, sheet_name="Customers", index=False
        )
    return path


@pytest.mark.parametrize("sheet", ["Customers", "2"])
def test_excel_sheet_by_name_or_position(
    workspace: Path, cli: Runner, workbook: Path, sheet: str
) -> None:
    result = _ingest(cli, workbook, "--id", "id", "--sheet", sheet)
    assert "sheet 'Customers'" in result.out
    assert [r["spend"] for r in _rows(cli, "export")] == [1.5, 2.5, None]


def test_excel_unknown_sheet_lists_the_sheets(
    populated: Path, cli: Runner, tree_hash: TreeHash, workbook: Path
) -> None:
    before = tree_hash(populated)
    _refused(
        cli("ingest", workbook, "--id", "id", "--sheet", "Kunden"),
        "export.xlsx",
        "'Kunden'",
        "1 'Cover'",
        "2 'Customers'",
    )
    _refused(cli("ingest", workbook, "--id", "id", "--sheet", "3"), "no sheet '3'")
    assert tree_hash(populated) == before


def test_excel_duplicate_headers_are_refused(
    populated: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path
) -> None:
    path = tmp_path / "twice.xlsx"
    frame = pd.DataFrame([[1, 30, 31], [2, 40, 41]], columns=["id", "age", "age"])
    frame.to_excel(path, index=False)
    before = tree_hash(populated)
    _refused(cli("ingest", path, "--id", "id"), "twice.xlsx", "'age'", "twice")
    assert tree_hash(populated) == before


# --- compressed CSV -------------------------------------------------------------------------


def _zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".zst", _zstd)])
def test_compressed_csv_is_read_like_the_plain_file(
    workspace: Path, cli: Runner, tree_hash: TreeHash, customers_csv: Path, suffix, compress
) -> None:
    _ingest(cli, customers_csv, "--id", "customer_id")
    before = tree_hash(workspace)
    packed = customers_csv.with_name("customers.csv" + suffix)
    packed.write_bytes(compress(customers_csv.read_bytes()))
    result = _ingest(cli, packed, "--id", "customer_id")
    # Named after the file without its compression suffix, and the same content.
    assert result.out.startswith("customers@1 (unchanged")
    assert tree_hash(workspace) == before


def test_damaged_gzip_is_refused(
    populated: Path, cli: Runner, tree_hash: TreeHash, customers_csv: Path
) -> None:
    path = customers_csv.with_name("broken.csv.gz")
    path.write_bytes(gzip.compress(customers_csv.read_bytes())[:-40] + b"\x00" * 40)
    before = tree_hash(populated)
    _refused(cli("ingest", path, "--id", "customer_id"), "broken.csv.gz")
    assert tree_hash(populated) == before


# --- numeric warnings -----------------------------------------------------------------------


def test_infinite_values_give_one_line_not_numpy_warnings(
    workspace: Path, cli: Runner, run: Runner, tmp_path: Path
) -> None:
    """The real console script (in-process, pytest would catch the warnings itself)."""
    path = tmp_path / "inf.csv"
    rows = [f"{i},{i % 7},{'inf' if i % 7 == 0 else i * 0.5},{1e308 if i % 5 == 0 else 1}"
            for i in range(200)]  # fmt: skip
    path.write_text("id,a,b,w\n" + "\n".join(rows) + "\n")
    _ingest(cli, path, "--id", "id")
    result = run("segment", "--dataset", "inf", "--lens", "m", "--hypothesis", "h", cwd=workspace)
    _refused(result, "infinite")
