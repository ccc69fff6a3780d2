"""`segtrail serve` itself: a PostgreSQL workspace served like a SQLite one, the warning for
a non-loopback address without TLS, and its refusals."""

from __future__ import annotations

import json

from tests.web.api.conftest import LiveServer, customers_csv

from segtrail.cli.serve import is_loopback
from segtrail.services import access
from segtrail.services.access import Role
from segtrail.services.workspace import Workspace


def test_serves_a_postgresql_workspace(tmp_path, postgres_server):
    url = postgres_server.create_database()
    try:
        with Workspace.init(tmp_path, database_url=url, author="setup") as ws:
            ws.ingest(customers_csv(tmp_path / "c.csv", rows=60), "customer_id", "customers")
            ws.segment("customers", "sales", "two groups", algorithm="kmeans", k=2)
            token = access.add_user(ws, "sam", Role.ANALYST, ["sales"]).token
        assert json.loads((tmp_path / ".segtrail" / "config.json").read_text())["database_url"]
        server = LiveServer(tmp_path)
        try:
            with server.client(token) as http:
                assert http.get("/api/v1/versions/sales@1").json()["version"] == "sales@1"
                named = http.post(
                    "/api/v1/versions/sales@1/segments/0/name", json={"name": "Regulars"}
                )
                assert named.status_code == 200, named.text
        finally:
            server.stop()
        with Workspace.open(tmp_path) as ws:
            segment = ws.show("sales@1")["segments"][0]
        assert (segment["name"], segment["name_history"][-1]["author"]) == ("Regulars", "sam")
    finally:
        postgres_server.drop_database(url)


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.0.2.1", "::", "example.org"]))


def test_a_non_loopback_address_without_tls_is_warned_about(cli, served):
    # 192.0.2.1 (TEST-NET-1) is on no interface here: the server warns, then cannot bind,
    # so nothing is ever exposed by this test.
    result = cli("serve", "--workspace", served.root, "--host", "192.0.2.1", "--port", "9")
    assert "warning: serving on 192.0.2.1 without TLS" in result.err
    assert result.code != 0


def test_tls_needs_both_files(cli, served, tmp_path):
    result = cli("serve", "--workspace", served.root, "--tls-certfile", tmp_path / "cert.pem")
    assert result.code == 2
    assert result.err.strip() == "error: give both --tls-certfile and --tls-keyfile, or neither"
