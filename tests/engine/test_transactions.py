"""Order lines to customers: every definition against a plain-Python reference written from
the issue's wording (loops over dicts, no DuckDB, no pandas), on hand-made lines and on
random ones (hypothesis)."""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from damaged_parquet import FOOTER_DAMAGE
from segtrail.engine.transactions import (
    TransactionSpec,
    amount_sql,
    check_spec,
    customers_from_transactions,
    share_column,
)
from segtrail.errors import InvalidInput

T0 = datetime(2024, 1, 1)


def lines_table(rows: list[tuple]) -> pa.Table:
    """rows: (customer, date text, quantity, price, order, category)."""
    names = ["cust", "when", "qty", "price", "inv", "cat"]
    return pa.table(
        {
            "cust": pa.array([r[0] for r in rows], pa.string()),
            "when": pa.array([r[1] for r in rows], pa.string()),
            "qty": pa.array([r[2] for r in rows], pa.int64()),
            "price": pa.array([r[3] for r in rows], pa.float64()),
            "inv": pa.array([r[4] for r in rows], pa.string()),
            "cat": pa.array([r[5] for r in rows], pa.string()),
        }
    ).select(names)


def parse(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def reference(
    rows: list[tuple],
    *,
    as_of: datetime | None = None,
    window: int | None = None,
    by_order: bool = True,
    categories: bool = True,
) -> tuple[dict, dict]:
    """(customers by id, counts), straight from the definitions."""
    counts = defaultdict(int)
    counts["lines"] = len(rows)
    counts["duplicate_lines"] = len(rows) - len(set(rows))
    dated = [parse(r[1]) for r in rows]
    as_of = as_of or max(d for d in dated if d is not None)
    start = as_of - timedelta(days=window) if window else None
    used = []
    for row, when in zip(rows, dated, strict=True):
        customer = (row[0] or "").strip()
        amount = round(row[2] * row[3], 6) if row[2] is not None and row[3] is not None else None
        if not customer:
            counts["no_customer"] += 1
        elif when is None:
            counts["bad_date"] += 1
        elif amount is None:
            counts["no_amount"] += 1
        elif amount == 0:
            counts["zero_amount"] += 1
        elif when > as_of:
            counts["after_as_of"] += 1
        elif start is not None and when < start:
            counts["before_window"] += 1
        else:
            used.append((customer, when, amount, row[4], row[5]))
    counts["used"] = len(used)
    by_customer = defaultdict(list)
    for line in used:
        by_customer[line[0]].append(line)
    spend_by_category = defaultdict(float)
    for _, _, amount, _, category in used:
        if amount > 0 and category is not None:
            spend_by_category[category] += amount
    top = sorted(spend_by_category, key=lambda c: (-round(spend_by_category[c], 6), c))[:5]
    out = {}
    for customer, mine in by_customer.items():
        buys = [line for line in mine if line[2] > 0]
        returns = [line for line in mine if line[2] < 0]
        orders: dict = {}
        for _, when, _, order, _ in buys:
            key = order if by_order and order is not None else ("day", when.date())
            orders[key] = min(orders.get(key, when), when)
        monetary = sum(line[2] for line in buys)
        row = {
            "frequency": len(orders),
            "monetary": monetary,
            "returns_value": -sum(line[2] for line in returns),
            "recency_days": None,
            "tenure_days": None,
            "avg_order_value": monetary / len(orders) if orders else None,
            "purchase_days": len({line[1].date() for line in buys}),
            "mean_days_between_orders": None,
            "spend_share_90d": None,
        }
        if buys:
            last, first = max(line[1] for line in buys), min(line[1] for line in buys)
            row["recency_days"] = math.floor((as_of - last).total_seconds() / 86400)
            row["tenure_days"] = math.floor((as_of - first).total_seconds() / 86400)
            recent = sum(b[2] for b in buys if b[1] > as_of - timedelta(days=90))
            row["spend_share_90d"] = recent / monetary
        if len(orders) >= 2:
            times = sorted(orders.values())
            span = (times[-1] - times[0]).total_seconds() / 86400
            row["mean_days_between_orders"] = span / (len(orders) - 1)
        if categories:
            spend = defaultdict(float)
            for _, _, amount, _, category in buys:
                if category is not None:
                    spend[category] += amount
            for category in top:
                row[share_column(category)] = spend.get(category, 0.0) / monetary if buys else None
            row["top_category"] = (
                min(spend, key=lambda c: (-round(spend[c], 6), c)) if spend else None
            )
        out[customer] = row
    return out, dict(counts)


def check(rows: list[tuple], parquet: bool = False, **options) -> None:
    """`parquet`: give the engine the lines as a Parquet file, which DuckDB reads in place."""
    spec_options = {
        k: v for k, v in options.items() if k in ("as_of", "window_days", "order", "category")
    }
    spec = TransactionSpec("cust", "when", "qty*price", **spec_options)
    if parquet:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "lines.parquet"
            pq.write_table(lines_table(rows), path, row_group_size=7)  # several row groups
            result = customers_from_transactions(path, spec)
    else:
        result = customers_from_transactions(lines_table(rows), spec)
    expected, counts = reference(
        rows,
        as_of=options.get("as_of"),
        window=options.get("window_days"),
        by_order=options.get("order") is not None,
        categories=options.get("category") is not None,
    )
    got = {r.pop("cust"): r for r in result.table.to_pylist()}
    assert list(got) == sorted(got)  # ordered by id
    assert set(got) == set(expected)
    for customer, row in expected.items():
        assert set(got[customer]) == set(row), customer
        for column, value in row.items():
            actual = got[customer][column]
            if value is None or isinstance(value, str):
                assert actual == value, (customer, column)
            else:
                assert actual == pytest.approx(value, rel=1e-9, abs=1e-9), (customer, column)
    for key, value in counts.items():
        assert result.counts[key] == value, key
    assert result.counts["customers"] == len(expected)


# (customer, when, quantity, price, order, category)
SHOP = [
    ("a", "2024-01-01 10:00:00", 1, 10.0, "o1", "x"),
    ("a", "2024-01-01 12:00:00", 2, 5.0, "o1", "y"),
    ("a", "2024-01-01 10:00:00", 1, 10.0, "o1", "x"),  # exact duplicate: kept
    ("a", "2024-02-01 09:30:00", 1, 20.0, "o2", "x"),
    ("a", "2024-02-03 09:30:00", -1, 10.0, "r1", "x"),  # a return
    ("b", "2024-01-15 00:00:00", -1, 7.5, "r2", "y"),  # b only returns
    ("b", "yesterday", 1, 1.0, "o3", "y"),  # bad date
    (None, "2024-01-01 00:00:00", 1, 1.0, "o4", "x"),  # no customer
    ("  ", "2024-01-01 00:00:00", 1, 1.0, "o5", "x"),  # blank customer
    ("c", "2024-03-01 00:00:00", 0, 3.0, "o6", "x"),  # amount 0 (sets the default as-of)
    ("d", "2024-02-20 08:00:00", 3, 1.5, None, "y"),  # no order id: its day is the order
    ("d", "2024-02-20 18:00:00", 1, 1.5, None, "z"),
    ("d", "2024-02-25 08:00:00", 1, 4.5, "o7", "z"),
]


def test_hand_made_lines_with_orders_and_categories() -> None:
    check(SHOP, order="inv", category="cat")
    check(SHOP, parquet=True, order="inv", category="cat")
    result = customers_from_transactions(
        lines_table(SHOP), TransactionSpec("cust", "when", "qty*price", order="inv")
    )
    a, b, d = (r for r in result.table.to_pylist() if r["cust"] in ("a", "b", "d"))
    assert (a["frequency"], a["monetary"], a["returns_value"]) == (2, 50.0, 10.0)
    assert result.as_of == datetime(2024, 3, 1)  # the latest timestamp, even of a left-out line
    assert (a["recency_days"], a["tenure_days"]) == (28, 59)
    assert a["mean_days_between_orders"] == pytest.approx((31 * 24 - 0.5) / 24)
    assert b["frequency"] == 0 and b["monetary"] == 0 and b["returns_value"] == 7.5
    assert b["recency_days"] is None and b["avg_order_value"] is None
    assert d["frequency"] == 2  # the day without an order id, and o7
    counts = result.counts
    assert (counts["no_customer"], counts["bad_date"], counts["zero_amount"]) == (2, 1, 1)
    assert counts["duplicate_lines"] == 1
    assert result.summary() == (
        "13 lines -> 3 customers from 9 lines; left out: 2 without a customer id, "
        "1 with an unparseable date, 1 with amount 0; kept 1 exact duplicate lines"
    )


def test_without_order_frequency_is_purchase_days() -> None:
    check(SHOP)
    result = customers_from_transactions(
        lines_table(SHOP), TransactionSpec("cust", "when", "qty*price")
    )
    a = next(r for r in result.table.to_pylist() if r["cust"] == "a")
    assert a["frequency"] == a["purchase_days"] == 2


def test_as_of_and_window_leave_lines_out_and_count_them() -> None:
    check(SHOP, as_of=datetime(2024, 2, 1), window_days=20, order="inv")
    result = customers_from_transactions(
        lines_table(SHOP),
        TransactionSpec("cust", "when", "qty*price", as_of=datetime(2024, 2, 1), window_days=20),
    )
    assert result.counts["after_as_of"] == 5 and result.counts["before_window"] == 3
    assert "5 after the as-of time" in result.summary()


def test_category_shares_and_ties() -> None:
    rows = [
        ("a", "2024-01-01", 1, 5.0, "o1", "zeta"),
        ("a", "2024-01-01", 1, 5.0, "o1", "alpha"),  # a tie: alphabetical first wins
        ("b", "2024-01-02", 1, 0.1, "o2", "Home & Garden"),
        ("b", "2024-01-02", 1, 0.2, "o2", "Home & Garden"),
        ("b", "2024-01-02", 1, 0.3, "o2", "alpha"),  # 0.1 + 0.2 == 0.3 exactly in decimals
    ]
    check(rows, order="inv", category="cat")
    table = customers_from_transactions(
        lines_table(rows), TransactionSpec("cust", "when", "qty*price", category="cat")
    ).table
    assert "share_home_garden" in table.column_names
    assert table["top_category"].to_pylist() == ["alpha", "Home & Garden"]


def test_day_first_dates_are_recognised() -> None:
    rows = [
        ("a", "31/12/2023 10:00", 1, 2.0, "o1", "x"),
        ("a", "02/01/2024 09:00", 1, 2.0, "o2", "x"),
    ]
    result = customers_from_transactions(
        lines_table(rows), TransactionSpec("cust", "when", "qty*price", order="inv")
    )
    assert result.date_format == "%d/%m/%Y %H:%M"
    assert result.as_of == datetime(2024, 1, 2, 9)
    assert result.table.to_pylist()[0]["tenure_days"] == 1


def test_zoned_timestamps_count_in_utc() -> None:
    when = pa.array([datetime(2024, 1, 1, 23, 30), datetime(2024, 1, 3, 1)], pa.timestamp("us"))
    table = pa.table(
        {
            "cust": ["a", "a"],
            "when": when.cast(pa.timestamp("us", tz="UTC")),
            "amount": [5.0, 7.0],
        }
    )
    result = customers_from_transactions(table, TransactionSpec("cust", "when", "amount"))
    row = result.table.to_pylist()[0]
    assert row["tenure_days"] == 1 and row["purchase_days"] == 2
    assert result.date_format == "typed"


def test_a_parquet_file_gives_the_same_customers_as_its_table(tmp_path: Path) -> None:
    """Zoned times and a text date column too: the file route reads what the table route does."""
    zoned = tmp_path / "zoned.parquet"
    when = pa.array([datetime(2024, 1, 1, 23, 30), datetime(2024, 1, 3, 1)], pa.timestamp("us"))
    table = pa.table({"cust": ["a", "a"], "when": when.cast(pa.timestamp("us", tz="UTC")),
                      "amount": [5.0, 7.0]})  # fmt: skip
    pq.write_table(table, zoned)
    spec = TransactionSpec("cust", "when", "amount")
    from_file = customers_from_transactions(zoned, spec)
    assert from_file.table.equals(customers_from_transactions(table, spec).table)
    assert from_file.table.to_pylist()[0]["tenure_days"] == 1
    shop = tmp_path / "shop.parquet"
    pq.write_table(lines_table(SHOP), shop)
    spec = TransactionSpec("cust", "when", "qty*price", order="inv", category="cat")
    expected = customers_from_transactions(lines_table(SHOP), spec)
    got = customers_from_transactions(str(shop), spec)
    assert got.table.equals(expected.table)
    assert (got.counts, got.as_of, got.date_format) == (
        expected.counts, expected.as_of, expected.date_format
    )  # fmt: skip


def test_a_damaged_parquet_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "lines.parquet"
    pq.write_table(lines_table(SHOP), path)
    data = bytearray(path.read_bytes())
    data[8:400] = bytes(392)  # the first pages, zeroed; the footer still reads
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="cannot derive customers"):
        customers_from_transactions(path, TransactionSpec("cust", "when", "qty*price"))


