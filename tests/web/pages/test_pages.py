"""The core pages in-process (FastAPI's TestClient on a real workspace): what each page says,
and what a page refuses (bad uploads with the ingest's own message, unsafe file names and
`next` targets, writes without the CSRF token, a viewer's or an out-of-lens analyst's write).
The whole story in a real browser is tests/browser/test_story.py."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.api.conftest import Served, customers_csv
from tests.web.pages.conftest import PASSWORD

from segtrail.services.workspace import Workspace
from segtrail.web import create_app
from segtrail.web.pages.datasets import safe_filename
from segtrail.web.pages.segment import parse_k
from segtrail.web.pages.signin import _safe_next


@pytest.fixture(scope="module")
def app_client(served: Served) -> Iterator[TestClient]:
    with TestClient(create_app(served.root)) as client:
        yield client


@pytest.fixture(scope="module")
def ana(served: Served) -> Iterator[TestClient]:
    """ana (analyst of marketing) signed in through the sign-in form, with her CSRF token."""
    with TestClient(create_app(served.root)) as client:
        answer = client.post(
            "/sign-in", data={"name": "ana", "password": PASSWORD}, follow_redirects=False
        )
        assert answer.status_code == 303
        client.csrf = csrf_of(client.get("/").text)  # type: ignore[attr-defined]
        yield client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def alert(page: str) -> str:
    found = re.search(r'role="alert"[^>]*>([^<]*)<', page)
    return found.group(1) if found else ""


def events(served: Served) -> int:
    with Workspace.open(served.root) as ws:
        return len(ws.events())


def test_pages_ask_to_sign_in_and_sign_in_refuses_a_wrong_password(
    app_client: TestClient,
) -> None:
    answer = app_client.get("/versions/marketing@1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fversions%2Fmarketing%401"
    wrong = app_client.post("/sign-in", data={"name": "ana", "password": "nope nope nope"})
    assert wrong.status_code == 401
    assert "do not match" in alert(wrong.text)
    assert "segtrail_session" not in wrong.cookies


def test_sign_in_sets_a_httponly_lax_cookie_and_goes_only_to_local_pages(served: Served) -> None:
    with TestClient(create_app(served.root)) as client:
        answer = client.post(
            "/sign-in",
            data={"name": "ana", "password": PASSWORD, "next": "https://evil.example/"},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert client.get("/").status_code == 200
        client.post("/sign-out", data={"csrf_token": csrf_of(client.get("/").text)})
        assert client.get("/", follow_redirects=False).status_code == 303
    assert _safe_next("//evil.example/x") == "/"
    assert _safe_next("/versions/marketing@1") == "/versions/marketing@1"


def test_home_shows_lenses_strategies_and_recent_events(ana: TestClient) -> None:
    page = ana.get("/").text
    assert re.search(r"<th scope=\"row\">marketing</th>.*?marketing@2", page, re.S)
    assert "product@1" in page
    assert "welcome" in page and "Welcome back" in page
    assert "segmented" in page  # the event log in words


def test_version_page_summary_cards_and_strategy_map(ana: TestClient) -> None:
    page = ana.get("/versions/marketing@1").text
    assert "marketing: behaviour separates the groups" in page
    assert re.search(r"<strong>3</strong> segments", page)
    assert "Quality:</strong> clearly separated" in page  # three planted groups
    assert page.count('class="card"') == 3
    assert re.search(r'<th scope="row">welcome</th>', page)
    charts = ana.get("/versions/marketing@1/charts").text
    # sizes and profiles are in the summary and the cards; the charts are the report's figures
    # each figure as plotly JSON (static/charts.js draws it): a scatter of customers
    found = re.search(r'id="fig-projection" class="plotly-graph-div" data-figure="([^"]+)"', charts)
    figure = json.loads(html.unescape(found.group(1)))
    assert figure["data"][0]["type"] == "scatter" and figure["config"]["displaylogo"] is False


def test_rename_in_place_returns_the_card_and_records_the_name(
    ana: TestClient, served: Served
) -> None:
    answer = ana.post(
        "/versions/marketing@1/segments/1/name",
        data={"name": "Big spenders", "csrf_token": ana.csrf},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert 'id="segment-1"' in answer.text
    assert "Big spenders" in answer.text and "<html" not in answer.text  # a fragment
    with Workspace.open(served.root) as ws:
        assert ws.show("marketing@1").segments[1].name == "Big spenders"


def test_writes_without_the_csrf_token_are_refused_and_change_nothing(
    ana: TestClient, served: Served
) -> None:
    before = events(served)
    for token in (None, "forged"):
        data = {"name": "Hijacked"} | ({"csrf_token": token} if token else {})
        answer = ana.post("/versions/marketing@1/segments/0/name", data=data)
        assert answer.status_code == 403
    assert events(served) == before


def test_a_viewer_and_an_analyst_outside_their_lens_cannot_write(
    app_client: TestClient, served: Served
) -> None:
    before = events(served)
    viewer = app_client.post(
        "/versions/marketing@1/segments/0/name",
        data={"name": "x"},
        headers=served.headers("vic"),
    )
    assert viewer.status_code == 403
    outside = app_client.post(
        "/plans/product@1/map",
        data={"strategy": "welcome", "target": "all", "rationale": "r"},
        headers=served.headers("ana"),
    )
    assert outside.status_code == 403
    assert events(served) == before


def test_plan_board_maps_for_everyone_and_refuses_a_mapping_without_rationale(
    ana: TestClient, served: Served
) -> None:
    refused = ana.post(
        "/plans/marketing@2/map",
        data={
            "strategy": "app-push",
            "target": "some",
            "segments": ["0"],
            "rationale": "",
            "csrf_token": ana.csrf,
        },
    )
    assert refused.status_code == 422 and "rationale" in refused.text
    done = ana.post(
        "/plans/marketing@2/map",
        data={
            "strategy": "app-push",
            "target": "all",
            "status": "paused",
            "rationale": "one message for all",
            "csrf_token": ana.csrf,
        },
    )
    assert done.status_code == 200  # followed to the board
    assert "mapped app-push to all segments (paused)" in done.text
    with Workspace.open(served.root) as ws:
        (entry,) = ws.plan_show("marketing@2").entries
    assert entry["segments"] == "all" and entry["status"] == "paused"


def test_upload_shows_the_ingest_message_and_keeps_the_workspace(
    ana: TestClient, served: Served, tmp_path: Path
) -> None:
    csv = customers_csv(tmp_path / "more.csv", rows=50)
    before = events(served)
    answer = ana.post(
        "/datasets",
        data={"id_column": "customer_no", "csrf_token": ana.csrf},
        files={"file": ("more.csv", csv.read_bytes(), "text/csv")},
    )
    assert answer.status_code == 422
    assert "customer_no" in alert(answer.text)
    assert events(served) == before
    ok = ana.post(
        "/datasets",
        data={"id_column": "customer_id", "csrf_token": ana.csrf},
        files={"file": ("../../more.csv", csv.read_bytes(), "text/csv")},
    )
    assert ok.status_code == 200
    assert "<h1>more@1</h1>" in ok.text and "50 customers" in ok.text


def test_unsafe_upload_names_lose_their_folders() -> None:
    assert safe_filename("../../etc/passwd.csv") == "passwd.csv"
    assert safe_filename("..\\..\\x y.csv") == "x_y.csv"
    with pytest.raises(Exception, match="no usable name"):
        safe_filename("../..")


def test_segment_form_offers_every_algorithm(ana: TestClient) -> None:
    """Each registered algorithm is a choice on the page (plus automatic), in plain words."""
    import re

    from segtrail.engine.algorithms import REGISTRY

    page = ana.get("/segment?dataset=customers").text
    offered = set(re.findall(r'<option value="([a-z]+)"', page)) & ({"auto"} | set(REGISTRY))
    assert offered == {"auto"} | set(REGISTRY)


def test_segment_form_checks_k_and_submits_a_job(ana: TestClient) -> None:
    assert parse_k("auto", "auto") is None and parse_k("", "kmeans") == "auto"
    assert parse_k("4", "kmeans") == 4 and parse_k("4", "dbscan") is None
    bad = ana.post(
        "/segment",
        data={
            "dataset": "customers",
            "lens": "marketing",
            "features": ["age", "spend"],
            "algorithm": "kmeans",
            "k": "1",
            "hypothesis": "h",
            "csrf_token": ana.csrf,
        },
    )
    assert bad.status_code == 422 and "whole number from 2" in alert(bad.text)
    started = ana.post(
        "/segment",
        data={
            "dataset": "customers",
            "lens": "marketing",
            "features": ["age", "spend"],
            "algorithm": "kmeans",
            "k": "3",
            "hypothesis": "age and spend only",
            "csrf_token": ana.csrf,
        },
        follow_redirects=False,
    )
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    job = started.headers["location"]
    for _ in range(300):
        answer = ana.get(job, headers={"HX-Request": "true"})
        if answer.headers.get("HX-Redirect"):
            break
        assert "failed" not in answer.text
        time.sleep(0.1)
    assert answer.headers["HX-Redirect"] == "/versions/marketing@3?new=1"
    assert "age and spend only" in ana.get("/versions/marketing@3").text


def test_the_version_pages_strategy_map_agrees_with_plan_show(served: Served) -> None:
    """The page counts reach from segment sizes; `plan show` counts it customer by customer
    from the assignments: both must say the same."""
    from segtrail.web.pages.versions import strategy_map

    with Workspace.open(served.root, author="setup") as ws:
        ws.plan_map("app-push", "marketing@1", [1, 2], rationale="two segments")
        ws.plan_map("welcome", "product@1", "all", status="paused", rationale="paused for all")
        for ref in ("marketing@1", "marketing@2", "product@1"):
            mine, reference = strategy_map(ws, ws.show(ref)), ws.plan_show(ref)
            assert mine["matrix"] == [
                {k: row[k] for k in ("strategy", "status", "segments")} for row in reference.matrix
            ]
            for key in ("customers", "reached", "unreached"):
                assert mine["coverage"][key] == reference.coverage[key], (ref, key)
