"""The smoke suite: does this deployment keep the contract (``/work/shared/api-contract.md``)?

A black box over HTTP, run against any base URL by ``make smoke BASE_URL=... API_KEY=...
TOKEN=... VIEWER_TOKEN=...`` (after a deploy) and against ``chalice local`` by ``make test``.
Each test is one check and prints one line; its data carries a tag unique to the run and is
deleted afterwards. Written against the contract, not today's internals: a listing's order is
not assumed, and what the contract lets happen asynchronously (an item's attachments going with
it) is awaited.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests

from tests.smoke.target import (
    ANONYMOUS,
    KEYLESS,
    READER,
    TOKENLESS,
    SmokeClient,
    eventually,
    resolve,
    upload,
)

pytestmark = pytest.mark.smoke
ORIGIN = "https://smoke-check.example"  # any origin: the API answers with the one it allows
PAGE_SIZE = 2
PAGED_ITEMS = 5
MAX_PAGES = 50  # newest first, this run's items are on the first pages


def json_of(response: requests.Response, status: int) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.url}: " + (
        f"{response.status_code} {response.text[:500]}"
    )
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def names(response: requests.Response, header: str) -> set[str]:
    """The comma-separated names of a header, lower-cased (empty when it is missing)."""
    return {name.strip().lower() for name in response.headers.get(header, "").split(",")} - {""}


def etag(response: requests.Response) -> str:
    return response.headers["ETag"]


def test_health_is_ok(smoke: SmokeClient) -> None:
    health = json_of(smoke.request("GET", "/health", role=ANONYMOUS), 200)

    assert health["status"] == "ok"
    assert health["checks"]
    assert set(health["checks"].values()) == {"ok"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/items", None), ("POST", "/items", {"name": "refused"})],
)
def test_a_request_without_a_key_is_refused(
    smoke: SmokeClient, method: str, path: str, body: Any
) -> None:
    refused = json_of(smoke.request(method, path, role=KEYLESS, json=body), 403)

    assert set(refused) == {"message"}  # API Gateway's own shape, not the app's


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/items", None), ("POST", "/items", {"name": "refused"})],
)
def test_a_request_without_a_token_is_a_401(
    smoke: SmokeClient, method: str, path: str, body: Any
) -> None:
    for role in (TOKENLESS, ANONYMOUS):
        refused = json_of(smoke.request(method, path, role=role, json=body), 401)
        assert set(refused) == {"message"}, role  # API Gateway's own shape


def test_a_forged_token_is_a_401(smoke: SmokeClient) -> None:
    refused = smoke.request(
        "GET", "/items?limit=1", role=TOKENLESS, headers={"Authorization": "Bearer not.a.jwt"}
    )

    assert refused.status_code == 401, refused.text


def test_a_viewer_reads_but_a_write_is_a_403_that_stores_nothing(smoke: SmokeClient) -> None:
    item = json_of(smoke.create_item("viewed"), 201)
    path = f"/items/{item['id']}"
    assert item["created_by"] == item["updated_by"]
    assert item["created_by"]  # the editor's username or client id
    read = smoke.request("GET", path, role=READER)
    assert json_of(read, 200) == item
    mark = f"{smoke.tag}-by-viewer"

    for method, target, body in (
        ("POST", "/items", {"name": mark, "tags": [mark]}),
        ("PATCH", path, {"name": mark}),
        ("PUT", path, {"name": mark}),
        ("DELETE", path, None),
        (
            "POST",
            f"{path}/attachments",
            {"filename": "a.txt", "content_type": "text/plain", "size": 1},
        ),
    ):
        refused = json_of(smoke.request(method, target, role=READER, json=body), 403)
        assert refused["Code"] == "ForbiddenError", (method, target)
        assert "items/write" in refused["Message"], (method, target)

    after = smoke.request("GET", path, role=READER)
    assert json_of(after, 200) == item  # same version, same fields: nothing was written
    assert etag(after) == etag(read)
    attachments = json_of(smoke.request("GET", f"{path}/attachments", role=READER), 200)
    assert attachments["items"] == []
    listed = json_of(smoke.request("GET", f"/items?tag={mark}", role=READER), 200)
    assert listed["items"] == []


def test_cors_on_a_success(smoke: SmokeClient) -> None:
    listed = smoke.request("GET", "/items?limit=1", role=READER, headers={"Origin": ORIGIN})
    json_of(listed, 200)
    assert listed.headers.get("Access-Control-Allow-Origin")
    exposed = {
        h.strip().lower() for h in listed.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"etag", "location"} <= exposed

    preflight = smoke.request(
        "OPTIONS",
        "/items",
        role=ANONYMOUS,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key,x-api-key",
        },
    )
    assert preflight.status_code in (200, 204), preflight.text
    assert (
        preflight.headers["Access-Control-Allow-Origin"]
        == (listed.headers["Access-Control-Allow-Origin"])
    )
    allowed = {
        h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"content-type", "if-match", "idempotency-key", "x-api-key"} <= allowed
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_cors_on_an_api_gateway_refusal(smoke: SmokeClient) -> None:
    """A refusal API Gateway answers itself (no key) must carry CORS headers too, or a browser
    sees an opaque network error instead of the 403. (Deployed, a 401 carries them too; chalice
    local refuses a request without a token before the app, without them.)"""
    allowed = smoke.request("GET", "/items?limit=1", role=READER, headers={"Origin": ORIGIN})
    refused = smoke.request("GET", "/items?limit=1", role=KEYLESS, headers={"Origin": ORIGIN})

    json_of(refused, 403)
    assert (
        refused.headers.get("Access-Control-Allow-Origin")
        == (allowed.headers["Access-Control-Allow-Origin"])
    )


def test_crud_with_etags_if_match_and_412(smoke: SmokeClient) -> None:
    created = smoke.create_item("crud", attributes={"price": 12.5, "big": 12345678901234567890})
    item = json_of(created, 201)
    path = f"/items/{item['id']}"
    assert etag(created) == '"1"'
    assert item["version"] == 1
    assert item["attributes"] == {"price": 12.5, "big": 12345678901234567890}
    # Location resolves to the item on this endpoint, whatever base path it has.
    assert resolve(created, created.headers["Location"]) == smoke.url(path)

    fetched = smoke.request("GET", path, role=READER)
    assert json_of(fetched, 200) == item
    assert etag(fetched) == '"1"'

    replaced = smoke.request("PUT", path, json={"name": "replaced"}, headers={"If-Match": '"1"'})
    assert json_of(replaced, 200)["name"] == "replaced"
    assert etag(replaced) == '"2"'

    stale = smoke.request(
        "PATCH",
        path,
        json={"name": "stale"},
        headers={"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
    )
    assert json_of(stale, 412)["Code"] == "PreconditionFailedError"
    assert json_of(smoke.request("GET", path, role=READER), 200)["name"] == "replaced"

    patched = smoke.request(
        "PATCH",
        path,
        json={"status": "archived"},
        headers={"If-Match": etag(replaced), "Content-Type": "application/merge-patch+json"},
    )
    assert json_of(patched, 200)["status"] == "archived"
    assert etag(patched) == '"3"'

    assert smoke.request("DELETE", path, headers={"If-Match": '"2"'}).status_code == 412
    deleted = smoke.request("DELETE", path, headers={"If-Match": etag(patched)})
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert json_of(smoke.request("GET", path, role=READER), 404)["Code"] == "NotFoundError"


def test_idempotent_create(smoke: SmokeClient) -> None:
    key = {"Idempotency-Key": f"{smoke.tag}-{secrets.token_hex(8)}"}
    first = smoke.create_item("once", headers=key)
    again = smoke.create_item("once", headers=key)

    item = json_of(first, 201)
    assert json_of(again, 201) == item
    assert again.headers["Location"] == first.headers["Location"]
    assert etag(again) == etag(first)
    other = smoke.create_item("a different body", headers=key)
    assert json_of(other, 422)["Code"]


def _walk(smoke: SmokeClient, wanted: set[str]) -> list[dict[str, Any]]:
    """Follow ``next_cursor`` from the first page until every id of ``wanted`` was listed, the
    last page, or ``MAX_PAGES``; every item listed, in order."""
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        query = f"?limit={PAGE_SIZE}" + (f"&cursor={cursor}" if cursor else "")
        page = json_of(smoke.request("GET", "/items" + query, role=READER), 200)
        assert len(page["items"]) <= PAGE_SIZE
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None or wanted <= {item["id"] for item in seen}:
            break
    return seen


def test_pagination_walk(smoke: SmokeClient) -> None:
    """Following ``next_cursor`` visits each of this run's items once, in pages of at most
    ``limit``, newest first. So they are on the first pages of a listing: the walk stops once it
    has seen them all (a deployment's table may be large). Listings are eventually consistent:
    a walk that misses one of them is tried again."""
    mine = {json_of(smoke.create_item(f"page {n}"), 201)["id"] for n in range(PAGED_ITEMS)}
    seen: list[dict[str, Any]] = []

    def walked_past_all_of_them() -> bool:
        seen[:] = _walk(smoke, mine)
        return mine <= {item["id"] for item in seen}

    assert eventually(walked_past_all_of_them, attempts=10), "this run's items were not listed"
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids)), "an item was listed twice"
    # Others may write meanwhile: the order is checked among this run's items (equal
    # timestamps may come in either order).
    created = [item["created_at"] for item in seen if item["id"] in mine]
    assert created == sorted(created, reverse=True), "not newest first"


def _start_upload(smoke: SmokeClient, item_id: str, data: bytes) -> requests.Response:
    body = {"filename": "smoke.txt", "content_type": "text/plain", "size": len(data)}
    return smoke.request("POST", f"/items/{item_id}/attachments", json=body)


def test_an_attachment_uploads_through_its_presigned_post_and_downloads_byte_for_byte(
    smoke: SmokeClient,
) -> None:
    item = json_of(smoke.create_item("with attachments"), 201)
    data = f"smoke {smoke.tag}\n".encode() + secrets.token_bytes(512)
    started = _start_upload(smoke, item["id"], data)
    created = json_of(started, 201)
    attachment = created["attachment"]
    path = f"/items/{item['id']}/attachments/{attachment['id']}"
    assert resolve(started, started.headers["Location"]) == smoke.url(path)
    assert attachment["size"] == len(data)
    assert smoke.request("GET", path, role=READER).status_code == 404  # not uploaded yet

    uploaded = upload(created["upload"], data, "text/plain")
    assert uploaded.status_code in (200, 201, 204), uploaded.text

    redirect = smoke.request("GET", path, role=READER)  # right after the upload
    assert redirect.status_code == 302, redirect.text
    downloaded = requests.get(redirect.headers["Location"], timeout=30)  # no API credentials
    assert downloaded.status_code == 200
    assert downloaded.content == data

    listed = json_of(smoke.request("GET", f"/items/{item['id']}/attachments", role=READER), 200)
    assert attachment["id"] in [entry["id"] for entry in listed["items"]]

    assert smoke.request("DELETE", path).status_code == 204
    assert smoke.request("GET", path, role=READER).status_code == 404


def test_deleting_an_item_removes_its_attachments(smoke: SmokeClient) -> None:
    """The contract lets the attachments go asynchronously: they are gone eventually."""
    item = json_of(smoke.create_item("deleted with its attachment"), 201)
    data = b"goes with its item\n"
    created = json_of(_start_upload(smoke, item["id"], data), 201)
    assert upload(created["upload"], data, "text/plain").status_code in (200, 201, 204)
    path = f"/items/{item['id']}/attachments/{created['attachment']['id']}"
    assert smoke.request("GET", path, role=READER).status_code == 302

    assert smoke.request("DELETE", f"/items/{item['id']}").status_code == 204

    assert eventually(lambda: smoke.request("GET", path, role=READER).status_code == 404)
