"""What a cold start builds: counts of clients and modules, never times (see bench/cold.py).

A GET or POST of an item needs DynamoDB only, and a GET validates nothing: neither creates the S3
client, and a fresh process that imports the app and serves a GET never imports pydantic, the
attachment service or the idempotency utility; a POST without ``Idempotency-Key`` imports
neither the idempotency modules nor the listing's thread pool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from localdev.emulator import PROJECT_DIR
from tests.unit.harness import ENVIRONMENT, ITEMS, UNSET, InProcessApi


def test_creating_and_reading_an_item_creates_only_the_dynamodb_client(api: InProcessApi) -> None:
    from chalicelib import container

    created = api.request("POST", "/items", {"name": "cold"})
    assert created.status == 201
    assert api.request("GET", f"/items/{created.json['id']}").status == 200
    assert api.request("GET", "/items").status == 200

    assert sorted(api.clients) == ["dynamodb"]
    assert container.get_services().clients.created() == ["dynamodb"]


def test_one_client_per_service_however_many_requests(api: InProcessApi) -> None:
    from chalicelib import container

    item = api.request("POST", "/items", {"name": "cold"}).json
    attachment = {"filename": "a.txt", "content_type": "text/plain", "size": 3}
    for _ in range(3):
        assert api.request("POST", f"/items/{item['id']}/attachments", attachment).status == 201
        assert api.request("GET", "/health").status == 200

    services = container.get_services()
    assert services.clients.created() == ["dynamodb", "s3"]
    assert services.clients.get("s3") is api.clients["s3"]
    assert services.clients.get("dynamodb") is api.clients["dynamodb"]


def test_every_client_comes_from_one_botocore_session(api: InProcessApi) -> None:
    from chalicelib import aws

    first = aws.create_client("dynamodb")
    assert aws._session is not None
    session = aws._session
    aws.create_client("s3")
    assert aws._session is session
    # Plain botocore clients: boto3's S3 transfer methods (and their import) are not wanted.
    assert not hasattr(aws.create_client("s3"), "upload_file")
    assert type(first).__module__ == "botocore.client"


# Run in a fresh interpreter: this test process has imported everything already.
_FRESH_REQUEST = textwrap.dedent(
    """
    import json, sys, time
    from moto import mock_aws

    preloaded = sorted(m for m in ("pydantic", "chalicelib") if m in sys.modules)
    with mock_aws():
        import boto3
        from chalicelib.schema import ITEMS_TABLE

        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**ITEMS_TABLE.create_table_kwargs(sys.argv[1]))
        item_id = "6f1b3d2e-8c4a-4e5f-9a7b-1c2d3e4f5a6b"
        dynamodb.put_item(TableName=sys.argv[1], Item={
            "id": {"S": item_id}, "sk": {"S": "item"}, "name": {"S": "cold"},
            "description": {"S": ""},
            "status": {"S": "active"}, "tags": {"L": []}, "attributes": {"M": {}},
            "created_at": {"S": "2026-01-01T00:00:00.000Z"},
            "updated_at": {"S": "2026-01-01T00:00:00.000Z"}, "version": {"N": "1"},
        })
        before = set(sys.modules)

        import app
        from chalicelib import container

        # As Lambda invokes the API function: API Gateway's authorizer has verified the token
        # and passes the principal in the request context (the function verifies nothing).
        principal = {"principal": "editor", "subject": "s", "kind": "person",
                     "permissions": "items/read items/write",
                     "expires_at": str(int(time.time()) + 600), "principalId": "editor"}
        method = sys.argv[2]
        resource = "/items/{item_id}" if method == "GET" else "/items"
        path = f"/items/{item_id}" if method == "GET" else "/items"
        event = {"resource": resource, "path": path, "httpMethod": method,
                 "headers": {} if method == "GET" else {"content-type": "application/json"},
                 "multiValueHeaders": {}, "queryStringParameters": None,
                 "multiValueQueryStringParameters": None,
                 "pathParameters": {"item_id": item_id} if method == "GET" else None,
                 "stageVariables": None,
                 "body": sys.argv[3] if method == "POST" else None, "isBase64Encoded": False,
                 "requestContext": {"resourcePath": resource, "httpMethod": method,
                                    "path": "/api" + path, "requestId": "r",
                                    "authorizer": principal}}
        reply = app.app(event, None)
        imported = sorted(set(sys.modules) - before)
        print(json.dumps({
            "preloaded": preloaded,
            "status": reply["statusCode"],
            "clients": container.get_services().clients.created(),
            "imported": imported,
        }))
    """
)


def _fresh(method: str, body: str = "") -> dict[str, Any]:
    """Import the app and serve one request in a fresh interpreter; what it imported."""
    environment = {
        key: value for key, value in os.environ.items() if key not in UNSET and key != "PYTHONPATH"
    }
    environment.update(ENVIRONMENT, PYTHONPATH=str(PROJECT_DIR))
    finished = subprocess.run(
        [sys.executable, "-c", _FRESH_REQUEST, ITEMS, method, body],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    assert result["preloaded"] == []  # moto and boto3 do not import them themselves
    return result


def test_importing_the_app_and_serving_a_get_imports_no_write_side_module() -> None:
    result = _fresh("GET")
    assert result["status"] == 200
    assert result["clients"] == ["dynamodb"]
    imported = set(result["imported"])
    for module in (
        "pydantic",  # the write models: a GET validates no body
        "pydantic_core",
        "chalicelib.items.models",
        "chalicelib.items.validation",
        "chalicelib.attachments.service",
        "chalicelib.attachments.storage",
        "aws_lambda_powertools.utilities.idempotency",
        "concurrent.futures",  # the listing's thread pool: one item is one request
    ):
        assert module not in imported, module
    assert "chalicelib.items.repository" in imported  # the GET did run through the app
    assert "jwt" not in imported  # the authorizer verified the token, not the API function


def test_a_cold_create_validates_on_pydantic_core_without_pydantic_or_idempotency() -> None:
    result = _fresh("POST", json.dumps({"name": "cold", "tags": ["a"], "attributes": {"n": 1}}))
    assert result["status"] == 201
    assert result["clients"] == ["dynamodb"]
    imported = set(result["imported"])
    # The body was validated, by pydantic's engine alone: not pydantic, not the models.
    assert {"pydantic_core", "chalicelib.items.validation"} <= imported
    for module in (
        "pydantic",
        "chalicelib.items.models",
        "chalicelib.validation",  # the documented validators, which import pydantic
        "chalicelib.items.idempotency",  # no Idempotency-Key: nothing to remember
        "aws_lambda_powertools.utilities.idempotency",
        "concurrent.futures",  # the listing's thread pool: one item is one request
    ):
        assert module not in imported, module
    assert "jwt" not in imported