def test_a_damaged_parquet_file_of_zoned_times_is_one_clear_error(tmp_path: Path) -> None:
    """Zoned times are read into Arrow (not by DuckDB): damage there reads the same."""
    path = tmp_path / "zoned.parquet"
    table = lines_table(SHOP)
    moments = [datetime.fromisoformat(r[1]) if r[1][0].isdigit() else None for r in SHOP]
    when = pa.array(moments, pa.timestamp("us", tz="Asia/Tokyo"))
    pq.write_table(table.set_column(1, "when", when), path)
    data = bytearray(path.read_bytes())
    data[8:400] = bytes(392)  # the first pages, zeroed; the footer still reads
    path.write_bytes(bytes(data))
    with pytest.raises(OSError) as read:  # what pyarrow says of the file
        pq.read_table(path)
    reason = str(read.value).strip().splitlines()[0]
    with pytest.raises(InvalidInput) as caught:
        customers_from_transactions(path, TransactionSpec("cust", "when", "qty*price"))
    message = str(caught.value)
    assert message == f"zoned.parquet: cannot derive customers from the order lines: {reason}"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("qty*price", 6.0),
        ("qty * price - 1", 5.0),
        ("(qty + 1) * price", 9.0),
        ('"unit price" * qty', 6.0),
        ("`unit price` * 2", 6.0),
        ("unit price", 3.0),  # a column name that is not an identifier, given whole
        ("-qty*price", -6.0),
        ("qty*price*0.5", 3.0),
        ("qty - price - 1", -2.0),  # left to right
        ("qty - (price - 1)", 0.0),
        ("qty + price * 2", 8.0),  # * before +
        ("qty--price", 5.0),
        ('"a""b" * .5', 2.0),  # a doubled quote inside quotes is one quote
        ("  qty  ", 2.0),
    ],
)
def test_amount_expressions(expression: str, expected: float) -> None:
    table = pa.table(
        {
            "c": ["a"],
            "d": ["2024-01-01"],
            "qty": [2],
            "price": [3.0],
            "unit price": [3.0],
            'a"b': [4.0],
        }
    )
    sql, _ = amount_sql(expression, table.column_names)
    import duckdb

    con = duckdb.connect()
    con.register("t", table)
    assert con.execute(f"SELECT {sql} FROM t").fetchone()[0] == pytest.approx(expected)


