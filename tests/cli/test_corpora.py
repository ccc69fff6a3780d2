"""Adversarial corpora (issue 15): every csv-spectrum file and a selection of
parquet-testing files (vendored under tests/data/ with their licences) go through
`segtrail ingest`. Each either records a dataset (for csv-spectrum: with the records the
corpus expects) or is refused with one clean line, exit 2 and the workspace unchanged;
never a traceback."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]

DATA = Path(__file__).resolve().parent.parent / "data"
CSV_SPECTRUM = sorted((DATA / "csv-spectrum").glob("*.csv"))
PARQUET_TESTING = sorted(
    p for p in (DATA / "parquet-testing").iterdir() if p.suffix in (".parquet", ".encrypted")
)


def _first_column(path: Path) -> str:
    """The id column to ask for: the file's first column, or 'id' when unreadable."""
    try:
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                return next(csv.reader(f))[0]
        return pq.read_schema(path).names[0]
    except Exception:
        return "id"


def _ingest_or_refuse(cli: Runner, tree_hash: TreeHash, root: Path, path: Path) -> Any:
    before = tree_hash(root)
    result = cli("ingest", path, "--id", _first_column(path), "--json")
    assert "Traceback" not in result.err, result.err
    assert result.code in (0, 2), result.err
    if result.code == 2:
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.err
        assert path.name in lines[0] or "Parquet" in lines[0], lines[0]
        assert tree_hash(root) == before
        return None
    assert result.err == ""
    listed = cli("datasets", "--json").json()
    assert result.json()["dataset"] in [d["dataset"] for d in listed]
    return result.json()


def _as_text(value: Any) -> str:
    """A stored value as the corpus writes it; numbers compare as numbers ('08123' = 8123)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _same(stored: str, expected: str) -> bool:
    if stored == expected:
        return True
    try:
        return float(stored) == float(expected)
    except ValueError:
        return False


@pytest.mark.parametrize("path", CSV_SPECTRUM, ids=[p.name for p in CSV_SPECTRUM])
def test_csv_spectrum(workspace: Path, cli: Runner, tree_hash: TreeHash, path: Path) -> None:
    info = _ingest_or_refuse(cli, tree_hash, workspace, path)
    assert info is not None, "every csv-spectrum file is a valid CSV"
    expected = json.loads((path.parent / "json" / f"{path.stem}.json").read_text())
    shown = cli("dataset", "show", info["dataset"], "--json", "--rows", "100").json()
    id_column = shown["id_column"]
    stored = {_as_text(r[id_column]): r for r in shown["data"]}
    assert len(stored) == len(expected)
    for record in expected:
        key = next(k for k in stored if _same(k, record[id_column]))
        row = stored[key]
        for column, value in record.items():
            assert _same(_as_text(row[column]), value), (column, row[column], value)


@pytest.mark.parametrize("path", PARQUET_TESTING, ids=[p.name for p in PARQUET_TESTING])
def test_parquet_testing(workspace: Path, cli: Runner, tree_hash: TreeHash, path: Path) -> None:
    info = _ingest_or_refuse(cli, tree_hash, workspace, path)
    if info is not None:
        assert info["rows"] == pq.ParquetFile(path).metadata.num_rows
        shown = cli("dataset", "show", info["dataset"])
        assert shown.code == 0, shown.err


def test_the_corpora_are_vendored_with_their_licences() -> None:
    assert len(CSV_SPECTRUM) >= 11 and len(PARQUET_TESTING) >= 30
    assert "BSD-2-Clause" in (DATA / "csv-spectrum" / "package.json").read_text()
    assert "Apache License" in (DATA / "parquet-testing" / "LICENSE.txt").read_text()
