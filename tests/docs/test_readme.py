"""The README's Python API example runs as written (docs that cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("Python API"), re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGTRAIL_AUTHOR", "readme")
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    ws = namespace["ws"]
    # what the example claims happened, read back from the history
    assert [d["dataset"] for d in ws.datasets()] == ["customers@1"]
    assert ws.show("marketing@1")["segments"][0]["name"] == "Everyday regulars"
    assert ws.plan_show("marketing@1")["entries"][0]["strategy"] == "app-push"
    actions = [e["action"] for e in ws.events()][:4]
    assert actions == ["holdout-create", "plan-map", "strategy-add", "name"]  # dry run: no design
    assert ws.holdout_show()["seed"] == 7 and namespace["plan"]["customers"] > 0