_USE = "use column names, numbers, +, - and *"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("qty*Price", "amount 'qty*Price': no column 'Price' (columns: qty, price)"),
        ("qty/price", f"amount 'qty/price': unexpected '/'; {_USE}"),
        ("qty  / 2", f"amount 'qty  / 2': unexpected '/'; {_USE}"),
        ("qty*", "amount 'qty*': ends too early"),
        ("(qty", "amount '(qty': a '(' is not closed"),
        ("qty*(price", "amount 'qty*(price': a '(' is not closed"),
        ("qty price", "amount 'qty price': unexpected 'price'"),
        ("1 2", "amount '1 2': unexpected '2'"),
        (")", "amount ')': unexpected ')'"),
        ("__import__('os')", f'amount "__import__(\'os\')": unexpected "\'"; {_USE}'),
        ("", "the amount is empty: give a column or an expression of columns"),
        ("   ", "the amount is empty: give a column or an expression of columns"),
    ],
)
def test_bad_amount_expressions(expression: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        amount_sql(expression, ["qty", "price"])
    assert str(info.value) == message


def test_an_unknown_amount_column_lists_the_first_twenty_columns() -> None:
    columns = [f"c{i}" for i in range(25)]
    with pytest.raises(InvalidInput) as info:
        amount_sql("c1 * nope", columns)
    assert str(info.value) == (
        f"amount 'c1 * nope': no column 'nope' (columns: {', '.join(columns[:20])})"
    )


def test_the_amount_names_the_columns_it_uses() -> None:
    columns = ["qty", "price", 'a"b', "x y"]
    assert amount_sql(' "a""b" * qty - `x y` + 2 ', columns)[1] == ['a"b', "qty", "x y"]
    assert amount_sql("x y", columns)[1] == ["x y"]
    assert amount_sql("-(3)", columns)[1] == []


def test_no_usable_line_is_an_error() -> None:
    rows = [("a", "2024-01-01", 0, 1.0, "o", "x"), (None, "2024-01-01", 1, 1.0, "o", "x")]
    with pytest.raises(InvalidInput) as caught:
        customers_from_transactions(lines_table(rows), TransactionSpec("cust", "when", "qty*price"))
    assert str(caught.value) == (
        "no usable order lines: 2 lines, 1 without a customer id, 1 with amount 0"
    )
    with pytest.raises(InvalidInput, match="no date"):
        customers_from_transactions(
            lines_table([("a", "soon", 1, 1.0, "o", "x")]), TransactionSpec("cust", "when", "qty")
        )


def test_same_lines_give_the_same_bytes() -> None:
    """Exact decimal sums: the same input gives identical output, run after run."""
    rows = [
        (f"c{i % 7}", f"2024-01-{1 + i % 28:02d}", 1 + i % 3, 0.1 * (i % 10), f"o{i // 3}", "x")
        for i in range(3000)
    ]
    spec = TransactionSpec("cust", "when", "qty*price", order="inv")
    first = customers_from_transactions(lines_table(rows), spec).table
    for _ in range(3):
        assert customers_from_transactions(lines_table(rows), spec).table.equals(first)


line = st.tuples(
    st.sampled_from(["a", "b", "c", " d", "d", "", None]),
    st.one_of(
        st.integers(0, 200 * 24).map(lambda h: (T0 + timedelta(hours=h)).isoformat(sep=" ")),
        st.sampled_from(["", "not a date", None]),
    ),
    st.integers(-3, 5),
    st.sampled_from([0.5, 1.25, 2.0, 9.99, 0.1]),
    st.sampled_from(["o1", "o2", "o3", "o4", None]),
    st.sampled_from(["x", "y", "z", None]),
)


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(line, min_size=1, max_size=40).filter(
        lambda rows: (
            any(parse(r[1]) for r in rows)
            and any((r[0] or "").strip() and parse(r[1]) and r[2] for r in rows)
        )
    ),
    by_order=st.booleans(),
    categories=st.booleans(),
    window=st.sampled_from([None, 30, 120]),
    parquet=st.booleans(),
)
def test_random_lines_match_the_reference(
    rows: list[tuple], by_order: bool, categories: bool, window: int | None, parquet: bool
) -> None:
    """Reference: `reference()` in this file, the documented definitions in plain Python.
    The lines go in as an Arrow table or as a Parquet file (DuckDB reads it in place)."""
    options = {"window_days": window, "parquet": parquet}
    if by_order:
        options["order"] = "inv"
    if categories:
        options["category"] = "cat"
    try:
        check(rows, **options)
    except InvalidInput as e:  # every usable line fell outside the window
        assert "no usable order lines" in str(e)
        assert window is not None


