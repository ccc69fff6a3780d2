"""Retiring and restoring datasets and strategies through the API: who may (a viewer never;
an analyst only when every lens concerned is theirs; an admin always), the answer is what
`--json` prints, and a refused request changes nothing."""

from __future__ import annotations

from segtrail.services.workspace import Workspace


def events(served) -> int:
    with Workspace.open(served.root) as ws:
        return len(ws.events())


def retired(served, kind: str) -> set[str]:
    with Workspace.open(served.root) as ws:
        if kind == "dataset":
            return {d.name for d in ws.datasets(include_retired=True) if d.retired}
        return {s.name for s in ws.strategies(include_retired=True) if s.retired}


PATHS = [
    "/api/v1/datasets/customers/retire",
    "/api/v1/datasets/customers/restore",
    "/api/v1/strategies/welcome/retire",
    "/api/v1/strategies/welcome/restore",
]


def test_no_token_is_401_and_a_viewer_is_refused_everywhere(client, served):
    before = events(served)
    for path in PATHS:
        assert client.post(path, json={}).status_code == 401
        refused = client.post(path, json={}, headers=served.headers("vic"))
        assert refused.status_code == 403, path
        assert refused.json()["error"]["kind"] == "forbidden"
    assert events(served) == before


def test_an_analyst_outside_a_lens_concerned_is_refused(client, served):
    # customers was segmented for marketing and product; ana writes in marketing only
    before = events(served)
    for path in PATHS[:2]:
        assert client.post(path, json={}, headers=served.headers("ana")).status_code == 403
    # app-push is mapped in product's plan (by the admin): not ana's to retire
    mapped = client.post(
        "/api/v1/versions/product@1/plan/map",
        json={"strategy": "app-push", "segments": [0], "rationale": "app users"},
        headers=served.headers("admin"),
    )
    assert mapped.status_code == 200
    before = events(served)
    refused = client.post(
        "/api/v1/strategies/app-push/retire", json={}, headers=served.headers("ana")
    )
    assert refused.status_code == 403
    assert events(served) == before
    assert "app-push" not in retired(served, "strategy")


def test_an_analyst_retires_and_restores_a_strategy_of_their_own_lens(client, served):
    # welcome is mapped in marketing@1's plan only
    answer = client.post(
        "/api/v1/strategies/welcome/retire",
        json={"reason": "season over"},
        headers=served.headers("ana"),
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["kind"] == "strategy" and body["name"] == "welcome"
    assert body["retired"] is True and body["reason"] == "season over"
    assert body["author"] == "ana"
    assert "welcome" in retired(served, "strategy")
    back = client.post("/api/v1/strategies/welcome/restore", headers=served.headers("ana"))
    assert back.status_code == 200 and back.json()["retired"] is False
    assert "welcome" not in retired(served, "strategy")


def test_an_admin_retires_and_restores_a_dataset(client, served):
    answer = client.post("/api/v1/datasets/customers/retire", headers=served.headers("admin"))
    assert answer.status_code == 200
    assert answer.json()["retired"] is True and answer.json()["author"] == "admin"
    assert "customers" in retired(served, "dataset")
    listed = client.get("/api/v1/datasets", headers=served.headers("vic")).json()
    assert "customers" not in {d["name"] for d in listed}
    back = client.post("/api/v1/datasets/customers/restore", headers=served.headers("admin"))
    assert back.status_code == 200
    assert "customers" not in retired(served, "dataset")
    assert client.post(
        "/api/v1/datasets/nothing-here/retire", headers=served.headers("admin")
    ).status_code in (404, 422)
