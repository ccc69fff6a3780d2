"""The README's "Running the server for a team" names only commands and options that exist
(docs that cannot drift): each `segtrail ...` line of its shell block and of its notes is
checked against that command's own --help."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from segtrail.cli.app import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _commands(section: str) -> list[list[str]]:
    """Every `segtrail ...` command: the shell block's lines and the inline `code` spans."""
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the server section has no ```sh block"
    lines = [line.split("#")[0] for line in block.group(1).splitlines()]
    lines += re.findall(r"`(segtrail [^`]+)`", section)
    return [shlex.split(line) for line in lines if line.strip().startswith("segtrail ")]


def _help(words: list[str]) -> str:
    """The --help of the longest command prefix of `words` (a subcommand, or a group's)."""
    runner = CliRunner()
    path = [w for w in words[1:] if not w.startswith("-")]
    for n in range(min(len(path), 2), 0, -1):
        result = runner.invoke(app, [*path[:n], "--help"], env={"COLUMNS": "200"})
        if result.exit_code == 0:
            return result.output
    raise AssertionError(f"no such command: {' '.join(words)}")


def test_every_server_command_and_option_in_the_readme_exists() -> None:
    commands = _commands(_section("Running the server for a team"))
    assert any(c[:2] == ["segtrail", "serve"] for c in commands)
    assert any(c[:3] == ["segtrail", "user", "add"] for c in commands)
    for words in commands:
        text = _help(words)
        for flag in (w.split("=")[0] for w in words if w.startswith("--")):
            assert flag in text, f"README: `{' '.join(words)}` uses {flag}, not in its --help"