def test_amounts_beyond_twelve_digits_are_left_out_and_counted() -> None:
    rows = [("a", "2024-01-01", 1, 2.5, "o1", "x"), ("a", "2024-01-02", 1, 1e15, "o2", "x")]
    result = customers_from_transactions(
        lines_table(rows), TransactionSpec("cust", "when", "qty*price")
    )
    assert result.counts["no_amount"] == 1
    assert result.table.to_pylist()[0]["monetary"] == 2.5
    assert "1 without an amount" in result.summary()


def test_a_spec_reads_back_as_a_plain_dict() -> None:
    """What the dataset's lineage records: every field by name, the as-of time in ISO."""
    spec = TransactionSpec(
        "cust", "when", "qty*price", order="inv", category="cat",
        as_of=datetime(2024, 2, 1, 12, 30), window_days=20,
    )  # fmt: skip
    assert spec.as_dict() == {
        "customer": "cust",
        "date": "when",
        "amount": "qty*price",
        "order": "inv",
        "category": "cat",
        "as_of": "2024-02-01T12:30:00",
        "window_days": 20,
    }
    assert TransactionSpec("c", "d", "a").as_dict() == {
        "customer": "c",
        "date": "d",
        "amount": "a",
        "order": None,
        "category": None,
        "as_of": None,
        "window_days": None,
    }


