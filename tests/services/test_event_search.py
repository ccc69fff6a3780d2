"""Searching the event log (the web page's search): text, action and author filters done in
SQL, compared with a plain Python filter over the whole log, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtrail.errors import InvalidInput
from segtrail.services.workspace import Workspace

# Characters that LIKE treats specially (% _ \), quotes, and a non-ASCII letter
ALPHABET = "aAbB%_\\'\"é "
SUBJECTS = ["50% off", "a_b", "back\\slash", "Café crème", "plain", 'QUOTE"d', "AbBa"]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory, databases) -> Workspace:
    root = tmp_path_factory.mktemp("events")
    ws = Workspace.init(root, database_url=databases.new(), author="ana")
    for i, subject in enumerate(SUBJECTS):
        author = ("ana", "bo", "cy")[i % 3]
        action = ("name", "tag")[i % 2]
        ws.meta.events.append(author, action, subject, {"note": SUBJECTS[-1 - i], "i": i})
    return ws


def reference(ws: Workspace, text: str | None, action: str | None, author: str | None):
    """The whole log filtered in Python: case-insensitive for ASCII letters (as SQL's LIKE
    does everywhere), the text as typed in the subject or as JSON writes it in the details."""

    def fold(s: str) -> str:
        return "".join(c.lower() if c.isascii() else c for c in s)

    out = []
    for e in ws.events():
        details = json.dumps(e["details"], sort_keys=True, default=str)
        if text and not (
            fold(text) in fold(e["subject"]) or fold(json.dumps(text)[1:-1]) in fold(details)
        ):
            continue
        if (action and e["action"] != action) or (author and e["author"] != author):
            continue
        out.append(e["id"])
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(st.none(), st.text(alphabet=ALPHABET, min_size=1, max_size=3)),
    action=st.sampled_from([None, "name", "tag", "init"]),
    author=st.sampled_from([None, "ana", "bo", "nobody"]),
)
def test_search_matches_a_python_filter(log: Workspace, text, action, author) -> None:
    page = log.events_search(text, action, author, per_page=500)
    expected = reference(log, (text or "").strip() or None, action, author)
    assert [e["id"] for e in page["events"]] == expected
    assert page["total"] == len(expected)


def test_like_wildcards_are_taken_literally(log: Workspace) -> None:
    for text in ("%", "_", "\\"):
        found = log.events_search(text, per_page=500)["events"]
        # a wildcard would match every event; taken literally only those holding it
        assert 0 < len(found) < len(log.events())
        assert all(text in e["subject"] or text in str(e["details"]) for e in found)
    assert {e["subject"] for e in log.events_search("a_b")["events"]} == {"a_b", 'QUOTE"d'}


def test_pages_cover_the_log_once_newest_first(log: Workspace) -> None:
    everything = [e["id"] for e in log.events()]
    pages = [log.events_search(per_page=3, page=p) for p in (1, 2, 3)]
    assert [p["pages"] for p in pages] == [3, 3, 3]  # 8 events: init + 7
    assert [e["id"] for p in pages for e in p["events"]] == everything
    assert everything == sorted(everything, reverse=True)
    assert pages[0]["actions"] == ["init", "name", "tag"]
    assert pages[0]["authors"] == ["ana", "bo", "cy"]


@pytest.mark.parametrize(("page", "per_page"), [(0, 10), (1, 0), (1, 501)])
def test_bad_page_is_refused(log: Workspace, page: int, per_page: int) -> None:
    with pytest.raises(InvalidInput):
        log.events_search(page=page, per_page=per_page)


def test_search_from_a_fresh_workspace_has_only_init(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w", author="x")
    found = ws.events_search()
    assert found["total"] == 1 and found["events"][0]["action"] == "init"
