"""The item routes over real HTTP: ``chalice local`` + the moto server, as ``make run`` serves
them. The rules themselves are covered in ``tests/unit/test_items.py``; this checks that they
hold on the wire (headers, status codes, bodies, CORS preflights, the API key) and that the
table the emulator holds is the one the API describes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from tests.integration.harness import API_KEY, LiveApi

pytestmark = pytest.mark.integration

MISSING_ID = "00000000-0000-4000-8000-000000000000"


def error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"Code", "Message"}
    assert body["Code"] == code
    return body


def test_health_needs_no_key(live: LiveApi) -> None:
    response = live.request("GET", "/health", api_key=None)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"dynamodb": "ok", "s3": "ok"}}


def test_crud_round_trip_with_etags(live: LiveApi) -> None:
    created = live.request(
        "POST",
        "/items",
        raw=b'{"name": " Blue mug ", "tags": ["kitchen"], "attributes": {"price": 12.50, '
        b'"big": 12345678901234567890, "n": 3, "status": "x", "a.b": {"#c": 0.1}}}',
    )
    assert created.status_code == 201, created.text
    item = created.json()
    path = f"/items/{item['id']}"
    assert created.headers["Location"] == path
    assert created.headers["ETag"] == '"1"'
    assert item["name"] == "Blue mug"
    assert '"big":12345678901234567890' in created.text
    assert '"n":3,' in created.text
    assert '"#c":0.1' in created.text

    fetched = live.request("GET", path)
    assert fetched.status_code == 200
    assert fetched.json() == item
    assert fetched.headers["ETag"] == '"1"'

    replaced = live.request("PUT", path, {"name": "Red mug"}, {"If-Match": '"1"'})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["ETag"] == '"2"'
    assert replaced.json()["attributes"] == {}

    patched = live.request(
        "PATCH",
        path,
        raw=b'{"attributes": {"size": "L"}, "status": "archived"}',
        headers={"Content-Type": "application/merge-patch+json", "If-Match": "2"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["ETag"] == '"3"'
    assert patched.json()["attributes"] == {"size": "L"}
    assert patched.json()["status"] == "archived"

    stale = live.request("PATCH", path, {"name": "late"}, {"If-Match": '"2"'})
    error(stale, 412, "PreconditionFailedError")
    assert live.request("GET", path).json()["name"] == "Red mug"

    deleted = live.request("DELETE", path, headers={"If-Match": '"3"'})
    assert deleted.status_code == 204
    assert deleted.content == b""
    error(live.request("GET", path), 404, "NotFoundError")
    error(live.request("DELETE", path), 404, "NotFoundError")


def test_list_pages_with_a_cursor_and_filters_by_status(live: LiveApi) -> None:
    marker = uuid.uuid4().hex  # other tests share this server's table
    mine = {live.create_item(f"{marker} {n}", status="archived")["id"] for n in range(5)}

    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = "/items?status=archived&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = live.request("GET", query)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"] if item["name"].startswith(marker)]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert set(seen) == mine
    assert len(seen) == len(mine)

    everything: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = live.request("GET", "/items?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        everything += [(item["created_at"], item["id"]) for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert mine <= {item_id for _, item_id in everything}
    assert len(everything) == len(set(everything))
    assert everything == sorted(everything, reverse=True)  # newest first, across every page


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("status=gone", "status"),
        ("cursor=abc", "cursor"),
    ],
)
def test_bad_list_parameters_are_a_400(live: LiveApi, query: str, names: str) -> None:
    body = error(live.request("GET", f"/items?{query}"), 400, "BadRequestError")
    assert body["Message"].startswith(names)


def test_bad_bodies_on_the_wire(live: LiveApi) -> None:
    too_large = json.dumps({"name": "a", "description": "x" * (64 * 1024)}).encode()
    error(live.request("POST", "/items", raw=too_large), 413, "PayloadTooLargeError")
    error(
        live.request(
            "POST", "/items", raw=b'{"name": "a"}', headers={"Content-Type": "text/plain"}
        ),
        415,
        "UnsupportedMediaType",
    )
    error(live.request("POST", "/items", raw=b'{"name": NaN}'), 400, "BadRequestError")
    error(live.request("POST", "/items", raw=b'{"name": '), 400, "BadRequestError")
    body = error(live.request("POST", "/items", {"name": "a", "id": "x"}), 400, "BadRequestError")
    assert body["Message"].startswith("id")


def test_a_missing_content_type_counts_as_json(live: LiveApi) -> None:
    response = requests.post(
        f"{live.url}/items",
        data=b'{"name": "no content type"}',
        headers={"x-api-key": API_KEY, "Authorization": f"Bearer {live.token()}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("path", ["%2e%2e", "..%2F..%2Fhealth", "a%20b", MISSING_ID.upper()])
def test_odd_ids_are_a_404_not_a_500(live: LiveApi, path: str) -> None:
    # chalice local does not URL-decode path parameters; whatever arrives is just an unknown id.
    error(live.request("GET", f"/items/{path}"), 404, "NotFoundError")


def test_requests_without_the_api_key_get_api_gateways_403(live: LiveApi) -> None:
    for method, path in (("GET", "/items"), ("POST", "/items"), ("GET", f"/items/{MISSING_ID}")):
        for key in (None, "wrong"):
            response = live.request(method, path, {"name": "x"}, api_key=key)
            assert response.status_code == 403, (method, path, key)
            assert response.json() == {"message": "Forbidden"}


@pytest.mark.parametrize(
    ("path", "method"), [("/items", "POST"), ("/items/some-id", "PATCH"), ("/health", "GET")]
)
def test_cors_preflight_is_answered_without_a_key(live: LiveApi, path: str, method: str) -> None:
    response = requests.options(
        live.url + path,
        headers={
            "Origin": "http://127.0.0.1:8001",
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type,if-match,idempotency-key,x-api-key",
        },
        timeout=30,
    )

    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # the local stage's setting
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"content-type", "if-match", "idempotency-key", "x-api-key"} <= allowed
    assert method in response.headers["Access-Control-Allow-Methods"]


def test_responses_expose_etag_location_and_retry_after_to_browsers(live: LiveApi) -> None:
    response = live.request("POST", "/items", {"name": "cors"}, {"Origin": "http://x"})

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"ETag", "Location", "Retry-After"}


def test_the_emulators_table_is_the_one_the_schema_defines(live: LiveApi) -> None:
    from chalicelib.schema import ITEMS_TABLE

    table = live.aws("dynamodb").describe_table(TableName=live.items_table)["Table"]
    expected = ITEMS_TABLE.create_table_kwargs(live.items_table)

    assert table["KeySchema"] == expected["KeySchema"]
    assert table["StreamSpecification"] == expected["StreamSpecification"]
    assert sorted(index["IndexName"] for index in table["GlobalSecondaryIndexes"]) == sorted(
        index["IndexName"] for index in expected["GlobalSecondaryIndexes"]
    )
