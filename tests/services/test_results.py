"""Typed results: frozen, printed as the JSON shape the CLI always printed, readable by key."""

from __future__ import annotations

import dataclasses
import json

import pytest

from segtrail.services.results import CampaignReport, DatasetInfo, Diff, Export

BASE = {
    "dataset": "customers@1",
    "name": "customers",
    "version": 1,
    "id_column": "customer_id",
    "rows": 3,
    "columns": [{"name": "customer_id", "kind": "id"}],
    "source": "/tmp/customers.csv",
    "source_format": "csv",
    "object": "ab" * 32,
    "created_at": "2026-12-01T00:00:00Z",
    "author": "tester",
}


def test_results_are_frozen() -> None:
    result = Export(version="m@1", out="a.csv", rows=2, sha256="0" * 64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.rows = 3  # type: ignore[misc]


def test_optional_fields_are_left_out_when_empty() -> None:
    """`dataset show` without --rows has no "data" key; with it, it has one."""
    plain = DatasetInfo(**BASE)
    assert plain.to_dict() == BASE
    assert "data" not in plain and plain.get("data", "absent") == "absent"
    with pytest.raises(KeyError):
        plain["data"]
    with_rows = DatasetInfo(**BASE, data=[{"customer_id": "a"}], unchanged=False)
    assert with_rows.to_dict() == {**BASE, "unchanged": False, "data": [{"customer_id": "a"}]}


def test_engine_documents_are_printed_beside_the_header() -> None:
    details = {"ari": 0.5, "transitions": [{"from": 0, "to": 1, "customers": 4}]}
    diff = Diff(a="m@1", b="m@2", details=details)
    assert diff.to_dict() == {"a": "m@1", "b": "m@2", **details}
    assert diff["ari"] == 0.5 and diff["a"] == "m@1" and "details" not in diff
    assert list(diff) == ["a", "b", "ari", "transitions"]
    assert dict(diff) == diff.to_dict()


def test_nested_results_print_as_plain_json() -> None:
    report = CampaignReport(
        campaign="c",
        strategy="s",
        by="m@1",
        imported_at="2026-12-01T00:00:00Z",
        author="t",
        rows=10,
        unknown_customers=0,
        details={"segments": [Export(version="m@1", out="x.csv", rows=1, sha256="0")]},
    )
    text = json.dumps(report.to_dict())
    assert json.loads(text)["segments"][0] == {
        "version": "m@1",
        "out": "x.csv",
        "rows": 1,
        "sha256": "0",
    }
