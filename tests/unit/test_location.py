"""``Location`` resolves to the resource on every endpoint the API is served on (issue 10,
defect 14): API Gateway's default endpoint serves it below the stage
(``https://<id>.execute-api.<region>.amazonaws.com/api/items``), a custom domain at its root or
below a base path mapping. A root-relative ``/items/{id}`` resolved against the default endpoint
points outside the stage, where API Gateway answers 403.

The events are Lambda proxy events as API Gateway sends them, through ``app.app`` as Lambda
calls it: chalice's own converter builds the event ``chalice local`` would, then
``requestContext`` says which path the client really requested (with the stage, or not).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin

import pytest
from chalice.local import LambdaContext, LambdaEventConverter, RouteMatcher

from chalicelib.routes.web import base_path
from tests.unit.harness import InProcessApi, editor_context

DEFAULT_ENDPOINT = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/api"
CUSTOM_DOMAIN = "https://items.example.com"
BASE_PATH_MAPPING = "https://example.com/v1"
ENDPOINTS = [DEFAULT_ENDPOINT, CUSTOM_DOMAIN, BASE_PATH_MAPPING]


def call(base_url: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
    """``method path`` sent to the API served at ``base_url``, as API Gateway hands it to the
    function: ``path`` is the route's path, ``requestContext.path`` what the client asked for."""
    import app

    matcher = RouteMatcher(list(app.app.routes))
    sent = {"content-type": "application/json", **headers} if body is not None else headers
    payload = None if body is None else json.dumps(body).encode()
    event = LambdaEventConverter(matcher).create_lambda_event(method, path, sent, payload)
    domain, _, prefix = base_url.removeprefix("https://").partition("/")
    event["path"] = path
    event["requestContext"].update(
        path=f"/{prefix}{path}" if prefix else path,
        stage="api",
        domainName=domain,
        requestId="c0ffee00-0000-4000-8000-000000000000",
        authorizer=editor_context(),
    )
    if payload is not None:
        event["body"] = payload.decode()
    response: dict[str, Any] = app.app(event, LambdaContext("api_handler", 512))
    return response


def resolved(base_url: str, requested: str, location: str) -> str:
    """Where a client lands following ``location``, given the URL it requested (RFC 3986)."""
    return urljoin(base_url + requested, location)


@pytest.mark.parametrize("base_url", ENDPOINTS)
def test_the_location_of_a_created_item_resolves_to_it_on_every_endpoint(
    api: InProcessApi, base_url: str
) -> None:
    created = call(base_url, "POST", "/items", {"name": "Blue mug"})
    assert created["statusCode"] == 201, created["body"]
    item = json.loads(created["body"])

    target = resolved(base_url, "/items", created["headers"]["Location"])

    assert target == f"{base_url}/items/{item['id']}"
    fetched = call(base_url, "GET", target.removeprefix(base_url))
    assert fetched["statusCode"] == 200
    assert json.loads(fetched["body"]) == item


@pytest.mark.parametrize("base_url", ENDPOINTS)
def test_the_location_of_an_attachment_resolves_to_it_on_every_endpoint(
    api: InProcessApi, base_url: str
) -> None:
    item = api.create_item()
    requested = f"/items/{item['id']}/attachments"
    body = {"filename": "notes.txt", "content_type": "text/plain", "size": 5}

    created = call(base_url, "POST", requested, body)

    assert created["statusCode"] == 201, created["body"]
    attachment = json.loads(created["body"])["attachment"]
    target = resolved(base_url, requested, created["headers"]["Location"])
    assert target == f"{base_url}/items/{item['id']}/attachments/{attachment['id']}"
    # Not uploaded yet: the route exists and answers the contract's 404 (a wrong path would
    # have been API Gateway's 403, or no route at all).
    assert call(base_url, "GET", target.removeprefix(base_url))["statusCode"] == 404


def test_a_replay_through_another_endpoint_resolves_there(api: InProcessApi) -> None:
    """An idempotent repeat replays the first answer; its ``Location`` names the same item,
    resolvable on the endpoint the repeat came through."""
    body = {"name": "Once"}
    first = call(DEFAULT_ENDPOINT, "POST", "/items", body, **{"idempotency-key": "order-42"})
    again = call(CUSTOM_DOMAIN, "POST", "/items", body, **{"idempotency-key": "order-42"})

    item_id = json.loads(first["body"])["id"]
    assert (first["statusCode"], again["statusCode"]) == (201, 201)
    assert json.loads(again["body"])["id"] == item_id
    assert resolved(DEFAULT_ENDPOINT, "/items", first["headers"]["Location"]) == (
        f"{DEFAULT_ENDPOINT}/items/{item_id}"
    )
    assert resolved(CUSTOM_DOMAIN, "/items", again["headers"]["Location"]) == (
        f"{CUSTOM_DOMAIN}/items/{item_id}"
    )


@pytest.mark.parametrize(
    ("requested", "route", "expected"),
    [
        ("/api/items", "/items", "/api"),
        ("/items", "/items", ""),
        ("/v1/items", "/items", "/v1"),
        ("/api/items/", "/items", "/api"),  # a trailing slash is no segment
        # An encoded slash inside a path parameter is one segment, as the route counts it.
        ("/api/items/a%2Fb/attachments", "/items/{item_id}/attachments", "/api"),
        (
            "/shop/v2/items/x/attachments/y",
            "/items/{item_id}/attachments/{attachment_id}",
            "/shop/v2",
        ),
    ],
)
def test_the_base_path_is_what_the_request_has_in_front_of_its_route(
    requested: str, route: str, expected: str
) -> None:
    assert base_path({"path": requested, "resourcePath": route}) == expected


def test_without_a_requested_path_there_is_no_base_path() -> None:
    """The test client, or an event without ``requestContext.path``: the root."""
    assert base_path({"resourcePath": "/items"}) == ""
    assert base_path(None) == ""
