"""Ten team members write at the same instant, through the real CLI, on SQLite and PostgreSQL.

What must hold (issue 8): each command succeeds, or fails with a one-line Conflict (exit 3);
no traceback; every change reported as done is in the history afterwards; fsck is clean.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from writers import run_at_once, succeeded

from segtrail.services.workspace import Workspace

Runner = Callable[..., Any]
WRITERS = 10
LENS = "team"

pytestmark = pytest.mark.slow


def _tiny_csv(path: Path, n: int = 30, shift: float = 0.0) -> Path:
    """Three well-separated blobs of customers (x, y)."""
    rows = [
        f"C{i:03d},{(i % 3) * 10 + (i % 5) * 0.1 + shift:.2f},{(i % 3) * 5 + (i % 7) * 0.1:.2f}"
        for i in range(n)
    ]
    path.write_text("customer_id,x,y\n" + "\n".join(rows) + "\n")
    return path


def _check(result: Any) -> Any:
    assert result.code == 0, (result.code, result.err)
    return result.json()


def test_ten_plan_maps_on_one_version_at_once(
    tmp_path: Path, database_url: str | None, cli: Runner
) -> None:
    root = tmp_path / "ws"
    with Workspace.init(root, author="setup", database_url=database_url) as ws:
        ws.ingest(_tiny_csv(tmp_path / "tiny.csv"), "customer_id", name="tiny")
        ws.segment("tiny", LENS, "three blobs", k=3, features=["x", "y"])
        for i in range(WRITERS):
            ws.strategy_add(f"s{i}", f"message {i}", ["email"])
    ref = f"{LENS}@1"

    outcomes = run_at_once(
        [
            ["plan", "map", f"s{i}", ref, "-s", str(i % 3), "-r", f"writer {i}"]
            for i in range(WRITERS)
        ],
        cwd=root,
    )
    done = succeeded(outcomes)

    assert done, "at least one writer must get through"
    plan = _check(cli("plan", "show", ref, "--json", cwd=root))
    mapped = {e["strategy"]: e for e in plan["entries"]}
    # every map that exited 0 is in the plan; no refused one slipped in
    assert set(mapped) == {f"s{i}" for i in done}
    for i in done:
        assert mapped[f"s{i}"]["segments"] == [i % 3]
        assert mapped[f"s{i}"]["rationale"] == f"writer {i}"
    history = _check(cli("plan", "history", LENS, "--json", cwd=root))
    revisions = [h["revision"] for h in history if h["version"] == ref]
    assert sorted(revisions) == list(range(1, len(done) + 1))  # one revision per success
    fsck = _check(cli("fsck", "--json", cwd=root))
    assert fsck["problems"] == []


def test_ten_ingests_under_one_name_at_once(
    tmp_path: Path, database_url: str | None, cli: Runner
) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, author="setup", database_url=database_url).close()
    files = [_tiny_csv(tmp_path / f"export{i}.csv", n=30 + i, shift=i) for i in range(WRITERS)]

    outcomes = run_at_once(
        [["ingest", str(f), "--id", "customer_id", "--name", "shop", "--json"] for f in files],
        cwd=root,
    )
    done = succeeded(outcomes)

    assert done, "at least one writer must get through"
    reported = {i: outcomes[i].out for i in done}
    versions = _check(cli("datasets", "--json", cwd=root))
    shop = [d for d in versions if d["name"] == "shop"]
    # one version per successful ingest, with distinct numbers, each from its own file
    assert len(shop) == len(done)
    assert sorted(d["version"] for d in shop) == list(range(1, len(done) + 1))
    assert {d["source"] for d in shop} == {str(files[i].resolve()) for i in done}
    assert {d["rows"] for d in shop} == {30 + i for i in done}
    for i, out in reported.items():
        said = json.loads(out)
        match = next(d for d in shop if d["version"] == said["version"])
        assert match["source"] == str(files[i].resolve()), (i, said)
    fsck = _check(cli("fsck", "--json", cwd=root))
    assert fsck["problems"] == []
