"""Shared fixtures: a fresh workspace, two ways to run the CLI, and a hash of the store.

`run` starts the real console script in a subprocess (the exact exit code and stderr a
user sees); `cli` calls the same `segtrail.cli.main` in-process, which is ~2 s faster per
call, so most tests use it. Both return `Result(code, out, err)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

SEGTRAIL = Path(sys.executable).parent / "segtrail"
AUTHOR = "tester"
# Variables that would make a command act on some other workspace or database.
ISOLATED_VARS = ("SEGTRAIL_WORKSPACE", "SEGTRAIL_DATABASE_URL", "SEGTRAIL_AUTHOR")


class Result(NamedTuple):
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Runner = Callable[..., Result]


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARS}
    env["SEGTRAIL_AUTHOR"] = AUTHOR
    env.update(extra or {})
    return env


def run_subprocess(
    args: Sequence[str | Path],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """Run the installed `segtrail` console script."""
    proc = subprocess.run(
        [str(SEGTRAIL), *map(str, args)],
        cwd=cwd,
        env=base_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def hash_tree(root: Path) -> dict[str, str]:
    """SHA-256 of every file under `root/.segtrail/`, by relative path: equal dicts mean
    the workspace is byte-for-byte the same (and a diff shows which file changed).

    The SQLite database runs in WAL mode: committed changes may still sit in the write-ahead
    log, so it is checkpointed into the database file first, and the log and its index
    (`-wal`, `-shm`: scratch files SQLite recreates at will) are left out."""
    store = root / ".segtrail"
    database = store / "segtrail.db"
    if database.is_file():
        with contextlib.closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture(name="tree_hash")
def tree_hash_fixture() -> Callable[[Path], dict[str, str]]:
    """`tree_hash(root)`: see `hash_tree`."""
    return hash_tree


@pytest.fixture
def run(tmp_path: Path) -> Runner:
    """`run(*args, cwd=..., env=...)`: the real CLI in a subprocess (cwd default: tmp_path)."""

    def _run(*args: str | Path, cwd: Path | None = None, env: dict | None = None) -> Result:
        return run_subprocess(args, cwd=cwd or tmp_path, env=env)

    return _run


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Runner:
    """`cli(*args, cwd=..., env=...)`: `segtrail.cli.main` in-process, with the exit code a
    shell would see: SystemExit's code, or 1 and the traceback for an unexpected error."""
    from segtrail.cli import main

    def _cli(*args: str | Path, cwd: Path | None = None, env: dict | None = None) -> Result:
        capsys.readouterr()  # drop anything printed before this command
        with monkeypatch.context() as m:
            for name in ISOLATED_VARS:
                m.delenv(name, raising=False)
            for name, value in {"SEGTRAIL_AUTHOR": AUTHOR, **(env or {})}.items():
                m.setenv(name, value)
            m.chdir(cwd or tmp_path)
            m.setattr(sys, "argv", ["segtrail", *map(str, args)])
            try:
                main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception:
                captured = capsys.readouterr()
                return Result(1, captured.out, captured.err + traceback.format_exc())
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _cli


@pytest.fixture
def workspace(tmp_path: Path, cli: Runner) -> Path:
    """A folder with `segtrail init` done; the CLI runners use it as cwd by default."""
    result = cli("init", tmp_path)
    assert result.code == 0, result.err
    assert (tmp_path / ".segtrail" / "config.json").is_file()
    return tmp_path


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def customers_csv(tmp_path: Path) -> Path:
    """A small valid customer table (outside .segtrail/)."""
    rows = "\n".join(
        f"C{i:04d},{20 + i % 50},{(i * 7.5) % 300:.2f},{['north', 'south', 'east'][i % 3]}"
        for i in range(60)
    )
    return write_csv(tmp_path / "customers.csv", "customer_id,age,spend,region\n" + rows + "\n")


@pytest.fixture
def populated(workspace: Path, cli: Runner, customers_csv: Path) -> Path:
    """A workspace that already holds one dataset, so its database is not trivial."""
    result = cli("ingest", customers_csv, "--id", "customer_id")
    assert result.code == 0, result.err
    return workspace
