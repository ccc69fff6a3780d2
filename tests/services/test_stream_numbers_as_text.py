"""Numbers written as text through every ingest path: the streaming reader (CSV read in small
batches so that the decision of the first batch meets later ones, Parquet) and the in-memory
one (`prepare_dataset`: SQL results, transactions). Expected values are written by hand."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segtrail import stream_ingest
from segtrail.engine import kinds
from segtrail.services.datasets import prepare_dataset, prepare_parquet_lines
from segtrail.store.objects import LocalObjectStore


def _stream(path: Path, store: LocalObjectStore) -> tuple[pa.Table, dict[str, dict]]:
    stored = stream_ingest.ingest_stream(
        store.put_stream, lambda d, c: store.read_table(d, columns=c), path, "id"
    )
    objects, temporaries = store.listing()
    assert len(objects) == 1 and not temporaries  # restarts leave nothing behind
    return pq.read_table(store.path(stored.digest)), {c["name"]: c for c in stored.columns}


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_ingest, "BLOCK_SIZE", 2048)
    monkeypatch.setattr(stream_ingest, "PIECE_SIZE", 4096)
    # row groups of 500 rows: several are encoded on their own thread while later batches
    # are checked, and a restart or a refusal comes with one of them under way
    monkeypatch.setattr(stream_ingest, "ROW_GROUP_ROWS", 500)


def test_a_late_value_that_is_not_a_number_is_missing(tmp_path: Path) -> None:
    rows = [f'{i},"${1000 + i:,}.50",{i % 5}' for i in range(3000)]
    rows[2500] = "2500,see notes,0"  # far past the first batch
    rows[2900] = "2900,unknown,0"
    path = tmp_path / "orders.csv"
    path.write_text("id,spend,visits\n" + "\n".join(rows) + "\n")
    store = LocalObjectStore(tmp_path / "objects")
    table, columns = _stream(path, store)
    assert table.schema.field("spend").type == pa.float64()
    (digest,) = store.listing()[0]
    assert pq.ParquetFile(store.path(digest)).metadata.num_row_groups >= 4
    spend = table["spend"].to_pylist()
    assert table["id"].to_pylist() == list(range(3000))  # row groups in file order
    assert spend[0] == 1000.5 and spend[1999] == 2999.5
    assert spend[2500] is None and spend[2900] is None and spend.count(None) == 2
    assert columns["spend"]["kind"] == "numeric"
    assert columns["spend"]["summary"]["numbers_from_text"] == {
        "not_numbers": 2,
        "examples": ["see notes", "unknown"],
    }
    assert columns["spend"]["summary"]["max"] == 3999.5
    assert "numbers_from_text" not in columns["visits"]["summary"]


def test_late_words_beyond_the_rule_keep_the_column_text(tmp_path: Path) -> None:
    rows = [f'{i},"${i}.00"' for i in range(2000)]
    rows += [f"{i},call back" for i in range(2000, 2200)]  # 9% of the values: words
    path = tmp_path / "orders.csv"
    path.write_text("id,spend\n" + "\n".join(rows) + "\n")
    table, columns = _stream(path, LocalObjectStore(tmp_path / "objects"))
    assert table.schema.field("spend").type == pa.string()
    assert table["spend"][3].as_py() == "$3.00" and table["spend"][-1].as_py() == "call back"
    assert columns["spend"]["kind"] == "text"
    assert "numbers_from_text" not in columns["spend"]["summary"]


def test_early_words_within_the_rule_over_the_whole_file(tmp_path: Path) -> None:
    """The first batch alone breaks the rule (its share of placeholders is too large); the
    whole column keeps it: stored as numbers, as a whole-file read would."""
    rows = [f"{i},-" if i % 4 == 0 else f'{i},"${i},000"' for i in range(100)]
    rows += [f'{i},"{i}%"' for i in range(100, 4000)]  # 25 placeholders in 4,000 values
    path = tmp_path / "orders.csv"
    path.write_text("id,spend\n" + "\n".join(rows) + "\n")
    table, columns = _stream(path, LocalObjectStore(tmp_path / "objects"))
    assert table.schema.field("spend").type == pa.float64()
    spend = table["spend"].to_pylist()
    assert spend[:3] == [None, 1000.0, 2000.0] and spend[-1] == 3999.0
    assert columns["spend"]["summary"]["numbers_from_text"]["not_numbers"] == 25


def test_numbers_after_empty_batches(tmp_path: Path) -> None:
    rows = [f"{i}, ,x" for i in range(1500)] + [f'{1500 + i},"1,{i:03d}",x' for i in range(500)]
    path = tmp_path / "orders.csv"
    path.write_text("id,spend,tag\n" + "\n".join(rows) + "\n")
    table, columns = _stream(path, LocalObjectStore(tmp_path / "objects"))
    assert table.schema.field("spend").type == pa.float64()
    spend = table["spend"].to_pylist()
    assert spend[0] is None and spend[1500] == 1000.0 and spend[-1] == 1499.0
    assert spend.count(None) == 1500
    assert columns["spend"]["kind"] == "numeric"


def test_zip_codes_stay_text_in_a_stream(tmp_path: Path) -> None:
    rows = [f"{i},{i % 90:05d}" for i in range(3000)] + ["3000,unknown"]
    path = tmp_path / "people.csv"
    path.write_text("id,zip\n" + "\n".join(rows) + "\n")
    table, columns = _stream(path, LocalObjectStore(tmp_path / "objects"))
    assert table["zip"][1].as_py() == "00001" and columns["zip"]["kind"] == "categorical"


def test_parquet_text_numbers(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    spend = ["$12.50", "1,200", "n/a", "7%"] + ["$1.00"] * 96
    pq.write_table(pa.table({"id": [f"c{i}" for i in range(100)], "spend": spend}), path)
    table, columns = _stream(path, LocalObjectStore(tmp_path / "objects"))
    assert table["spend"].to_pylist()[:5] == [12.5, 1200.0, None, 7.0, 1.0]
    assert columns["spend"]["kind"] == "numeric"
    assert columns["spend"]["summary"]["numbers_from_text"]["examples"] == ["n/a"]


def test_early_words_at_the_rules_edge_over_a_parquet_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Placeholders fill the first batches; over the whole file they are exactly 5% of the
    values: the rule holds (at most 5%), so the column is numbers, however early the count
    passes 5% of the rows read so far."""
    monkeypatch.setattr(stream_ingest, "PARQUET_BATCH_ROWS", 100)
    spend = ["n/a"] * 200 + [f"${i}.00" for i in range(3800)]
    pq.write_table(
        pa.table({"id": [f"c{i}" for i in range(4000)], "spend": spend}),
        path := tmp_path / "o.parquet",
    )
    table, columns = _stream(path, LocalObjectStore(tmp_path / "objects"))
    assert columns["spend"]["kind"] == "numeric"
    assert table["spend"].to_pylist()[199:202] == [None, 0.0, 1.0]
    assert columns["spend"]["summary"]["numbers_from_text"]["not_numbers"] == 200


