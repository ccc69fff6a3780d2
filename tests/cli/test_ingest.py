"""`segtrail ingest`, `datasets`, `dataset show`, `events` and `fsck` through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]

NAMES = ["Zoé", "François", "Müller", "Ångström", "Çelik", "naïve"]  # all in Latin-1


def _ingest(cli: Runner, path: Path, id_column: str = "id", *extra: str) -> Any:
    result = cli("ingest", path, "--id", id_column, *extra)
    assert result.code == 0, result.err
    return result


def _show(cli: Runner, ref: str, rows: int = 0) -> dict:
    result = cli("dataset", "show", ref, "--json", "--rows", str(rows))
    assert result.code == 0, result.err
    return result.json()


def _column(info: dict, name: str) -> dict:
    return next(c for c in info["columns"] if c["name"] == name)


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(("delimiter", "suffix"), [(";", ".csv"), ("\t", ".tsv"), ("|", ".txt")])
def test_csv_delimiters(workspace: Path, cli: Runner, delimiter: str, suffix: str) -> None:
    path = workspace / f"people{suffix}"
    lines = ["id,name,age,score".replace(",", delimiter)]
    lines += [delimiter.join([str(i), f"person {i}", str(20 + i), f"{i * 0.25}"]) for i in range(8)]
    path.write_text("\n".join(lines) + "\n")
    result = _ingest(cli, path)
    assert result.out.splitlines()[0] == "people@1"
    info = _show(cli, "people@1", rows=3)
    assert [c["name"] for c in info["columns"]] == ["id", "name", "age", "score"]
    assert info["data"][1] == {"id": 1, "name": "person 1", "age": 21, "score": 0.25}


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-8-sig", "utf-16"])
def test_csv_encodings(workspace: Path, cli: Runner, encoding: str) -> None:
    """Accented names read back exactly; a BOM does not leak into the first column name."""
    path = workspace / "accents.csv"
    rows = [f"{i};{name};Besançon à côté" for i, name in enumerate(NAMES, start=1)]
    path.write_bytes(("id;name;city\n" + "\n".join(rows) + "\n").encode(encoding))
    _ingest(cli, path)
    info = _show(cli, "accents", rows=10)
    assert info["columns"][0]["name"] == "id"
    assert [r["name"] for r in info["data"]] == NAMES
    assert {r["city"] for r in info["data"]} == {"Besançon à côté"}


def test_latin1_accent_far_from_the_start(workspace: Path, cli: Runner) -> None:
    """The only non-ASCII byte lies past the sniffed sample: still decoded as Latin-1."""
    path = workspace / "late.csv"
    body = "".join(f"{i},plain {i}\n" for i in range(1, 10_000))
    path.write_bytes(("id,name\n" + body + "10000,Zoé\n").encode("latin-1"))
    _ingest(cli, path)
    frame = pq.read_table(next((workspace / ".segtrail" / "objects").glob("*/*.parquet")))
    assert frame["name"][-1].as_py() == "Zoé"


def test_quoted_line_breaks_in_a_large_file(workspace: Path, cli: Runner) -> None:
    """Notes with line breaks inside quotes, in a file larger than Arrow's 1 MB block."""
    path = workspace / "notes.csv"
    body = "".join(f'{i},"first line\nsecond line {i}",{i % 7}\n' for i in range(60_000))
    path.write_text("id,note,visits\n" + body)
    assert path.stat().st_size > 2 << 20
    result = _ingest(cli, path)
    assert "60,000 customers" in result.out
    info = _show(cli, "notes", rows=2)
    assert info["data"][1] == {"id": 1, "note": "first line\nsecond line 1", "visits": 1}


def test_parquet(workspace: Path, cli: Runner) -> None:
    path = workspace / "shop.parquet"
    table = pa.table(
        {
            "cid": pa.array(["b2", "a1", "c3"]),
            "spend": pa.array([10.5, None, 3.25]),
            "visits": pa.array([1, None, 7], pa.int64()),
            "vip": pa.array([True, False, None]),
        }
    )
    pq.write_table(table, path)
    result = _ingest(cli, path, "cid")
    assert result.out.splitlines()[0] == "shop@1"
    info = _show(cli, "shop@1", rows=5)
    assert info["source_format"] == "parquet"
    assert info["data"] == [
        {"cid": "a1", "spend": None, "visits": None, "vip": False},
        {"cid": "b2", "spend": 10.5, "visits": 1, "vip": True},
        {"cid": "c3", "spend": 3.25, "visits": 7, "vip": None},
    ]
    assert _column(info, "vip")["kind"] == "boolean"


