"""`show` reads a bounded name history: each segment's current name and the newest three
names before it, with a count of all of them, bounded in the store's query (a segment renamed
500 times costs 4 name rows, not 501). Measured on a real SQLite and PostgreSQL workspace by
recording every statement that reads segment_labels while `show` runs and running it again
to count the rows it returns; checked against the full history read row by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from segtrail.services.segmentations import EARLIER_NAMES_SHOWN
from segtrail.services.workspace import Workspace

RENAMES = 500
K = 3


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory, databases) -> Workspace:
    """marketing@1 (3 segments): segment 0 renamed 500 times, segment 1 twice, segment 2
    never (its automatic name only)."""
    root = tmp_path_factory.mktemp("names")
    rows = [f"C{i:04d},{20 + i % 50},{(i * 7.5) % 300:.2f}" for i in range(120)]
    data = root / "customers.csv"
    data.write_text("customer_id,age,spend\n" + "\n".join(rows) + "\n")
    ws = Workspace.init(root / "ws", author="ana", database_url=databases.new())
    ws.ingest(data, "customer_id", name="customers")
    ws.segment("customers", "marketing", "age and spend split buyers", k=K, seed=1)
    for i in range(RENAMES):
        ws.name("marketing@1", 0, f"name {i}")
    ws.name("marketing@1", 1, "Young savers")
    ws.name("marketing@1", 1, "Young spenders", "spend a lot, early")
    yield ws
    ws.close()


class NameReads:
    """Every statement that touches segment_labels while recording, with its parameters."""

    def __init__(self, ws: Workspace) -> None:
        self.engine = ws.meta.engine
        self.statements: list[tuple[str, Any]] = []

    def __enter__(self) -> NameReads:
        event.listen(self.engine, "after_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "after_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if "segment_labels" in statement:
            self.statements.append((statement, parameters))

    def rows(self) -> int:
        """The rows those statements return, run again as they were sent."""
        total = 0
        with self.engine.connect() as connection:
            for statement, parameters in self.statements:
                total += len(connection.exec_driver_sql(statement, parameters).fetchall())
        return total


def test_show_reads_a_bounded_number_of_name_rows(renamed: Workspace) -> None:
    with NameReads(renamed) as reads:
        shown = renamed.show("marketing@1")
    assert len(reads.statements) == 1  # one query for every segment's names
    # 4 rows for segment 0 (renamed 500 times), 3 for segment 1, 1 for segment 2
    assert reads.rows() == (EARLIER_NAMES_SHOWN + 1) + 3 + 1
    first = shown.segments[0]
    assert first.name == f"name {RENAMES - 1}"
    assert [h["name"] for h in first.name_history] == [
        f"name {i}" for i in range(RENAMES - EARLIER_NAMES_SHOWN - 1, RENAMES)
    ]
    assert first.earlier_names_total == RENAMES  # the automatic name and 499 renames
    assert first.name_history[-1]["author"] == "ana"
    second = shown.segments[1]
    assert (second.name, second.description) == ("Young spenders", "spend a lot, early")
    assert second.earlier_names_total == 2
    assert shown.segments[2].earlier_names_total == 0
    assert shown.segments[2].name_history[0]["automatic"] is True


def test_current_names_read_one_row_per_segment(renamed: Workspace) -> None:
    """What labels audiences, threads and exports: the newest name of each segment, read
    without the 500 renames before it."""
    from segtrail.services.segmentations import segment_names

    row = renamed.meta.segmentations.get("marketing", 1)
    with NameReads(renamed) as reads:
        names = segment_names(renamed, row)
    assert names[0] == f"name {RENAMES - 1}" and names[1] == "Young spenders"
    whole = renamed.meta.segmentations.labels(row["id"])
    assert names == {segment: history[-1]["name"] for segment, history in whole.items()}
    assert len(reads.statements) == 1 and reads.rows() == K


def test_the_bounded_history_is_the_tail_of_the_whole_one(renamed: Workspace) -> None:
    whole = renamed.meta.segmentations.labels(renamed.show("marketing@1").id)
    for segment in renamed.show("marketing@1").segments:
        everything = whole[segment.segment]
        assert segment.name_history == everything[-(EARLIER_NAMES_SHOWN + 1) :]
        assert segment.earlier_names_total == len(everything) - 1


def test_show_json_keeps_its_keys_and_adds_the_count(renamed: Workspace) -> None:
    shown = renamed.show("marketing@1").to_dict()
    segment = shown["segments"][0]
    assert {"name", "description", "name_history", "earlier_names_total"} <= set(segment)
    assert len(segment["name_history"]) == EARLIER_NAMES_SHOWN + 1
    assert segment["earlier_names_total"] == RENAMES


def test_the_cli_says_how_many_older_names_there_are(renamed: Workspace, cli) -> None:
    root = Path(renamed.root)
    result = cli("--workspace", root, "show", "marketing@1")
    assert result.code == 0, result.err
    line = next(x for x in result.out.splitlines() if "segment 0 names:" in x)
    older = RENAMES - EARLIER_NAMES_SHOWN
    assert line.strip().startswith(f"segment 0 names: {older} older")
    assert f"name {RENAMES - 1} (ana" in line
    assert "name 10 " not in line
