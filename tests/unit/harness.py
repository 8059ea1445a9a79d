"""The in-process harness of the unit tests: the real app behind Chalice's test client, real
botocore clients (with the API's retry config) and moto's in-process mock of DynamoDB and S3.

The ``api`` fixture (``tests/unit/conftest.py``) gives each test a fresh app, tables and bucket.
Requests carry an editor's token by default (``token=`` changes or omits it): the test client
runs the app's token authorizer before every protected route, as API Gateway does, against the
JWKS of ``ISSUER`` (``tests/tokens.py``), served on loopback.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from chalice.test import Client
from moto import mock_aws

from localdev.emulator import create_resources
from localdev.events import EventFeeder, Handlers
from localdev.identity import editor_authorizer_context
from tests.tokens import ISSUER, TokenSet

ITEMS = "items-unit"
IDEMPOTENCY = "items-idempotency-unit"
BUCKET = "items-assets-unit"
INTERNAL_NAMES = (ITEMS, IDEMPOTENCY, BUCKET)
ENVIRONMENT = {
    "ITEMS_TABLE_NAME": ITEMS,
    "ITEMS_TABLE_STREAM_ARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{ITEMS}/stream/unit",
    "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY,
    "ASSETS_BUCKET_NAME": BUCKET,
    "CORS_ALLOW_ORIGIN": "*",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_SERVICE_NAME": "items-api",
    "POWERTOOLS_METRICS_NAMESPACE": "ItemsApi",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AUTH_TRUSTED_ISSUERS": ISSUER.trusted_issuers(),
}
UNSET = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_S3",
    "AWS_PROFILE",
    "LOCAL_API_KEY",
    "AWS_LAMBDA_FUNCTION_NAME",
    "MAX_ATTACHMENT_BYTES",
    "ALLOWED_CONTENT_TYPES",
    "CURSOR_SECRET",
)
JSON_HEADERS = {"Content-Type": "application/json"}
KEY_PATTERN = re.compile(r"^attachments/[0-9a-f-]{36}/[0-9a-f]{28}$")


@dataclass
class Reply:
    """A response of the test client, decoded."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        lowered = {k.lower(): v for k, v in self.headers.items()}
        return lowered.get(name.lower())


EDITOR = object()  # the default caller of InProcessApi.request: a person in the editors group


def editor_context(name: str = "editor") -> dict[str, str]:
    """What API Gateway hands the API function after the token authorizer allowed an editor's
    token (for events built by hand, as Lambda receives them)."""
    return editor_authorizer_context(name)