def test_parquet_unusual_types(workspace: Path, cli: Runner) -> None:
    """Nested, dictionary, decimal and other Arrow types ingest and show without a crash."""
    path = workspace / "odd.parquet"
    table = pa.table(
        {
            "id": [1, 2, 3],
            "tags": pa.array([[1, 2], [3], None], pa.list_(pa.int64())),
            "address": pa.array([{"zip": "01234"}, None, {"zip": "9"}]),
            "price": pa.array([Decimal("1.50"), None, Decimal("2.25")], pa.decimal128(5, 2)),
            "plan": pa.array(["gold", "free", "gold"]).dictionary_encode(),
            "city": pa.array(["Lyon", None, "Nice"], pa.large_string()),
            "seen": pa.array([datetime(2024, 5, 1, tzinfo=UTC), None, None]),
            "big": pa.array([2**64 - 1, 0, None], pa.uint64()),
        }
    )
    pq.write_table(table, path)
    _ingest(cli, path)
    info = _show(cli, "odd", rows=3)
    kinds = {c["name"]: c["kind"] for c in info["columns"]}
    assert kinds == {
        "id": "id",
        "tags": "text",
        "address": "text",
        "price": "numeric",
        "plan": "categorical",
        "city": "categorical",
        "seen": "datetime",
        "big": "numeric",
    }
    assert _column(info, "plan")["summary"]["distinct"] == 2
    assert _column(info, "price")["summary"]["mean"] == pytest.approx(1.875)
    assert info["data"][0]["tags"] == [1, 2]
    assert info["data"][0]["big"] == 2**64 - 1
    shown = cli("dataset", "show", "odd")  # the table view too
    assert shown.code == 0, shown.err


def test_excel(workspace: Path, cli: Runner) -> None:
    path = workspace / "crm export.xlsx"
    frame = pd.DataFrame(
        {
            "customer": [101, 102, 103, 104],
            "name": ["Zoé", "Ana", "Łukasz", "Bob"],
            "spend": [1.5, 2.0, None, 4.25],
        }
    )
    frame.to_excel(path, index=False)
    result = _ingest(cli, path, "customer")
    assert result.out.splitlines()[0] == "crm-export@1"
    info = _show(cli, "crm-export@1", rows=4)
    assert info["source_format"] == "excel"
    assert info["rows"] == 4
    assert [r["name"] for r in info["data"]] == ["Zoé", "Ana", "Łukasz", "Bob"]
    assert [r["customer"] for r in info["data"]] == [101, 102, 103, 104]
    assert info["data"][2]["spend"] is None
    assert _column(info, "spend")["summary"]["missing_share"] == pytest.approx(0.25)


def test_excel_text_ids_keep_leading_zeros(workspace: Path, cli: Runner) -> None:
    path = workspace / "zeros.xlsx"
    pd.DataFrame({"id": ["00123", "00045", "7"], "v": [1, 2, 3]}).to_excel(path, index=False)
    _ingest(cli, path)
    assert [r["id"] for r in _show(cli, "zeros", rows=3)["data"]] == ["00045", "00123", "7"]


# --- ids -----------------------------------------------------------------------------------


def test_ids_keep_leading_zeros(workspace: Path, cli: Runner) -> None:
    path = workspace / "zips.csv"
    path.write_text("id,age\n00123,30\n00124,40\n10,50\n")
    _ingest(cli, path)
    info = _show(cli, "zips", rows=3)
    assert _column(info, "id")["kind"] == "id"
    assert _column(info, "id")["type"] == "string"
    assert [r["id"] for r in info["data"]] == ["00123", "00124", "10"]


def test_plain_integer_ids_stay_integers(workspace: Path, cli: Runner) -> None:
    path = workspace / "ints.csv"
    path.write_text("id,age\n30,1\n-4,2\n0,3\n9007199254740993,4\n")
    _ingest(cli, path)
    info = _show(cli, "ints", rows=4)
    assert _column(info, "id")["type"] == "int64"
    assert [r["id"] for r in info["data"]] == [-4, 0, 30, 9007199254740993]


