"""Authentication and authorization (issue 14) through the test client, which runs the app's
token authorizer before every protected route as API Gateway does.

Every refusal the contract lists is a 401 (API Gateway's shape) or a 403 (the app's shape) and
stores nothing; the audit fields record who wrote; the public routes need nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from chalicelib.auth.permissions import Principal
from chalicelib.items.listing import index_attributes
from chalicelib.schema import ITEM_RECORD
from localdev.emulator import PROJECT_DIR
from tests.tokens import ISSUER, MACHINE_CLIENT, TokenSet
from tests.unit.harness import ITEMS, InProcessApi, item_records

TOKENS = TokenSet(ISSUER)
MISSING_ID = "00000000-0000-4000-8000-000000000000"
WRITES = [
    ("POST", "/items", {"name": "a"}),
    ("PUT", "/items/{id}", {"name": "a"}),
    ("PATCH", "/items/{id}", {"name": "a"}),
    ("DELETE", "/items/{id}", None),
    (
        "POST",
        "/items/{id}/attachments",
        {"filename": "a.txt", "content_type": "text/plain", "size": 3},
    ),
    ("DELETE", "/items/{id}/attachments/0123456789abcdef0123456789ab", None),
]
READS = [
    ("GET", "/items"),
    ("GET", "/items/{id}"),
    ("GET", "/items/{id}/attachments"),
]
REFUSED_TOKENS: dict[str, Callable[[], str]] = {
    "expired": TOKENS.expired,
    "not yet valid": TOKENS.not_yet_valid,
    "tampered signature": TOKENS.tampered,
    "another key": TOKENS.other_key,
    "an unpublished key id": TOKENS.unknown_key_id,
    "another pool": TOKENS.other_issuer,
    "another client (access token)": TOKENS.other_client,
    "another client (ID token)": TOKENS.other_client_id_token,
    "alg none": TOKENS.alg_none,
    "HS256 with the public key": TOKENS.hs256,
    "not a JWT": lambda: "not-a-jwt",
    "a machine token from another client": lambda: TOKENS.client(["items/write"], "rogue"),
}


def stored_items() -> list[dict[str, Any]]:
    return item_records()


def assert_unauthorized(reply: Any) -> None:
    assert reply.status == 401, reply.body
    assert reply.json == {"message": "Unauthorized"}
    assert reply.header("Content-Type") == "application/json"
    assert reply.header("WWW-Authenticate") == "Bearer"
    # Readable by a browser, as the deployed gateway response is.
    assert reply.header("Access-Control-Allow-Origin") == "*"


@pytest.fixture
def item(api: InProcessApi) -> dict[str, Any]:
    return api.create_item("existing")


@pytest.mark.parametrize("kind", list(REFUSED_TOKENS))
def test_every_refused_token_is_a_401_and_writes_nothing(
    api: InProcessApi, item: dict[str, Any], kind: str
) -> None:
    token = REFUSED_TOKENS[kind]()
    for method, path, body in WRITES:
        reply = api.request(method, path.format(id=item["id"]), body, token=token)
        assert_unauthorized(reply)
    for method, path in READS:
        assert_unauthorized(api.request(method, path.format(id=item["id"]), token=token))
    assert len(stored_items()) == 1
    assert api.request("GET", f"/items/{item['id']}").json == item


def test_no_token_is_api_gateways_401(api: InProcessApi) -> None:
    reply = api.request("GET", "/items", token=None)
    # The local gateway refuses before the authorizer runs, as API Gateway does.
    assert reply.status == 401
    assert reply.json == {"message": "Unauthorized"}


@pytest.mark.parametrize("header", ["Basic ZWRpdG9yOnB3", "Bearer", "Bearer  ", "Token abc"])
def test_a_header_that_is_not_a_bearer_token_is_a_401(api: InProcessApi, header: str) -> None:
    reply = api.request("POST", "/items", {"name": "a"}, {"Authorization": header}, token=None)
    assert_unauthorized(reply)
    assert stored_items() == []


def test_the_bearer_scheme_is_case_insensitive(api: InProcessApi) -> None:
    headers = {"Authorization": f"bearer {TOKENS.editor}"}
    assert api.request("GET", "/items", headers=headers, token=None).status == 200


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_viewer_reads_but_every_write_is_a_403_that_writes_nothing(
    api: InProcessApi, item: dict[str, Any], method: str, path: str, body: Any
) -> None:
    reply = api.request(method, path.format(id=item["id"]), body, token=TOKENS.viewer)

    assert reply.status == 403, reply.body
    assert reply.header("Content-Type") == "application/json"
    assert reply.json["Code"] == "ForbiddenError"
    assert reply.json["Message"].startswith(f"{method} ")
    assert "needs items/write" in reply.json["Message"]
    assert "viewer has items/read" in reply.json["Message"]
    assert len(stored_items()) == 1
    assert api.request("GET", f"/items/{item['id']}").json == item


@pytest.mark.parametrize(("method", "path"), READS)
def test_a_viewer_reads_every_resource(
    api: InProcessApi, item: dict[str, Any], method: str, path: str
) -> None:
    reply = api.request(method, path.format(id=item["id"]), token=TOKENS.viewer)
    assert reply.status == 200, reply.body


def test_a_machine_client_without_items_write_reads_but_cannot_write(
    api: InProcessApi, item: dict[str, Any]
) -> None:
    reader = TOKENS.client(["items/read"])

    assert api.request("GET", "/items", token=reader).status == 200
    for method, path, body in WRITES:
        reply = api.request(method, path.format(id=item["id"]), body, token=reader)
        assert reply.status == 403, (method, path, reply.body)
        assert f"needs items/write; {MACHINE_CLIENT} has items/read" in reply.json["Message"]
    assert len(stored_items()) == 1


def test_a_machine_client_with_items_write_writes_as_itself(api: InProcessApi) -> None:
    writer = TOKENS.client(["items/read", "items/write"])

    created = api.request("POST", "/items", {"name": "imported"}, token=writer)

    assert created.status == 201, created.body
    assert created.json["created_by"] == created.json["updated_by"] == MACHINE_CLIENT


def test_a_token_without_any_permission_cannot_even_read(api: InProcessApi) -> None:
    nobody = TOKENS.person("newcomer", [])  # signed in, in no group yet
    unscoped = TOKENS.client([])

    for token in (nobody, unscoped):
        reply = api.request("GET", "/items", token=token)
        assert reply.status == 403
        assert reply.json["Message"].endswith(
            "needs items/read; "
            + ("newcomer" if token is nobody else MACHINE_CLIENT)
            + " has no permission"
        )


def test_a_persons_permissions_come_from_groups_never_from_scopes(api: InProcessApi) -> None:
    # A viewer whose token happened to carry a write scope still only reads.
    token = TOKENS.person("viewer", ["viewers"], scope="openid items/write")
    assert api.request("POST", "/items", {"name": "a"}, token=token).status == 403


def test_an_id_token_of_the_console_client_is_accepted(api: InProcessApi) -> None:
    token = TOKENS.person("editor", ["editors"], token_use="id")
    created = api.request("POST", "/items", {"name": "by id token"}, token=token)
    assert created.status == 201
    assert created.json["created_by"] == "editor"


def test_editors_and_viewers_together_may_write(api: InProcessApi) -> None:
    token = TOKENS.person("both", ["viewers", "editors"])
    assert api.request("POST", "/items", {"name": "a"}, token=token).status == 201


# -- audit fields ------------------------------------------------------------------------------


def test_created_by_and_updated_by_record_who_wrote(api: InProcessApi) -> None:
    created = api.request("POST", "/items", {"name": "mug"})
    item_id = created.json["id"]
    assert created.json["created_by"] == created.json["updated_by"] == "editor"

    other = TOKENS.person("other-editor", ["editors"])
    patched = api.request("PATCH", f"/items/{item_id}", {"name": "cup"}, token=other)
    assert patched.json["created_by"] == "editor"
    assert patched.json["updated_by"] == "other-editor"

    writer = TOKENS.client(["items/write", "items/read"])
    replaced = api.request("PUT", f"/items/{item_id}", {"name": "jug"}, token=writer)
    assert replaced.json["created_by"] == "editor"
    assert replaced.json["updated_by"] == MACHINE_CLIENT

    merged = api.request(
        "PATCH", f"/items/{item_id}", {"attributes": {"a": 1}}, token=TOKENS.editor
    )
    assert merged.json["updated_by"] == "editor"
    fetched = api.request("GET", f"/items/{item_id}").json
    assert fetched == merged.json
    listed = api.request("GET", "/items").json["items"]
    assert listed == [fetched]
    archived = api.request("GET", "/items?status=active").json["items"]
    assert archived == [fetched]  # the status index carries the audit fields too


@pytest.mark.parametrize("field", ["created_by", "updated_by"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_sending_an_audit_field_is_a_400(
    api: InProcessApi, item: dict[str, Any], field: str, method: str
) -> None:
    path = "/items" if method == "POST" else f"/items/{item['id']}"

    reply = api.request(method, path, {"name": "x", field: "someone else"})

    assert reply.status == 400
    assert reply.json["Message"].startswith(f"{field}: ")
    assert api.request("GET", f"/items/{item['id']}").json == item
    assert len(stored_items()) == 1


def test_an_item_stored_before_audit_fields_existed_reads_them_as_null(
    api: InProcessApi,
) -> None:
    created_at = "2026-01-01T00:00:00.000Z"
    # The item record as the repository stores it (its key, its listing index attributes).
    listed = index_attributes(MISSING_ID, "active", created_at)
    boto3.client("dynamodb").put_item(
        TableName=ITEMS,
        Item={
            "id": {"S": MISSING_ID},
            "sk": {"S": ITEM_RECORD},
            **{name: {"S": value} for name, value in listed.items()},
            "name": {"S": "legacy"},
            "description": {"S": ""},
            "status": {"S": "active"},
            "tags": {"L": []},
            "attributes": {"M": {}},
            "created_at": {"S": created_at},
            "updated_at": {"S": "2026-01-01T00:00:00.000Z"},
            "version": {"N": "1"},
        },
    )
    item = api.request("GET", f"/items/{MISSING_ID}").json
    assert item["created_by"] is None
    assert item["updated_by"] is None
    patched = api.request("PATCH", f"/items/{MISSING_ID}", {"description": "now known"}).json
    assert patched["created_by"] is None
    assert patched["updated_by"] == "editor"


# -- public routes and the authorizer's answer ----------------------------------------


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
def test_health_and_the_openapi_document_need_no_token(api: InProcessApi, path: str) -> None:
    assert api.request("GET", path, token=None).status == 200


def _authorizer_event(token: str) -> dict[str, Any]:
    """What API Gateway sends a TOKEN authorizer."""
    return {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {token}",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/items",
    }


def test_the_authorizer_allows_every_route_with_a_flat_context(api: InProcessApi) -> None:
    from chalicelib.routes.authorizer import authorize

    answer = authorize(_authorizer_event(TOKENS.viewer), None)

    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    # One answer is cached per token and reused for every route that token calls.
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abc123/api/*/*"]
    assert answer["principalId"] == "viewer"
    assert all(isinstance(value, str) for value in answer["context"].values())
    principal = Principal.from_context(answer["context"])
    assert principal.permissions == {"items/read"}
    assert principal.subject == "sub-viewer"


def test_in_lambda_a_refused_token_is_the_error_api_gateway_turns_into_its_401(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.routes.authorizer import authorize

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "items-api-authorize")
    with pytest.raises(Exception, match=r"^Unauthorized$") as raised:
        authorize(_authorizer_event(TOKENS.expired()), None)
    # Lambda reports str(exception) as the errorMessage API Gateway matches on.
    assert str(raised.value) == "Unauthorized"


def test_unreachable_signing_keys_are_a_503_not_a_401(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.auth.tokens import get_verifier

    unreachable = json.loads(ISSUER.trusted_issuers())
    unreachable[0]["jwks_url"] = "http://127.0.0.1:9/.well-known/jwks.json"  # discard port
    monkeypatch.setenv("AUTH_TRUSTED_ISSUERS", json.dumps(unreachable))
    get_verifier.cache_clear()
    try:
        reply = api.request("POST", "/items", {"name": "a"})
    finally:
        get_verifier.cache_clear()

    assert reply.status == 503
    assert reply.header("Retry-After") == "5"
    assert stored_items() == []


def test_in_lambda_unreachable_keys_fail_the_authorizer_rather_than_refuse(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.auth.tokens import get_verifier
    from chalicelib.routes.authorizer import authorize

    unreachable = json.loads(ISSUER.trusted_issuers())
    unreachable[0]["jwks_url"] = "http://127.0.0.1:9/.well-known/jwks.json"
    monkeypatch.setenv("AUTH_TRUSTED_ISSUERS", json.dumps(unreachable))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "items-api-authorize")
    get_verifier.cache_clear()
    try:
        with pytest.raises(Exception, match="signing keys unavailable") as raised:
            authorize(_authorizer_event(TOKENS.editor), None)
    finally:
        get_verifier.cache_clear()
    # Anything but "Unauthorized" is an authorizer failure to API Gateway, never a 401.
    assert str(raised.value) != "Unauthorized"


def test_the_keys_are_fetched_once_and_unknown_key_ids_cannot_force_refetches(
    api: InProcessApi,
) -> None:
    from chalicelib.auth.tokens import get_verifier

    get_verifier.cache_clear()
    before = ISSUER.server.fetch_count()
    for _ in range(3):
        assert api.request("GET", "/items").status == 200
    for _ in range(5):
        assert api.request("GET", "/items", token=TOKENS.unknown_key_id()).status == 401
    # One fetch, and at most one refetch for the unknown ids within the cooldown.
    assert 1 <= ISSUER.server.fetch_count() - before <= 2


def test_a_cached_authorization_that_outlived_its_token_is_refused_by_the_app(
    api: InProcessApi,
) -> None:
    # API Gateway reuses an authorizer's answer for minutes; the app checks the token's expiry.
    import app

    context = Principal("editor", "sub-editor", "person", frozenset({"items/read"}), 1).to_context()
    event = {
        "resource": "/items",
        "path": "/items",
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/items",
            "httpMethod": "GET",
            "path": "/api/items",
            "requestId": "r-1",
            "authorizer": {**context, "principalId": "editor"},
        },
        "body": None,
        "isBase64Encoded": False,
    }
    answer = app.app(event, None)
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["Code"] == "UnauthorizedError"
    assert answer["headers"]["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_the_api_functions_requests_never_load_a_jwt_library(tmp_path: Any) -> None:
    # The API function reads the principal from the authorizer's context: the JWT library and
    # cryptography are the authorizer function's alone.
    script = """
import json, sys, time, app
context = {"principal": "editor", "subject": "s", "kind": "person",
           "permissions": "items/read items/write", "expires_at": str(int(time.time()) + 600),
           "principalId": "editor"}
event = {"resource": "/items", "path": "/items", "httpMethod": "GET", "headers": {},
         "multiValueHeaders": {}, "queryStringParameters": None,
         "multiValueQueryStringParameters": None, "pathParameters": None,
         "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/items", "httpMethod": "GET", "path": "/items",
                            "requestId": "r", "authorizer": context}}
status = app.app(event, None)["statusCode"]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("jwt", "cryptography"))
print(json.dumps({"status": status, "loaded": loaded}))
"""
    environment = {
        **os.environ,
        "CORS_ALLOW_ORIGIN": "*",
        "ITEMS_TABLE_NAME": "t",
        "ITEMS_TABLE_STREAM_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
        "IDEMPOTENCY_TABLE_NAME": "i",
        "ASSETS_BUCKET_NAME": "b",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # no AWS: health may fail, imports may not
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    finished = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
        timeout=120,
        cwd=PROJECT_DIR,
    )
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert result["status"] == 503  # past the permission check, into the (absent) table
    assert result["loaded"] == []
