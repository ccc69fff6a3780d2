"""Bad input through the API: 422 with the CLI's message, 404 for what does not exist, 409
when the plan moved on, names that try to climb out of a folder refused, uploads over the
size limit refused with 413 and one message, and nothing recorded by any of them."""

from __future__ import annotations

import httpx
import pytest
from tests.conftest import hash_tree
from tests.web.api.conftest import LiveServer, customers_csv

from segtrail.services.workspace import Workspace


def cli_error(cli, served, *args: str) -> str:
    """The message the CLI prints for the same mistake (without "error: " and its flag hint)."""
    result = cli("-w", served.root, *args)
    assert result.code == 2, result
    line = result.err.strip().removeprefix("error: ")
    return line.split(" (see --")[0]


def test_bad_input_is_422_with_the_cli_message(client, served, cli):
    admin = served.headers("admin")
    cases = [
        (
            client.post(
                "/api/v1/versions/marketing@1/plan/map",
                json={"strategy": "welcome", "segments": [7]},
                headers=admin,
            ),
            ("plan", "map", "welcome", "marketing@1", "--segments", "7"),
        ),
        (
            client.post(
                "/api/v1/strategies",
                json={"name": "../evil", "message": "x", "channels": ["email"]},
                headers=admin,
            ),
            ("strategy", "add", "../evil", "-m", "x", "-c", "email"),
        ),
        (
            client.post(
                "/api/v1/segmentations",
                json={"dataset": "customers", "lens": "marketing", "hypothesis": "  "},
                headers=admin,
            ),
            ("segment", "-d", "customers", "-l", "marketing", "-m", "  "),
        ),
        (
            client.post(
                "/api/v1/versions/marketing@1/plan/map",
                json={"strategy": "welcome", "segments": [0], "status": "someday"},
                headers=admin,
            ),
            ("plan", "map", "welcome", "marketing@1", "-s", "0", "--status", "someday"),
        ),
    ]
    for answer, args in cases:
        assert answer.status_code == 422, (args, answer.text)
        error = answer.json()["error"]
        assert error["kind"] == "invalid_input"
        assert error["message"] == cli_error(cli, served, *args), args


def test_malformed_requests_are_422_in_the_same_error_shape(client, served):
    answer = client.post(
        "/api/v1/versions/marketing@1/segments/0/name",
        json={"nom": "x"},
        headers=served.headers("admin"),
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "name"
    assert "name" in answer.json()["error"]["message"]


def test_unknown_things_are_404(client, served):
    vic = served.headers("vic")
    for path in (
        "/api/v1/versions/nope@1",
        "/api/v1/datasets/nope",
        "/api/v1/jobs/0123",
        "/api/v1/strategies/nope/why",
        "/api/v1/no-such-endpoint",
    ):
        answer = client.get(path, headers=vic)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["kind"] == "not_found"


def test_a_stale_plan_revision_is_409_and_records_nothing(client, served):
    admin = served.headers("admin")
    plan = client.get("/api/v1/versions/product@1/plan", headers=admin).json()
    seen = plan["revision"]
    first = client.post(
        "/api/v1/versions/product@1/plan/map",
        json={"strategy": "welcome", "segments": [0], "expected_revision": seen},
        headers=admin,
    )
    assert first.status_code == 200, first.text
    late = client.post(
        "/api/v1/versions/product@1/plan/map",
        json={"strategy": "app-push", "segments": [1], "expected_revision": seen},
        headers=admin,
    )
    assert late.status_code == 409
    assert late.json()["error"]["kind"] == "conflict"
    assert f"r{seen + 1}" in late.json()["error"]["message"]
    after = client.get("/api/v1/versions/product@1/plan", headers=admin).json()
    assert after["revision"] == seen + 1
    assert [e["strategy"] for e in after["entries"]] == ["welcome"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/downloads/../../../../etc/passwd",
        "/api/v1/downloads/..%2F..%2F..%2Fetc/passwd",
        "/api/v1/downloads/00000000000000000000000000000000/..%2F..%2Fsegtrail.db",
        "/api/v1/datasets/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/versions/..%2F.segtrail@1",
    ],
)
def test_path_traversal_in_a_name_is_refused(client, served, path):
    answer = client.get(path, headers=served.headers("admin"))
    assert answer.status_code in (404, 422), answer.text
    assert "root:" not in answer.text