def test_ids_are_trimmed(workspace: Path, cli: Runner) -> None:
    path = workspace / "spaces.csv"
    path.write_text("id,age\n  a1 ,1\nb2  ,2\n")
    _ingest(cli, path)
    assert [r["id"] for r in _show(cli, "spaces", rows=2)["data"]] == ["a1", "b2"]


# --- kinds and summaries -------------------------------------------------------------------


def test_kinds_rows_and_missing_share(workspace: Path, cli: Runner) -> None:
    n = 120
    start = date(2023, 1, 1)
    lines = ["customer_id,age,spend,region,member,newsletter,signup,email"]
    for i in range(n):
        spend = "" if i % 4 == 0 else f"{i * 1.5:.1f}"  # 30 of 120 missing
        region = ["north", "south", "east", "west"][i % 4]
        member = "true" if i % 3 else "false"
        newsletter = "yes" if i % 2 else "no"
        signup = (start + timedelta(days=i)).isoformat()
        lines.append(
            f"C{i:05d},{18 + i % 60},{spend},{region},{member},{newsletter},{signup},"
            f"user{i}@example.com"
        )
    path = workspace / "kinds.csv"
    path.write_text("\n".join(lines) + "\n")
    result = _ingest(cli, path, "customer_id")
    assert "120 customers, 8 columns" in result.out

    info = _show(cli, "kinds@1")
    assert info["rows"] == n
    assert info["id_column"] == "customer_id"
    kinds = {c["name"]: c["kind"] for c in info["columns"]}
    assert kinds == {
        "customer_id": "id",
        "age": "numeric",
        "spend": "numeric",
        "region": "categorical",
        "member": "boolean",
        "newsletter": "boolean",
        "signup": "datetime",
        "email": "text",
    }
    assert _column(info, "spend")["summary"]["missing_share"] == pytest.approx(30 / n)
    assert _column(info, "age")["summary"]["missing_share"] == 0
    assert _column(info, "age")["summary"]["min"] == 18
    assert _column(info, "age")["summary"]["max"] == 77
    region = _column(info, "region")["summary"]
    assert region["distinct"] == 4
    assert {t["value"] for t in region["top"]} == {"north", "south", "east", "west"}
    assert _column(info, "newsletter")["summary"]["true_share"] == pytest.approx(0.5)
    assert _column(info, "signup")["summary"]["min"].startswith("2023-01-01")

    # Boolean words are stored as real booleans.
    data = _show(cli, "kinds@1", rows=2)["data"]
    assert data[0]["newsletter"] is False and data[1]["newsletter"] is True
    assert data[0]["spend"] is None and data[1]["spend"] == 1.5


# --- versions ------------------------------------------------------------------------------


def test_versions_unchanged_and_changed(
    workspace: Path, cli: Runner, tree_hash: TreeHash, customers_csv: Path
) -> None:
    first = _ingest(cli, customers_csv, "customer_id")
    assert first.out.splitlines()[0] == "customers@1"

    before = tree_hash(workspace)
    again = _ingest(cli, customers_csv, "customer_id")
    assert again.out.splitlines()[0].startswith("customers@1")
    assert "unchanged" in again.out
    assert tree_hash(workspace) == before  # no new object, no new row, no event

    # Same content from another file name, same dataset name: still unchanged.
    copy = workspace / "copy.csv"
    copy.write_bytes(customers_csv.read_bytes())
    assert "unchanged" in _ingest(cli, copy, "customer_id", "--name", "customers").out
    assert tree_hash(workspace) == before

    customers_csv.write_text(customers_csv.read_text() + "C9999,33,1.00,north\n")
    changed = _ingest(cli, customers_csv, "customer_id")
    assert changed.out.splitlines()[0] == "customers@2"
    assert "unchanged" not in changed.out

    rows = cli("datasets", "--json").json()
    assert [(r["dataset"], r["rows"]) for r in rows] == [("customers@1", 60), ("customers@2", 61)]
    assert _show(cli, "customers")["dataset"] == "customers@2"  # NAME alone: the latest
    assert _show(cli, "customers@1")["rows"] == 60  # the old version is still there


