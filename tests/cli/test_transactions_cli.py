"""`segtrail ingest FILE --transactions ...`: the lines and the customers recorded with their
lineage, shown by `dataset show`; an unchanged re-run records nothing; bad options and bad
amounts are one line on stderr, exit 2, and the workspace byte-for-byte as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from damaged_parquet import FOOTER_DAMAGE

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]

ORDERS = """InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Category
536365,A,6,12/01/2010 08:26,2.55,17850,home
536365,B,6,12/01/2010 08:26,3.39,17850,garden
536365,B,6,12/01/2010 08:26,3.39,17850,garden
536366,A,2,12/03/2010 09:00,2.55,17850,home
C536367,A,-1,12/05/2010 10:00,2.55,17850,home
536368,C,1,12/05/2010 10:00,0,13047,home
536369,C,3,12/06/2010 10:00,5.00,,home
536370,C,3,not a date,5.00,13047,home
536371,D,4,12/09/2010 10:00,1.25,13047,garden
C536372,A,-2,12/09/2010 11:00,2.55,01234,home
"""
SPEC = (
    "--transactions",
    "--customer",
    "CustomerID",
    "--date",
    "InvoiceDate",
    "--amount",
    "Quantity*UnitPrice",
    "--order",
    "InvoiceNo",
)


@pytest.fixture
def orders(workspace: Path) -> Path:
    path = workspace / "orders.csv"
    path.write_text(ORDERS)
    return path


def _refused(result: Any, *fragments: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_lines_and_customers_with_lineage(workspace: Path, cli: Runner, orders: Path) -> None:
    result = cli("ingest", orders, *SPEC, "--category", "Category", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert (
        out["dataset"] == "orders@1" and out["transactions"]["dataset"] == "orders-transactions@1"
    )
    assert out["transactions"]["rows"] == 10 and out["rows"] == 3
    assert out["as_of"] == "2010-12-09T11:00:00"
    assert out["summary"] == (
        "10 lines -> 3 customers from 7 lines; left out: 1 without a customer id, "
        "1 with an unparseable date, 1 with amount 0; kept 1 exact duplicate lines"
    )
    shown = cli("dataset", "show", "orders", "--json", "--rows", "5").json()
    lineage = shown["lineage"]
    assert lineage["kind"] == "transactions"
    assert lineage["derived_from"] == "orders-transactions@1"
    assert lineage["spec"]["amount"] == "Quantity*UnitPrice"
    assert lineage["spec"]["as_of"] == "2010-12-09T11:00:00"
    assert lineage["spec"]["counts"]["duplicate_lines"] == 1
    rows = {r["CustomerID"]: r for r in shown["data"]}
    assert set(rows) == {"01234", "13047", "17850"}  # '01234' keeps its zero: ids stay text
    big = rows["17850"]
    assert big["frequency"] == 2 and big["monetary"] == pytest.approx(6 * 2.55 + 12 * 3.39 + 5.1)
    assert big["returns_value"] == pytest.approx(2.55)
    assert big["recency_days"] == 6 and big["tenure_days"] == 8
    assert big["top_category"] == "garden"
    returns_only = rows["01234"]
    assert returns_only["frequency"] == 0 and returns_only["recency_days"] is None
    human = cli("dataset", "show", "orders")
    assert "derived from orders-transactions@1" in human.out
    assert "kept 1 exact duplicate lines" in human.out
    assert cli("dataset", "show", "orders-transactions").json is not None


def test_unchanged_rerun_records_nothing(
    workspace: Path, cli: Runner, orders: Path, tree_hash: TreeHash
) -> None:
    assert cli("ingest", orders, *SPEC).code == 0
    before = tree_hash(workspace)
    again = cli("ingest", orders, *SPEC)
    assert again.code == 0, again.err
    assert "orders@1 (unchanged) from orders-transactions@1 (unchanged)" in again.out
    assert tree_hash(workspace) == before
    # another as-of time is another customer table, from the same lines
    later = cli("ingest", orders, *SPEC, "--as-of", "2010-12-31", "--json").json()
    assert later["dataset"] == "orders@2" and later["transactions"]["unchanged"]
    assert later["transactions"]["dataset"] == "orders-transactions@1"


def test_window_and_as_of(workspace: Path, cli: Runner, orders: Path) -> None:
    out = cli(
        "ingest", orders, *SPEC, "--as-of", "2010-12-06T00:00", "--window", "3", "--json"
    ).json()
    counts = out["counts"]
    assert counts["after_as_of"] == 2 and counts["before_window"] == 3
    assert out["rows"] == 1  # only 17850 bought in the window (its return on 12/05)


def test_parquet_lines_with_typed_timestamps(workspace: Path, cli: Runner) -> None:
    path = workspace / "lines.parquet"
    when = [datetime(2024, 1, 1, 10), datetime(2024, 1, 5, 10), datetime(2024, 1, 9, 10)]
    pq.write_table(
        pa.table({"cust": [7, 7, 8], "at": when, "amount": [10.0, 5.0, 2.5], "order": [1, 2, 3]}),
        path,
    )
    result = cli(
        "ingest",
        path,
        "--transactions",
        "--id",
        "cust",
        "--date",
        "at",
        "--amount",
        "amount",
        "--name",
        "shop",
        "--json",
    )
    assert result.code == 0, result.err
    data = cli("dataset", "show", "shop", "--json", "--rows", "2").json()["data"]
    assert data[0] == {
        "cust": 7,
        "frequency": 2,
        "monetary": 15.0,
        "returns_value": 0.0,
        "recency_days": 4,
        "tenure_days": 8,
        "avg_order_value": 7.5,
        "purchase_days": 2,
        "mean_days_between_orders": 4.0,
        "spend_share_90d": 1.0,
    }


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--amount", "Quantity*Price"), ("no column 'Price'", "Quantity*Price")),
        (("--amount", "Quantity/UnitPrice"), ("unexpected '/'",)),
        (("--date", "When"), ("no date column 'When'",)),
        (("--customer", "Client"), ("no customer column 'Client'",)),
        (("--order", "Invoice"), ("no order column 'Invoice'",)),
        (("--as-of", "next week"), ("--as-of", "next week")),
        (("--window", "0"), ("window",)),
        (("--date", "StockCode"), ("no date",)),
    ],
)
def test_bad_specs_change_nothing(
    workspace: Path,
    cli: Runner,
    orders: Path,
    tree_hash: TreeHash,
    args: tuple[str, ...],
    fragments: tuple[str, ...],
) -> None:
    spec = dict(zip(SPEC[1::2], SPEC[2::2], strict=True))
    spec.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = tree_hash(workspace)
    flat = [x for pair in spec.items() for x in pair]
    _refused(cli("ingest", orders, "--transactions", *flat), *fragments)
    assert tree_hash(workspace) == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--transactions", "--customer", "CustomerID"), "needs --date, --amount"),
        (("--id", "CustomerID", "--date", "InvoiceDate"), "--date goes with --transactions"),
        (("--sql", "SELECT 1"), "one of them"),
        ((), "--id COLUMN is required"),
    ],
)
def test_bad_usage_is_one_line(
    workspace: Path, cli: Runner, orders: Path, tree_hash: TreeHash, args: tuple, fragment: str
) -> None:
    before = tree_hash(workspace)
    _refused(cli("ingest", orders, *args), fragment)
    assert tree_hash(workspace) == before


def test_real_console_script(
    workspace: Path, run: Runner, orders: Path, tree_hash: TreeHash
) -> None:
    result = run("ingest", orders, *SPEC)
    assert result.code == 0, result.err
    assert "orders@1 from orders-transactions@1, as of 2010-12-09 11:00:00" in result.out
    before = tree_hash(workspace)
    bad = run("ingest", orders, *SPEC[:-4], "--amount", "Qty*UnitPrice")
    _refused(bad, "no column 'Qty'")
    assert tree_hash(workspace) == before


def _parquet_orders(path: Path, **extra: list) -> Path:
    table = pa.table(
        {
            "cust": ["a", "a", "b", None, "c"],
            "at": [datetime(2024, 1, d, 10) for d in (1, 5, 6, 7, 9)],
            "amount": [10.0, 5.0, 2.5, 1.0, -3.0],
            **extra,
        }
    )
    pq.write_table(table, path, row_group_size=2)
    return path


PARQUET_SPEC = ("--transactions", "--customer", "cust", "--date", "at", "--amount", "amount")


def test_parquet_lines_are_stored_as_the_file_itself(workspace: Path, cli: Runner) -> None:
    """No column needs converting: the lines' object is the file's bytes (its address their
    SHA-256), and its columns are described as a table read would describe them."""
    import hashlib

    path = _parquet_orders(workspace / "shop.parquet", region=["n", "s", "n", "n", "e"])
    result = cli("ingest", path, *PARQUET_SPEC, "--json")
    assert result.code == 0, result.err
    lines = result.json()["transactions"]
    assert lines["object"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert lines["rows"] == 5 and lines["source_format"] == "parquet"
    columns = {c["name"]: c for c in lines["columns"]}
    assert {n: c["kind"] for n, c in columns.items()} == {
        "cust": "id", "at": "datetime", "amount": "numeric", "region": "categorical",
    }  # fmt: skip
    assert columns["cust"]["summary"]["missing_share"] == pytest.approx(0.2)
    assert columns["amount"]["summary"]["max"] == 10.0
    assert columns["region"]["summary"]["top"][0] == {"value": "n", "share": 0.6}
    assert result.json()["rows"] == 3  # a, b, c (c returns only)


def test_parquet_lines_with_boolean_words_are_converted(workspace: Path, cli: Runner) -> None:
    """A column a dataset stores differently (boolean words as booleans): the lines are
    written anew, as from any other source."""
    import hashlib

    path = _parquet_orders(workspace / "shop.parquet", member=["yes", "no", "no", "yes", "no"])
    result = cli("ingest", path, *PARQUET_SPEC, "--json")
    assert result.code == 0, result.err
    lines = result.json()["transactions"]
    assert lines["object"] != hashlib.sha256(path.read_bytes()).hexdigest()
    objects = workspace / ".segtrail" / "objects"
    stored = pq.read_table(objects / lines["object"][:2] / f"{lines['object']}.parquet")
    assert stored["member"].to_pylist() == [True, False, False, True, False]
    assert {c["name"]: c["kind"] for c in lines["columns"]}["member"] == "boolean"


def test_a_damaged_parquet_file_of_lines_changes_nothing(
    workspace: Path, cli: Runner, tree_hash: TreeHash
) -> None:
    path = _damaged(_parquet_orders(workspace / "shop.parquet"))
    before = tree_hash(workspace)
    _refused(cli("ingest", path, *PARQUET_SPEC), "shop.parquet")
    assert tree_hash(workspace) == before


def _damaged(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[4:300] = bytes(296)  # the first pages zeroed; the footer still reads
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_parquet_file_of_zoned_lines_changes_nothing(
    workspace: Path, cli: Runner, tree_hash: TreeHash
) -> None:
    """Zoned times are read into Arrow before DuckDB sees them: damage found there is the
    same one line, naming the file."""
    path = workspace / "zoned.parquet"
    table = pq.read_table(_parquet_orders(path))
    at = table["at"].cast(pa.timestamp("us", tz="Europe/Paris"))
    pq.write_table(table.set_column(1, "at", at), path, row_group_size=2)
    _damaged(path)
    before = tree_hash(workspace)
    _refused(cli("ingest", path, *PARQUET_SPEC), "zoned.parquet: cannot derive customers")
    assert tree_hash(workspace) == before


def test_a_parquet_file_rewritten_while_it_is_read_changes_nothing(
    workspace: Path, cli: Runner, tree_hash: TreeHash, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB reads the lines from disk while their object is made from the bytes read beside
    it: a file replaced in between (an export still being written) would pair customers with
    lines they were not derived from. The replacement is made right after DuckDB's read."""
    from segtrail.services import transactions

    path = _parquet_orders(workspace / "shop.parquet")
    derive = transactions.customers_from_transactions

    def derive_then_replace(lines: Any, spec: Any) -> Any:
        derived = derive(lines, spec)
        table = pq.read_table(path)
        pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), path)  # one line more
        return derived

    monkeypatch.setattr(transactions, "customers_from_transactions", derive_then_replace)
    before = tree_hash(workspace)
    _refused(cli("ingest", path, *PARQUET_SPEC), "shop.parquet: the file changed while it was read")
    assert tree_hash(workspace) == before
    monkeypatch.setattr(transactions, "customers_from_transactions", derive)
    done = cli("ingest", path, *PARQUET_SPEC)  # run again, as the message says: it works
    assert done.code == 0, done.err


@pytest.mark.parametrize("damage", FOOTER_DAMAGE.values(), ids=FOOTER_DAMAGE.keys())
def test_a_parquet_file_of_lines_whose_footer_cannot_be_read_changes_nothing(
    workspace: Path, cli: Runner, tree_hash: TreeHash, damage: Callable[[bytes], bytes]
) -> None:
    path = _parquet_orders(workspace / "shop.parquet")
    path.write_bytes(damage(path.read_bytes()))
    before = tree_hash(workspace)
    _refused(cli("ingest", path, *PARQUET_SPEC), "shop.parquet")
    assert tree_hash(workspace) == before
