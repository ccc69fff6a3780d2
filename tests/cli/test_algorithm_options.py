"""`segtrail segment`'s algorithm options come from the algorithms' declared parameters:
one option per declared parameter and no other, help naming the algorithms each applies to,
one-line refusals for a parameter the chosen algorithm does not take or a value out of bounds
(workspace unchanged), and the defaults recorded in the version's parameters."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer

from segtrail.cli.app import app
from segtrail.cli.segments import ALGORITHM_PANEL, option_flag
from segtrail.engine.algorithms import REGISTRY, declared_parameters
from segtrail.engine.sample import generate_customers
from segtrail.services.workspace import Workspace

Runner = Callable[..., Any]
H = "Spend and app use split customers."
FEATURES = ("--features", "age,annual_spend,app_sessions_per_month")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with dataset shop@1: 600 generated customers."""
    folder = tmp_path_factory.mktemp("algo-options")
    frame, _ = generate_customers(600, seed=3)
    frame.to_csv(folder / "customers.csv", index=False)
    with Workspace.init(folder, author="tester") as ws:
        ws.ingest(folder / "customers.csv", "customer_id", name="shop")
    return folder


def refused(result: Any, message: str) -> None:
    """Exit 2, and exactly `message` on one line, with the CLI's flag hint when it adds one."""
    assert result.code == 2, (result.code, result.out, result.err)
    assert re.fullmatch(rf"error: {re.escape(message)}( \(see --[a-z-]+\))?\n", result.err), (
        result.err
    )


def segment_options() -> dict[str, Any]:
    command = typer.main.get_command(app).commands["segment"]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params}


def test_every_declared_parameter_has_an_option_and_every_algorithm_option_is_declared() -> None:
    options = segment_options()
    panel = {name for name, opt in options.items() if opt.rich_help_panel == ALGORITHM_PANEL}
    assert panel == set(declared_parameters())
    for name in panel:
        assert options[name].opts == [option_flag(name)]
    # options outside the panel are not algorithm parameters
    assert not (set(options) - panel) & set(declared_parameters())


def test_help_says_which_algorithms_each_option_applies_to(run: Runner) -> None:
    options = segment_options()
    for name, entries in declared_parameters().items():
        text = options[name].help
        algorithms = [algorithm for algorithm, _ in entries]
        assert text.startswith(algorithms[0]), (name, text)
        mentioned = set(re.findall(r"\b(" + "|".join(REGISTRY) + r")\b", text))
        assert mentioned == set(algorithms), (name, text)
    shown = " ".join(run("segment", "--help").out.split())  # as one line, whatever the width
    assert "--min-cluster-size" in shown and "hdbscan: smallest segment worth reporting" in shown
    assert "default 20000 for dbscan, 10000 for hdbscan, 100000 for gmm, 50000 for lca" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("-a", "kmeans", "--eps", "0.3", "--min-cluster-size", "5"),
            "kmeans does not take eps, min_cluster_size (it takes: k, k_range, n_init, max_iter)",
        ),
        (
            ("-a", "hdbscan", "--min-cluster-size", "0"),
            "min_cluster_size must be a whole number >= 2 for hdbscan, got 0 "
            "(see --min-cluster-size)",
        ),
        (
            ("-a", "hdbscan", "--min-samples", "0"),
            "min_samples must be a whole number >= 1 for hdbscan, got 0",
        ),
        (("-a", "dbscan", "--k", "4"), "dbscan finds the number of segments itself: leave out k"),
        (("--k", "1"), "k must be 'auto' or a whole number >= 2 for kmeans, got 1"),
        (("--k", "many"), "k must be 'auto' or a whole number >= 2 for kmeans, got 'many'"),
        (
            ("--k-range", "6..3"),
            "k_range must be two whole numbers low <= high, each >= 2 for kmeans, got [6, 3]",
        ),
        (("--k-range", "2-8"), "invalid --k-range '2-8': expected LOW..HIGH"),
        (
            ("-a", "gmm", "--covariance-type", "tied"),
            "covariance_type must be one of 'full', 'diag' for gmm, got 'tied'",
        ),
        (("-a", "dbscan", "--eps", "0"), "eps must be a number > 0 for dbscan, got 0.0"),
    ],
)
def test_bad_algorithm_options_are_refused_in_one_line(
    cli: Runner, root: Path, tree_hash: Callable, args: tuple[str, ...], message: str
) -> None:
    before = tree_hash(root)
    result = cli("segment", "-d", "shop", "-l", "bad", "-m", H, *FEATURES, *args, cwd=root)
    refused(result, message)
    assert tree_hash(root) == before


