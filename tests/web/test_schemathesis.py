"""schemathesis against /api/v1/openapi.json: generated requests to every operation, as an
admin (so the authorisation rules do not hide the rest), with a bounded number of examples.
No 500s, every status documented, every response body matching its declared schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from segtrail.web import create_app
from tests.web.api.conftest import Served, make_workspace

EXAMPLES = 8  # per operation: ~40 operations, a few hundred requests in all

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return make_workspace(Path(tmp_path_factory.mktemp("fuzzed")))


@pytest.fixture(scope="module")
def api_schema(fuzzed: Served):
    app = create_app(fuzzed.root)
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_matches_its_schema(case, fuzzed: Served) -> None:
    case.call_and_validate(headers=fuzzed.headers("admin"), checks=CHECKS)
