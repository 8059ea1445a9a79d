"""Fuzzing with schemathesis (issues 4.4 and 11): ``chalice local`` + the moto server.

The document comes from the running API (``/openapi.json``). Generation is bounded and
deterministic (fixed seed, derandomized Hypothesis, no example database), positive and negative,
and every response must pass the checks below, ``positive_data_acceptance`` and
``negative_data_rejection`` included: the document states every rule the server enforces, so
what it allows is accepted and what it refuses is refused. Two runs:

- per operation: the examples, coverage and fuzzing phases;
- stateful: sequences that follow the document's links (create an item, then read, replace,
  patch, delete it, start an attachment, upload its file as a browser would, download it...).

Each run tallies, per operation, the requests sent and those accepted (2xx/3xx); the stateful run
must have accepted requests on every operation. ``FUZZ_REPORT=<file>`` appends the tallies as
JSON lines (``make fuzz`` prints them). Only the documented methods are exercised: ``chalice
local`` answers unknown methods such as ``TRACE`` with its own HTML 501 page, which API Gateway
never serves.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.harness import API_KEY, LiveApi

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("FUZZ_SEED", "20261124"))
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "30"))
STATEFUL_SCENARIOS = int(os.environ.get("SCHEMATHESIS_SCENARIOS", "40"))


def accepts_valid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, except for a cursor the server did not issue: a cursor is
    opaque and signed, so the document cannot describe the valid ones and no generator can
    forge one (the stateful run follows ``next_cursor`` links to real ones)."""
    query = case.query or {}
    forged = response.status_code == 400 and "cursor" in query
    if forged and response.json().get("Message", "").startswith("cursor:"):
        return None
    if response.status_code == 400 and not text_parameters_are_valid(case, query):
        return None
    # One rule OpenAPI cannot state in a schema (the parameters' descriptions say it): tag and
    # name_prefix are exclusive.
    exclusive = {"tag", "name_prefix"} <= set(query)
    if exclusive and "cannot be combined" in response.json().get("Message", ""):
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


def text_parameters_are_valid(case: Any, query: dict[str, Any]) -> bool:
    """Whether the string query parameters satisfy their documented schemas. Schemathesis's
    coverage phase sends some values its positive mode should not (an empty ``name_prefix``
    under ``minLength: 1``); the API refusing those is right, so they are checked here with
    the document's own schemas rather than trusted."""
    from jsonschema import Draft202012Validator

    for parameter in case.operation.definition.raw.get("parameters", []):
        schema = parameter.get("schema", {})
        value = query.get(parameter.get("name"))
        if parameter.get("in") != "query" or schema.get("type") != "string" or value is None:
            continue
        if not Draft202012Validator(schema).is_valid(value):
            return False
    return True


def is_the_apis_own_503(response: Response) -> bool:
    """The API's answer when a dependency did not answer in time: 503 in the error shape, with
    Retry-After. schemathesis hands checks its own ``Response``, whose headers have lower-case
    names and list values."""
    if response.status_code != 503 or not response.headers.get("retry-after"):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("Code") == "ServiceUnavailableError"


def no_server_error(ctx: Any, response: Response, case: Any) -> bool | None:
    """``not_a_server_error``, except the API's own 503 for a dependency that did not answer in
    time: on a loaded machine the emulator can be slower than the clients' 1.5 s read timeout,
    and that answer is the contract's. It is tallied (``unavailable``)."""
    if is_the_apis_own_503(response):
        return None
    result: bool | None = not_a_server_error(ctx, response, case)
    return result


@pytest.mark.parametrize(
    ("status", "headers", "body", "tolerated"),
    [
        (503, {"Retry-After": ["5"]}, {"Code": "ServiceUnavailableError", "Message": "m"}, True),
        (503, {}, {"Code": "ServiceUnavailableError", "Message": "m"}, False),
        (500, {"Retry-After": ["5"]}, {"Code": "ServiceUnavailableError", "Message": "m"}, False),
        # API Gateway's own 503 (its shape, not the API's): a deployment problem, not a busy
        # emulator.
        (503, {"Retry-After": ["5"]}, {"message": "Service Unavailable"}, False),
    ],
)
def test_only_the_apis_own_503_counts_as_a_busy_dependency(
    status: int, headers: dict[str, list[str]], body: dict[str, str], tolerated: bool
) -> None:
    # Built as schemathesis builds the response it hands a check (header names as the server
    # sends them: the constructor lower-cases them).
    response = Response(
        status_code=status,
        headers={"Content-Type": ["application/json"], **headers},
        content=json.dumps(body).encode(),
        request=requests.Request("POST", "http://127.0.0.1/items").prepare(),
        elapsed=0.01,
        verify=True,
    )
    assert is_the_apis_own_503(response) is tolerated


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    accepts_valid_data,
    negative_data_rejection,
]


def fuzz_config(token: str) -> Any:
    """schemathesis's configuration, with valid credentials for both security schemes."""
    return schemathesis.Config.from_dict(
        {
            **CONFIG,
            # The valid key and an editor's token: API Gateway's and the authorizer's refusals
            # are not what this test is about (a negative case that drops or changes them still
            # gets its 403 or 401).
            "auth": {"openapi": {"apiKey": {"api_key": API_KEY}, "bearerAuth": {"bearer": token}}},
        }
    )