def test_name_option(workspace: Path, cli: Runner, customers_csv: Path) -> None:
    result = _ingest(cli, customers_csv, "customer_id", "--name", "q3-export")
    assert result.out.splitlines()[0] == "q3-export@1"
    assert [r["dataset"] for r in cli("datasets", "--json").json()] == ["q3-export@1"]


def test_ingest_json_output(workspace: Path, cli: Runner, customers_csv: Path) -> None:
    data = _ingest(cli, customers_csv, "customer_id", "--json").json()
    assert data["dataset"] == "customers@1"
    assert data["unchanged"] is False
    assert data["rows"] == 60
    assert data["author"] == "tester"


def test_datasets_json(workspace: Path, cli: Runner, customers_csv: Path) -> None:
    assert cli("datasets", "--json").json() == []
    _ingest(cli, customers_csv, "customer_id")
    (row,) = cli("datasets", "--json").json()
    assert row["dataset"] == "customers@1"
    assert row["rows"] == 60
    assert row["n_columns"] == 4
    assert row["id_column"] == "customer_id"
    assert row["source_format"] == "csv"
    assert row["author"] == "tester"
    assert len(row["object"]) == 64


def test_unknown_dataset(workspace: Path, cli: Runner) -> None:
    result = cli("dataset", "show", "nothing@3", "--json")
    assert result.code == 2
    assert result.err.splitlines() == [
        "error: no dataset nothing@3; `segtrail datasets` lists them"
    ]


# --- where the workspace is, and who acts --------------------------------------------------


def test_outside_a_workspace(tmp_path: Path, run: Runner, customers_csv: Path) -> None:
    """The real console script: exit 2 and one line that says to run `segtrail init`."""
    result = run("ingest", customers_csv, "--id", "customer_id", cwd=tmp_path)
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "segtrail init" in line
    assert not (tmp_path / ".segtrail").exists()


