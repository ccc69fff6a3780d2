"""`segtrail ingest FILE.parquet` streams row group by row group, batch by batch: what only a
later batch shows (a duplicate or missing id, a column that stops being boolean words) is
found as in a whole read: one line, exit 2, the workspace unchanged; or the stored kinds
are those of the whole file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segtrail import stream_ingest

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]
ROWS = 5000


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_ingest, "PARQUET_BATCH_ROWS", 256)
    monkeypatch.setattr(stream_ingest, "ROW_GROUP_ROWS", 512)


def _write(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path, row_group_size=1000)  # five row groups of four batches
    assert pq.ParquetFile(path).metadata.num_row_groups == 5
    return path


def _refused(result: Any, *fragments: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_a_duplicate_id_in_a_later_row_group_changes_nothing(
    workspace: Path, cli: Runner, tree_hash: TreeHash
) -> None:
    ids = [f"C{i}" for i in range(ROWS)]
    ids[4500] = "C10"
    path = _write(workspace / "dup.parquet", pa.table({"id": ids, "x": range(ROWS)}))
    before = tree_hash(workspace)
    _refused(cli("ingest", path, "--id", "id"), "dup.parquet", "'C10'", "row 11", "row 4501")
    assert tree_hash(workspace) == before


def test_a_missing_id_in_a_later_batch_changes_nothing(
    workspace: Path, cli: Runner, tree_hash: TreeHash
) -> None:
    ids: list[int | None] = list(range(ROWS))
    ids[3333] = None
    ids[4000] = None
    path = _write(workspace / "gap.parquet", pa.table({"id": ids, "x": range(ROWS)}))
    before = tree_hash(workspace)
    _refused(cli("ingest", path, "--id", "id"), "gap.parquet", "row 3334", "2 rows have no id")
    assert tree_hash(workspace) == before


def test_kinds_settle_over_the_whole_file(workspace: Path, cli: Runner) -> None:
    """'yes'/'no' for four row groups then 'maybe': text, every value kept. Empty for four
    row groups then 'yes'/'no': booleans. As a whole-file read stores them."""
    words = ["yes" if i % 2 else "no" for i in range(ROWS)]
    words[4999] = "maybe"
    late = [None] * 4000 + ["yes" if i % 3 else "no" for i in range(1000)]
    table = pa.table({"id": range(ROWS), "member": words, "late": pa.array(late, pa.string())})
    path = _write(workspace / "kinds.parquet", table)
    result = cli("ingest", path, "--id", "id", "--json")
    assert result.code == 0, result.err
    kinds = {c["name"]: c["kind"] for c in result.json()["columns"]}
    assert kinds == {"id": "id", "member": "categorical", "late": "boolean"}
    objects = workspace / ".segtrail" / "objects"
    digest = result.json()["object"]
    stored = pq.read_table(objects / digest[:2] / f"{digest}.parquet")
    assert stored["member"].to_pylist() == words
    assert stored.schema.field("late").type == pa.bool_()
    assert stored["late"].to_pylist() == [None if v is None else v == "yes" for v in late]
    assert stored["id"].to_pylist() == list(range(ROWS))
