"""`segtrail segment -d D -l L -m ...` with nothing else, on planted mixed-type tables (the
two cases of issue 10): the default path finds the planted segments and k, says why, and
`show`, `assign` and the report carry the choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from planted import categorical_led, correlated_led, many_correlated, numeric_led

N = 4000


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("default")
    numeric, numeric_truth = numeric_led(N, seed=11)
    categorical, categorical_truth = categorical_led(N, seed=12)
    correlated, correlated_truth = correlated_led(3000, seed=3)
    correlated.to_csv(root / "correlated.csv", index=False)
    pd.DataFrame({"customer_id": correlated["customer_id"], "truth": correlated_truth}).to_csv(
        root / "correlated_truth.csv", index=False
    )
    many, many_truth = many_correlated(3000, seed=30, columns=30)
    many.to_csv(root / "many.csv", index=False)
    pd.DataFrame({"customer_id": many["customer_id"], "truth": many_truth}).to_csv(
        root / "many_truth.csv", index=False
    )
    numeric.to_csv(root / "numeric.csv", index=False)
    categorical.to_csv(root / "categorical.csv", index=False)
    pd.DataFrame({"customer_id": numeric["customer_id"], "truth": numeric_truth}).to_csv(
        root / "numeric_truth.csv", index=False
    )
    pd.DataFrame({"customer_id": categorical["customer_id"], "truth": categorical_truth}).to_csv(
        root / "categorical_truth.csv", index=False
    )
    return root


def recovered(cli, folder: Path, name: str, k: int) -> str:
    """Ingest, segment with the default command, export; check ARI and k. Returns `show`."""
    assert cli("init", folder, cwd=folder).code == 0
    ingest = cli("ingest", folder / f"{name}.csv", "--id", "customer_id", cwd=folder)
    assert ingest.code == 0, ingest.err
    made = cli("segment", "-d", name, "-l", "marketing", "-m", "what is there?", cwd=folder)
    assert made.code == 0, made.err
    out = folder / f"{name}_segments.csv"
    assert cli("export", "marketing@1", "--out", out, cwd=folder).code == 0
    segments = pd.read_csv(out).merge(pd.read_csv(folder / f"{name}_truth.csv"), on="customer_id")
    assert segments["segment"].nunique() == k
    assert adjusted_rand_score(segments["truth"], segments["segment"]) >= 0.9
    shown = cli("show", "marketing@1", cwd=folder)
    assert shown.code == 0, shown.err
    return shown.out


def test_numeric_led_table_with_the_default_command(cli, folder: Path) -> None:
    (folder / "n").mkdir(exist_ok=True)
    for f in ("numeric.csv", "numeric_truth.csv"):
        (folder / "n" / f).write_bytes((folder / f).read_bytes())
    shown = recovered(cli, folder / "n", "numeric", k=6)
    assert "algorithm: lca" in shown
    assert "latent class model chosen (no --algorithm given)" in shown
    assert "pure-noise columns left out of the segments (weight 0): tenure, colour" in shown
    assert "k curve (lowest BIC" in shown and "<- chosen" in shown and "runner-up" in shown
    assert "tenure: 0% of its variation; pure noise: left out of the segments" in shown
    assert "spend:" in shown and "differs between segments" in shown
    # assign reproduces the stored labels from the stored state (codes and NaN input)
    out = folder / "n" / "assigned.csv"
    assert cli("assign", "marketing@1", folder / "n" / "numeric.csv", "--out", out,
               cwd=folder / "n").code == 0  # fmt: skip
    assigned = pd.read_csv(out).sort_values("customer_id")
    exported = pd.read_csv(folder / "n" / "numeric_segments.csv").sort_values("customer_id")
    assert np.array_equal(assigned["segment"].to_numpy(), exported["segment"].to_numpy())


def test_categorical_led_table_with_the_default_command(cli, folder: Path) -> None:
    (folder / "c").mkdir(exist_ok=True)
    for f in ("categorical.csv", "categorical_truth.csv"):
        (folder / "c" / f).write_bytes((folder / f).read_bytes())
    shown = recovered(cli, folder / "c", "categorical", k=5)
    assert "algorithm: lca" in shown
    assert "plan, region, device, payment" in shown  # the reason names the columns
    report = folder / "c" / "report.html"
    made = cli("report", "marketing@1", "--out", report, cwd=folder / "c")
    assert made.code == 0, made.err
    html = report.read_text()
    assert "latent class model chosen" in html and "explained by the segments" in html
    assert "the runner-up is k =" in html and "Split-half stability" in html


def test_segments_with_correlated_columns_with_the_default_command(cli, folder: Path) -> None:
    """Spend, orders and visits move together inside each of 4 segments: the plain latent
    class model's lowest BIC is at 6 or more segments; the default path models the
    correlation and finds the 4, and `show` says which model and why."""
    (folder / "r").mkdir(exist_ok=True)
    for f in ("correlated.csv", "correlated_truth.csv"):
        (folder / "r" / f).write_bytes((folder / f).read_bytes())
    shown = recovered(cli, folder / "r", "correlated", k=4)
    assert "algorithm: lca" in shown
    assert "covariance matrix of the numeric columns" in shown
    assert "lowest BIC of the variants" in shown and "<- chosen" in shown


def test_many_correlated_columns_with_the_default_command(cli, folder: Path) -> None:
    """30 numeric columns, readings of 5 traits that also move together inside each of 4
    segments: the default command fits on their principal components, finds the 4, says why
    in `show`, and `assign` reproduces the labels from the stored projection."""
    (folder / "w").mkdir(exist_ok=True)
    for f in ("many.csv", "many_truth.csv"):
        (folder / "w" / f).write_bytes((folder / f).read_bytes())
    shown = recovered(cli, folder / "w", "many", k=4)
    assert "algorithm: lca" in shown
    assert "more than 16 numeric columns" in shown
    assert "30 numeric columns replaced by their" in shown and "principal components" in shown
    out = folder / "w" / "assigned.csv"
    many = folder / "w" / "many.csv"
    assigned = cli("assign", "marketing@1", many, "--out", out, cwd=folder / "w")
    assert assigned.code == 0, assigned.err
    assigned = pd.read_csv(out).sort_values("customer_id")
    exported = pd.read_csv(folder / "w" / "many_segments.csv").sort_values("customer_id")
    assert np.array_equal(assigned["segment"].to_numpy(), exported["segment"].to_numpy())