def test_the_summary_says_none_were_left_out() -> None:
    rows = [("a", "2024-01-01", 1, 2.0, "o1", "x"), ("b", "2024-01-02", 1, 3.0, "o2", "x")]
    result = customers_from_transactions(lines_table(rows), TransactionSpec("cust", "when", "qty"))
    assert result.summary() == (
        "2 lines -> 2 customers from 2 lines; left out: none; kept 0 exact duplicate lines"
    )


@pytest.mark.parametrize(
    ("category", "column"),
    [
        ("Home & Garden", "share_home_garden"),
        ("__Sale__", "share_sale"),
        ("  x  ", "share_x"),
        ("!!!", "share_blank"),
        ("", "share_blank"),
        ("Été 2024", "share_t_2024"),
    ],
)
def test_share_column_names(category: str, column: str) -> None:
    assert share_column(category) == column


def test_share_columns_never_collide() -> None:
    """Categories that read alike, and a customer column named like a share, get distinct
    columns (an underscore more each time); every share is still right.
    Reference: the plain-Python reference() of this file."""
    rows = [
        ("a", "2024-01-01", 1, 1.0, "o1", "a b"),
        ("a", "2024-01-01", 1, 3.0, "o1", "a-b"),
        ("a", "2024-01-02", 1, 4.0, "o2", "A B"),
        ("b", "2024-01-02", 1, 2.0, "o3", "x"),
    ]
    lines = lines_table(rows).rename_columns(["share_x", "when", "qty", "price", "inv", "cat"])
    table = customers_from_transactions(
        lines, TransactionSpec("share_x", "when", "qty*price", category="cat")
    ).table
    shares = [c for c in table.column_names if c.startswith("share_") and c != "share_x"]
    assert sorted(shares) == ["share_a_b", "share_a_b_", "share_a_b__", "share_x_"]
    a = next(r for r in table.to_pylist() if r["share_x"] == "a")
    assert sorted(a[c] for c in shares) == [0.0, 0.125, 0.375, 0.5]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"customer": "who"}, "no customer column 'who' (columns: cust, when, qty)"),
        ({"date": "day"}, "no date column 'day' (columns: cust, when, qty)"),
        ({"order": "inv"}, "no order column 'inv' (columns: cust, when, qty)"),
        ({"category": "cat"}, "no category column 'cat' (columns: cust, when, qty)"),
        ({"window_days": 0}, "the window must be at least 1 day, not 0"),
        (
            {"amount": "qty/2"},
            "amount 'qty/2': unexpected '/'; use column names, numbers, +, - and *",
        ),
    ],
)
def test_a_spec_naming_what_the_lines_lack_is_refused(change: dict, message: str) -> None:
    spec = {"customer": "cust", "date": "when", "amount": "qty", **change}
    with pytest.raises(InvalidInput) as caught:
        check_spec(TransactionSpec(**spec), ["cust", "when", "qty"])
    assert str(caught.value) == message


