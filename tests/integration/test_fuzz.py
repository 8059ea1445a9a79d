"""Fuzzing (issue 4.4): schemathesis against ``chalice local`` + the moto server.

The document comes from the running API (``/openapi.json``). Generation is bounded and
deterministic (fixed seed, derandomized Hypothesis, no example database), in both positive and
negative modes, and every response must pass the five conformance checks below. Only the
documented methods are exercised: ``chalice local`` answers unknown methods such as ``TRACE``
with its own HTML 501 page, which API Gateway never serves.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.harness import API_KEY, LiveApi

pytestmark = pytest.mark.integration

SEED = 20261124
EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES_PER_OPERATION,
            "deterministic": True,
            "database": "none",
        },
        # Only documented methods (see the module docstring).
        "phases": {"coverage": {"unexpected-methods": []}},
    }
)


@pytest.fixture(scope="session")
def api_schema(live: LiveApi) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_response_conforms_to_the_document(case: Any, live: LiveApi) -> None:
    # The valid key: API Gateway's own 403s are not what this test is about.
    case.call_and_validate(
        base_url=live.url,
        headers={"x-api-key": API_KEY},
        checks=CHECKS,
        allow_redirects=False,
        timeout=30,
    )
