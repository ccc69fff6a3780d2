"""8 processes x 50 mixed writes (segment, name, tag, plan map, campaign import) on one
workspace, through the Python API, on SQLite and PostgreSQL.

What must hold (issue 8): only `segtrail.errors.Conflict` may be raised; every operation that
returned is in the history afterwards (and the current state agrees with the last write of
each writer); fsck is clean.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mixed_writer import BASE, LENS, SEGMENTS, SHARED_CAMPAIGN, work

from segtrail.services.workspace import Workspace

Runner = Callable[..., Any]
WORKERS = 8
OPS = 50

pytestmark = pytest.mark.slow


def _last_error_line(tb: str) -> str:
    """`module.Error: message`, the last such line of a traceback (SQLAlchemy adds notes)."""
    return [line for line in tb.splitlines() if line and not line.startswith((" ", "("))][-1]


def _json(result: Any) -> Any:
    assert result.code == 0, (result.code, result.err)
    return result.json()


@pytest.fixture
def team_workspace(tmp_path: Path, database_url: str | None) -> Path:
    """tiny@1 (30 customers in 3 blobs), team@1 (k=3), strategies s0..s7 and one campaign
    file for every writer."""
    root = tmp_path / "ws"
    rows = [f"C{i:03d},{(i % 3) * 10 + (i % 5) * 0.1:.2f},{(i % 7) * 0.1:.2f}" for i in range(30)]
    (tmp_path / "tiny.csv").write_text("customer_id,x,y\n" + "\n".join(rows) + "\n")
    arms = ("treatment", "control")
    lines = [f"C{i:03d},{arms[i % 2]},{i % 3 == 0:d}" for i in range(30)]
    (tmp_path / "wave.csv").write_text("customer_id,group,responded\n" + "\n".join(lines) + "\n")
    with Workspace.init(root, author="setup", database_url=database_url) as ws:
        ws.ingest(tmp_path / "tiny.csv", "customer_id")
        ws.segment("tiny", LENS, "three blobs", k=SEGMENTS, features=["x", "y"])
        for w in range(WORKERS):
            ws.strategy_add(f"s{w}", f"message {w}", ["email"])
    return root


def test_eight_writers_fifty_mixed_writes_each(team_workspace: Path, cli: Runner) -> None:
    root = team_workspace
    campaign_file = str(root.parent / "wave.csv")
    # spawn: a clean interpreter per writer (no state forked from pytest or its threads).
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        results = pool.starmap(
            work, [(str(root), w, OPS, campaign_file) for w in range(WORKERS)], chunksize=1
        )

    failures = [f for r in results for f in r["failures"]]
    kinds = Counter(f"{action}: {_last_error_line(tb)}" for action, _, tb in failures)
    summary = "\n".join(f"{n} x {kind}" for kind, n in kinds.most_common())
    assert not failures, (
        f"{len(failures)} writes raised something other than Conflict:\n{summary}\n"
        f"first:\n{failures[0][2]}"
    )
    done = [(w, *d) for w, r in enumerate(results) for d in r["done"]]
    by_action = defaultdict(list)
    for w, action, j, *payload in done:
        by_action[action].append((w, j, *payload))
    assert len(done) > WORKERS * OPS / 2, "most writes should get through"

    # segmentations: every reported version exists, and no two writers got the same number
    versions = [v for _, _, v in by_action["segment"]]
    assert len(set(versions)) == len(versions)
    logged = {v["version"] for v in _json(cli("log", LENS, "--json", cwd=root))}
    assert set(versions) <= logged

    # names: every reported rename is in the event log under its segment (`show` lists
    # only each segment's newest few names)
    shown = _json(cli("show", BASE, "--json", cwd=root))
    segments = {s["segment"]: s for s in shown["segments"]}
    events = _json(cli("events", "--limit", "100000", "--json", cwd=root))
    logged_names = {(e["subject"], e["details"]["name"]) for e in events if e["action"] == "name"}
    for _, _, segment, name in by_action["name"]:
        assert (f"{BASE}:{segment}", name) in logged_names, (segment, name)

    # tags: each writer uses its own key, so each segment's current value for that key is
    # the writer's last successful tag of it; every tag is an event
    last_tag: dict[tuple[int, str], str] = {}
    for _, _, segment, key, value in sorted(by_action["tag"], key=lambda t: (t[0], t[1])):
        last_tag[(segment, key)] = value
    for (segment, key), value in last_tag.items():
        assert segments[segment]["tags"].get(key) == value, (segment, key, value)
    tag_events = {
        (e["subject"], e["details"].get("key"), e["details"].get("value"))
        for e in events
        if e["action"] == "tag"
    }
    for _, _, segment, key, value in by_action["tag"]:
        assert (f"{BASE}:{segment}", key, value) in tag_events

    # plan maps: each reported revision holds that writer's mapping, revisions are distinct,
    # and the current plan holds every writer's last mapping (none silently undone)
    revisions = [r for _, _, r, _, _ in by_action["plan-map"]]
    assert len(set(revisions)) == len(revisions)
    history = {h["revision"]: h for h in _json(cli("plan", "history", LENS, "--json", cwd=root))}
    for w, _, revision, segment, rationale in by_action["plan-map"]:
        entry = {e["strategy"]: e for e in history[revision]["entries"]}[f"s{w}"]
        assert (entry["segments"], entry["rationale"]) == ([segment], rationale)
    plan = _json(cli("plan", "show", BASE, "--json", cwd=root))
    current = {e["strategy"]: e["rationale"] for e in plan["entries"]}
    last_map = {}
    for w, _j, _, _, rationale in sorted(by_action["plan-map"]):
        last_map[f"s{w}"] = rationale
    assert current == last_map

    # campaigns: every reported import is there; the shared name went to at most one writer
    names = [n for _, _, n in by_action["campaign"]]
    assert names.count(SHARED_CAMPAIGN) <= 1
    assert len(set(names)) == len(names)
    listed = {c["campaign"] for c in _json(cli("campaign", "list", "--json", cwd=root))}
    assert set(names) <= listed
    assert listed - set(names) == set(), "a campaign nobody was told about"

    assert _json(cli("fsck", "--json", cwd=root))["problems"] == []
