"""The thread pages in-process (FastAPI's TestClient on a real workspace with the planted
story of tests/browser/pages2_story.py): a needs-review decision made on a plan that moved
on since the page was shown is refused (409) and records nothing; the words the pages use
for fates, uplift verdicts and agreement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from segtrail.services import access
from segtrail.services.workspace import Workspace
from segtrail.web import create_app
from segtrail.web.pages.campaigns import verdict
from segtrail.web.pages.thread import agreement_words, fate_words


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    from browser.pages2_story import build

    root = tmp_path_factory.mktemp("pages2") / "ws"
    Workspace.init(root, author="setup")
    build(SimpleNamespace(workspace=root))
    with Workspace.open(root, author="setup") as ws:
        token = access.add_user(ws, "ana", access.Role.ADMIN)["token"]
    with TestClient(create_app(root), headers={"Authorization": f"Bearer {token}"}) as c:
        yield c, root


def revision(root: Path) -> int:
    with Workspace.open(root) as ws:
        return ws.plan_show("p2mkt@2")["revision"]


def test_stale_review_decision_is_a_conflict(client) -> None:
    c, root = client
    form = {"a": "p2mkt@1", "b": "p2mkt@2"}
    assert c.post("/diff/apply", data=form, follow_redirects=False).status_code == 303
    seen = revision(root)
    page = c.get("/diff", params=form).text
    assert f'name="revision" value="{seen}"' in page
    # someone else changes the plan of p2mkt@2 after the page was shown
    with Workspace.open(root, author="bo") as ws:
        ws.plan_map("p2-mail", "p2mkt@2", [0], rationale="only the first corner now")
    decision = {**form, "strategy": "p2-push", "choice": "pause", "revision": str(seen)}
    answer = c.post("/diff/review", data=decision, follow_redirects=False)
    assert answer.status_code == 409
    assert "Nothing was recorded" in answer.text
    assert revision(root) == seen + 1  # only bo's change
    # decided again on the page as it is now: recorded
    fresh = re.search(r'name="revision" value="(\d+)"', c.get("/diff", params=form).text)
    decision["revision"] = fresh.group(1)
    assert c.post("/diff/review", data=decision, follow_redirects=False).status_code == 303
    with Workspace.open(root) as ws:
        entry = {e["strategy"]: e for e in ws.plan_show("p2mkt@2")["entries"]}["p2-push"]
    assert entry["status"] == "paused"


def test_review_choice_outside_the_list_is_refused(client) -> None:
    c, root = client
    before = revision(root)
    answer = c.post(
        "/diff/review",
        data={"a": "p2mkt@1", "b": "p2mkt@2", "strategy": "p2-push", "choice": "delete-all"},
    )
    assert answer.status_code == 422
    assert revision(root) == before


def test_words() -> None:
    names = {0: "Young", 1: "Old"}
    kept = {"fate": "kept", "best_match": 1, "jaccard": 0.83, "targets": []}
    assert fate_words(kept, names) == "stayed together as 1 “Old” (overlap 83%)"
    split = {
        "fate": "split",
        "targets": [
            {"segment": 0, "share_of_a": 0.6, "customers": 6},
            {"segment": 1, "share_of_a": 0.4, "customers": 4},
        ],
    }
    assert fate_words(split, names) == "split into 0 “Young” (60%), 1 “Old” (40%)"
    assert agreement_words(None).startswith("no customer in common")
    assert [agreement_words(x) for x in (0.9, 0.6, 0.3, 0.0)] == [
        "nearly the same grouping",
        "a similar grouping with some moves",
        "a partly different grouping",
        "a very different grouping",
    ]
    arm = {"control": False, "uplift": 0.05}
    assert verdict({**arm, "flag": "helps"}) == ("helped", "good")
    assert verdict({**arm, "flag": "hurts"}) == ("hurt", "bad")
    assert verdict({**arm, "flag": None}) == ("no clear effect", "warn")
    assert verdict({"control": False, "uplift": None})[0] == "not enough customers to tell"


def test_audience_size_field() -> None:
    from segtrail.errors import InvalidInput
    from segtrail.web.pages.audiences import parse_size

    assert parse_size(" 500 ") == 500 and parse_size("1,200") == 1200
    assert parse_size("5%") == pytest.approx(0.05) and parse_size("100%") == 1.0
    for bad in ("0", "-3", "0%", "150%", "nan%", "five", "", "²", "1e3"):
        with pytest.raises(InvalidInput):
            parse_size(bad)