def test_a_column_of_words_is_counted_only_while_it_might_be_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column of names is counted batch by batch only until its words are more than 5% of
    any number of rows the file can hold (a row of 3 columns takes at least 3 bytes)."""
    counted: list[int] = []

    def count(column: pa.Array) -> tuple[int, int]:
        counted.append(len(column))
        return kinds.count_not_numbers(column)

    monkeypatch.setattr(stream_ingest, "count_not_numbers", count)
    rows = [f"{i},name {i},{i % 7}" for i in range(20_000)]
    path = tmp_path / "people.csv"
    path.write_text("id,name,visits\n" + "\n".join(rows) + "\n")
    table, columns = _stream(path, LocalObjectStore(tmp_path / "objects"))
    assert columns["name"]["kind"] == "text" and table["name"][-1].as_py() == "name 19999"
    most = path.stat().st_size // 3  # rows the file could hold
    assert counted and sum(counted) < 0.05 * most + 1000  # stopped within a batch of the bound
    assert sum(counted) > 0.05 * most - 1000  # not before


def _prepare(table: pa.Table) -> dict[str, dict]:
    prepared = prepare_dataset(
        table, name="shop", id_column="id", label="shop", line_offset=None, source="test",
        source_bytes=0, source_format="sql", details={},
    )  # fmt: skip
    return {c["name"]: c for c in prepared.new.columns}


def test_in_memory_tables_read_numbers_as_text() -> None:
    spend = ["$1,234.00", "-", "$5.00"] + ["$10.00"] * 97
    columns = _prepare(pa.table({"id": [str(i) for i in range(100)], "spend": spend}))
    assert columns["spend"]["kind"] == "numeric" and columns["spend"]["type"] == "double"
    summary = columns["spend"]["summary"]
    assert summary["numbers_from_text"] == {"not_numbers": 1, "examples": ["-"]}
    assert (summary["min"], summary["max"], summary["missing_share"]) == (5.0, 1234.0, 0.01)


def test_parquet_order_lines_with_numbers_as_text_are_converted() -> None:
    import io

    sink = io.BytesIO()
    pq.write_table(pa.table({"id": ["a", "a", "b"], "amount": ["$1.50", "$2", "$3"]}), sink)
    prepared = prepare_parquet_lines(
        sink.getvalue(), name="lines", id_column="id", label="lines", source="t", details={}
    )
    amount = next(c for c in prepared.new.columns if c["name"] == "amount")
    assert (amount["kind"], amount["type"]) == ("numeric", "double")
    assert pq.read_table(pa.BufferReader(prepared.data))["amount"].to_pylist() == [1.5, 2.0, 3.0]