CONFIG: dict[str, Any] = {
    "seed": SEED,
    "generation": {
        "mode": "all",
        "max-examples": EXAMPLES_PER_OPERATION,
        "deterministic": True,
        "database": "none",
    },
    "checks": {
        # Valid requests may still meet a missing item (404), a stale If-Match (412), an
        # Idempotency-Key still in progress (409) or already used with another body (422:
        # the generator repeats header values), or a busy emulator (429/503).
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "404", "409", "412", "422", "429", "503"]
        },
    },
    # Only documented methods (see the module docstring).
    "phases": {"coverage": {"unexpected-methods": []}},
}
# (run, operation) -> Counter of "sent" and "accepted"
TALLY: dict[tuple[str, str], Counter[str]] = {}


def tally(run: str, case: Any, response: Any) -> None:
    counts = TALLY.setdefault((run, f"{case.method.upper()} {case.path}"), Counter())
    counts["sent"] += 1
    counts["accepted"] += int(200 <= response.status_code < 400)
    counts["unavailable"] += int(response.status_code == 503)


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if os.environ.get("FUZZ_REPORT"):
        with open(os.environ["FUZZ_REPORT"], "a", encoding="utf-8") as out:
            for (run, operation), counts in sorted(TALLY.items()):
                out.write(json.dumps({"run": run, "operation": operation, **counts}) + "\n")


@pytest.fixture(scope="session")
def api_schema(live: LiveApi) -> Any:
    return schemathesis.openapi.from_url(
        f"{live.url}/openapi.json", config=fuzz_config(live.token())
    )


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
    response = case.call(base_url=live.url, allow_redirects=False, timeout=30)
    tally("operations", case, response)
    case.validate_response(response, checks=CHECKS)


def test_the_document_itself_conforms(api_schema: Any, live: LiveApi) -> None:
    """schemathesis leaves out the operation it loaded the document from: call it here."""
    case = api_schema["/openapi.json"]["GET"].Case()
    response = case.call(base_url=live.url, allow_redirects=False, timeout=30)
    tally("operations", case, response)
    assert response.status_code == 200
    case.validate_response(response, checks=CHECKS)


def upload_file(created: dict[str, Any]) -> None:
    """What a browser does with the presigned POST: every field, then the file."""
    fields = list(created["upload"]["fields"].items())
    size = int(created["attachment"]["size"])
    data = b"x" * min(size, 1024)  # the policy admits 1..size bytes
    sent = requests.post(
        created["upload"]["url"],
        files=[*((k, (None, v)) for k, v in fields), ("file", ("f", data, fields[0][1]))],
        timeout=30,
    )
    assert sent.status_code in (200, 201, 204), sent.text


def test_stateful_sequences_reach_every_operation(api_schema: Any, live: LiveApi) -> None:
    from hypothesis.errors import FlakyStrategyDefinition
    from schemathesis.engine.errors import is_inconsistent_replay

    scenarios_started = 0
    failures: list[str] = []

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            nonlocal scenarios_started
            scenarios_started += 1

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live.url, "allow_redirects": False, "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            tally("stateful", case, response)
            if case.method.upper() == "POST" and response.status_code == 201:
                body = response.json()
                if "upload" in body:  # an attachment: its file, so the download can redirect
                    upload_file(body)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as failure:
                # Kept as it happens: Hypothesis replays a failing scenario to report it, and
                # against a live server the replay may take other branches (then it reports
                # only that flakiness, which the loop below sets aside).
                failures.append(f"{case.method} {case.formatted_path}: {failure}")
                print(f"FAILED STEP {failures[-1]}")
                raise

    # Many scenarios per Hypothesis run: its first example is always the simplest one, so a run
    # of one scenario repeats the same choices every time. A scenario's choices depend on what
    # the live server answered (which links have data), so a later scenario that shares a prefix
    # of choices with an earlier one can draw differently, and Hypothesis then ends the run as
    # "inconsistent data generation". schemathesis's own engine answers that by going on in a
    # fresh run; so does this loop. A failed check is never lost to it: `failures` keeps it.
    # Each run draws its seed from Hypothesis's per-thread generator: seeded here, the scenarios
    # are the same on every run of the suite as far as the server answers alike (FUZZ_SEED
    # chooses another set).
    import random

    import hypothesis.core

    hypothesis.core.threadlocal._hypothesis_global_random = random.Random(SEED)
    # Every operation on items and attachments; /health and /openapi.json take no input from
    # any other operation (no link leads there), and are accepted in the run above.
    operations = {
        f"{method.upper()} {path}"
        for path, item in api_schema.raw_schema["paths"].items()
        for method in item
        if path.startswith("/items")
    }
    assert len(operations) == 10

    def accepted() -> set[str]:
        return {
            op for (run, op), counts in TALLY.items() if run == "stateful" and counts["accepted"]
        }

    # STATEFUL_SCENARIOS at least, then more (up to three times as many) while an operation
    # has not been reached: a scenario's path depends on the live server's answers.
    runs = 0
    while scenarios_started < STATEFUL_SCENARIOS or (
        operations - accepted() and scenarios_started < 3 * STATEFUL_SCENARIOS
    ):
        runs += 1
        try:
            Workflow.run(
                settings=settings(
                    max_examples=STATEFUL_SCENARIOS,
                    stateful_step_count=12,
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    # No shrinking: replaying a scenario against a server whose data other
                    # tests (and earlier scenarios) changed takes other branches, and
                    # Hypothesis would report that flakiness instead of the failure it found.
                    phases=[Phase.explicit, Phase.generate],
                )
            )
        except Exception as ended:
            if not (isinstance(ended, FlakyStrategyDefinition) or is_inconsistent_replay(ended)):
                raise
    print(f"stateful: {scenarios_started} scenarios in {runs} runs")
    assert failures == []
    assert operations - accepted() == set(), TALLY
