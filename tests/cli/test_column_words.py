"""A column's summary reads the same in the terminal and on the pages: both call
segtrail.report.words.column_summary. The expected words are written out by hand here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from segtrail.report.words import column_summary

Runner = Callable[..., Any]


@pytest.mark.parametrize(
    ("kind", "summary", "words"),
    [
        (
            "numeric",
            {"mean": 42.25, "median": 40, "min": 18, "max": 12345.6},
            "mean 42.25, median 40, range 18 to 1.235e+04",
        ),
        (
            "categorical",
            {
                "distinct": 4,
                "top": [
                    {"value": "north", "share": 0.4},
                    {"value": "south", "share": 0.3},
                    {"value": "east", "share": 0.2},
                    {"value": "west", "share": 0.1},
                ],
            },
            "4 values, most often north 40%, south 30%, east 20%",
        ),
        ("id", {"distinct": 1500}, "1,500 different values"),
        ("text", {"distinct": None}, ""),
        ("boolean", {"true_share": 0.25}, "25% yes"),
        (
            "datetime",
            {"min": "2024-01-02T00:00:00", "max": "2024-12-31T23:00:00"},
            "2024-01-02 to 2024-12-31",
        ),
        ("numeric", {"missing_share": 1.0}, ""),  # every value missing: nothing to summarise
    ],
)
def test_column_summary_in_words(kind: str, summary: dict, words: str) -> None:
    assert column_summary(kind, summary) == words


def test_dataset_show_prints_the_shared_words(workspace: Path, cli: Runner) -> None:
    path = workspace / "people.csv"
    rows = [f"{i},{20 + i},{'north' if i % 4 else 'south'}" for i in range(1, 9)]
    path.write_text("id,age,region\n" + "\n".join(rows) + "\n")
    assert cli("ingest", path, "--id", "id").code == 0
    shown = cli("dataset", "show", "people@1")
    assert shown.code == 0, shown.err
    assert "mean 24.5, median 24.5, range 21 to 28" in shown.out
    assert "2 values, most often north 75%, south 25%" in shown.out
