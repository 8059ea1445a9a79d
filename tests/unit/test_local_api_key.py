"""Local parity for API keys: with ``LOCAL_API_KEY`` set, the app refuses a key-protected
route without that key exactly as API Gateway does; without it (and always in Lambda, where
API Gateway checks keys), nothing changes."""

from __future__ import annotations

import pytest

from tests.unit.harness import InProcessApi

KEY = "local-test-key"
FORBIDDEN = {"message": "Forbidden"}
MISSING_ID = "00000000-0000-4000-8000-000000000000"
PROTECTED = [
    ("POST", "/items", {"name": "a"}),
    ("GET", "/items", None),
    ("GET", f"/items/{MISSING_ID}", None),
    ("PUT", f"/items/{MISSING_ID}", {"name": "a"}),
    ("PATCH", f"/items/{MISSING_ID}", {"name": "a"}),
    ("DELETE", f"/items/{MISSING_ID}", None),
    ("POST", f"/items/{MISSING_ID}/attachments", {"filename": "a", "content_type": "text/plain"}),
    ("GET", f"/items/{MISSING_ID}/attachments", None),
    ("GET", f"/items/{MISSING_ID}/attachments/a", None),
    ("DELETE", f"/items/{MISSING_ID}/attachments/a", None),
]


@pytest.fixture
def keyed(api: InProcessApi, monkeypatch: pytest.MonkeyPatch) -> InProcessApi:
    monkeypatch.setenv("LOCAL_API_KEY", KEY)
    return api


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
@pytest.mark.parametrize("sent", [None, "wrong-key", "", KEY.upper()])
def test_without_the_key_every_protected_route_is_api_gateways_403(
    keyed: InProcessApi, method: str, path: str, body: object, sent: str | None
) -> None:
    headers = {} if sent is None else {"x-api-key": sent}

    reply = keyed.request(method, path, body, headers)

    assert reply.status == 403
    assert reply.json == FORBIDDEN
    assert reply.header("Content-Type") == "application/json"


CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
)


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_the_refusal_carries_the_cors_headers_of_every_other_answer(
    keyed: InProcessApi, method: str, path: str, body: object
) -> None:
    """API Gateway's own refusals carry CORS headers in the deployed stack (its gateway
    responses); without them a browser reports an opaque network error instead of the 403."""
    answered = keyed.request(method, path, body, {"x-api-key": KEY})
    refused = keyed.request(method, path, body, {"Origin": "https://console.example"})

    assert refused.status == 403
    assert answered.status != 403
    for name in CORS_HEADERS:
        assert refused.header(name) is not None, name
        assert refused.header(name) == answered.header(name), name


def test_a_refused_request_changes_nothing(keyed: InProcessApi) -> None:
    keyed.request("POST", "/items", {"name": "a"}, {"x-api-key": "wrong"})

    listed = keyed.request("GET", "/items", headers={"x-api-key": KEY})
    assert listed.json["items"] == []


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_with_the_key_the_request_reaches_the_route(
    keyed: InProcessApi, method: str, path: str, body: object
) -> None:
    for name in ("x-api-key", "X-API-Key"):  # header names are case-insensitive
        reply = keyed.request(method, path, body, {name: KEY})
        assert reply.status != 403, reply.body


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
def test_health_and_the_openapi_document_need_no_key(keyed: InProcessApi, path: str) -> None:
    assert keyed.request("GET", path).status == 200


def test_without_local_api_key_no_key_is_required(api: InProcessApi) -> None:
    assert api.request("POST", "/items", {"name": "a"}).status == 201


def test_in_lambda_the_check_is_api_gateways_job(
    keyed: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "items-api")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")

    assert keyed.request("GET", "/items").status == 200
