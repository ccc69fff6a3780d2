"""The README's CLI tour runs, every command of it (issue 13, item 4), in the way
sqlite-utils tests its documentation: the commands are read from README.md, not copied here.

The tour is a shell script; this runner understands the little shell it uses (`&&`, `cd`, a
`NAME=value` assignment, `$NAME`, comments, backslash continuations) and runs each `segtrail`
command in-process. Only the demo's customer count is made smaller, to keep the test short.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_limits

from segtrail.compute import pipeline
from segtrail.services.workspace import Workspace
from segtrail.web.pages.words import ACTIONS

Runner = Callable[..., Any]
README = Path(__file__).resolve().parents[2] / "README.md"
TOUR_CUSTOMERS = "1500"


@pytest.fixture(autouse=True)
def _fast_segmentation() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as m, threadpool_limits(1):
        m.setattr(pipeline, "STABILITY_BOOTSTRAPS", 3)
        yield


def tour_commands() -> list[str]:
    """The tour's shell lines, continuations joined."""
    text = README.read_text()
    section = text[text.index("## CLI tour") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the README's CLI tour has no ```sh block"
    script = block.group(1).replace("\\\n", " ")
    return [line for line in script.splitlines() if shlex.split(line, comments=True)]


def test_the_tour_has_the_commands_the_issue_missed() -> None:
    lines = "\n".join(tour_commands())
    for needed in ("strategy add newsletter", "--lens product", "segtrail demo", "new_customers"):
        assert needed in lines


def test_every_tour_command_runs(cli: Runner, tmp_path: Path) -> None:
    cwd, variables, ran = tmp_path, {"PWD": str(tmp_path)}, []
    for line in tour_commands():
        words = shlex.split(line, comments=True)
        commands: list[list[str]] = [[]]
        for word in words:
            if word == "&&":
                commands.append([])
            else:
                commands[-1].append(word)
        for command in commands:
            command = [re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], w) for w in command]
            name = command[0]
            if name == "source":
                continue
            if "=" in name and len(command) == 1:
                key, value = name.split("=", 1)
                variables[key] = value
                continue
            if name == "cd":
                cwd = cwd / command[1]
                variables["PWD"] = str(cwd)
                continue
            assert name == "segtrail", f"the tour runs {name!r}, which this test cannot"
            args = command[1:]
            if args[0] == "demo":
                args[args.index("--customers") + 1] = TOUR_CUSTOMERS
            result = cli(*args, cwd=cwd)
            assert result.code == 0, f"{line}\n{result.err}"
            ran.append(args[0])
    # every segtrail command of the tour ran (none skipped by the parsing above)
    assert len(ran) == sum(len(re.findall(r"(?:^|&& )segtrail ", t)) for t in tour_commands())
    assert {"demo", "ingest", "segment", "plan", "campaign", "lookalike", "audience"} <= set(ran)
    # every action the tour recorded reads in words on the pages (the history page's headings,
    # the home page's sentences), none as its raw name
    recorded = set()
    for config in tmp_path.rglob(".segtrail/config.json"):
        with Workspace.open(config.parent.parent) as ws:
            recorded |= {e.action for e in ws.events()}
    assert {"init", "ingest", "segment", "plan-map", "campaign-import"} <= recorded
    assert recorded - set(ACTIONS) == set()
