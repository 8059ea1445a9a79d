"""Attachments over real HTTP (issue 6): ``chalice local`` + the moto server, real uploads."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.integration.harness import LiveApi, start_upload, upload
from tests.s3_events import object_created

pytestmark = pytest.mark.integration


# -- tests -----------------------------------------------------------------------------------


def test_upload_with_the_presigned_post_then_download_byte_for_byte(live: LiveApi) -> None:
    item = live.create_item()
    data = bytes(range(256)) * 40 + b"\x00\r\n--boundary--\r\n"
    created = start_upload(live, item["id"], "photo.png", "image/png", len(data))
    path = f"/items/{item['id']}/attachments/{created['attachment']['id']}"

    assert live.request("GET", path).status_code == 404  # not uploaded yet

    uploaded = upload(created, data, "image/png")
    assert uploaded.status_code in (200, 201, 204), uploaded.text
    key = created["upload"]["fields"]["key"]
    assert key == f"attachments/{item['id']}/{created['attachment']['id']}"
    assert live.bucket_keys(f"attachments/{item['id']}/") == {key}

    redirect = live.request("GET", path)
    assert redirect.status_code == 302
    assert redirect.headers["Cache-Control"] == "no-store"
    location = redirect.headers["Location"]
    downloaded = requests.get(location, timeout=30)
    assert downloaded.status_code == 200
    assert downloaded.content == data
    query = parse_qs(urlsplit(location).query)
    assert query["response-content-type"] == ["image/png"]
    assert query["response-content-disposition"][0].startswith('attachment; filename="photo.png"')


def test_the_policy_admits_only_the_declared_type_and_size(live: LiveApi) -> None:
    item = live.create_item()
    created = start_upload(live, item["id"], "doc.pdf", "application/pdf", 1000)

    policy = json.loads(base64.b64decode(created["upload"]["fields"]["policy"]))
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert {"bucket": live.bucket} in policy["conditions"]
    assert created["upload"]["url"].startswith(live.environment["AWS_ENDPOINT_URL_S3"])


def test_list_paginates_with_a_cursor_and_rejects_a_bad_one(live: LiveApi) -> None:
    item = live.create_item()
    ids = {
        start_upload(live, item["id"], f"f{i}.txt", "text/plain", 1)["attachment"]["id"]
        for i in range(5)
    }
    seen: list[str] = []
    cursor = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = live.request("GET", f"/items/{item['id']}/attachments?limit=2{suffix}")
        assert page.status_code == 200
        seen += [a["id"] for a in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == seen  # oldest first (ids sort by creation)
    assert set(seen) == ids
    assert len(seen) == 5

    bad = live.request("GET", f"/items/{item['id']}/attachments?cursor=not-a-cursor")
    assert bad.status_code == 400
    assert bad.json()["Message"].startswith("cursor:")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "", "content_type": "text/plain", "size": 1}, "filename"),
        ({"filename": "a", "content_type": "text/html", "size": 1}, "content_type"),
        ({"filename": "a", "content_type": "text/plain", "size": 0}, "size"),
        ({"filename": "a", "content_type": "text/plain", "size": True}, "size"),
        ({"filename": "a", "content_type": "text/plain", "size": 25 * 1024 * 1024 + 1}, "size"),
        ({"filename": "a", "content_type": "text/plain", "size": 1, "acl": "public"}, "acl"),
    ],
)
def test_bad_requests_name_the_field(live: LiveApi, body: dict[str, Any], field: str) -> None:
    item = live.create_item()
    response = live.request("POST", f"/items/{item['id']}/attachments", body)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["Message"].startswith(f"{field}:")
    assert live.bucket_keys(f"attachments/{item['id']}/") == set()


def test_a_missing_item_is_a_404(live: LiveApi) -> None:
    missing = str(uuid.uuid4())
    body = {"filename": "a", "content_type": "text/plain", "size": 1}
    assert live.request("POST", f"/items/{missing}/attachments", body).status_code == 404
    assert live.request("GET", f"/items/{missing}/attachments").status_code == 404


def test_delete_attachment_removes_its_file(live: LiveApi) -> None:
    item = live.create_item()
    created = start_upload(live, item["id"], "a.txt", "text/plain", 3)
    assert upload(created, b"abc", "text/plain").ok
    path = f"/items/{item['id']}/attachments/{created['attachment']['id']}"

    assert live.request("DELETE", path).status_code == 204
    assert live.bucket_keys(f"attachments/{item['id']}/") == set()
    assert live.request("GET", path).status_code == 404
    assert live.request("DELETE", path).status_code == 404


def test_deleting_an_item_removes_its_files_and_no_other_items(live: LiveApi) -> None:
    doomed, neighbour = live.create_item(), live.create_item()
    for index in range(3):
        created = start_upload(live, doomed["id"], f"{index}.txt", "text/plain", 1)
        assert upload(created, b"d", "text/plain").ok
    kept = start_upload(live, neighbour["id"], "n.txt", "text/plain", 1)
    assert upload(kept, b"n", "text/plain").ok

    assert live.request("DELETE", f"/items/{doomed['id']}").status_code == 204

    # The stream's cleanup, fed by the local event feeder as Lambda's mapping would.
    live.eventually(
        lambda: (
            live.bucket_keys(f"attachments/{doomed['id']}/") == set()
            and live.records_of(doomed["id"]) == []
        ),
        "the deleted item's files and records are removed",
    )
    assert live.bucket_keys(f"attachments/{neighbour['id']}/") == {kept["upload"]["fields"]["key"]}
    download = live.request(
        "GET", f"/items/{neighbour['id']}/attachments/{kept['attachment']['id']}"
    )
    assert download.status_code == 302
    assert requests.get(download.headers["Location"], timeout=30).content == b"n"


def test_an_upload_after_its_item_was_deleted_is_removed_when_s3_reports_it(
    live: LiveApi,
) -> None:
    """The presigned POST outlives the item; S3's "Object Created" event (EventBridge, in the
    stack; the event feeder here) finds no record and removes the file nobody can reach."""
    doomed, neighbour = live.create_item(), live.create_item()
    late = start_upload(live, doomed["id"], "late.txt", "text/plain", 4)
    kept = start_upload(live, neighbour["id"], "kept.txt", "text/plain", 4)
    assert upload(kept, b"kept", "text/plain").status_code == 204
    assert live.request("DELETE", f"/items/{doomed['id']}").status_code == 204
    live.eventually(lambda: live.records_of(doomed["id"]) == [], "the item's records are gone")
    assert upload(late, b"late", "text/plain").status_code == 204
    late_key, kept_key = late["upload"]["fields"]["key"], kept["upload"]["fields"]["key"]

    live.eventually(lambda: late_key not in live.bucket_keys(), "the late upload is removed")
    assert kept_key in live.bucket_keys()


def test_s3_reports_an_upload_and_the_record_says_so(live: LiveApi) -> None:
    item = live.create_item()
    created = start_upload(live, item["id"], "a.txt", "text/plain", 100)
    assert upload(created, b"eleven byte", "text/plain").status_code == 204
    path = f"/items/{item['id']}/attachments"

    def confirmed() -> bool:
        (listed,) = live.request("GET", path).json()["items"]
        return "uploaded_at" in listed and listed["size"] == 11

    live.eventually(confirmed, "the upload is confirmed with its real size")


def test_confirm_upload_runs_as_lambda_runs_it(live: LiveApi) -> None:
    """The function itself, in a fresh process as Lambda starts it, with S3's event."""
    item = live.create_item()
    created = start_upload(live, item["id"], "a.txt", "text/plain", 4)
    assert upload(created, b"live", "text/plain").status_code == 204
    key = created["upload"]["fields"]["key"]
    stray = f"attachments/{item['id']}/{'0' * 28}"
    live.aws("s3").put_object(Bucket=live.bucket, Key=stray, Body=b"x")

    confirmed = live.invoke("confirm_upload", object_created(live.bucket, key))
    removed = live.invoke("confirm_upload", object_created(live.bucket, stray))

    assert confirmed == {"key": key, "outcome": "confirmed"}
    assert removed == {"key": stray, "outcome": "removed"}
    assert stray not in live.bucket_keys()
