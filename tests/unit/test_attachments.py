"""Attachments (issue 6) through the Chalice test client on in-process moto."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
import requests

from chalicelib.attachments.service import MAX_ATTACHMENTS_PER_ITEM as MAX_ATTACHMENTS
from tests.s3_events import object_created
from tests.unit.harness import (
    BUCKET,
    ITEMS,
    KEY_PATTERN,
    InProcessApi,
    attachment_records,
    bucket_keys,
    decode_policy,
    record,
    records_of,
    s3,
    start_upload,
    upload,
)

# -- create: the presigned POST --------------------------------------------------------------


def test_create_answers_attachment_and_a_presigned_post(api: InProcessApi) -> None:
    item = api.create_item()
    created = start_upload(api, item["id"], "report.pdf", "application/pdf", 2048)

    attachment = created["attachment"]
    assert set(attachment) == {"id", "filename", "content_type", "size", "created_at"}
    assert attachment["filename"] == "report.pdf"
    assert attachment["content_type"] == "application/pdf"
    assert attachment["size"] == 2048
    assert re.fullmatch(r"[0-9a-f]{28}", attachment["id"])
    fields = created["upload"]["fields"]
    assert fields["key"] == f"attachments/{item['id']}/{attachment['id']}"
    assert fields["Content-Type"] == "application/pdf"
    assert created["upload"]["url"].startswith(("https://", "http://"))


def test_policy_only_admits_the_declared_type_and_size_for_15_minutes(api: InProcessApi) -> None:
    item = api.create_item()
    before = datetime.now(UTC)
    created = start_upload(api, item["id"], "pic.png", "image/png", 4321)

    policy = decode_policy(created["upload"]["fields"])
    conditions = policy["conditions"]
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, 4321] in conditions
    assert {"bucket": BUCKET} in conditions
    assert {"key": created["upload"]["fields"]["key"]} in conditions
    # No other content-type or length condition could widen what S3 accepts.
    assert [c for c in conditions if isinstance(c, list) and c[0] == "content-length-range"] == [
        ["content-length-range", 1, 4321]
    ]
    assert not [c for c in conditions if isinstance(c, list) and "Content-Type" in str(c[1])]
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    # A 15-minute window, measured from when the request was made (1 s resolution).
    assert before + timedelta(minutes=15) - timedelta(seconds=2) <= expiration
    assert expiration <= before + timedelta(minutes=15) + timedelta(seconds=60)


def test_content_type_is_normalised_before_it_reaches_the_policy(api: InProcessApi) -> None:
    item = api.create_item()
    created = start_upload(api, item["id"], content_type="Text/Plain")

    assert created["attachment"]["content_type"] == "text/plain"
    conditions = decode_policy(created["upload"]["fields"])["conditions"]
    assert {"Content-Type": "text/plain"} in conditions


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd", "a/b/c.txt", "..\\..\\boot.ini", "/abs.txt", "%2e%2e%2fx", "résumé.pdf"],
)
def test_object_keys_never_contain_client_input(api: InProcessApi, filename: str) -> None:
    item = api.create_item()
    created = start_upload(api, item["id"], filename)

    key = created["upload"]["fields"]["key"]
    assert KEY_PATTERN.match(key)
    assert key == f"attachments/{item['id']}/{created['attachment']['id']}"
    assert created["attachment"]["filename"] == filename
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    assert stem not in key


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_type": "text/plain", "size": 1}, "filename"),
        ({"filename": "", "content_type": "text/plain", "size": 1}, "filename"),
        ({"filename": "x" * 256, "content_type": "text/plain", "size": 1}, "filename"),
        ({"filename": "a\nb.txt", "content_type": "text/plain", "size": 1}, "filename"),
        ({"filename": "a\x00b.txt", "content_type": "text/plain", "size": 1}, "filename"),
        ({"filename": 7, "content_type": "text/plain", "size": 1}, "filename"),
        (
            {"filename": "a.exe", "content_type": "application/x-msdownload", "size": 1},
            "content_type",
        ),
        ({"filename": "a.html", "content_type": "text/html", "size": 1}, "content_type"),
        ({"filename": "a.txt", "size": 1}, "content_type"),
        ({"filename": "a.txt", "content_type": "text/plain"}, "size"),
        ({"filename": "a.txt", "content_type": "text/plain", "size": 0}, "size"),
        ({"filename": "a.txt", "content_type": "text/plain", "size": -5}, "size"),
        ({"filename": "a.txt", "content_type": "text/plain", "size": "5"}, "size"),
        ({"filename": "a.txt", "content_type": "text/plain", "size": 5.5}, "size"),
        ({"filename": "a.txt", "content_type": "text/plain", "size": True}, "size"),
        ({"filename": "a.txt", "content_type": "text/plain", "size": 25 * 1024 * 1024 + 1}, "size"),
        ({"filename": "a.txt", "content_type": "text/plain", "size": 1, "path": "x"}, "path"),
        ({"filename": "a.txt", "content_type": "text/plain", "size": 1, "key": "x"}, "key"),
    ],
)
def test_bad_request_names_the_field(api: InProcessApi, body: dict[str, Any], field: str) -> None:
    item = api.create_item()
    reply = api.request("POST", f"/items/{item['id']}/attachments", body)

    assert reply.status == 400, reply.body
    assert reply.header("Content-Type") == "application/json"
    assert reply.json["Code"] == "BadRequestError"
    assert reply.json["Message"].startswith(f"{field}:"), reply.json
    assert bucket_keys() == set()


def test_size_up_to_the_maximum_is_accepted(api: InProcessApi) -> None:
    item = api.create_item()
    created = start_upload(api, item["id"], size=25 * 1024 * 1024)

    policy = decode_policy(created["upload"]["fields"])
    assert ["content-length-range", 1, 25 * 1024 * 1024] in policy["conditions"]


def test_missing_item_is_404_everywhere(api: InProcessApi) -> None:
    missing = str(uuid.uuid4())
    attachment_id = "0" * 28
    body = {"filename": "a.txt", "content_type": "text/plain", "size": 3}

    for method, path, payload in [
        ("POST", f"/items/{missing}/attachments", body),
        ("GET", f"/items/{missing}/attachments", None),
        ("GET", f"/items/{missing}/attachments/{attachment_id}", None),
        ("DELETE", f"/items/{missing}/attachments/{attachment_id}", None),
        ("POST", "/items/not-an-id/attachments", body),
        ("GET", "/items/not-an-id/attachments", None),
    ]:
        reply = api.request(method, path, payload)
        assert reply.status == 404, (method, path, reply.body)
        assert reply.json["Code"] == "NotFoundError"
    assert bucket_keys() == set()


# -- upload, download ------------------------------------------------------------------------


def test_download_is_404_until_uploaded_then_302_to_the_exact_bytes(api: InProcessApi) -> None:
    item = api.create_item()
    data = bytes(range(256)) * 3
    created = start_upload(api, item["id"], "blob.json", "application/json", len(data))
    path = f"/items/{item['id']}/attachments/{created['attachment']['id']}"

    before = api.request("GET", path)
    assert before.status == 404
    assert before.json["Code"] == "NotFoundError"

    upload(created, data)
    after = api.request("GET", path)
    assert after.status == 302
    location = after.header("Location")
    assert location
    downloaded = requests.get(location, timeout=10)
    assert downloaded.status_code == 200
    assert downloaded.content == data
    query = parse_qs(urlsplit(location).query)
    assert query["response-content-type"] == ["application/json"]
    assert int(query["X-Amz-Expires"][0]) <= 15 * 60


@pytest.mark.parametrize(
    "filename",
    [
        'say "hi".txt',
        "résumé \u2013 2026.pdf",
        "../../etc/passwd",
        "dir\\evil.txt",
        "日本語.txt",
        "a;b=c.txt",
    ],
)
def test_content_disposition_carries_the_filename_safely(api: InProcessApi, filename: str) -> None:
    item = api.create_item()
    created = start_upload(api, item["id"], filename, size=4)
    upload(created, b"data")

    reply = api.request("GET", f"/items/{item['id']}/attachments/{created['attachment']['id']}")
    assert reply.status == 302
    location = reply.header("Location")
    assert location
    disposition = parse_qs(urlsplit(location).query)["response-content-disposition"][0]
    match = re.fullmatch(r"attachment; filename=\"([^\"]*)\"; filename\*=UTF-8''(\S+)", disposition)
    assert match, disposition
    fallback, encoded = match.groups()
    # The quoted fallback: printable ASCII only, no quote, backslash or path separator.
    assert all(0x20 <= ord(ch) < 0x7F for ch in fallback)
    assert not set(fallback) & {'"', "\\", "/"}, fallback
    # The RFC 5987 form is pure percent-encoding and round-trips to the original name.
    assert re.fullmatch(r"[A-Za-z0-9%._~-]+", encoded), encoded
    assert unquote(encoded, encoding="utf-8") == filename
    assert requests.get(location, timeout=10).content == b"data"


# -- listing ---------------------------------------------------------------------------------


def test_list_pages_visit_every_attachment_once(api: InProcessApi) -> None:
    item = api.create_item()
    made = [start_upload(api, item["id"], f"f{i}.txt")["attachment"] for i in range(5)]
    upload(start_upload(api, item["id"], "up.txt", size=2), b"ok")
    api.deliver_events()  # S3 reports the upload; the record says when it arrived

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        reply = api.request("GET", f"/items/{item['id']}/attachments{query}")
        assert reply.status == 200, reply.body
        assert len(reply.json["items"]) <= 2
        seen.extend(reply.json["items"])
        pages += 1
        cursor = reply.json["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [a["id"] for a in seen] == sorted(a["id"] for a in seen)
    assert len({a["id"] for a in seen}) == 6
    assert {a["id"] for a in made} < {a["id"] for a in seen}
    by_name = {a["filename"]: a for a in seen}
    assert "uploaded_at" in by_name["up.txt"]
    assert "uploaded_at" not in by_name["f0.txt"]
    assert by_name["f0.txt"] == made[0]


@pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoiYSJ9", "A" * 3000, "%00"])
def test_bad_cursor_is_a_400(api: InProcessApi, cursor: str) -> None:
    item = api.create_item()
    start_upload(api, item["id"])
    reply = api.request("GET", f"/items/{item['id']}/attachments?cursor={cursor}")
    assert reply.status == 400
    assert reply.json["Message"].startswith("cursor:")


def test_cursor_of_another_item_or_listing_is_a_400(api: InProcessApi) -> None:
    first, second = api.create_item(), api.create_item()
    for _ in range(2):
        start_upload(api, first["id"])
        api.create_item()
    page = api.request("GET", f"/items/{first['id']}/attachments?limit=1").json
    items_page = api.request("GET", "/items?limit=1").json

    foreign = api.request("GET", f"/items/{second['id']}/attachments?cursor={page['next_cursor']}")
    other_listing = api.request(
        "GET", f"/items/{first['id']}/attachments?cursor={items_page['next_cursor']}"
    )
    assert foreign.status == 400
    assert other_listing.status == 400


@pytest.mark.parametrize("limit", ["0", "101", "-1", "two", ""])
def test_bad_limit_is_a_400(api: InProcessApi, limit: str) -> None:
    item = api.create_item()
    reply = api.request("GET", f"/items/{item['id']}/attachments?limit={limit}")
    assert reply.status == 400
    assert reply.json["Message"].startswith("limit:")


# -- delete ----------------------------------------------------------------------------------


def test_delete_attachment_removes_the_file_and_the_record(api: InProcessApi) -> None:
    item = api.create_item()
    kept = start_upload(api, item["id"], "keep.txt", size=4)
    gone = start_upload(api, item["id"], "gone.txt", size=4)
    upload(kept, b"keep")
    upload(gone, b"gone")
    path = f"/items/{item['id']}/attachments/{gone['attachment']['id']}"

    assert api.request("DELETE", path).status == 204
    assert bucket_keys() == {kept["upload"]["fields"]["key"]}
    assert api.request("GET", path).status == 404
    assert api.request("DELETE", path).status == 404
    listed = api.request("GET", f"/items/{item['id']}/attachments").json["items"]
    assert [a["id"] for a in listed] == [kept["attachment"]["id"]]


def test_deleting_an_item_removes_its_whole_folder_and_nothing_else(api: InProcessApi) -> None:
    doomed, neighbour = api.create_item(), api.create_item()
    for index in range(3):
        upload(start_upload(api, doomed["id"], f"d{index}.txt", size=1), b"d")
    start_upload(api, doomed["id"], "never-uploaded.txt")
    neighbour_upload = start_upload(api, neighbour["id"], "n.txt", size=1)
    upload(neighbour_upload, b"n")
    # A file with no record (an upload that landed late) is swept with its folder too.
    s3().put_object(Bucket=BUCKET, Key=f"attachments/{doomed['id']}/stray", Body=b"x")
    s3().put_object(Bucket=BUCKET, Key="unrelated/object", Body=b"x")
    assert len(bucket_keys(f"attachments/{doomed['id']}/")) == 4

    assert api.request("DELETE", f"/items/{doomed['id']}").status == 204
    # The item is gone at once; its records and files go when the stream's cleanup runs.
    assert api.request("GET", f"/items/{doomed['id']}/attachments").status == 404
    api.deliver_events()

    assert bucket_keys(f"attachments/{doomed['id']}/") == set()
    assert records_of(doomed["id"]) == []
    assert bucket_keys() == {neighbour_upload["upload"]["fields"]["key"], "unrelated/object"}
    neighbour_path = f"/items/{neighbour['id']}/attachments/{neighbour_upload['attachment']['id']}"
    assert api.request("GET", neighbour_path).status == 302
    assert api.request("GET", f"/items/{doomed['id']}/attachments").status == 404


# -- S3's upload events (confirm_upload), and uploads that land after their record -------------


def report(api: InProcessApi, key: str, size: int = 4) -> Any:
    """Invoke confirm_upload with S3's "Object Created" event, as EventBridge does."""
    return api.client.lambda_.invoke("confirm_upload", object_created(BUCKET, key, size)).payload


