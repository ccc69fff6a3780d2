"""Shared fixtures: a fresh workspace, two ways to run the CLI, and a hash of the store.

`run` starts the real console script in a subprocess (the exact exit code and stderr a
user sees); `cli` calls the same `segtrail.cli.main` in-process, which is ~2 s faster per
call, so most tests use it. Both return `Result(code, out, err)`.

Backends: the `backend` fixture is parametrized over SQLite (the workspace's own file) and
PostgreSQL (a real server this test session starts, see tests/pgserver.py, one database per
workspace). Every fixture that makes a workspace asks `databases.new()` (module scope) or
`database_url` (one test) for the URL to pass to `init`, so the suites using them run on both.
Without PostgreSQL here, its half is skipped with the reason, except on CI (`CI` set), where
it fails: CI must never pass by skipping it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from pgserver import PostgresServer, PostgresUnavailable

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
    (`-wal`, `-shm`: scratch files SQLite recreates at will) are left out. When the metadata
    lives in a database server, each of its tables adds a `db:TABLE` entry (the hash of its
    rows), so "nothing changed" covers the database there too."""
    store = root / ".segtrail"
    database = store / "segtrail.db"
    if database.is_file():
        with contextlib.closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    hashes = {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }
    url = json.loads((store / "config.json").read_text()).get("database_url")
    if url:
        hashes.update(hash_database(url))
    return hashes


def hash_database(url: str) -> dict[str, str]:
    """`db:TABLE` -> SHA-256 of the table's rows (sorted, so row order does not matter).
    Sequences are left out: PostgreSQL advances them even for a rolled-back insert, which
    records nothing."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            hashes = {}
            for table in sorted(inspect(connection).get_table_names()):
                rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
                content = "\n".join(sorted(repr(tuple(row)) for row in rows))
                hashes[f"db:{table}"] = hashlib.sha256(content.encode()).hexdigest()
            return hashes
    finally:
        engine.dispose()


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


# --- metadata backends -------------------------------------------------------------------

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for this session (per xdist worker), started on first use and
    stopped at the end. A failure to start is cached by pytest, so it is tried once."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required on CI and could not start: {e}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable here: {e}")
    try:
        yield server
    finally:
        server.stop()


class Databases:
    """Fresh metadata databases for one backend: `new()` gives the `--database-url` for one
    workspace (None on SQLite: the workspace keeps its own file). `drop_all()` removes what
    was made."""

    def __init__(self, backend: str, server: PostgresServer | None) -> None:
        self.backend = backend
        self.server = server
        self.made: list[str] = []

    def new(self) -> str | None:
        if self.server is None:
            return None
        url = self.server.create_database()
        self.made.append(url)
        return url

    def init_args(self) -> list[str]:
        """`segtrail init` options for a new workspace on this backend."""
        url = self.new()
        return ["--database-url", url] if url else []

    def copy_workspace(self, source: Path, target: Path) -> Path:
        """Copy a (closed) workspace folder to `target`; on a database server its metadata
        database is copied too, so the copy is independent of the original."""
        shutil.copytree(source, target, dirs_exist_ok=True)
        config_path = target / ".segtrail" / "config.json"
        config = json.loads(config_path.read_text())
        if config.get("database_url"):
            assert self.server is not None, "a server workspace copied on the SQLite backend"
            config["database_url"] = self.server.create_database(template=config["database_url"])
            self.made.append(config["database_url"])
            config_path.write_text(json.dumps(config, indent=2) + "\n")
        return target

    def drop_all(self) -> None:
        while self.made:
            self.server.drop_database(self.made.pop())  # type: ignore[union-attr]


def _databases(backend: str, request: pytest.FixtureRequest) -> Databases:
    server = request.getfixturevalue("postgres_server") if backend == "postgresql" else None
    return Databases(backend, server)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The metadata backend under test; module scope so module-scoped workspaces follow it."""
    return request.param


@pytest.fixture(scope="module")
def databases(backend: str, request: pytest.FixtureRequest) -> Iterator[Databases]:
    """For module-scoped workspaces: dropped when the module is done."""
    made = _databases(backend, request)
    yield made
    made.drop_all()


@pytest.fixture
def test_databases(backend: str, request: pytest.FixtureRequest) -> Iterator[Databases]:
    """For workspaces made inside one test: dropped when the test is done."""
    made = _databases(backend, request)
    yield made
    made.drop_all()


@pytest.fixture
def database_url(test_databases: Databases) -> str | None:
    """The `--database-url` for one workspace of this test (None on SQLite)."""
    return test_databases.new()


@pytest.fixture
def workspace(tmp_path: Path, cli: Runner, database_url: str | None) -> Path:
    """A folder with `segtrail init` done (on each backend); the CLI runners use it as cwd
    by default."""
    result = cli("init", tmp_path, *(["--database-url", database_url] if database_url else []))
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


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """One Playwright driver per test process, shared by every browser test: its sync API
    refuses to start a second driver while one is running (as a session fixture does)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
