"""A column's summary reads the same in the terminal and on the pages: both call
segtrail.report.words.column_summary. The expected words are written out by hand here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from segtrail.report.words import column_summary, lookalike_model_words

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


@pytest.mark.parametrize(
    ("model", "seed", "words"),
    [
        (
            {"method": "knn", "seed_rows": 1000, "k": 10},
            {"in_pool": 1800, "outside_pool": 700},
            "the knn model learnt from 1,000 of the seed's 2,500 customers (its limit, the "
            "same ones each time)",
        ),
        (
            {"method": "classifier", "seed_rows": 5000, "negatives": 15000},
            {"in_pool": 6000},
            "the classifier model learnt from 5,000 of the seed's 6,000 customers (its limit, "
            "the same ones each time) and 15,000 other customers as the contrast",
        ),
        ({"method": "knn", "seed_rows": 900, "k": 10}, {"in_pool": 900}, ""),  # all of it
        ({}, {"in_pool": 5000}, ""),  # an audience recorded before the model was
    ],
)
def test_lookalike_model_words(model: dict, seed: dict, words: str) -> None:
    assert lookalike_model_words(model, seed) == words
