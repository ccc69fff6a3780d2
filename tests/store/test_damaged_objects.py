"""A damaged object is never served as data: through the CLI, one flipped byte in an object
of each kind makes the commands that read it exit 2 with one line naming the object (and
suggesting fsck), write no output file, and leave the workspace byte-for-byte unchanged."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import ISOLATED_VARS, hash_tree, write_csv

from segtrail.cli import main

Runner = Callable[..., object]


def _customers(n: int = 60) -> str:
    rows = "\n".join(
        f"C{i:04d},{20 + i % 50},{(i * 7.5) % 300:.2f},{['north', 'south', 'east'][i % 3]},"
        f"user{i}@example.com"
        for i in range(n)
    )
    return "customer_id,age,spend,region,email\n" + rows + "\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace with an object of every kind: dataset customers@1, marketing@1
    (assignments and fitted state), campaign `wave`, lookalike audience `twins`."""
    root = tmp_path_factory.mktemp("template")
    csv = write_csv(root.parent / "template-customers.csv", _customers())
    wave = "customer_id,group,responded\n" + "\n".join(
        f"C{i:04d},{'treatment' if i % 2 else 'control'},{i % 3 == 0:d}" for i in range(40)
    )
    write_csv(root.parent / "template-wave.csv", wave + "\n")
    steps = [
        ("init", root),
        ("ingest", csv, "--id", "customer_id", "--name", "customers"),
        ("segment", "-d", "customers", "-l", "marketing", "-m", "age splits them", "--k", "2"),
        ("strategy", "add", "spring", "-m", "Spring offer", "-c", "email"),
        ("plan", "map", "spring", "marketing@1", "--all"),
        (
            "campaign",
            "import",
            root.parent / "template-wave.csv",
            "--name",
            "wave",
            "--strategy",
            "spring",
        ),
        (
            "lookalike",
            "--pool",
            "customers",
            "--seed",
            "marketing@1:0",
            "--size",
            "10",
            "--name",
            "twins",
            "--out",
            root.parent / "template-twins.csv",
        ),
    ]
    with pytest.MonkeyPatch.context() as m:  # in-process: seconds, not a minute
        for name in ISOLATED_VARS:
            m.delenv(name, raising=False)
        m.setenv("SEGTRAIL_AUTHOR", "tester")
        m.chdir(root)
        for args in steps:
            m.setattr(sys, "argv", ["segtrail", *map(str, args)])
            try:
                main()
            except SystemExit as e:
                assert not e.code, args
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    return root


def _object(root: Path, kind: str) -> Path:
    with sqlite3.connect(root / ".segtrail" / "segtrail.db") as connection:
        (digest,) = connection.execute(
            "SELECT hash FROM objects WHERE kind = ?", (kind,)
        ).fetchone()
    return root / ".segtrail" / "objects" / digest[:2] / f"{digest}.parquet"


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _refused(result, obj: Path, what: str) -> None:
    assert result.code == 2, result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert f"object {obj.name[:12]}" in lines[0]
    assert what in lines[0]
    assert "damaged" in lines[0]
    assert "segtrail fsck" in lines[0]


NEW_CUSTOMERS = "customer_id,age,spend,region,email\nN1,33,120.5,north,n1@example.com\n"

# kind -> (how the message names it, commands that read it; "OUT" is the output file)
CASES = {
    "dataset": (
        "a dataset",
        [
            ("dataset", "show", "customers@1", "--rows", "3", "--json"),
            ("segment", "-d", "customers", "-l", "product", "-m", "x", "--k", "2"),
            ("revisit", "marketing@1"),
        ],
    ),
    "assignments": (
        "assignments",
        [("export", "marketing@1", "--out", "OUT"), ("why", "spring")],
    ),
    "fitted-state": ("fitted state", [("assign", "marketing@1", "NEW", "--out", "OUT")]),
    "campaign": ("a campaign", [("campaign", "report", "wave")]),
    "audience": ("audience", [("audience", "export", "twins", "--format", "csv", "--out", "OUT")]),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_damaged_object_is_refused_and_nothing_changes(
    kind: str, ws: Path, cli: Runner, tmp_path: Path
) -> None:
    what, commands = CASES[kind]
    obj = _object(ws, kind)
    _flip(obj)
    new = write_csv(tmp_path / "new.csv", NEW_CUSTOMERS)
    before = hash_tree(ws)
    for command in commands:
        out = tmp_path / f"out-{kind}.csv"
        args = [{"OUT": out, "NEW": new}.get(a, a) for a in command]
        _refused(cli(*args, cwd=ws), obj, what)
        assert not out.exists(), command
        assert hash_tree(ws) == before, command
    fsck = cli("fsck", "--json", cwd=ws)
    assert fsck.code == 2
    assert any(obj.name[:12] in p and "corrupted" in p for p in fsck.json()["problems"])


def test_the_same_commands_work_on_the_undamaged_workspace(
    ws: Path, cli: Runner, tmp_path: Path
) -> None:
    """The control for the test above: every command it refuses succeeds when the objects
    are whole (so the refusals come from the damage, not from a wrong command)."""
    new = write_csv(tmp_path / "new.csv", NEW_CUSTOMERS)
    for kind, (_what, commands) in CASES.items():
        for command in commands:
            out = tmp_path / f"out-{kind}.csv"
            args = [{"OUT": out, "NEW": new}.get(a, a) for a in command]
            result = cli(*args, cwd=ws)
            assert result.code == 0, (command, result.err)
            if "OUT" in command:
                assert out.is_file()
    assert cli("fsck", cwd=ws).code == 0


def test_a_missing_object_is_one_line_too(ws: Path, cli: Runner, tmp_path: Path) -> None:
    obj = _object(ws, "assignments")
    obj.unlink()
    before = hash_tree(ws)
    result = cli("export", "marketing@1", "--out", tmp_path / "x.csv", cwd=ws)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert f"object {obj.name[:12]}" in result.err and "missing" in result.err
    assert not (tmp_path / "x.csv").exists()
    assert hash_tree(ws) == before


def test_the_real_console_script_exits_2(ws: Path, run: Runner, tmp_path: Path) -> None:
    obj = _object(ws, "assignments")
    _flip(obj)
    result = run("export", "marketing@1", "--out", tmp_path / "x.csv", cwd=ws)
    _refused(result, obj, "assignments")
    assert "Traceback" not in result.err
