"""The `segtrail` program leaves at once when a command is done (cli.console): its exit code,
its whole output and a committed workspace, as an ordinary exit gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEGTRAIL, base_env

# the same command run by `main` and an ordinary exit (the name `segtrail` in its usage line)
MAIN = "import sys; sys.argv[0] = 'segtrail'; from segtrail.cli import main; main()"


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SEGTRAIL), *map(str, args)],
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=120,
        **kwargs,
    )


def test_the_program_is_the_console_entry(tmp_path: Path) -> None:
    script = SEGTRAIL.read_text()
    assert "from segtrail.cli import console" in script


def test_exit_codes_and_every_line_of_output(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", ws).returncode == 0
    missing = run("-w", ws, "show", "nosuch@1")
    assert missing.returncode == 2
    assert missing.stdout == "" and len(missing.stderr.strip().splitlines()) == 1
    usage = run("--no-such-option")
    assert usage.returncode == 2
    # a long output reaches the reader whole: the same text as the in-process command
    helped = run("segment", "--help")
    reference = subprocess.run(
        [sys.executable, "-c", MAIN, "segment", "--help"],
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=120,
    )
    assert helped.returncode == reference.returncode == 0
    assert helped.stdout == reference.stdout and len(helped.stdout) > 2_000


def test_what_a_command_recorded_is_there_for_the_next(tmp_path: Path, customers_csv: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", ws).returncode == 0
    ingest = run("-w", ws, "ingest", customers_csv, "--id", "customer_id", "--name", "shop")
    assert ingest.returncode == 0, ingest.stderr
    listed = run("-w", ws, "datasets", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [d["name"] for d in json.loads(listed.stdout)] == ["shop"]


@pytest.mark.parametrize(("setting", "expected"), [(None, "False"), ("1", "True")])
def test_the_command_line_uses_small_pages_unless_told(setting: str | None, expected: str) -> None:
    """cli/small_pages.py: numpy's huge pages are off for the command line (the kernel
    zeroes each one whole on first touch), and a user's own NUMPY_MADVISE_HUGEPAGE wins."""
    env = {k: v for k, v in base_env().items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if setting is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = setting
    code = "import segtrail.cli, numpy; print(numpy._core.multiarray._get_madvise_hugepage())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == expected, out.stderr