def test_an_upload_that_lands_after_its_item_was_deleted_is_removed(
    api: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    doomed, neighbour = api.create_item(), api.create_item()
    late = start_upload(api, doomed["id"], "late.txt", size=4)
    kept = start_upload(api, neighbour["id"], "kept.txt", size=4)
    upload(kept, b"kept")
    assert api.request("DELETE", f"/items/{doomed['id']}").status == 204
    api.deliver_events()
    upload(late, b"late")  # the presigned POST is valid for 15 minutes, whatever happened since
    key = late["upload"]["fields"]["key"]
    assert key in bucket_keys()
    capsys.readouterr()

    assert report(api, key) == {"key": key, "outcome": "removed"}

    assert bucket_keys() == {kept["upload"]["fields"]["key"]}
    assert '"LateUploadsRemoved":[1.0]' in capsys.readouterr().out
    assert report(api, key) == {"key": key, "outcome": "removed"}  # a redelivery is harmless


def test_an_upload_that_lands_after_its_attachment_was_deleted_is_removed(
    api: InProcessApi,
) -> None:
    item = api.create_item()
    late, kept = start_upload(api, item["id"], size=4), start_upload(api, item["id"], size=4)
    upload(kept, b"kept")
    path = f"/items/{item['id']}/attachments/{late['attachment']['id']}"
    assert api.request("DELETE", path).status == 204
    upload(late, b"late")
    key = late["upload"]["fields"]["key"]

    assert report(api, key)["outcome"] == "removed"

    assert bucket_keys() == {kept["upload"]["fields"]["key"]}


def test_an_upload_is_confirmed_with_its_real_size_and_no_longer_expires(
    api: InProcessApi,
) -> None:
    item = api.create_item()
    created = start_upload(api, item["id"], "a.txt", size=100)  # declared: at most 100 bytes
    upload(created, b"only eleven")
    key = created["upload"]["fields"]["key"]
    attachment_id = created["attachment"]["id"]
    assert record(item["id"], attachment_id)["upload_state"] == {"S": "pending"}
    assert "expires_at" in record(item["id"], attachment_id)

    assert api.deliver_events() == 1  # the bucket's event, through the stack's rule

    stored = record(item["id"], attachment_id)
    assert stored["upload_state"] == {"S": "uploaded"}
    assert stored["size"] == {"N": "11"}
    assert "expires_at" not in stored
    listed = api.request("GET", f"/items/{item['id']}/attachments").json["items"]
    assert listed[0]["size"] == 11
    assert listed[0]["uploaded_at"]
    assert bucket_keys() == {key}
    assert report(api, key, size=11)["outcome"] == "confirmed"  # redelivered: harmless


@pytest.mark.parametrize(
    "key",
    [
        "attachments/not-an-item/0123456789abcdef0123456789ab",
        f"attachments/{uuid.uuid4()}/not-an-attachment-id",
        f"attachments/{uuid.uuid4()}/0123456789abcdef0123456789ab/deeper",
        "web/index.html",
    ],
)
def test_keys_the_api_never_hands_out_are_left_alone(api: InProcessApi, key: str) -> None:
    s3().put_object(Bucket=BUCKET, Key=key, Body=b"x")

    assert report(api, key)["outcome"] == "ignored"

    assert bucket_keys() == {key}


def test_an_upload_landing_while_its_attachment_is_deleted_is_removed_too(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload lands after the record was deleted but before the file was: the DELETE's own
    file delete removes it, and S3's event for it finds no record either."""
    from chalicelib import container

    item = api.create_item()
    created = start_upload(api, item["id"], size=4)
    key = created["upload"]["fields"]["key"]
    repository = container.get_services().attachments._repository
    real_remove = repository.remove

    def remove_then_upload_lands(item_id: str, attachment_id: str) -> None:
        real_remove(item_id, attachment_id)
        upload(created, b"late")

    monkeypatch.setattr(repository, "remove", remove_then_upload_lands)
    path = f"/items/{item['id']}/attachments/{created['attachment']['id']}"

    assert api.request("DELETE", path).status == 204

    assert key not in bucket_keys()
    api.deliver_events()
    assert key not in bucket_keys()


# -- attachments as their own records (issue 12) ---------------------------------------------


def dynamodb_response_sizes(api: InProcessApi, operation: str) -> list[int]:
    """The size of every ``operation`` response the app's DynamoDB client receives."""
    sizes: list[int] = []
    api.app_client("dynamodb").meta.events.register(
        f"after-call.dynamodb.{operation}",
        lambda http_response, **_: sizes.append(len(http_response.content)),
    )
    return sizes


def test_reading_an_item_costs_the_same_with_0_or_100_attachments(api: InProcessApi) -> None:
    bare, loaded = api.create_item("same"), api.create_item("same")
    for n in range(MAX_ATTACHMENTS):
        start_upload(api, loaded["id"], f"file-{n:03d}-with-a-long-name.pdf", size=1000)
    sizes = dynamodb_response_sizes(api, "GetItem")

    first = api.request("GET", f"/items/{bare['id']}")
    second = api.request("GET", f"/items/{loaded['id']}")

    assert first.status == second.status == 200
    assert len(sizes) == 2
    assert sizes[0] == sizes[1]  # the same item, however many attachment records it has
    assert len(attachment_records(loaded["id"])) == MAX_ATTACHMENTS


def test_adding_an_attachment_is_one_transaction_that_proves_the_item_exists(
    api: InProcessApi,
) -> None:
    item = api.create_item()
    sent: list[str] = []
    api.app_client("dynamodb").meta.events.register(
        "before-call.dynamodb", lambda model, **_: sent.append(model.name)
    )

    start_upload(api, item["id"])
    missing = api.request(
        "POST",
        f"/items/{uuid.uuid4()}/attachments",
        {"filename": "a", "content_type": "text/plain", "size": 1},
    )

    assert sent == ["TransactWriteItems", "TransactWriteItems"]
    assert missing.status == 404
    assert attachment_records(item["id"])[0]["upload_state"] == {"S": "pending"}


def test_an_item_holds_at_most_100_attachments_and_a_delete_frees_a_slot(
    api: InProcessApi,
) -> None:
    item = api.create_item()
    made = [start_upload(api, item["id"], size=1) for _ in range(MAX_ATTACHMENTS)]
    body = {"filename": "one-too-many", "content_type": "text/plain", "size": 1}

    refused = api.request("POST", f"/items/{item['id']}/attachments", body)
    assert refused.status == 400
    assert refused.json["Message"].startswith("attachments:")
    assert len(attachment_records(item["id"])) == MAX_ATTACHMENTS  # nothing written

    path = f"/items/{item['id']}/attachments/{made[0]['attachment']['id']}"
    assert api.request("DELETE", path).status == 204
    assert api.request("POST", f"/items/{item['id']}/attachments", body).status == 201
    assert api.request("POST", f"/items/{item['id']}/attachments", body).status == 400


def abandon(item_id: str, attachment_id: str) -> None:
    """Let an attachment's upload window (and its grace) pass without its file."""
    boto3.client("dynamodb").update_item(
        TableName=ITEMS,
        Key={"id": {"S": item_id}, "sk": {"S": f"item#attachment#{attachment_id}"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )


def test_an_abandoned_upload_stops_being_listed_frees_its_slot_and_expires(
    api: InProcessApi,
) -> None:
    item = api.create_item()
    made = [start_upload(api, item["id"], size=1) for _ in range(MAX_ATTACHMENTS)]
    abandoned = made[-1]["attachment"]["id"]
    abandon(item["id"], abandoned)
    body = {"filename": "fits", "content_type": "text/plain", "size": 1}

    listed, _ = list_attachments(api, item["id"])
    assert abandoned not in {a["id"] for a in listed}
    assert len(listed) == MAX_ATTACHMENTS - 1
    # The counter is at the bound: the add counts the live records and finds room.
    assert api.request("POST", f"/items/{item['id']}/attachments", body).status == 201

    # DynamoDB's TTL removes the abandoned record (locally: the event feeder's TTL sweep).
    api.deliver_events(sweep_ttl=True)
    assert len(attachment_records(item["id"])) == MAX_ATTACHMENTS
    assert f"item#attachment#{abandoned}" not in {
        r["sk"]["S"] for r in attachment_records(item["id"])
    }


def list_attachments(api: InProcessApi, item_id: str) -> tuple[list[dict[str, Any]], int]:
    seen: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
        reply = api.request("GET", f"/items/{item_id}/attachments{query}")
        assert reply.status == 200, reply.body
        seen.extend(reply.json["items"])
        pages += 1
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return seen, pages


def test_a_download_right_after_the_upload_works_before_s3_reports_it(
    api: InProcessApi,
) -> None:
    """S3's event may arrive after the client's next request: the download then asks S3
    whether the file is there, and a file that is confirms the record on the way."""
    item = api.create_item()
    created = start_upload(api, item["id"], size=5)
    upload(created, b"hello")
    attachment_id = created["attachment"]["id"]
    assert record(item["id"], attachment_id)["upload_state"] == {"S": "pending"}

    reply = api.request("GET", f"/items/{item['id']}/attachments/{attachment_id}")

    assert reply.status == 302
    assert requests.get(reply.header("Location") or "", timeout=10).content == b"hello"
    assert record(item["id"], attachment_id)["upload_state"] == {"S": "uploaded"}
    assert "expires_at" not in record(item["id"], attachment_id)


@pytest.mark.parametrize("status", [403, 404])
def test_s3_saying_forbidden_or_not_found_for_our_own_key_means_not_uploaded(
    status: int,
) -> None:
    """S3 answers a HEAD of a missing key with 404 only to a caller that may list the bucket,
    and 403 otherwise; the emulator does not enforce IAM, so S3's answers are stubbed."""
    from botocore.stub import Stubber

    from chalicelib.attachments.storage import FileStorage

    client = boto3.client("s3", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("head_object", service_error_code=str(status), http_status_code=status)
    stubber.add_client_error("head_object", service_error_code="500", http_status_code=500)

    with stubber:
        storage = FileStorage(client, "bucket")
        assert storage.head("attachments/x/y") is None
        with pytest.raises(Exception, match="unavailable"):
            storage.head("attachments/x/y")  # a server error stays one: 503, not "missing"
