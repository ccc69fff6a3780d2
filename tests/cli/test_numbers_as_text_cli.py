"""What a user sees when a numeric column holds values that are not numbers: `segtrail show`
names them in the column's description (as the version records it), and the segments are
made from the numbers that were read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Runner = Callable[..., Any]

H = "Spend splits customers into big and small spenders."


def test_show_names_the_values_that_are_not_numbers(workspace: Path, cli: Runner) -> None:
    # Arrow reads "inf" in a column of numbers as a float: no customer's figure
    spend = [10, 12, 11, 13, "inf", 500, 520, 510, "-inf", 530, 9, 505]
    rows = [f"c{i},{s},{i % 3}" for i, s in enumerate(spend)]
    path = workspace / "shop.csv"
    path.write_text("id,spend,visits\n" + "\n".join(rows) + "\n")
    assert cli("ingest", path, "--id", "id").code == 0
    made = cli(
        "segment", "-d", "shop", "-l", "spend", "-m", H, "--features", "spend",
        "--algorithm", "kmeans", "--k", "2", "--quiet", "--json",
    )  # fmt: skip
    assert made.code == 0, made.err
    version = made.json()["version"]
    described = "2 values are not numbers (e.g. 'inf', '-inf'): read as missing, missing -> median"
    shown = cli("show", version)
    assert shown.code == 0, shown.err
    assert f"features: spend ({described} " in shown.out
    recorded = cli("show", version, "--json").json()
    transform = recorded["features"][0]["transform"]
    assert transform.startswith(described) and transform in shown.out
    # the two groups of spenders, each whole (the two unreadable rows go with the median)
    sizes = sorted(s["size"] for s in recorded["segments"])
    assert sizes == [5, 7]
