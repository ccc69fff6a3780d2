"""The API signed by a browser session (the cookie the pages set): reads work, writes need
the session's CSRF token; users and tokens managed by admins through the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from segtrail.services import access
from segtrail.services.workspace import Workspace
from segtrail.web import create_app
from segtrail.web.deps import CSRF_HEADER, SESSION_COOKIE


@pytest.fixture(scope="module")
def session(served):
    with Workspace.open(served.root) as ws:
        access.set_password(ws, "ana", "correct horse battery")
        return access.sign_in(ws, "ana", "correct horse battery")


def test_cookie_writes_need_the_csrf_token(served, session):
    with TestClient(create_app(served.root)) as browser:
        browser.cookies.set(SESSION_COOKIE, session.session_token)
        assert browser.get("/api/v1/versions/marketing@1").status_code == 200
        path = "/api/v1/versions/marketing@1/segments/0/name"
        missing = browser.post(path, json={"name": "No token"})
        assert missing.status_code == 403
        assert "CSRF" in missing.json()["error"]["message"]
        wrong = browser.post(path, json={"name": "Wrong"}, headers={CSRF_HEADER: "x" * 40})
        assert wrong.status_code == 403
        right = browser.post(
            path, json={"name": "With token"}, headers={CSRF_HEADER: session.csrf_token}
        )
        assert right.status_code == 200, right.text
    with Workspace.open(served.root) as ws:
        history = ws.show("marketing@1")["segments"][0]["name_history"]
    names = [h["name"] for h in history]
    assert "With token" in names
    assert not {"No token", "Wrong"} & set(names)
    assert history[-1]["author"] == "ana"


def test_a_signed_out_session_is_401(served):
    with Workspace.open(served.root) as ws:
        gone = access.sign_in(ws, "ana", "correct horse battery")
        access.sign_out(ws, gone.session_token)
    with TestClient(create_app(served.root)) as browser:
        browser.cookies.set(SESSION_COOKIE, gone.session_token)
        assert browser.get("/api/v1/versions").status_code == 401


def test_admins_manage_users_and_tokens(client, served, session):
    admin, ana = served.headers("admin"), served.headers("ana")
    body = {"name": "pat", "role": "analyst", "lenses": ["product"]}
    assert client.post("/api/v1/users", json=body, headers=ana).status_code == 403
    made = client.post("/api/v1/users", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert (made.json()["user"], made.json()["role"]) == ("pat", "analyst")
    pat = {"Authorization": f"Bearer {made.json()['token']}"}
    renamed = client.post(
        "/api/v1/versions/product@1/segments/0/name", json={"name": "Pat's"}, headers=pat
    )
    assert renamed.status_code == 200
    listed = {u["name"]: u for u in client.get("/api/v1/users", headers=admin).json()}
    assert listed["pat"]["lenses"] == ["product"]
    revoked = client.post(f"/api/v1/tokens/{made.json()['token_id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert client.get("/api/v1/versions", headers=pat).status_code == 401
    fresh = client.post("/api/v1/users/pat/tokens", headers=admin)
    assert fresh.status_code == 201
    again = {"Authorization": f"Bearer {fresh.json()['token']}"}
    assert client.get("/api/v1/versions", headers=again).status_code == 200
    assert client.post("/api/v1/users/pat/disable", headers=admin).status_code == 200
    assert client.get("/api/v1/versions", headers=again).status_code == 401
