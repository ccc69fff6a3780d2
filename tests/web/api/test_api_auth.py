"""Who may do what through the API: no token 401, wrong role or lens 403, and every write
recorded with the signed-in user as its author. In-process (TestClient) for the matrix, and
against a real `segtrail serve` subprocess for the essentials."""

from __future__ import annotations

import pytest

from segtrail.services.workspace import Workspace

READS = [
    "/api/v1/datasets",
    "/api/v1/datasets/customers",
    "/api/v1/versions",
    "/api/v1/versions/marketing@1",
    "/api/v1/versions/marketing@1/plan",
    "/api/v1/strategies",
    "/api/v1/campaigns",
    "/api/v1/audiences",
    "/api/v1/events",
    "/api/v1/diff?a=marketing@1&b=product@1",
    "/api/v1/compare?a=marketing@1&b=product@1",
]


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_token_and_any_role_may_read(client, served, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["kind"] == "unauthenticated"
    assert client.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert client.get(path, headers=served.headers("vic")).status_code == 200


def test_health_needs_no_token(client):
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def name_call(client, served, user, ref="marketing@1", segment=0, name="Young app natives"):
    return client.post(
        f"/api/v1/versions/{ref}/segments/{segment}/name",
        json={"name": name},
        headers=served.headers(user) if user else {},
    )


def test_write_matrix(client, served):
    assert name_call(client, served, None).status_code == 401
    viewer = name_call(client, served, "vic")
    assert viewer.status_code == 403
    assert viewer.json()["error"]["kind"] == "forbidden"
    # the analyst writes in the lens granted, not in another one
    assert name_call(client, served, "ana").status_code == 200
    outside = name_call(client, served, "ana", ref="product@1")
    assert outside.status_code == 403
    assert name_call(client, served, "admin", ref="product@1").status_code == 200
    # strategies and campaigns are open to every analyst (lens None), not to viewers
    body = {"name": "winback", "message": "We miss you", "channels": ["email"]}
    assert (
        client.post("/api/v1/strategies", json=body, headers=served.headers("vic")).status_code
        == 403
    )
    created = client.post("/api/v1/strategies", json=body, headers=served.headers("ana"))
    assert created.status_code == 201, created.text
    assert created.json()["author"] == "ana"


def test_refused_writes_record_nothing(client, served):
    with Workspace.open(served.root) as ws:
        before = len(ws.events())
    name_call(client, served, "vic", name="viewer was here")
    name_call(client, served, "ana", ref="product@1", name="outside the grant")
    name_call(client, served, None, name="nobody")
    with Workspace.open(served.root) as ws:
        assert len(ws.events()) == before
        names = [s["name"] for s in ws.show("product@1")["segments"]]
    assert not {"viewer was here", "outside the grant", "nobody"} & set(names)


def test_every_write_names_the_signed_in_user(client, served):
    answer = name_call(client, served, "ana", segment=1, name="Big spenders")
    assert answer.status_code == 200
    assert answer.json() == {
        "version": "marketing@1",
        "segment": 1,
        "name": "Big spenders",
        "previous": answer.json()["previous"],
    }
    with Workspace.open(served.root) as ws:
        newest = ws.events(limit=1)[0]
        history = ws.show("marketing@1")["segments"][1]["name_history"]
    assert newest["author"] == "ana"
    assert history[-1]["name"] == "Big spenders"
    assert history[-1]["author"] == "ana"


def test_fsck_is_for_admins(client, served):
    assert client.get("/api/v1/fsck", headers=served.headers("ana")).status_code == 403
    report = client.get("/api/v1/fsck", headers=served.headers("admin"))
    assert report.status_code == 200
    assert report.json()["clean"] is True


def test_a_disabled_user_token_stops_working(client, served):
    from segtrail.services import access
    from segtrail.services.access import Role

    with Workspace.open(served.root) as ws:
        token = access.add_user(ws, "temp", Role.VIEWER).token
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/versions", headers=headers).status_code == 200
    with Workspace.open(served.root) as ws:
        access.disable_user(ws, "temp")
    assert client.get("/api/v1/versions", headers=headers).status_code == 401


def test_live_server_auth(live, served):
    """The same rules over a real socket, from a real `segtrail serve` process."""
    with live.client() as anonymous:
        assert anonymous.get("/api/v1/health").status_code == 200
        assert anonymous.get("/api/v1/versions/marketing@1").status_code == 401
    with live.client(served.tokens["vic"]) as viewer:
        shown = viewer.get("/api/v1/versions/marketing@1")
        assert shown.status_code == 200
        assert shown.json()["version"] == "marketing@1"
        assert "profiles" not in shown.json()  # as `segtrail show --json`
        refused = viewer.post("/api/v1/versions/marketing@1/segments/2/name", json={"name": "Nope"})
        assert refused.status_code == 403
    with live.client(served.tokens["ana"]) as analyst:
        named = analyst.post(
            "/api/v1/versions/marketing@1/segments/2/name", json={"name": "Store regulars"}
        )
        assert named.status_code == 200, named.text
        assert (
            analyst.post(
                "/api/v1/versions/product@1/segments/0/name", json={"name": "Nope"}
            ).status_code
            == 403
        )
    with Workspace.open(served.root) as ws:
        segment = ws.show("marketing@1")["segments"][2]
    assert (segment["name"], segment["name_history"][-1]["author"]) == ("Store regulars", "ana")
