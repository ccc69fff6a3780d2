"""The actions answer what the CLI's --json prints (compared with the CLI on the same
workspace, key for key), and files come back as downloads."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from tests.conftest import Runner


def cli_json(cli: Runner, served, *args: str):
    result = cli("-w", served.root, *args, "--json")
    assert result.code == 0, result.err
    return result.json()


@pytest.mark.parametrize(
    ("path", "args"),
    [
        ("/api/v1/versions/marketing@1", ("show", "marketing@1")),
        ("/api/v1/versions/product", ("show", "product")),
        ("/api/v1/versions", ("log",)),
        ("/api/v1/versions?lens=product", ("log", "product")),
        ("/api/v1/datasets", ("datasets",)),
        ("/api/v1/datasets/customers@1", ("dataset", "show", "customers@1")),
        ("/api/v1/strategies", ("strategy", "list")),
        ("/api/v1/versions/marketing@1/plan", ("plan", "show", "marketing@1")),
        ("/api/v1/diff?a=marketing@1&b=product@1", ("diff", "marketing@1", "product@1")),
        ("/api/v1/compare?a=marketing@1&b=product@1", ("compare", "marketing@1", "product@1")),
        ("/api/v1/diff?a=marketing@1&b=marketing@2", ("diff", "marketing@1", "marketing@2")),
        ("/api/v1/carry?old=marketing@1&new=marketing@2", ("carry", "marketing@1", "marketing@2")),
        ("/api/v1/strategies/welcome/why", ("why", "welcome")),
        ("/api/v1/campaigns", ("campaign", "list")),
        ("/api/v1/audiences", ("audience", "list")),
    ],
)
def test_reads_answer_what_the_cli_prints(client, served, cli, path, args):
    answer = client.get(path, headers=served.headers("vic"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == cli_json(cli, served, *args)


def test_carry_apply_records_the_plan_on_the_new_version(client, served):
    body = {"old": "marketing@1", "new": "marketing@2"}
    assert client.post("/api/v1/carry", json=body, headers=served.headers("vic")).status_code == 403
    answer = client.post("/api/v1/carry", json=body, headers=served.headers("ana"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] is True
    plan = client.get("/api/v1/versions/marketing@2/plan", headers=served.headers("vic")).json()
    assert plan["revision"] == answer.json()["revision"]
    assert plan["author"] == "ana"
    assert [e["strategy"] for e in plan["entries"]] == ["welcome"]


def test_export_is_a_download(client, served):
    answer = client.post("/api/v1/versions/marketing@1/export", headers=served.headers("vic"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["rows"] == 300
    file = client.get(answer.headers["Location"], headers=served.headers("vic"))
    assert file.status_code == 200
    rows = list(csv.DictReader(io.StringIO(file.text)))
    assert len(rows) == 300
    assert {"customer_id", "segment"} <= set(rows[0])
    # the key in the URL is not enough on its own
    assert client.get(answer.headers["Location"]).status_code == 401


def test_audience_export_with_its_provenance(client, served):
    answer = client.post(
        "/api/v1/audience-exports",
        json={"target": "marketing@1:0", "format": "csv"},
        headers=served.headers("ana"),
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    file = client.get(answer.headers["Location"], headers=served.headers("ana"))
    assert len(file.text.strip().splitlines()) == body["rows"] + 1
    provenance_url = answer.headers["Link"].split(">")[0].lstrip("<")
    provenance = client.get(provenance_url, headers=served.headers("ana"))
    recorded = json.loads(provenance.text)
    assert recorded["sha256"] == hashlib.sha256(file.content).hexdigest()
    assert {k: recorded[k] for k in body["provenance"]} == body["provenance"]


def test_campaign_import_and_report(client, served, tmp_path, cli):
    client.post(
        "/api/v1/versions/marketing@1/plan/map",
        json={"strategy": "welcome", "segments": "all"},
        headers=served.headers("ana"),
    )
    lines = ["customer_id,group,responded"]
    lines += [
        f"C{i:05d},{'control' if i % 4 == 0 else 'treatment'},{int(i % 3 == 0)}" for i in range(300)
    ]
    answer = client.post(
        "/api/v1/campaigns",
        files={"file": ("spring.csv", "\n".join(lines).encode(), "text/csv")},
        data={"name": "spring", "strategy": "welcome"},
        headers=served.headers("ana"),
    )
    assert answer.status_code == 201, answer.text
    assert (answer.json()["campaign"], answer.json()["rows"]) == ("spring", 300)
    report = client.get(
        "/api/v1/campaigns/spring/report?by=marketing@1", headers=served.headers("vic")
    )
    assert report.status_code == 200, report.text
    assert report.json() == cli_json(
        cli, served, "campaign", "report", "spring", "--by", "marketing@1"
    )


def test_a_version_read_again_shows_every_change(client, served):
    """Version reads are cached while the history is unchanged: a change through the API,
    or from outside the server (the CLI on the same workspace), shows at once."""
    from segtrail.services.workspace import Workspace

    path, vic = "/api/v1/versions/marketing@2", served.headers("vic")
    first = client.get(path, headers=vic).json()
    assert client.get(path, headers=vic).json() == first
    client.post(
        "/api/v1/versions/marketing@2/segments/1/name",
        json={"name": "Renamed through the API"},
        headers=served.headers("ana"),
    )
    assert client.get(path, headers=vic).json()["segments"][1]["name"] == "Renamed through the API"
    with Workspace.open(served.root, author="someone-else") as ws:
        ws.tag("marketing@2", 1, "fit", "poor")
    again = client.get(path, headers=vic).json()
    assert again["segments"][1]["tags"] == {"fit": "poor"}


def test_assign_new_customers(client, served, cli, tmp_path):
    from tests.web.api.conftest import customers_csv

    new = customers_csv(tmp_path / "new.csv", rows=40, seed=9)
    answer = client.post(
        "/api/v1/versions/marketing@1/assign",
        files={"file": ("new.csv", new.read_bytes(), "text/csv")},
        headers=served.headers("vic"),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["rows"] == 40
    file = client.get(answer.headers["Location"], headers=served.headers("vic"))
    ours = list(csv.DictReader(io.StringIO(file.text)))
    theirs = cli("-w", served.root, "assign", "marketing@1", new, "--out", tmp_path / "cli.csv")
    assert theirs.code == 0, theirs.err
    with (tmp_path / "cli.csv").open() as f:
        assert ours == list(csv.DictReader(f))


def test_order_lines_upload(client, served):
    lines = ["customer,day,amount,order"]
    lines += [f"C{i % 30:05d},2024-0{1 + i % 9}-1{i % 10},{10 + i % 7},O{i}" for i in range(200)]
    answer = client.post(
        "/api/v1/datasets/transactions",
        files={"file": ("orders.csv", "\n".join(lines).encode(), "text/csv")},
        data={"customer": "customer", "date": "day", "amount": "amount", "order": "order"},
        headers=served.headers("ana"),
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["dataset"] == "orders@1"
    assert body["rows"] == 30
    assert body["transactions"]["dataset"] == "orders-transactions@1"


def test_sql_ingest_is_for_admins(client, served, tmp_path):
    import sqlite3

    database = tmp_path / "crm.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE people (id TEXT, age INTEGER)")
        connection.executemany(
            "INSERT INTO people VALUES (?, ?)", [(f"P{i}", i) for i in range(25)]
        )
    body = {
        "query": "SELECT * FROM people",
        "url": f"sqlite:///{database}",
        "id": "id",
        "name": "crm",
    }
    assert (
        client.post("/api/v1/datasets/sql", json=body, headers=served.headers("ana")).status_code
        == 403
    )
    answer = client.post("/api/v1/datasets/sql", json=body, headers=served.headers("admin"))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["dataset"], answer.json()["rows"]) == ("crm@1", 25)
