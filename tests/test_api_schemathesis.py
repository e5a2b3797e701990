"""Property-based API test: schemathesis generates requests from ``/openapi.json`` (bounded
examples per operation) and finds no 5xx and no response that breaks the documented schema."""

import pytest

schemathesis = pytest.importorskip("schemathesis")
import tempfile  # noqa: E402

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from greenwave.api.main import create_app  # noqa: E402
from greenwave.api.settings import Settings  # noqa: E402

_STATE = tempfile.mkdtemp(prefix="greenwave-schemathesis-")
APP = create_app(Settings(state_dir=_STATE, token="schema-token", max_batch=50))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms(case):
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_with_token(case):
    """Writes with the right token reach body validation and the store."""
    case.call_and_validate(headers={"Authorization": "Bearer schema-token"}, checks=CHECKS)
