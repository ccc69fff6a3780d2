"""`segtrail campaign import --control/--arms` and the multi-arm `campaign report`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_limits

from segtrail.compute import pipeline

Runner = Callable[..., Any]
TreeHash = Callable[[Path], dict]


@pytest.fixture(autouse=True)
def _fast_segmentation(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
    with threadpool_limits(1):
        yield


@pytest.fixture
def ready(populated: Path, cli: Runner) -> Path:
    for args in (
        (
            "segment",
            "-d",
            "customers",
            "-l",
            "marketing",
            "-m",
            "age",
            "--k",
            "2",
            "--features",
            "age",
        ),
        ("strategy", "add", "spring", "-m", "Spring offer", "-c", "email"),
        ("plan", "map", "spring", "marketing@1", "--all"),
    ):
        result = cli(*args)
        assert result.code == 0, result.err
    return populated


def _wave(path: Path) -> Path:
    arms = ["holdout", "subject-a", "subject-b"]
    rows = [
        f"C{i:04d},{arms[i % 3]},{int(i % 3 == 1 or i % 5 == 0)},{(i % 3) * 2.5 if i % 2 else 0}"
        for i in range(60)
    ]
    path.write_text("customer_id,group,responded,revenue\n" + "\n".join(rows) + "\n")
    return path


def test_three_arms_through_the_cli(ready: Path, cli: Runner, tmp_path: Path) -> None:
    path = _wave(tmp_path / "wave.csv")
    result = cli(
        "campaign", "import", path, "--name", "wave", "--strategy", "spring", "--control", "holdout"
    )
    assert result.code == 0, result.err
    assert "subject-a: 20" in result.out and "holdout: 20" in result.out
    report = cli("campaign", "report", "wave", "--json").json()
    assert report["control"] == "holdout"
    arms = report["overall"]["arms"]
    assert [a["arm"] for a in arms] == ["holdout", "subject-a", "subject-b"]
    assert arms[1]["responders"] == 20 and arms[1]["n"] == 20  # every i % 3 == 1 responded
    assert {"p_adjusted", "rate_ci", "uplift_ci", "revenue_mean", "revenue_p_value"} <= set(arms[1])
    assert report["interaction"]["df"] == 2
    human = cli("campaign", "report", "wave")
    assert human.code == 0, human.err
    for words in ("subject-a", "holdout (control)", "p Holm", "p Welch", "does the uplift differ"):
        assert words in human.out, words


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--arms", "subject-a,subject-b"), ("'holdout' is not one of the arms", "row 1 (line 2)")),
        (("--control", "nobody"), ("no customer is in the control arm 'nobody'",)),
        ((), ("is not 'treatment', 'control' or 'holdout'",)),
    ],
)
def test_bad_arms_change_nothing(
    ready: Path, cli: Runner, tree_hash: TreeHash, tmp_path: Path, args: tuple, fragments: tuple
) -> None:
    path = _wave(tmp_path / "wave.csv")
    before = tree_hash(ready)
    result = cli("campaign", "import", path, "--name", "wave", "--strategy", "spring", *args)
    assert result.code == 2, result.err
    line = result.err.strip()
    assert len(line.splitlines()) == 1
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert tree_hash(ready) == before