@pytest.mark.parametrize("algorithm", sorted(REGISTRY))
def test_defaults_are_recorded_in_the_versions_parameters(root: Path, algorithm: str) -> None:
    with Workspace.open(root, author="tester") as ws:
        version = ws.segment("shop", f"defaults-{algorithm}", H, algorithm=algorithm)
    used = version["parameters"]
    for param in REGISTRY[algorithm].parameters:
        assert param.name in used, param.name
        if param.default not in (None, "auto"):
            assert used[param.name] == param.default, param.name
    assert version["request"]["params"] == {}  # the user asked for nothing: defaults only


def test_given_options_reach_the_version(cli: Runner, root: Path) -> None:
    args = ("-a", "hdbscan", "--min-cluster-size", "12", "--min-samples", "3", "--json")
    result = cli("segment", "-d", "shop", "-l", "given", "-m", H, *FEATURES, *args, cwd=root)
    assert result.code == 0, result.err
    version = result.json()
    assert version["request"]["params"] == {"min_cluster_size": 12, "min_samples": 3}
    assert version["parameters"]["min_cluster_size"] == 12
    assert version["parameters"]["min_samples"] == 3


def test_k_beyond_the_distinct_customers_warns_in_the_notes_not_on_stderr(
    run: Runner, root: Path
) -> None:
    """scikit-learn's ConvergenceWarning (fewer distinct points than k) stays off stderr; the
    version says what happened instead."""
    args = ("--features", "newsletter_subscriber", "--k", "5", "--json", "--quiet")
    result = run("segment", "-d", "shop", "-l", "few", "-m", H, *args, cwd=root)
    assert result.code == 0, result.err
    assert result.err == ""
    notes = result.json()["notes"]
    assert any("k=5 was asked, but only 2 segments hold customers" in n for n in notes), notes


def test_reading_the_declarations_does_not_load_scikit_learn() -> None:
    """The CLI builds its options from the declarations at start-up; `segtrail --help` and
    read commands must not pay for scikit-learn, SciPy, pandas, Arrow or DuckDB (numpy is
    the one heavy import the declarations need)."""
    heavy = ("sklearn", "scipy", "faiss", "pandas", "pyarrow", "duckdb", "plotly", "sqlalchemy")
    code = f"import sys, segtrail.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def shown(root: Path) -> Path:
    """The workspace with version shown@1 (k-means, k=3)."""
    with Workspace.open(root, author="tester") as ws:
        ws.segment("shop", "shown", H, k=3, features=FEATURES[1].split(","))
    return root


@pytest.mark.parametrize("command", [("show", "shown@1"), ("show", "shown@1", "--json"), ("log",)])
def test_showing_a_version_reads_metadata_only(shown: Path, command: tuple[str, ...]) -> None:
    """`show` and `log` read the version's record, not its objects: they run without
    pandas, Arrow, scikit-learn, SciPy or DuckDB (SQLAlchemy reads the metadata)."""
    root = shown
    heavy = ("sklearn", "scipy", "faiss", "pandas", "pyarrow", "duckdb", "plotly")
    code = (
        "import sys, segtrail.cli\n"
        f"sys.argv = ['segtrail', '-w', {str(root)!r}, *{command!r}]\n"
        "try:\n    segtrail.cli.main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"sys.stderr.write(repr(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "shown@1" in out.stdout  # it did show the version
    assert out.stderr == "[]"