@pytest.mark.parametrize("name", ["frequency", "spend_share_90d", "top_category"])
def test_the_customer_column_may_not_take_a_derived_name(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_spec(TransactionSpec(name, "when", "qty"), [name, "when", "qty"])
    assert str(caught.value) == f"the customer column may not be named '{name}'"


def test_a_valid_spec_gives_the_amount_sql() -> None:
    spec = TransactionSpec("cust", "when", "qty", order="inv", category="cat", window_days=1)
    assert check_spec(spec, ["cust", "when", "qty", "inv", "cat"]) == 'TRY_CAST("qty" AS DOUBLE)'


def test_ambiguous_dates_are_read_month_first() -> None:
    """01/02/2024 parses both ways: the first format listed (month first) wins the tie."""
    rows = [("a", "01/02/2024", 1, 2.0, "o1", "x"), ("a", "03/02/2024", 1, 2.0, "o2", "x")]
    result = customers_from_transactions(
        lines_table(rows), TransactionSpec("cust", "when", "qty*price")
    )
    assert result.date_format == "%m/%d/%Y"
    assert result.as_of == datetime(2024, 3, 2)


def test_typed_dates_and_numeric_customer_ids() -> None:
    table = pa.table(
        {
            "cust": pa.array([7, 7, 3, None], pa.int64()),
            "day": pa.array([date(2024, 1, 1), date(2024, 1, 11), date(2024, 1, 5), None]),
            "amount": [1.0, 2.0, 4.0, 8.0],
        }
    )
    result = customers_from_transactions(table, TransactionSpec("cust", "day", "amount"))
    assert result.date_format == "typed" and result.as_of == datetime(2024, 1, 11)
    rows = result.table.to_pylist()
    assert [(r["cust"], r["monetary"], r["tenure_days"]) for r in rows] == [
        (3, 4.0, 6),
        (7, 3.0, 10),
    ]
    assert result.counts["no_customer"] == 1


def test_blank_customer_ids_in_large_strings_are_left_out() -> None:
    table = pa.table(
        {
            "cust": pa.array([" a ", "  ", "a"], pa.large_string()),
            "when": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "amount": [1.0, 2.0, 4.0],
        }
    )
    result = customers_from_transactions(table, TransactionSpec("cust", "when", "amount"))
    assert [(r["cust"], r["monetary"]) for r in result.table.to_pylist()] == [("a", 5.0)]
    assert result.counts["no_customer"] == 1


def test_the_window_and_the_as_of_time_include_their_bounds() -> None:
    """as of 2024-02-01 with a 10-day window: from 2024-01-22 00:00 to 2024-02-01 00:00, both
    included; a purchase exactly 90 days before the as-of time is not recent."""
    rows = [
        ("a", "2024-01-21 23:59:59", 1, 1.0, "o1", "x"),  # before the window
        ("a", "2024-01-22 00:00:00", 1, 2.0, "o2", "x"),
        ("a", "2024-02-01 00:00:00", 1, 4.0, "o3", "x"),
        ("a", "2024-02-01 00:00:01", 1, 8.0, "o4", "x"),  # after the as-of time
    ]
    spec = TransactionSpec("cust", "when", "qty*price", as_of=datetime(2024, 2, 1), window_days=10)
    result = customers_from_transactions(lines_table(rows), spec)
    (a,) = result.table.to_pylist()
    assert (a["monetary"], a["frequency"], a["tenure_days"], a["recency_days"]) == (6.0, 2, 10, 0)
    assert (result.counts["before_window"], result.counts["after_as_of"]) == (1, 1)
    recent = [
        ("b", "2024-01-02 00:00:00", 1, 1.0, "o1", "x"),
        ("b", "2024-01-02 00:00:01", 1, 3.0, "o2", "x"),
    ]
    spec = TransactionSpec("cust", "when", "qty*price", as_of=datetime(2024, 4, 1))
    (b,) = customers_from_transactions(lines_table(recent), spec).table.to_pylist()
    assert b["spend_share_90d"] == 0.75


def test_a_date_beyond_what_duckdb_reads_is_one_clear_error(tmp_path: Path) -> None:
    table = pa.table(
        {"c": ["a", "b"], "d": pa.array([10**14, 0], pa.timestamp("s")), "amount": [1.0, 2.0]}
    )
    spec = TransactionSpec("c", "d", "amount")
    with pytest.raises(InvalidInput) as caught:
        customers_from_transactions(table, spec)
    message = str(caught.value)
    assert message.startswith("cannot derive customers from the order lines: Conversion Error")
    assert "\n" not in message
    path = tmp_path / "far.parquet"
    pq.write_table(table, path)
    with pytest.raises(InvalidInput) as caught:
        customers_from_transactions(path, spec)
    message = str(caught.value)  # the file's name first
    assert message.startswith("far.parquet: cannot derive customers from the order lines: ")
    assert "\n" not in message


def test_quotes_in_categories_and_file_names_are_read_as_text(tmp_path: Path) -> None:
    rows = [
        ("a", "2024-01-01", 1, 3.0, "o1", "Kids' toys"),
        ("a", "2024-01-02", 1, 1.0, "o2", "x"),
        ("b", "2024-01-02", 1, 2.0, "o3", "x"),
    ]
    folder = tmp_path / "o'brien"
    folder.mkdir()
    path = folder / "it's.parquet"
    pq.write_table(lines_table(rows), path)
    spec = TransactionSpec("cust", "when", "qty*price", category="cat")
    result = customers_from_transactions(path, spec)
    assert result.categories == ["Kids' toys", "x"]
    a, b = result.table.to_pylist()
    assert (a["share_kids_toys"], a["share_x"], a["top_category"]) == (0.75, 0.25, "Kids' toys")
    assert (b["share_kids_toys"], b["top_category"]) == (0.0, "x")


def test_an_order_is_its_id_not_its_day() -> None:
    """With an order column, one order may span two days and one day may hold several
    orders (plus a purchase line without an id: an order of its own day); without one, an
    order is a purchase day. Values by hand."""
    rows = [
        ("a", "2024-01-01 23:00:00", 1, 10.0, "o1", "x"),
        ("a", "2024-01-02 01:00:00", 1, 5.0, "o1", "x"),  # o1 again, the next day
        ("a", "2024-01-05 09:00:00", 1, 20.0, "o2", "x"),
        ("a", "2024-01-05 15:00:00", 1, 30.0, "o3", "x"),  # a second order that day
        ("a", "2024-01-05 16:00:00", 1, 15.0, None, "x"),  # no id: the order of 2024-01-05
    ]
    by_order = TransactionSpec("cust", "when", "qty*price", order="inv")
    (a,) = customers_from_transactions(lines_table(rows), by_order).table.to_pylist()
    assert (a["frequency"], a["purchase_days"], a["avg_order_value"]) == (4, 3, 20.0)
    # orders at 01-01 23:00 (o1's earliest line), 01-05 09:00, 15:00 and 16:00: 3 gaps
    assert a["mean_days_between_orders"] == pytest.approx((3 * 24 + 17) / 24 / 3)
    by_day = TransactionSpec("cust", "when", "qty*price")
    (a,) = customers_from_transactions(lines_table(rows), by_day).table.to_pylist()
    assert (a["frequency"], a["purchase_days"], a["avg_order_value"]) == (3, 3, 80.0 / 3)
    # days first bought at 01-01 23:00, 01-02 01:00 and 01-05 09:00: 2 gaps
    assert a["mean_days_between_orders"] == pytest.approx((3 * 24 + 10) / 24 / 2)
    check(rows, order="inv")
    check(rows)


def test_a_date_column_that_never_parses_names_the_column_and_the_formats() -> None:
    rows = [("a", "soon", 1, 1.0, "o", "x"), ("b", "later", 1, 2.0, "o", "x")]
    with pytest.raises(InvalidInput) as caught:
        customers_from_transactions(lines_table(rows), TransactionSpec("cust", "when", "qty"))
    assert str(caught.value) == (
        "no date in column 'when' could be read (expected e.g. 2024-03-31 or 31/03/2024 14:05)"
    )


def test_a_duckdb_error_without_text_is_named_by_its_kind(monkeypatch) -> None:
    """DuckDB may raise an error with an empty message: the user still reads what failed."""
    import duckdb

    class Failing:
        def _fail(self, *args, **kwargs):
            raise duckdb.IOException("")

        register = execute = sql = _fail

        def close(self) -> None:
            pass

    monkeypatch.setattr(duckdb, "connect", lambda *args, **kwargs: Failing())
    with pytest.raises(InvalidInput) as caught:
        customers_from_transactions(lines_table(SHOP), TransactionSpec("cust", "when", "qty"))
    assert str(caught.value) == "cannot derive customers from the order lines: IOException"


def test_zoned_times_count_in_utc_whatever_the_session_time_zone(monkeypatch, tmp_path) -> None:
    """A server whose DuckDB runs in another time zone (here UTC+14) reads zoned times as
    UTC wall time all the same, from a table or from a Parquet file."""
    import duckdb

    connect = duckdb.connect

    def far_east(*args, **kwargs):
        con = connect(*args, **kwargs)
        con.execute("SET TimeZone = 'Pacific/Kiritimati'")
        return con

    monkeypatch.setattr(duckdb, "connect", far_east)
    when = pa.array([datetime(2024, 1, 1, 9), datetime(2024, 1, 1, 11)], pa.timestamp("us"))
    table = pa.table(
        {"cust": ["a", "a"], "when": when.cast(pa.timestamp("us", tz="UTC")), "amount": [5.0, 7.0]}
    )
    path = tmp_path / "zoned.parquet"
    pq.write_table(table, path)
    spec = TransactionSpec("cust", "when", "amount", as_of=datetime(2024, 1, 2))
    for lines in (table, path):
        result = customers_from_transactions(lines, spec)
        (row,) = result.table.to_pylist()
        # in UTC both lines are on 2024-01-01, 13 h and 15 h before the as-of time
        assert (row["monetary"], row["purchase_days"], row["recency_days"]) == (12.0, 1, 0)
        assert result.counts["after_as_of"] == 0


def test_iso_dates_are_read_as_iso_8601() -> None:
    rows = [("a", "2024-01-31 10:00:00", 1, 2.0, "o1", "x"), ("a", "2024-02-01", 1, 2.0, "o2", "x")]
    result = customers_from_transactions(lines_table(rows), TransactionSpec("cust", "when", "qty"))
    assert result.date_format == "ISO 8601"
    assert result.as_of == datetime(2024, 2, 1)


def test_a_missing_column_lists_the_first_twenty_columns() -> None:
    columns = [f"c{i}" for i in range(25)]
    with pytest.raises(InvalidInput) as caught:
        check_spec(TransactionSpec("c1", "when", "c2"), columns)
    assert str(caught.value) == f"no date column 'when' (columns: {', '.join(columns[:20])})"


def test_doubled_quotes_are_unescaped_only_inside_double_quotes() -> None:
    """Inside backticks a name is taken as written: `a""b` names the column a""b."""
    columns = ['a""b', 'a"b']
    assert amount_sql('`a""b` * 2', columns)[1] == ['a""b']
    assert amount_sql('"a""b" * 2', columns)[1] == ['a"b']


def test_a_missing_date_column_is_refused_before_the_file_is_read(tmp_path: Path) -> None:
    """The file's schema alone tells the column is missing: its pages (damaged here) are
    never read, and the user reads which column is missing."""
    path = tmp_path / "lines.parquet"
    pq.write_table(lines_table(SHOP), path)
    data = bytearray(path.read_bytes())
    data[8:400] = bytes(392)  # the first pages, zeroed; the footer still reads
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInput) as caught:
        customers_from_transactions(path, TransactionSpec("cust", "day", "qty"))
    assert str(caught.value) == "no date column 'day' (columns: cust, when, qty, price, inv, cat)"


