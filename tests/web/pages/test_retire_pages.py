"""Retire and restore from the pages, in-process (FastAPI's TestClient on a real workspace),
signed in through the sign-in form as each person: the forms carry the session's CSRF token,
a viewer and an analyst outside a lens concerned see why they cannot and are refused (403)
when they post the form anyway, and a refused or forged post records nothing. The same
played in Chromium is tests/browser/test_retire_pages.py."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from tests.web.api.conftest import Served, make_workspace

from segtrail.services import access
from segtrail.services.workspace import Workspace
from segtrail.web import create_app

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = tmp_path_factory.mktemp("retire-pages") / "ws"
    root.mkdir()
    served = make_workspace(root)  # admin; ana analyst of marketing; vic viewer
    with Workspace.open(root, author="setup") as ws:
        for name in ("admin", "ana", "vic"):
            access.set_password(ws, name, PASSWORD)
    return served


@pytest.fixture(scope="module")
def sign_in(served: Served) -> Iterator[Callable[[str], TestClient]]:
    """A browser session per person, signed in through the form, with its CSRF token."""
    clients: list[TestClient] = []

    def open_as(name: str) -> TestClient:
        client = TestClient(create_app(served.root)).__enter__()
        clients.append(client)
        answer = client.post("/sign-in", data={"name": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.csrf = re.search(  # type: ignore[attr-defined]
            r'name="csrf_token" value="([^"]+)"', client.get("/").text
        ).group(1)
        return client

    yield open_as
    for client in clients:
        client.__exit__(None, None, None)


def state(served: Served) -> tuple[int, set[str], set[str]]:
    """(events recorded, retired dataset names, retired strategy names)."""
    with Workspace.open(served.root) as ws:
        datasets = {d.name for d in ws.datasets(include_retired=True) if d.retired}
        strategies = {s.name for s in ws.strategies(include_retired=True) if s.retired}
        return len(ws.events()), datasets, strategies


def text(page: str) -> str:
    """What a person reads: the page without tags, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def inside(page: str, marker: str) -> str:
    """What a person reads from the element holding `marker` (in its opening tag) onwards."""
    start = page.index(marker)
    return text(page[page.index(">", start) + 1 :])


POSTS = [
    "/datasets/customers/retire",
    "/datasets/customers/restore",
    "/strategies/welcome/retire",
    "/strategies/welcome/restore",
]


def test_a_viewer_sees_why_not_and_is_refused_when_posting_the_form(
    sign_in: Callable[[str], TestClient], served: Served
) -> None:
    vic = sign_in("vic")
    page = vic.get("/datasets/customers")
    assert page.status_code == 200
    assert 'action="/datasets/customers/retire"' not in page.text  # no form to post
    assert "You cannot retire customers: vic is a viewer and can only read" in text(page.text)
    strategies = vic.get("/strategies").text
    assert 'action="/strategies/welcome/retire"' not in strategies
    assert "You cannot retire welcome: vic is a viewer" in text(strategies)
    before = state(served)
    for path in POSTS:  # the form posted anyway, with her own valid CSRF token
        refused = vic.post(path, data={"csrf_token": vic.csrf, "reason": "x"})
        assert refused.status_code == 403, path
        assert "vic is a viewer" in text(refused.text)
    assert state(served) == before


def test_a_post_without_the_csrf_token_is_refused(
    sign_in: Callable[[str], TestClient], served: Served
) -> None:
    admin = sign_in("admin")
    before = state(served)
    for token in (None, "forged"):
        data = {"reason": "x"} | ({"csrf_token": token} if token else {})
        for path in POSTS[::2]:
            assert admin.post(path, data=data).status_code == 403, path
    assert state(served) == before