@dataclass
class InProcessApi:
    """The app behind the Chalice test client, on moto's in-process mock."""

    client: Client
    clients: dict[str, Any] = field(default_factory=dict)  # botocore clients the app created
    tokens: TokenSet = field(default_factory=ISSUER.tokens)
    feeder: EventFeeder | None = None

    def deliver_events(self, *, sweep_ttl: bool = False) -> int:
        """Hand the pending stream records and S3 events to the app's handlers, as the stack's
        event sources would (``localdev.events``); returns how many were delivered."""
        if self.feeder is None:
            self.feeder = EventFeeder(_mock_client, ENVIRONMENT, Handlers.of_app())
        return self.feeder.deliver(sweep_ttl=sweep_ttl)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        *,
        token: object = EDITOR,
    ) -> Reply:
        """``token``: the bearer token to send (an editor's by default, ``None`` for none)."""
        sent = dict(JSON_HEADERS) if body is not None or raw is not None else {}
        if token is EDITOR:
            sent["Authorization"] = f"Bearer {self.tokens.editor}"
        elif isinstance(token, str):
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = self.client.http.request(method, path, headers=sent, body=payload)
        return Reply(response.status_code, dict(response.headers), response.body)

    def gateway(
        self,
        method: str,
        resource: str,
        path_parameters: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
        query: dict[str, list[str]] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        """Invoke the app with the event API Gateway would send once the token authorizer allowed
        an editor: path parameters already decoded (``%0A`` arrives as a newline, which no URL
        the test client sends can carry)."""
        from chalice.local import LambdaContext

        import app

        parameters = path_parameters or {}
        path = resource
        for name, value in parameters.items():
            path = path.replace("{" + name + "}", value)
        event = {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "requestContext": {
                "httpMethod": method,
                "resourcePath": resource,
                "path": path,
                "requestId": "gateway-test",
                "identity": {"sourceIp": "127.0.0.1"},
                # What API Gateway passes on once the token authorizer allowed an editor.
                "authorizer": editor_context(),
            },
            "headers": {k.lower(): v for k, v in (headers or {}).items()},
            "multiValueQueryStringParameters": query or None,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "body": body,  # Chalice takes bytes as they are (the test client sends bytes too)
            "isBase64Encoded": False,
        }
        response = app.app(event, LambdaContext("api_handler", 128, 20_000))
        raw = response.get("body") or ""
        return Reply(
            response["statusCode"],
            dict(response.get("headers") or {}),
            raw.encode("utf-8") if isinstance(raw, str) else raw,
        )

    def create_item(self, name: str = "thing", **fields: Any) -> dict[str, Any]:
        reply = self.request("POST", "/items", {"name": name, **fields})
        assert reply.status == 201, reply.body
        item: dict[str, Any] = reply.json
        return item

    def list_all(self, query: str = "") -> tuple[list[dict[str, Any]], int]:
        """Follow ``next_cursor`` of ``GET /items?<query>`` to the end: the items seen and the
        number of pages. Fails instead of looping when a cursor never runs out."""
        seen: list[dict[str, Any]] = []
        pages, cursor = 0, None
        while True:
            suffix = f"&cursor={cursor}" if cursor else ""
            reply = self.request("GET", f"/items?{query}{suffix}")
            assert reply.status == 200, reply.body
            pages += 1
            seen.extend(reply.json["items"])
            cursor = reply.json["next_cursor"]
            if cursor is None:
                return seen, pages
            assert pages <= 1000, "pagination does not terminate"

    def recheck_health(self) -> None:
        """Let the next ``GET /health`` check its dependencies again, as it would once the
        interval it caches them for has passed (time moves; nobody waits for it)."""
        from chalicelib import container
        from chalicelib.health import CHECK_INTERVAL_SECONDS

        health = container.get_services().health
        later = health.clock() + CHECK_INTERVAL_SECONDS
        health.clock = lambda: later

    def app_client(self, service: str) -> Any:
        """The botocore client the app uses for ``service`` (building the services first)."""
        from chalicelib import container

        container.get_services().clients.get(service)  # each client is created on first use
        return self.clients[service]


class Requests:
    """The DynamoDB requests the app's own client sends: (operation, parameters)."""

    def __init__(self, client: Any) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build.dynamodb", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.sent.append((model.name, dict(params)))

    def during(self, action: Any) -> list[tuple[str, dict[str, Any]]]:
        self.sent.clear()
        action()
        return list(self.sent)


def _mock_client(service: str) -> Any:
    """A client of moto's in-process mock (the region and credentials of ENVIRONMENT)."""
    return boto3.client(service)  # type: ignore[call-overload]


def in_process_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InProcessApi]:
    """A fresh app, tables and bucket on moto, for as long as the generator runs."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        create_resources(ENVIRONMENT, _mock_client)
        yield from _app_on_mock(monkeypatch, tmp_path)


def _app_on_mock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InProcessApi]:
    import app
    from chalicelib import container
    from chalicelib.auth.tokens import get_verifier
    from chalicelib.settings import get_settings

    created: dict[str, Any] = {}
    from chalicelib.aws import create_client as real_create_client

    def recording_create_client(service: str) -> Any:
        created[service] = real_create_client(service)
        return created[service]

    monkeypatch.setattr(container, "create_client", recording_create_client)
    container.get_services.cache_clear()
    get_settings.cache_clear()
    get_verifier.cache_clear()
    # An empty project dir: the test client must not apply a stage's environment (endpoints).
    with Client(app.app, project_dir=str(tmp_path)) as client:
        yield InProcessApi(client, created)
    container.get_services.cache_clear()
    get_settings.cache_clear()


def s3() -> Any:
    return boto3.client("s3")


def records_of(item_id: str) -> list[dict[str, Any]]:
    """Every record stored under an item's id (its own, its attachments'), read directly."""
    response = boto3.client("dynamodb").query(
        TableName=ITEMS,
        KeyConditionExpression="id = :id",
        ExpressionAttributeValues={":id": {"S": item_id}},
        ConsistentRead=True,
    )
    items: list[dict[str, Any]] = response["Items"]
    return items


def item_records() -> list[dict[str, Any]]:
    """Every item's own record in the table (not its attachments' or filter entries')."""
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(
        TableName=ITEMS,
        FilterExpression="sk = :item",
        ExpressionAttributeValues={":item": {"S": "item"}},
        ConsistentRead=True,
    )["Items"]
    return sorted(items, key=lambda item: item["id"]["S"])


def attachment_records(item_id: str) -> list[dict[str, Any]]:
    """The attachment records stored under an item's id."""
    return [r for r in records_of(item_id) if r["sk"]["S"].startswith("item#attachment#")]


def record(item_id: str, attachment_id: str) -> dict[str, Any]:
    """One attachment record as stored (DynamoDB JSON)."""
    from chalicelib.schema import ATTACHMENT_RECORD_PREFIX

    response = boto3.client("dynamodb").get_item(
        TableName=ITEMS,
        Key={"id": {"S": item_id}, "sk": {"S": f"{ATTACHMENT_RECORD_PREFIX}{attachment_id}"}},
        ConsistentRead=True,
    )
    stored: dict[str, Any] = response["Item"]
    return stored


def bucket_keys(prefix: str = "") -> set[str]:
    listing = s3().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {entry["Key"] for entry in listing.get("Contents", [])}


def decode_policy(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def start_upload(
    api: InProcessApi,
    item_id: str,
    filename: str = "notes.txt",
    content_type: str = "text/plain",
    size: int = 11,
) -> dict[str, Any]:
    reply = api.request(
        "POST",
        f"/items/{item_id}/attachments",
        {"filename": filename, "content_type": content_type, "size": size},
    )
    assert reply.status == 201, reply.body
    created: dict[str, Any] = reply.json
    assert reply.header("Location") == f"/items/{item_id}/attachments/{created['attachment']['id']}"
    return created


def upload(created: dict[str, Any], data: bytes, content_type: str | None = None) -> None:
    """The client's side: a multipart/form-data POST with every field, then ``file``."""
    fields = created["upload"]["fields"]
    kind = content_type or fields["Content-Type"]
    response = requests.post(
        created["upload"]["url"],
        data=fields,
        files={"file": ("ignored-name", data, kind)},
        timeout=10,
    )
    assert response.status_code in (200, 201, 204), response.text
