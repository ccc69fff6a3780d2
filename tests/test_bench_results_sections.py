"""bench/RESULTS.md: the benches (bench/run.py through common.write_results) and the mutation
runs (bench/mutate.py) rewrite only their own lines of their section; the notes written by
hand there and every other section stay byte for byte."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import mutate  # noqa: E402

INGEST = """## ingest

Command: `make bench  # or: .venv/bin/python bench/run.py bench_ingest`

- ingest 1M: 0.50x — segtrail 1.00 s vs pandas 2.00 s

Measured by hand on a quiet machine: 1.0 s.

"""

DENSITY = """## density

Command: `make bench  # or: .venv/bin/python bench/run.py bench_density`

- dbscan 1M: 0.33x — dbscan 16.44 s vs k-means 50.34 s; seconds (goal <= 10 s) 16.4
- hdbscan 1M: 0.35x — hdbscan 17.37 s vs k-means 50.34 s
- old figure: 1.00x — a 1.00 s vs b 1.00 s

Goal (issue 14): <= 10 s (load average 0-2 on 2 cores during the recorded run).

What changed on branch density2: the tree is built by Prim's.

Measured 2026-12-02 15:40 UTC on the merged main, quiet machine: dbscan 16.4 s.

Where the seconds go: imports 6.8 s.
"""

MUTATION = """## mutation

Command: `make mutate  # an older command`

mutmut 3, one module at a time against its own tests only (an older description).

| module | score | killed | survived | no tests | equivalent | time | tests |
|---|---|---|---|---|---|---|---|
| engine/carry.py | 100.0% | 9/9 | 0 | 0 | 1 | 72 s (by hand) | tests/engine/test_carry.py |
| engine/diff.py | 50.0% | 1/2 | 1 | 0 | 0 | 5 s | tests/engine/test_diff.py |
| store/audit.py | 90.0% | 9/10 | 1 | 0 | 0 | 8 s | tests/store |

State on the merged main (the lead): every module measured.

Notes (branch x): `engine/diff.py` has a survivor  | engine/diff.py | in its words.

Not measured yet: `engine/kinds.py`

Surviving mutants:

- `engine/diff.py` `segtrail.engine.diff.x_f__mutmut_1`: -    a / +    b
- `store/audit.py` `segtrail.store.audit.x_g__mutmut_2`: -    c / +    d

Written under the survivors by hand.

