"""Hostile text and hostile places: formulas in spreadsheets, escape sequences in terminals,
names with a trailing newline, output paths that cannot or must not be written, and a
workspace whose metadata database is gone. Each through the real CLI: exit code, one line,
and an unchanged workspace where nothing should change."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tests.conftest import Runner, write_csv

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)"]
ESCAPES = "Young \x1b]0;PWNED\x07 buyers \x1b[2J"


@pytest.fixture
def hostile(workspace: Path, cli: Runner) -> Path:
    """A workspace whose ids, segment name and hypothesis are hostile text."""
    rows = [
        f'"{f.replace(chr(34), chr(34) * 2)}",{20 + i},{i * 10}' for i, f in enumerate(FORMULAS)
    ]
    rows += [f"C{i},{30 + i},{i}" for i in range(20)]
    write_csv(workspace / "evil.csv", "customer_id,age,spend\n" + "\n".join(rows) + "\n")
    assert cli("ingest", "evil.csv", "--id", "customer_id").code == 0
    result = cli("segment", "-d", "evil", "-l", "evil", "-m", ESCAPES, "--k", "2", "-q")
    assert result.code == 0, result.err
    assert cli("name", "evil@1", "0", "=cmd|' /C calc'!A0").code == 0
    return workspace


def _cells(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return [cell for row in csv.reader(f) for cell in row]


def test_csv_exports_neutralize_formulas(hostile: Path, cli: Runner, tmp_path: Path) -> None:
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    assert cli("export", "evil@1", "--out", safe).code == 0
    assert cli("export", "evil@1", "--out", raw, "--raw").code == 0
    safe_cells, raw_cells = _cells(safe), _cells(raw)
    for formula in FORMULAS:
        assert formula not in safe_cells and "'" + formula in safe_cells
        assert formula in raw_cells  # --raw writes them exactly
    assert "'=cmd|' /C calc'!A0" in safe_cells
    # no cell of the safe file starts like a formula
    assert not [c for c in safe_cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_audience_and_lookalike_csv_are_neutralized(
    hostile: Path, cli: Runner, tmp_path: Path
) -> None:
    out = tmp_path / "segment0.csv"
    assert cli("audience", "export", "evil@1:0", "--out", out).code == 0
    cells = _cells(out)
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t")]
    look = tmp_path / "look.csv"
    result = cli(
        "lookalike", "--pool", "evil", "--seed-top", "spend:30", "--size", "20", "--out", look
    )
    assert result.code == 0, result.err
    assert not [c for c in _cells(look) if c[:1] in ("=", "+", "@", "\t")]


def test_terminal_output_shows_escapes_instead_of_obeying_them(hostile: Path, cli: Runner) -> None:
    for command in (["show", "evil@1"], ["log"]):
        result = cli(*command)
        assert result.code == 0, result.err
        assert "\x1b" not in result.out and "\x07" not in result.out
        assert "\\x1b]0;PWNED\\x07" in result.out
    shown = cli("show", "evil@1", "--json").json()
    assert shown["hypothesis"] == ESCAPES  # JSON stays exact


NAME_OPTIONS = [
    ["ingest", "evil.csv", "--id", "customer_id", "--name", "base\n"],
    ["segment", "-d", "evil", "-l", "lens\n", "-m", "h", "--k", "2"],
    ["strategy", "add", "tactic\n", "-m", "hello", "--channel", "email"],
    ["lookalike", "--pool", "evil", "--seed-top", "spend:30", "--name", "look\n", "--out", "x.csv"],
]


@pytest.mark.parametrize("args", NAME_OPTIONS, ids=lambda a: a[0])
def test_names_with_a_trailing_newline_are_refused(
    hostile: Path, cli: Runner, tree_hash, args: list[str]
) -> None:
    before = tree_hash(hostile)
    result = cli(*args)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and "invalid" in result.err
    assert tree_hash(hostile) == before


def test_campaign_name_with_a_trailing_newline_is_refused(
    hostile: Path, cli: Runner, tree_hash
) -> None:
    assert cli("strategy", "add", "tactic", "-m", "hello", "--channel", "email").code == 0
    write_csv(hostile / "sends.csv", "customer_id,group,responded\nC1,treatment,1\nC2,control,0\n")
    before = tree_hash(hostile)
    result = cli("campaign", "import", "sends.csv", "--name", "wave\n", "--strategy", "tactic")
    assert result.code == 2 and result.err.count("\n") == 1
    assert tree_hash(hostile) == before


@pytest.mark.parametrize(
    "args",
    [
        ["events", "-n", "99999999999999999999999"],
        ["export", "evil@1", "--out", "/proc/x.csv"],
        ["init", "/proc/foo"],
        ["report", "evil@1", "--out", "/proc/r.html"],
    ],
    ids=["huge-limit", "export-proc", "init-proc", "report-proc"],
)
def test_impossible_places_give_one_line(
    hostile: Path, cli: Runner, tree_hash, args: list[str]
) -> None:
    before = tree_hash(hostile)
    result = cli(*args)
    assert result.code == 2, result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert "Traceback" not in result.err
    assert tree_hash(hostile) == before


@pytest.mark.parametrize("inside", ["objects/x.csv", "x.csv"])
def test_no_output_inside_the_store(hostile: Path, cli: Runner, tree_hash, inside: str) -> None:
    before = tree_hash(hostile)
    target = hostile / ".segtrail" / inside
    result = cli("export", "evil@1", "--out", target)
    assert result.code == 2 and "inside the workspace's store" in result.err
    assert not target.exists()
    assert tree_hash(hostile) == before


@pytest.mark.parametrize("damage", ["deleted", "empty", "garbage"])
def test_a_lost_database_is_never_silently_recreated(
    hostile: Path, cli: Runner, damage: str, backend: str
) -> None:
    if backend != "sqlite":
        # The damage here is to the workspace's own SQLite file; a server database is not a
        # file in the workspace that a user could delete or overwrite.
        pytest.skip("SQLite only: damages the workspace's database file")
    database = hostile / ".segtrail" / "segtrail.db"
    for leftover in database.parent.glob("segtrail.db-*"):
        leftover.unlink()
    if damage == "deleted":
        database.unlink()
    elif damage == "empty":
        database.write_bytes(b"")
    else:
        database.write_bytes(b"this is not a database" * 100)
    for args in (["datasets"], ["log"], ["fsck"], ["ingest", "evil.csv", "--id", "customer_id"]):
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert result.err.count("\n") == 1 and "metadata database" in result.err
    # nothing re-created a fresh history
    assert not database.exists() or database.stat().st_size in (0, 2200)
    if damage == "deleted":
        assert not database.exists()


def test_json_of_hostile_text_is_exact(hostile: Path, cli: Runner) -> None:
    log = cli("log", "--json")
    assert json.loads(log.out)[0]["hypothesis"] == ESCAPES.splitlines()[0]