@pytest.mark.parametrize("damage", FOOTER_DAMAGE.values(), ids=FOOTER_DAMAGE.keys())
@pytest.mark.parametrize("zoned", [False, True], ids=["plain", "zoned"])
def test_a_parquet_file_whose_footer_cannot_be_read_is_one_clear_error(
    tmp_path: Path, damage, zoned: bool
) -> None:
    """The schema itself cannot be read: the same one line as damaged pages, naming the file,
    with what pyarrow says of it (whatever the date column's type would have been)."""
    path = tmp_path / "broken lines.parquet"
    table = lines_table(SHOP)
    if zoned:
        moments = [datetime.fromisoformat(r[1]) if r[1][0].isdigit() else None for r in SHOP]
        table = table.set_column(1, "when", pa.array(moments, pa.timestamp("us", tz="UTC")))
    pq.write_table(table, path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises((OSError, pa.ArrowException)) as read:  # what pyarrow says of the file
        pq.read_schema(path)
    reason = str(read.value).strip().splitlines()[0]
    for lines in (path, str(path)):
        with pytest.raises(InvalidInput) as caught:
            customers_from_transactions(lines, TransactionSpec("cust", "when", "qty*price"))
        assert str(caught.value) == (
            f"broken lines.parquet: cannot derive customers from the order lines: {reason}"
        )
        assert caught.value.kind.code == "invalid_input" and caught.value.exit_code == 2