"""


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "RESULTS.md"
    monkeypatch.setattr(common, "RESULTS", path)
    monkeypatch.setattr(mutate, "RESULTS", path)
    monkeypatch.setattr(mutate, "all_modules", lambda: ["engine/carry.py", "engine/kinds.py"])
    return path


def test_a_bench_replaces_its_command_figures_and_notes_and_keeps_the_prose(
    results: Path,
) -> None:
    results.write_text("# Benchmark results\n\nIntro.\n\n" + INGEST + DENSITY)
    figures = [
        common.Figure("dbscan 1M", "dbscan", 10.0, "k-means", 40.0),
        common.Figure("hdbscan 1M", "hdbscan", 12.0, "k-means", 40.0),
        common.Figure("new figure", "x", 3.0, "y", 1.0),
    ]
    notes = (
        "Goal (issue 14): <= 10 s (load average 11-13 on 2 cores during the recorded run).\n\n"
        "What changed on branch density2: the tree is built by Prim's.\n\n"
        "What changed on branch density5: a new note."
    )
    common.write_results("density", "make bench  # new", figures, notes)
    assert results.read_text() == "# Benchmark results\n\nIntro.\n\n" + INGEST + (
        "## density\n"
        "\n"
        "Command: `make bench  # new`\n"
        "\n"
        "- dbscan 1M: 0.25x — dbscan 10.00 s vs k-means 40.00 s\n"
        "- hdbscan 1M: 0.30x — hdbscan 12.00 s vs k-means 40.00 s\n"
        "- new figure: 3.00x — x 3.00 s vs y 1.00 s\n"
        "\n"
        "Goal (issue 14): <= 10 s (load average 11-13 on 2 cores during the recorded run).\n"
        "\n"
        "What changed on branch density2: the tree is built by Prim's.\n"
        "\n"
        "What changed on branch density5: a new note.\n"
        "\n"
        "Measured 2026-12-02 15:40 UTC on the merged main, quiet machine: dbscan 16.4 s.\n"
        "\n"
        "Where the seconds go: imports 6.8 s.\n"
    )


def test_a_bench_without_notes_leaves_every_paragraph_under_its_figures(results: Path) -> None:
    results.write_text("# Benchmark results\n\n" + INGEST + DENSITY)
    figures = [common.Figure("ingest 1M", "segtrail", 1.0, "pandas", 4.0)]
    common.write_results("ingest", "make bench  # or: ingest", figures)
    assert (
        results.read_text()
        == "# Benchmark results\n\n"
        + (
            "## ingest\n"
            "\n"
            "Command: `make bench  # or: ingest`\n"
            "\n"
            "- ingest 1M: 0.25x — segtrail 1.00 s vs pandas 4.00 s\n"
            "\n"
            "Measured by hand on a quiet machine: 1.0 s.\n"
            "\n"
        )
        + DENSITY
    )


def test_a_new_bench_section_is_added_at_the_end_with_its_notes(results: Path) -> None:
    results.write_text("# Benchmark results\n\n" + INGEST)
    figures = [common.Figure("f", "a", 1.0, "b", 2.0)]
    common.write_results("design", "make bench  # design", figures, "One note.\n\nTwo.")
    assert results.read_text() == "# Benchmark results\n\n" + INGEST.rstrip() + "\n\n" + (
        "## design\n\nCommand: `make bench  # design`\n\n- f: 0.50x — a 1.00 s vs b 2.00 s\n\n"
        "One note.\n\nTwo.\n"
    )


def _score(module: str, killed: int, survived: list[str]) -> mutate.ModuleScore:
    return mutate.ModuleScore(module, [f"tests/{module}"], killed, survived, seconds=30.0)


def test_a_mutation_run_replaces_its_rows_and_survivors_and_keeps_the_notes(
    results: Path,
) -> None:
    results.write_text("# Benchmark results\n\n" + INGEST + MUTATION + DENSITY)
    scores = [
        _score("engine/diff.py", 2, []),
        _score("engine/kinds.py", 3, ["segtrail.engine.kinds.x_h__mutmut_4"]),
    ]
    mutate.update_results(scores, {"segtrail.engine.kinds.x_h__mutmut_4": "-    e / +    f"})
    timeouts = f"+ {mutate.TIMEOUT_CONSTANT:g} s) x {mutate.TIMEOUT_MULTIPLIER:g}"
    expected = (
        "## mutation\n"
        "\n"
        f"Command: `{mutate.COMMAND}`\n"
        "\n"
        "mutmut 3, one module at a time against its own tests only (listed in the last column); "
        f"per-mutant timeout (clean time of its tests {timeouts}, a timeout counts as killed; "
        "mutants no test reaches count as survivors. Equivalent mutants are listed in "
        'bench/mutate.py (EQUIVALENT) with a reason and left out. "not checked": mutants an '
        "interrupted run did not reach (its score covers the rest; `MUTATE_ARGS=--resume` "
        "continues it). Times are on a shared 2-core machine with other work running.\n"
        "\n"
        "| module | score | killed | survived | no tests | equivalent | time | tests |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| engine/carry.py | 100.0% | 9/9 | 0 | 0 | 1 | 72 s (by hand) "
        "| tests/engine/test_carry.py |\n"
        "| engine/diff.py | 100.0% | 2/2 | 0 | 0 | 0 | 30 s | tests/engine/diff.py |\n"
        "| engine/kinds.py | 75.0% | 3/4 | 1 | 0 | 0 | 30 s | tests/engine/kinds.py |\n"
        "| store/audit.py | 90.0% | 9/10 | 1 | 0 | 0 | 8 s | tests/store |\n"
        "\n"
        "State on the merged main (the lead): every module measured.\n"
        "\n"
        "Notes (branch x): `engine/diff.py` has a survivor  | engine/diff.py | in its words.\n"
        "\n"
        "Not measured yet: (none)\n"
        "\n"
        "Surviving mutants:\n"
        "\n"
        "- `engine/kinds.py` `segtrail.engine.kinds.x_h__mutmut_4`: -    e / +    f\n"
        "- `store/audit.py` `segtrail.store.audit.x_g__mutmut_2`: -    c / +    d\n"
        "\n"
        "Written under the survivors by hand.\n"
        "\n"
    )
    assert results.read_text() == "# Benchmark results\n\n" + INGEST + expected + DENSITY


def test_the_last_survivors_gone_leave_none_and_the_notes(results: Path) -> None:
    results.write_text(MUTATION)
    scores = [_score("engine/diff.py", 2, []), _score("store/audit.py", 10, [])]
    mutate.update_results(scores, {})
    text = results.read_text()
    assert text.endswith(
        "Not measured yet: `engine/kinds.py`\n\nSurviving mutants:\n\n(none)\n\n"
        "Written under the survivors by hand.\n\n"
    )
    assert "| store/audit.py | 100.0% | 10/10 | 0 |" in text
    assert "State on the merged main (the lead): every module measured.\n\nNotes" in text


def test_a_block_missing_from_a_section_goes_after_the_one_before_it(results: Path) -> None:
    """An older section without the "Not measured yet" line: it is added after the table,
    before the notes under it."""
    results.write_text(MUTATION.replace("Not measured yet: `engine/kinds.py`\n\n", ""))
    mutate.update_results([_score("engine/diff.py", 2, [])], {})
    text = results.read_text()
    table_end = "| store/audit.py | 90.0% | 9/10 | 1 | 0 | 0 | 8 s | tests/store |\n"
    assert f"{table_end}\nNot measured yet: `engine/kinds.py`\n\nState on the merged" in text


def test_blocks_that_cross_are_refused() -> None:
    text = "## s\n\nb 1\n\na 1\n\nb 2\n"
    blocks = [
        common.Block(["a"], lambda line: line.startswith("a")),
        common.Block(["b"], lambda line: line.startswith("b")),
    ]
    with pytest.raises(ValueError, match="section 's'"):
        common.rewrite_section(text, "s", blocks)
