"""End to end: a CSV export whose spend is written "$1,234.00" (with a placeholder for a
customer without a figure) is ingested as a numeric column, `dataset show` says it was read
from text and names what was not a number, and `segment` uses spend as a numeric feature.
Bad input is still refused in one line, exit 2, workspace unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Runner = Callable[..., Any]


def _export(path: Path) -> Path:
    rows = []
    for i in range(60):
        spend = f'"${(20 + i % 7) if i % 2 else (1200 + 10 * (i % 5)):,}.00"'
        rows.append(f"c{i},{'-' if i == 7 else spend},{'north' if i % 3 else 'south'}")
    path.write_text("id,spend,region\n" + "\n".join(rows) + "\n")
    return path


def test_spend_written_as_text_is_a_numeric_feature(workspace: Path, cli: Runner) -> None:
    path = _export(workspace / "shop.csv")
    ingested = cli("ingest", path, "--id", "id")
    assert ingested.code == 0, ingested.err
    assert "(1 categorical, 1 id, 1 numeric)" in ingested.out
    shown = cli("dataset", "show", "shop", "--json")
    assert shown.code == 0, shown.err
    spend = next(c for c in shown.json()["columns"] if c["name"] == "spend")
    assert (spend["kind"], spend["type"]) == ("numeric", "double")
    assert spend["summary"]["numbers_from_text"] == {"not_numbers": 1, "examples": ["-"]}
    assert (spend["summary"]["min"], spend["summary"]["max"]) == (20.0, 1240.0)
    words = cli("dataset", "show", "shop")
    assert "read from numbers written as text; 1 value is not a number (e.g. '-'): " in (
        " ".join(words.out.split())
    )
    made = cli(
        "segment", "-d", "shop", "-l", "spend", "-m", "Spend splits big and small spenders.",
        "--features", "spend", "--algorithm", "kmeans", "--k", "2", "--quiet", "--json",
    )  # fmt: skip
    assert made.code == 0, made.err
    recorded = cli("show", made.json()["version"], "--json").json()
    assert [(f["column"], f["kind"]) for f in recorded["features"]] == [("spend", "numeric")]
    # 30 big and 29 small spenders; the one without a figure gets the median of the 59
    # figures (the smallest big spend) and goes with the big spenders
    assert sorted(s["size"] for s in recorded["segments"]) == [29, 31]


def test_bad_input_with_numbers_as_text_changes_nothing(
    workspace: Path, cli: Runner, tree_hash: Callable[[Path], dict[str, str]], tmp_path: Path
) -> None:
    assert cli("ingest", _export(workspace / "shop.csv"), "--id", "id").code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text('id,spend\nc1,"$1,000.00"\nc1,"$2.00"\n')  # a duplicate id
    before = tree_hash(workspace)
    refused = cli("ingest", bad, "--id", "id")
    assert refused.code == 2
    assert len(refused.err.strip().splitlines()) == 1 and "duplicate" in refused.err
    assert tree_hash(workspace) == before