def test_upload_gives_what_ingest_json_prints(client, served, tmp_path, cli):
    path = customers_csv(tmp_path / "shop.csv", rows=50, seed=3)
    with path.open("rb") as f:
        answer = client.post(
            "/api/v1/datasets",
            files={"file": ("shop.csv", f, "text/csv")},
            data={"id": "customer_id"},
            headers=served.headers("ana"),
        )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["dataset"], body["rows"], body["author"]) == ("shop@1", 50, "ana")
    assert [c["name"] for c in body["columns"]] == [
        "customer_id",
        "age",
        "spend",
        "visits",
        "channel",
    ]
    shown = cli("-w", served.root, "dataset", "show", "shop@1", "--json")
    assert shown.code == 0
    assert {k: v for k, v in shown.json().items() if k in body} == {
        k: v for k, v in body.items() if k in shown.json()
    }


def test_a_bad_upload_is_422_with_the_ingest_message(client, served, tmp_path, cli):
    bad = tmp_path / "dupes.csv"
    bad.write_text("customer_id,age\nA,1\nA,2\n")
    before = hash_tree(served.root)
    with bad.open("rb") as f:
        answer = client.post(
            "/api/v1/datasets",
            files={"file": ("dupes.csv", f, "text/csv")},
            data={"id": "customer_id"},
            headers=served.headers("ana"),
        )
    assert answer.status_code == 422
    assert hash_tree(served.root) == before
    # the same words as `segtrail ingest` (messages name the file by its own name)
    assert answer.json()["error"]["message"] == cli_error(
        cli, served, "ingest", str(bad), "--id", "customer_id"
    )


@pytest.mark.parametrize("name", ["../evil.csv", "..\\evil.csv", "sub/evil.csv", "/etc/evil.csv"])
def test_an_upload_named_with_folders_is_refused(client, served, name):
    before = hash_tree(served.root)
    answer = client.post(
        "/api/v1/datasets",
        files={"file": (name, b"customer_id,age\nA,1\n", "text/csv")},
        data={"id": "customer_id"},
        headers=served.headers("admin"),
    )
    assert answer.status_code == 422
    assert "without folders" in answer.json()["error"]["message"]
    assert hash_tree(served.root) == before


def test_an_upload_over_the_limit_is_413_with_one_message(served, tmp_path):
    from fastapi.testclient import TestClient

    from segtrail.web import create_app

    before = hash_tree(served.root)
    big = b"customer_id,age\n" + b"".join(b"C%07d,%d\n" % (i, i % 90) for i in range(20_000))
    with TestClient(create_app(served.root, max_upload_bytes=100_000)) as small:
        answer = small.post(
            "/api/v1/datasets",
            files={"file": ("big.csv", big, "text/csv")},
            data={"id": "customer_id"},
            headers=served.headers("admin"),
        )
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert "larger than this server's limit" in error["message"]
    assert "\n" not in error["message"]
    assert hash_tree(served.root) == before


def test_a_streamed_upload_over_the_limit_is_cut_off(served):
    """Without a Content-Length the body is counted as it arrives, on the real server."""
    server = LiveServer(served.root, "--max-upload-mb", "1")
    try:
        with Workspace.open(served.root) as ws:
            datasets_before = len(ws.datasets())

        def chunks():
            yield (
                b'--b\r\nContent-Disposition: form-data; name="id"\r\n\r\ncustomer_id\r\n'
                b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
                b"Content-Type: text/csv\r\n\r\ncustomer_id,age\r\n"
            )
            for i in range(200):
                yield b"".join(b"C%07d,%d\n" % (i * 1000 + j, j % 90) for j in range(1000))
            yield b"\r\n--b--\r\n"

        with server.client(served.tokens["admin"]) as http:
            try:
                answer = http.post(
                    "/api/v1/datasets",
                    content=chunks(),
                    headers={"Content-Type": "multipart/form-data; boundary=b"},
                )
            except httpx.TransportError:
                answer = None  # the server may close the connection while we still send
            if answer is not None:
                assert answer.status_code == 413, answer.text
                assert "limit of 1 MB" in answer.json()["error"]["message"]
            assert http.get("/api/v1/health").status_code == 200
        with Workspace.open(served.root) as ws:
            assert len(ws.datasets()) == datasets_before
    finally:
        server.stop()
