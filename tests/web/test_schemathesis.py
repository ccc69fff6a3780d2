"""schemathesis against /api/v1/openapi.json: generated requests to every operation, as an
admin (so the authorisation rules do not hide the rest), with a bounded number of examples.
No 500s, every status documented, every response body matching its declared schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from tests.web.api.conftest import Served, make_workspace

from segtrail.web import create_app

EXAMPLES = 6  # per operation: ~50 operations, a few hundred requests in all

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return make_workspace(Path(tmp_path_factory.mktemp("fuzzed")))


def test_api_matches_its_schema(fuzzed: Served) -> None:
    """Every operation in turn, each with its own bounded run of generated cases. (The
    schema needs the app, which needs a workspace made by a fixture; schemathesis's
    `from_fixture` does not run on this pytest, so the operations are walked here.)"""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(fuzzed.root))
    headers = fuzzed.headers("admin")
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        # SQL ingest would make the server connect to generated database URLs (tested in
        # tests/web/api/test_api_actions.py with a real SQLite file instead)
        if op.path != "/api/v1/datasets/sql"
    ]
    assert len(operations) >= 50  # every CLI action has an endpoint
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as e:  # collect every operation's failure, not only the first
            failures.append(f"{operation.label}: {e}")
    assert not failures, "\n\n".join(failures)