def test_an_analyst_may_retire_only_what_concerns_her_lenses_alone(
    sign_in: Callable[[str], TestClient], served: Served
) -> None:
    ana = sign_in("ana")
    # customers was segmented for marketing and product: not hers to retire
    page = text(ana.get("/datasets/customers").text)
    assert "You cannot retire customers: ana may not change the lens 'product'" in page
    before = state(served)
    refused = ana.post("/datasets/customers/retire", data={"csrf_token": ana.csrf})
    assert refused.status_code == 403
    assert state(served) == before
    # welcome is mapped in marketing's plan only: the form is there, and it works
    strategies = ana.get("/strategies").text
    assert 'action="/strategies/welcome/retire"' in strategies
    assert "Nothing is deleted" in text(strategies)
    done = ana.post(
        "/strategies/welcome/retire",
        data={"csrf_token": ana.csrf, "reason": "season over", "back": "strategies"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/strategies?retired=welcome#strategy-welcome"
    assert "welcome" in state(served)[2]
    shown = ana.get(done.headers["location"]).text
    card = inside(shown, 'id="strategy-welcome"')
    assert card.startswith("welcome retired")
    assert "season over" in card and "by ana" in card
    assert 'action="/strategies/welcome/restore"' in shown
    assert "Retired strategy welcome" in text(shown)  # the flash
    # a crafted link cannot announce a retirement that did not happen
    assert "Retired strategy" not in text(ana.get("/strategies?retired=app-push").text)
    # off the plan board's choices, still where it is listed: home, marked, with Restore
    board = ana.get("/plans/marketing@1").text
    assert '<option value="welcome"' not in board
    home = ana.get("/").text
    item = inside(home, 'id="home-strategy-welcome"')
    assert item.startswith("welcome “Welcome back” retired")
    assert 'action="/strategies/welcome/restore"' in home
    back = ana.post(
        "/strategies/welcome/restore",
        data={"csrf_token": ana.csrf, "back": "home"},
        follow_redirects=False,
    )
    assert back.headers["location"] == "/?restored=welcome"
    assert "welcome" not in state(served)[2]
    assert '<option value="welcome"' in ana.get("/plans/marketing@1").text


def test_an_admin_retires_and_restores_a_dataset_from_its_page(
    sign_in: Callable[[str], TestClient], served: Served
) -> None:
    admin = sign_in("admin")
    page = admin.get("/datasets/customers@1").text
    assert "Segment these customers" in page
    assert "Retiring customers takes it off the lists of customer data" in text(page)
    done = admin.post(
        "/datasets/customers/retire",
        data={"csrf_token": admin.csrf, "reason": "replaced <b>now</b>", "back": "dataset"},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/datasets/customers?retired=customers"
    assert "customers" in state(served)[1]
    page = text(admin.get(done.headers["location"]).text)
    assert "customers@1 retired" in page
    assert "Segment these customers" not in page
    assert "cannot be segmented until it is restored" in page
    listing = admin.get("/datasets").text
    assert "<b>now</b>" not in listing and "replaced &lt;b&gt;now&lt;/b&gt;" in listing  # inert
    retired = inside(listing, 'id="retired-h"')
    assert retired.startswith("Retired")
    assert "customers (1 version) retired on" in retired and "“replaced <b>now</b>”" in retired
    restored = admin.post(
        "/datasets/customers/restore",
        data={"csrf_token": admin.csrf, "back": "datasets"},
        follow_redirects=False,
    )
    assert restored.headers["location"] == "/datasets?restored=customers"
    assert "customers" not in state(served)[1]
    assert 'id="retired-h"' not in admin.get("/datasets").text


def test_the_history_page_tells_retire_and_restore_in_words(
    sign_in: Callable[[str], TestClient],
) -> None:
    admin = sign_in("admin")
    for path in POSTS:
        assert admin.post(path, data={"csrf_token": admin.csrf}).status_code == 200, path
    history = admin.get("/events").text
    listed = text(history)
    for heading in (
        "customer data retired",
        "customer data restored",
        "strategy retired",
        "strategy restored",
    ):
        assert f"admin · {heading}:" in listed
        assert f">{heading}</option>" in history  # the "What happened" filter offers it
    assert not re.search(r"\b(dataset|strategy)-(retire|restore)\b", listed)  # raw names
    only = text(admin.get("/events?action=dataset-restore").text)
    assert "customer data restored:" in only and "customer data retired:" not in only
    home = text(admin.get("/").text)
    assert "admin restored strategy welcome" in home
    assert "admin retired the customer data customers" in home
