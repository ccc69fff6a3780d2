"""Property: any table of unique ids and typed values (with missing ones), written as CSV or
as Parquet, reads back exactly through `segtrail ingest` and `dataset show --json --rows N`:
the same values, the same JSON types, in id order.

Where CSV cannot carry something, the strategy avoids it; each limit is written down here:
- CSV has no missing marker of its own: an empty field and Arrow's null words ("NA", "nan",
  "null", ...) read as missing, so text values are never one of those.
- CSV has no types: a column is typed from its text, so every text column holds at least one
  value that cannot be read as a number, boolean or date; and text ids that are all written
  as plain integers ("42", not "042") read back as integers.
- Ids are trimmed by design, so generated ids have no surrounding whitespace.
"""

from __future__ import annotations

import csv
import io
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

Runner = Callable[..., Any]

INT64 = st.integers(-(2**63), 2**63 - 1)
NULL_WORDS = set(pacsv.ConvertOptions().null_values)
PLAIN_INTEGER = re.compile(r"0|-?[1-9][0-9]*")
# Any character but surrogates and control characters, plus tab and line feed, which CSV
# carries inside quotes.
CHARACTERS = st.characters(
    codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\t\n"
)
TEXT = st.text(CHARACTERS, min_size=1, max_size=12).filter(lambda s: s not in NULL_WORDS)
# Starts with a letter that no number, boolean word (true/false/yes/no) or date starts with.
PLAIN_TEXT = st.from_regex(r"[a-dg-hj-mo-su-xz][\w ,;\"']{0,8}", fullmatch=True)
STRING_ID = st.text(CHARACTERS, min_size=1, max_size=10).filter(
    lambda s: s.strip() == s and s not in NULL_WORDS
)
VALUES = {
    "int": (INT64, pa.int64()),
    "float": (st.floats(allow_nan=False, allow_infinity=False), pa.float64()),
    "bool": (st.booleans(), pa.bool_()),
    "text": (TEXT, pa.string()),
}


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Any], dict[str, tuple[str, list[Any]]]]:
    """(ids, {column: (kind, values)}), values None where missing."""
    n = draw(st.integers(1, 10))
    ids = draw(
        st.lists(draw(st.sampled_from([INT64, STRING_ID])), min_size=n, max_size=n, unique=True)
    )
    columns = {}
    for j, kind in enumerate(
        draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=0, max_size=4))
    ):
        values = draw(st.lists(st.none() | VALUES[kind][0], min_size=n, max_size=n))
        if kind == "text":
            values[draw(st.integers(0, n - 1))] = draw(PLAIN_TEXT)
        columns[f"c{j}"] = (kind, values)
    return ids, columns


def _write_csv(path: Path, ids: list[Any], columns: dict) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", *columns])
    for i, customer in enumerate(ids):
        row = [customer]
        for _, values in columns.values():
            # repr: the shortest text that reads back as the same float; None is written "".
            row.append(repr(values[i]) if isinstance(values[i], float) else values[i])
        writer.writerow(row)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _write_parquet(path: Path, ids: list[Any], columns: dict) -> None:
    id_type = pa.int64() if isinstance(ids[0], int) else pa.string()
    arrays = {"id": pa.array(ids, id_type)}
    arrays |= {name: pa.array(values, VALUES[kind][1]) for name, (kind, values) in columns.items()}
    pq.write_table(pa.table(arrays), path)


def _expected(ids: list[Any], columns: dict, *, csv_ids: bool) -> list[dict]:
    plain = all(isinstance(i, str) and PLAIN_INTEGER.fullmatch(i) for i in ids)
    if csv_ids and plain and all(-(2**63) <= int(i) < 2**63 for i in ids):
        ids = [int(i) for i in ids]
    rows = [
        {"id": customer, **{name: values[i] for name, (_, values) in columns.items()}}
        for i, customer in enumerate(ids)
    ]
    return sorted(rows, key=lambda r: r["id"])


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same JSON type (1 is not 1.0, True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=tables())
def test_csv_and_parquet_round_trip(cli: Runner, test_databases, table) -> None:
    ids, columns = table
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        assert cli("init", root, *test_databases.init_args()).code == 0
        _write_csv(root / "from_csv.csv", ids, columns)
        _write_parquet(root / "from_parquet.parquet", ids, columns)
        for name, csv_ids in (("from_csv", True), ("from_parquet", False)):
            source = root / (name + (".csv" if csv_ids else ".parquet"))
            ingested = cli("ingest", source, "--id", "id", cwd=root)
            assert ingested.code == 0, ingested.err
            assert ingested.out.splitlines()[0] == f"{name}@1"
            shown = cli("dataset", "show", f"{name}@1", "--json", "--rows", len(ids), cwd=root)
            assert shown.code == 0, shown.err
            info = shown.json()
            assert info["rows"] == len(ids)
            assert [c["name"] for c in info["columns"]] == ["id", *columns]
            expected = _expected(ids, columns, csv_ids=csv_ids)
            assert _same(info["data"], expected), (name, info["data"], expected)
