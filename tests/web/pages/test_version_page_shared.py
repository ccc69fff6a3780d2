"""The version page is rendered once per history stamp and shared by every reader (the
load test's read path): each reader still gets their own name and CSRF token, the page is
the same as rendering it anew, and no change is ever served stale. Token sign-ins are cached
under the same stamp: a revoked token is refused on the next request."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.web.api.conftest import Served
from tests.web.pages.conftest import PASSWORD

from segtrail.services import access
from segtrail.services.access import Principal, Role
from segtrail.services.workspace import Workspace
from segtrail.web import create_app
from segtrail.web.deps import templates
from segtrail.web.pages.versions import page_context
from segtrail.web.pages.words import stability_words

PAGE = "/versions/marketing@1"


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[TestClient]:
    """One app (one page cache) for a browser session (ana) and token readers."""
    with TestClient(create_app(served.root)) as c:
        answer = c.post("/sign-in", data={"name": "ana", "password": PASSWORD})
        assert answer.status_code == 200
        yield c


def csrf_in(page: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([^"]*)"', page))


def who(page: str) -> str:
    return re.search(r'<span class="who" title="([^"]*)">([^<]*)</span>', page).groups()


def fresh_render(served: Served, principal: Principal, csrf_token: str) -> str:
    """The version page rendered directly by Jinja, without any cache."""
    with Workspace.open(served.root) as ws:
        data = page_context(ws, "marketing@1")
    return templates.get_template("version.html").render(
        principal=principal,
        csrf_token=csrf_token,
        title="marketing@1",
        nav="/",
        stability_words=stability_words,
        flash=None,
        **data,
    )


def test_each_reader_gets_their_own_name_and_csrf_token(client: TestClient, served: Served) -> None:
    ana_page = client.get(PAGE).text
    vic_page = client.get(PAGE, headers=served.headers("vic")).text
    ana_tokens = csrf_in(ana_page)
    assert len(ana_tokens) == 1 and "" not in ana_tokens  # every form: her session's token
    assert who(ana_page) == ("analyst", "ana")
    assert who(vic_page) == ("viewer", "vic")
    assert csrf_in(vic_page) == {""}  # a Bearer reader has no session: no token to leak
    assert not ana_tokens & csrf_in(vic_page)
    # the shared page is exactly what rendering it for each reader gives
    (token,) = ana_tokens
    ana = Principal("ana", Role.ANALYST, frozenset({"marketing"}))
    assert ana_page == fresh_render(served, ana, token)
    vic = Principal("vic", Role.VIEWER, frozenset())
    assert vic_page == fresh_render(served, vic, "")


def test_a_change_shows_on_the_next_read(client: TestClient, served: Served) -> None:
    client.get(PAGE, headers=served.headers("vic"))  # cached now
    answer = client.post(
        "/api/v1/versions/marketing@1/segments/2/name",
        json={"name": "Weekend browsers"},
        headers=served.headers("ana"),
    )
    assert answer.status_code == 200
    page = client.get(PAGE, headers=served.headers("vic")).text
    assert '<span id="seg-2-name">Weekend browsers</span>' in page


def test_the_card_shows_the_newest_three_earlier_names_and_links_the_rest(
    client: TestClient, served: Served
) -> None:
    for n in range(6):
        answer = client.post(
            "/api/v1/versions/marketing@1/segments/0/name",
            json={"name": f"Name {n}"},
            headers=served.headers("ana"),
        )
        assert answer.status_code == 200
    with Workspace.open(served.root) as ws:
        segment = ws.show("marketing@1").segments[0]
    page = client.get(PAGE, headers=served.headers("vic")).text
    card = page[page.index('id="segment-0"') : page.index('id="segment-1"')]
    hint = re.search(r"Earlier names: (.*?)</p>", card, re.S).group(1)
    assert re.findall(r"Name \d", hint) == ["Name 4", "Name 3", "Name 2"]
    assert len(segment.name_history) == 4  # show reads the current name and three before it
    older = segment.earlier_names_total - 3
    assert older >= 3  # the automatic name and Name 0, Name 1 (and any earlier renames)
    assert f">{older} older</a>" in hint
    assert 'href="/events?q=marketing%401%3A0&amp;action=name"' in hint


def test_a_revoked_token_is_refused_on_the_next_request(client: TestClient, served: Served) -> None:
    with Workspace.open(served.root, author="setup") as ws:
        created = access.create_token(ws, "vic")
    headers = {"Authorization": f"Bearer {created.token}"}
    assert client.get(PAGE, headers=headers).status_code == 200
    assert client.get(PAGE, headers=headers).status_code == 200  # from the cache
    with Workspace.open(served.root, author="setup") as ws:
        access.revoke_token(ws, created.token_id)
    assert client.get("/api/v1/versions/marketing@1", headers=headers).status_code == 401


def test_after_each_kind_of_change_the_page_is_what_reading_it_all_again_gives(
    client: TestClient, served: Served
) -> None:
    """Names, tags and plan changes of the version refresh only their part of the cached
    page (web/pages/versions.py); anything else reads it all again. Either way the page must
    equal a page built from nothing."""
    vic = Principal("vic", Role.VIEWER, frozenset())
    ana = served.headers("ana")
    writes = [
        ("/api/v1/versions/marketing@1/segments/1/name", {"name": "Loyal regulars"}),
        ("/api/v1/versions/marketing@1/segments/1/tag", {"key": "fit", "value": "poor"}),
        (
            "/api/v1/versions/marketing@1/plan/map",
            {"strategy": "app-push", "segments": [1, 2], "rationale": "they use the app"},
        ),
        ("/api/v1/versions/marketing@1/segments/2/name", {"name": "Bargain hunters"}),
        ("/api/v1/versions/marketing@1/plan/unmap", {"strategy": "app-push"}),
        ("/api/v1/versions/marketing@2/segments/0/name", {"name": "Another version"}),
        ("/api/v1/versions/marketing@2/adopt", {}),  # a status: the whole page again
    ]
    client.get(PAGE, headers=served.headers("vic"))
    for path, body in writes:
        answer = client.post(path, json=body, headers=ana)
        assert answer.status_code == 200, (path, answer.text)
        page = client.get(PAGE, headers=served.headers("vic")).text
        assert page == fresh_render(served, vic, ""), path
    assert '<span id="seg-1-name">Loyal regulars</span>' in page
    assert "fit=poor" in page