def test_workspace_option_and_env(
    workspace: Path, cli: Runner, run: Runner, customers_csv: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli(
        "--workspace", workspace, "ingest", customers_csv, "--id", "customer_id", cwd=elsewhere
    )
    assert result.code == 0, result.err
    listed = run("datasets", "--json", cwd=elsewhere, env={"SEGTRAIL_WORKSPACE": str(workspace)})
    assert listed.code == 0, listed.err
    assert [r["dataset"] for r in listed.json()] == ["customers@1"]
    assert not (elsewhere / ".segtrail").exists()


def test_workspace_found_from_a_subfolder(
    workspace: Path, cli: Runner, customers_csv: Path
) -> None:
    sub = workspace / "a" / "b"
    sub.mkdir(parents=True)
    assert cli("ingest", customers_csv, "--id", "customer_id", cwd=sub).code == 0
    assert [r["dataset"] for r in cli("datasets", "--json").json()] == ["customers@1"]


def test_workspace_option_not_a_workspace(tmp_path: Path, cli: Runner) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("--workspace", empty, "datasets")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "segtrail init" in line


def test_init_twice_is_refused(workspace: Path, cli: Runner, tree_hash: TreeHash) -> None:
    before = tree_hash(workspace)
    result = cli("init", workspace)
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert tree_hash(workspace) == before


def test_events_record_the_author(workspace: Path, cli: Runner, customers_csv: Path) -> None:
    assert cli("--author", "alice", "ingest", customers_csv, "--id", "customer_id").code == 0
    other = workspace / "other.csv"
    other.write_text("id,x\n1,2\n")
    assert cli("ingest", other, "--id", "id", env={"SEGTRAIL_AUTHOR": "bob"}).code == 0

    events = cli("events", "--json").json()  # newest first
    assert [(e["action"], e["subject"], e["author"]) for e in events] == [
        ("ingest", "other@1", "bob"),
        ("ingest", "customers@1", "alice"),
        ("init", str(workspace.resolve()), "tester"),
    ]
    assert all(e["at"].endswith("Z") for e in events)
    assert events[0]["details"]["rows"] == 1
    authors = {r["dataset"]: r["author"] for r in cli("datasets", "--json").json()}
    assert authors == {"customers@1": "alice", "other@1": "bob"}


# --- fsck ----------------------------------------------------------------------------------


def _objects(workspace: Path) -> list[Path]:
    return sorted((workspace / ".segtrail" / "objects").glob("*/*.parquet"))


def test_fsck_clean(populated: Path, cli: Runner) -> None:
    result = cli("fsck")
    assert result.code == 0, result.out
    assert "clean" in result.out
    report = cli("fsck", "--json").json()
    assert report["clean"] is True
    assert report["problems"] == []
    assert report["objects"] == 1


def test_fsck_finds_a_flipped_byte(populated: Path, cli: Runner) -> None:
    (obj,) = _objects(populated)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x01
    obj.write_bytes(bytes(data))
    result = cli("fsck")
    assert result.code == 2
    assert f"object {obj.name[:12]}" in result.out
    assert "corrupted" in result.out
    assert cli("fsck", "--json").json()["clean"] is False


def test_fsck_finds_a_missing_object(populated: Path, cli: Runner) -> None:
    (obj,) = _objects(populated)
    obj.unlink()
    result = cli("fsck")
    assert result.code == 2
    assert f"object {obj.name[:12]} is recorded but missing" in result.out


def test_fsck_notes_leftovers_but_stays_clean(populated: Path, cli: Runner) -> None:
    """What an interrupted command can leave (a temporary file, an unreferenced object)."""
    (obj,) = _objects(populated)
    (obj.parent / ".tmp-abc123").write_bytes(b"partial")
    result = cli("fsck", "--json")
    assert result.code == 0
    assert result.json()["notes"]


def test_a_new_name_with_the_same_columns_suggests_the_existing_one(
    workspace: Path, cli: Runner
) -> None:
    """Issue 13 item 5: `ingest customers_v2.csv` made customers_v2@1 without a word."""
    frame = pd.DataFrame({"id": [1, 2, 3], "age": [30, 40, 50], "city": ["a", "b", "c"]})
    frame.to_csv(workspace / "customers.csv", index=False)
    _ingest(cli, workspace / "customers.csv")
    frame.assign(age=[31, 41, 51]).to_csv(workspace / "customers_v2.csv", index=False)
    human = _ingest(cli, workspace / "customers_v2.csv")
    assert "customers_v2@1" in human.out
    assert "--name customers" in human.err and "same columns" in human.err
    frame.assign(age=[32, 42, 52]).to_csv(workspace / "customers_v3.csv", index=False)
    as_json = _ingest(cli, workspace / "customers_v3.csv", "id", "--json").json()
    assert as_json["same_columns_as"] in ("customers", "customers_v2")
    # a different shape, or the same name (a new version), says nothing
    frame.drop(columns="city").to_csv(workspace / "other.csv", index=False)
    assert "same_columns_as" not in _ingest(cli, workspace / "other.csv", "id", "--json").json()
    frame.assign(age=[33, 43, 53]).to_csv(workspace / "customers.csv", index=False)
    again = _ingest(cli, workspace / "customers.csv", "id", "--json").json()
    assert again["version"] == 2 and "same_columns_as" not in again


# --- start-up cost -------------------------------------------------------------------------

NO_PANDAS = """
import sys
from segtrail.cli import main
sys.argv = ["segtrail", *sys.argv[1:]]
try:
    main()
finally:
    print("pandas imported" if "pandas" in sys.modules else "pandas not imported")
"""


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_ingest_does_not_import_pandas(workspace: Path, tmp_path: Path, suffix: str) -> None:
    """Reading, checking and summarizing CSV or Parquet is Arrow only; pandas would add a
    second of imports to every ingest. 150,000 rows: past the summaries' sampling limit."""
    import subprocess
    import sys

    n = 150_000
    table = pa.table(
        {
            "id": pa.array([f"C{i}" for i in range(n)]),
            "spend": pa.array([i * 0.5 for i in range(n)]),
            "plan": pa.array(["gold", "free", "trial"] * (n // 3)),
            "member": pa.array(["yes", "no", ""] * (n // 3)),
        }
    )
    path = tmp_path / f"big{suffix}"
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    args = ["--workspace", str(workspace), "ingest", str(path), "--id", "id"]
    proc = subprocess.run(
        [sys.executable, "-c", NO_PANDAS, *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "150,000 customers" in proc.stdout
    assert proc.stdout.strip().endswith("pandas not imported")
