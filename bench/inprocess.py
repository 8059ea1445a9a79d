"""The app behind Chalice's test client on moto's in-process backend, for the benchmarks.

The same wiring as production (``chalicelib.container``) with the botocore clients it creates
kept, so a benchmark can hook their events or call them directly.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

ITEMS = "items-bench"
IDEMPOTENCY = "items-idempotency-bench"
BUCKET = "items-assets-bench"
API_KEY = "bench-key"
ENVIRONMENT = {
    "ITEMS_TABLE_NAME": ITEMS,
    "ITEMS_TABLE_STREAM_ARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{ITEMS}/stream/b",
    "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY,
    "ASSETS_BUCKET_NAME": BUCKET,
    "CORS_ALLOW_ORIGIN": "*",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_SERVICE_NAME": "items-api",
    "POWERTOOLS_METRICS_NAMESPACE": "ItemsApi",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
UNSET = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE")
# Where the app's logs and metrics go during a benchmark: Powertools binds its handler to the
# stdout of the moment it is created, so one sink serves the whole process.
_SINK = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


@dataclass
class BenchApi:
    client: Any  # chalice.test.Client
    aws: dict[str, Any] = field(default_factory=dict)  # the botocore clients the app created

    def call(self, method: str, path: str, body: bytes = b"", **headers: str) -> Any:
        sent = {
            "x-api-key": API_KEY,
            "Authorization": f"Bearer {_editor_token()}",
            "Content-Type": "application/json",
            **headers,
        }
        return self.client.http.request(method, path, headers=sent, body=body)

    def create(self, body: bytes = b'{"name": "bench"}') -> dict[str, Any]:
        import json

        response = self.call("POST", "/items", body)
        assert response.status_code == 201, response.body
        item: dict[str, Any] = json.loads(response.body)
        return item


@functools.cache
def _issuer() -> tuple[Any, str]:
    """A local token issuer (its JWKS on loopback) that the benchmarked app trusts.

    The test client runs the authorizer before every request, as API Gateway does; deployed,
    the authorizer is another function whose answers API Gateway caches per token.
    """
    from localdev.signing import SigningKey, serve_jwks

    key = SigningKey()
    port = serve_jwks(key).server_address[1]
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench"
    trusted = [
        {
            "issuer": issuer,
            "jwks_url": f"http://127.0.0.1:{port}/.well-known/jwks.json",
            "client_ids": ["bench-console"],
        }
    ]
    return key, json.dumps(trusted)


@functools.cache
def _editor_token() -> str:
    key, _ = _issuer()
    now = int(time.time())
    token: str = key.sign(
        {
            "sub": "sub-bench",
            "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench",
            "token_use": "access",
            "client_id": "bench-console",
            "username": "bench",
            "cognito:groups": ["editors"],
            "iat": now,
            "exp": now + 24 * 3600,
        }
    )
    return token


@contextlib.contextmanager
def bench_api() -> Iterator[BenchApi]:
    """A fresh app, tables and bucket on moto, with the app's log output discarded.

    The logs are still formatted and written (the cost is real), only into a sink instead of
    this terminal.
    """
    import boto3
    from moto import mock_aws

    saved = {name: os.environ.get(name) for name in (*ENVIRONMENT, *UNSET, "AUTH_TRUSTED_ISSUERS")}
    os.environ.update(ENVIRONMENT)
    os.environ["AUTH_TRUSTED_ISSUERS"] = _issuer()[1]
    for name in UNSET:
        os.environ.pop(name, None)
    try:
        with mock_aws(), contextlib.redirect_stdout(_SINK):
            from chalicelib.schema import IDEMPOTENCY_TABLE, ITEMS_TABLE

            dynamodb = boto3.client("dynamodb")
            dynamodb.create_table(**ITEMS_TABLE.create_table_kwargs(ITEMS))
            dynamodb.create_table(**IDEMPOTENCY_TABLE.create_table_kwargs(IDEMPOTENCY))
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            with _app() as api:
                yield api
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _app() -> Iterator[BenchApi]:
    from chalice.test import Client

    import app
    from chalicelib import container
    from chalicelib.aws import create_client
    from chalicelib.settings import get_settings

    created: dict[str, Any] = {}

    def recording_create_client(service_name: str) -> Any:
        created[service_name] = create_client(service_name)
        return created[service_name]

    container.get_services.cache_clear()
    get_settings.cache_clear()
    try:
        with (
            mock.patch("chalicelib.container.create_client", new=recording_create_client),
            tempfile.TemporaryDirectory() as project,
            Client(app.app, project_dir=project) as client,
        ):
            api = BenchApi(client, created)
            api.create()  # build the services and warm every lazy import
            yield api
    finally:
        container.get_services.cache_clear()
        get_settings.cache_clear()
