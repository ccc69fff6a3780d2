"""Behaviour of the pages around the edges: security headers on every answer, a form's
action URL opened with GET goes back to the form's page (not 405), service messages in the
pages' words (no command lines), and an upload recorded under its own file name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.api.conftest import Served, customers_csv
from tests.web.pages.conftest import PASSWORD

from segtrail.services.workspace import Workspace
from segtrail.web import create_app
from segtrail.web.hints import page_words


@pytest.fixture(scope="module")
def ana(served: Served) -> Iterator[TestClient]:
    with TestClient(create_app(served.root)) as client:
        answer = client.post("/sign-in", data={"name": "ana", "password": PASSWORD})
        assert answer.status_code == 200
        page = client.get("/").text
        client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[attr-defined]
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/versions/marketing@1",
        "/api/v1/versions/marketing@1",
        "/static/htmx.min.js",
        "/api/v1/health",
        "/versions/nothing@9",
        "/sign-in",
    ],
)
def test_every_answer_carries_the_security_headers(ana: TestClient, path: str) -> None:
    answer = ana.get(path, follow_redirects=False)
    policy = answer.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"


def test_pages_have_no_inline_script_and_no_javascript_links(ana: TestClient) -> None:
    for path in (
        "/",
        "/versions/marketing@1",
        "/versions/marketing@1/charts",
        "/diff?a=marketing@1&b=marketing@2",
        "/versions/nothing@9",
    ):
        page = ana.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert "src=" in tag, f"{path}: inline script {tag}"
        assert "javascript:" not in page, path
    charts = ana.get("/versions/marketing@1/charts").text
    assert 'id="fig-projection"' in charts and "data-figure=" in charts
    diff = ana.get("/diff?a=marketing@1&b=marketing@2").text
    assert re.search(r'id="fig-sankey"><svg class="sankey"', diff)


def test_the_pages_serve_the_reports_small_plotly_bundle(ana: TestClient) -> None:
    from segtrail.report.bundle import plotly_js

    answer = ana.get("/charts/plotly.min.js")
    assert answer.status_code == 200
    assert answer.text == plotly_js()
    assert len(answer.content) < 1_300_000  # the basic bundle, not the 4.8 MB full one


@pytest.mark.parametrize(
    ("action", "page"),
    [
        ("/plans/marketing@1/map", "/plans/marketing@1"),
        ("/versions/marketing@1/segments/0/name", "/versions/marketing@1"),
        ("/diff/apply", "/diff"),
        ("/sign-out", "/"),
    ],
)
def test_a_form_action_opened_with_get_goes_to_its_page(
    ana: TestClient, action: str, page: str
) -> None:
    answer = ana.get(action, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == page
    # the API keeps its answer: a wrong method there is a client's bug to see
    assert ana.get("/api/v1/versions/marketing@1/retire").status_code == 405


def test_a_failed_form_post_reloaded_with_get_shows_the_form_again(ana: TestClient) -> None:
    failed = ana.post(
        "/plans/marketing@1/map",
        data={"strategy": "welcome", "target": "all", "rationale": "", "csrf_token": ana.csrf},
    )
    assert failed.status_code == 422
    again = ana.get("/plans/marketing@1/map")  # the address bar after the failed post
    assert again.status_code == 200
    assert str(again.url).endswith("/plans/marketing@1")


def test_service_messages_on_pages_have_no_command_lines(ana: TestClient) -> None:
    page = ana.get("/versions/nothing@9").text
    message = re.search(r'role="alert">([^<]*)<', page).group(1)
    assert message == "no segmentation nothing@9; the home page lists the versions"
    assert "segtrail" not in message
    # the API keeps the service's own words (what the CLI prints)
    api = ana.get("/api/v1/versions/nothing@9").json()["error"]["message"]
    assert api == "no segmentation nothing@9; `segtrail log` lists them"


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (
            "no dataset x@3; `segtrail datasets` lists them",
            "no dataset x@3; the Customer data page lists them",
        ),
        (
            "no strategy 'x'; add it with `segtrail strategy add`",
            "no strategy 'x'; add it on the Plans page",
        ),
        (
            "dataset c is retired (2026-01-02, ana); cannot segment it; "
            "`segtrail dataset restore c` brings it back",
            "dataset c is retired (2026-01-02, ana); cannot segment it; "
            "restoring it brings it back",
        ),
        (
            "this workspace has no holdout; create one with `segtrail holdout create`",
            "this workspace has no holdout",
        ),
        ("no user named 'x' (see `segtrail user list`)", "no user named 'x'"),
        (
            "broken; nothing was done. Run `segtrail fsck`",
            "broken; nothing was done. Ask the workspace's admin to check it",
        ),
        ("a message without a hint", "a message without a hint"),
    ],
)
def test_page_words_replace_or_drop_the_hint(message: str, words: str) -> None:
    assert page_words(message) == words


def test_an_upload_is_recorded_under_its_own_file_name(
    ana: TestClient, served: Served, tmp_path: Path
) -> None:
    csv = customers_csv(tmp_path / "spring.csv", rows=40, seed=3)
    answer = ana.post(
        "/datasets",
        data={"id_column": "customer_id", "csrf_token": ana.csrf},
        files={"file": ("spring customers.csv", csv.read_bytes(), "text/csv")},
    )
    assert answer.status_code == 200
    with Workspace.open(served.root) as ws:
        uploaded = [d for d in ws.datasets() if d.name == "spring_customers"]
        assert [d.source for d in uploaded] == ["spring_customers.csv"]
        event = ws.events(limit=1)[0]
    assert event["details"]["source"] == "spring_customers.csv"
    assert "segtrail-upload" not in str(event["details"])
