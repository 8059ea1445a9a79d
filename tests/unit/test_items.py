"""The item routes of the contract (``../shared/api-contract.md``), one test per rule, through
Chalice's test client on in-process moto; and the DynamoDB requests each operation makes.

CORS preflights are answered by API Gateway (and ``chalice local``), not by the app, so they
are tested over HTTP in ``tests/integration/test_items.py``.
"""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from typing import Any

import boto3
import pytest

from chalicelib.schema import ALL_ITEMS_INDEX, ITEM_RECORD, LISTING_SHARDS, STATUS_INDEX
from tests.unit.harness import INTERNAL_NAMES, ITEMS, InProcessApi, Reply, Requests

MISSING_ID = "00000000-0000-4000-8000-000000000000"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


def stored(item_id: str) -> dict[str, Any] | None:
    """The raw DynamoDB record, looked at behind the API."""
    found = boto3.client("dynamodb").get_item(
        TableName=ITEMS, Key={"id": {"S": item_id}, "sk": {"S": ITEM_RECORD}}
    )
    record: dict[str, Any] | None = found.get("Item")
    return record


def assert_error(reply: Reply, status: int, code: str, names: str | None = None) -> None:
    """The contract's error shape: JSON, ``Code`` and ``Message``, no internal names."""
    assert reply.status == status, reply.body
    assert reply.header("Content-Type") == "application/json"
    body = reply.json
    assert set(body) == {"Code", "Message"}
    assert body["Code"] == code
    if names is not None:
        assert body["Message"].startswith(names), body["Message"]
    for internal in INTERNAL_NAMES:
        assert internal not in body["Message"]
    assert "Traceback" not in body["Message"]


# -- create ------------------------------------------------------------------------------------


def test_create_answers_201_with_the_item_location_and_etag(api: InProcessApi) -> None:
    reply = api.request("POST", "/items", {"name": "Blue mug", "tags": ["kitchen"]})

    assert reply.status == 201
    item = reply.json
    assert reply.header("Location") == f"/items/{item['id']}"
    assert reply.header("ETag") == '"1"'
    assert reply.header("Content-Type") == "application/json"
    assert set(item) == {
        "id",
        "name",
        "description",
        "status",
        "tags",
        "attributes",
        "created_at",
        "updated_at",
        "version",
        "created_by",
        "updated_by",
    }
    assert item["created_by"] == item["updated_by"] == "editor"  # the harness's default caller
    assert item["name"] == "Blue mug"
    assert item["tags"] == ["kitchen"]
    assert item["version"] == 1
    assert item["created_at"] == item["updated_at"]
    assert re.match(TIMESTAMP, item["created_at"])
    assert re.fullmatch(r"[0-9a-f-]{36}", item["id"])


def test_create_fills_defaults_and_trims_the_name(api: InProcessApi) -> None:
    item = api.create_item("  Blue mug \u00a0")

    assert item["name"] == "Blue mug"
    assert item["description"] == ""
    assert item["status"] == "active"
    assert item["tags"] == []
    assert item["attributes"] == {}


def test_null_optional_fields_mean_their_defaults(api: InProcessApi) -> None:
    reply = api.request(
        "POST",
        "/items",
        {"name": "a", "description": None, "status": None, "tags": None, "attributes": None},
    )

    assert reply.status == 201
    assert {k: reply.json[k] for k in ("description", "status", "tags", "attributes")} == {
        "description": "",
        "status": "active",
        "tags": [],
        "attributes": {},
    }


def test_two_creates_get_two_ids(api: InProcessApi) -> None:
    assert api.create_item()["id"] != api.create_item()["id"]


@pytest.mark.parametrize("field", ["id", "created_at", "updated_at", "version"])
def test_read_only_fields_are_a_400_naming_them(api: InProcessApi, field: str) -> None:
    reply = api.request("POST", "/items", {"name": "a", field: "x"})

    assert_error(reply, 400, "BadRequestError", field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "colour": "red"}, "colour"),
        ({}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "a", "description": "x" * 2001}, "description"),
        ({"name": "a", "status": "deleted"}, "status"),
        ({"name": "a", "tags": ["x", "x"]}, "tags"),
        ({"name": "a", "tags": [str(n) for n in range(21)]}, "tags"),
        ({"name": "a", "tags": [""]}, "tags"),
        ({"name": "a", "tags": ["x" * 51]}, "tags"),
        ({"name": "a", "tags": "kitchen"}, "tags"),
        ({"name": "a", "attributes": []}, "attributes"),
        ({"name": "a", "attributes": {"": 1}}, "attributes"),
    ],
)
def test_invalid_fields_are_a_400_naming_the_field(
    api: InProcessApi, body: dict[str, Any], field: str
) -> None:
    reply = api.request("POST", "/items", body)

    assert_error(reply, 400, "BadRequestError", field)
    assert boto3.client("dynamodb").scan(TableName=ITEMS)["Count"] == 0


def test_limits_are_inclusive(api: InProcessApi) -> None:
    item = api.create_item(
        " " + "n" * 200 + " ",
        description="d" * 2000,
        tags=[f"t{n:02}" + "x" * 47 for n in range(20)],  # 20 tags of 50 characters
    )

    assert len(item["name"]) == 200
    assert len(item["description"]) == 2000
    assert len(item["tags"]) == 20
    assert {len(tag) for tag in item["tags"]} == {50}


def nested(levels: int) -> dict[str, Any]:
    """An ``attributes`` object ``levels`` deep (the object itself is level 1)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_attributes_may_be_16_levels_deep_not_17(api: InProcessApi) -> None:
    assert api.request("POST", "/items", {"name": "a", "attributes": nested(16)}).status == 201
    deeper = api.request("POST", "/items", {"name": "a", "attributes": nested(17)})
    assert_error(deeper, 400, "BadRequestError", "attributes")
    lists = {"a": [[[{"b": [1]}]]]}  # arrays count as levels too: 6 here
    assert api.request("POST", "/items", {"name": "a", "attributes": lists}).status == 201


def test_attributes_up_to_16_kib_of_compact_json(api: InProcessApi) -> None:
    overhead = len(json.dumps({"k": ""}, separators=(",", ":")))
    fits = {"k": "x" * (16 * 1024 - overhead)}
    assert api.request("POST", "/items", {"name": "a", "attributes": fits}).status == 201
    too_big = {"k": "x" * (16 * 1024 - overhead + 1)}
    reply = api.request("POST", "/items", {"name": "a", "attributes": too_big})
    assert_error(reply, 400, "BadRequestError", "attributes")


@pytest.mark.parametrize(
    ("sent", "returned"),
    [
        ("0.1", "0.1"),
        ("3", "3"),
        ("-7", "-7"),
        ("12345678901234567890", "12345678901234567890"),
        ("1.5e3", "1500"),
        ("0.10", "0.1"),  # the contract allows 0.10 back as 0.1 (DynamoDB normalizes; moto not)
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("1E-130", "1E-130"),
    ],
)
def test_numbers_come_back_exactly(api: InProcessApi, sent: str, returned: str) -> None:
    raw = f'{{"name": "n", "attributes": {{"n": {sent}, "deep": [{sent}]}}}}'.encode()
    created = api.request("POST", "/items", raw=raw)
    assert created.status == 201, created.body

    fetched = api.request("GET", f"/items/{created.json['id']}")
    text = fetched.body.decode()
    forms = {returned, sent} if sent == "0.10" else {returned}
    assert any(f'"n":{form},' in text for form in forms), text
    assert any(f'"deep":[{form}]' in text for form in forms), text
    numeric = json.loads(fetched.body, parse_float=Decimal, parse_int=Decimal)
    assert numeric["attributes"]["n"] == Decimal(sent)
    assert fetched.json["version"] == 1
    assert '"version":1' in text  # an integer, never 1.0


@pytest.mark.parametrize(
    "number",
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "123456789012345678901234567890123456789",  # 39 significant digits
        "1E+126",
        "-1E+126",
        "1E-131",
        "1E-150",
    ],
)
def test_numbers_dynamodb_cannot_hold_are_a_400(api: InProcessApi, number: str) -> None:
    raw = f'{{"name": "n", "attributes": {{"n": {number}}}}}'.encode()
    reply = api.request("POST", "/items", raw=raw)

    assert_error(reply, 400, "BadRequestError")
    assert "n" in reply.json["Message"]


@pytest.mark.parametrize("key", ["status", "#a", ":v", "a.b", "name", "id", "version", "a b", "é"])
def test_attribute_keys_are_never_parsed_as_expressions(api: InProcessApi, key: str) -> None:
    item = api.create_item(attributes={key: {key: 1}})

    assert api.request("GET", f"/items/{item['id']}").json["attributes"] == {key: {key: 1}}
    patched = api.request("PATCH", f"/items/{item['id']}", {"attributes": {key: {"x": 2}}})
    assert patched.status == 200, patched.body
    assert patched.json["attributes"] == {key: {key: 1, "x": 2}}
    assert patched.json["status"] == "active"
    assert patched.json["version"] == 2


def test_body_over_64_kib_is_a_413(api: InProcessApi) -> None:
    body = json.dumps({"name": "a", "description": "x" * (64 * 1024)}).encode()
    reply = api.request("POST", "/items", raw=body)

    assert_error(reply, 413, "PayloadTooLargeError")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_a_415(api: InProcessApi, content_type: str) -> None:
    headers = {"Content-Type": content_type}
    reply = api.request("POST", "/items", raw=b'{"name": "a"}', headers=headers)

    assert_error(reply, 415, "UnsupportedMediaType")


def test_a_missing_content_type_counts_as_json(api: InProcessApi) -> None:
    # The bearer token only: no Content-Type header at all.
    headers = {"Authorization": f"Bearer {api.tokens.editor}"}
    response = api.client.http.request("POST", "/items", headers=headers, body=b'{"name": "a"}')

    assert response.status_code == 201


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b'{"name": "a",}', b"[1]", b'"a"', b'{"name": "a", "name": "b"}', b"\xff"],
)
def test_a_body_that_is_not_one_json_object_is_a_400(api: InProcessApi, raw: bytes) -> None:
    reply = api.request("POST", "/items", raw=raw)

    assert_error(reply, 400, "BadRequestError", "body")


# -- read --------------------------------------------------------------------------------------


def test_get_answers_the_item_with_its_etag(api: InProcessApi) -> None:
    item = api.create_item(attributes={"price": 12.5})

    reply = api.request("GET", f"/items/{item['id']}")

    assert reply.status == 200
    assert reply.json == item
    assert reply.header("ETag") == '"1"'


@pytest.mark.parametrize("item_id", [MISSING_ID, "nope", "%2e%2e", "a" * 300, "3F1C9A2E"])
def test_get_of_a_missing_or_impossible_id_is_a_404(api: InProcessApi, item_id: str) -> None:
    assert_error(api.request("GET", f"/items/{item_id}"), 404, "NotFoundError")


# -- list --------------------------------------------------------------------------------------


def test_an_empty_table_lists_nothing(api: InProcessApi) -> None:
    assert api.request("GET", "/items").json == {"items": [], "next_cursor": None}


def test_default_page_is_20_items(api: InProcessApi) -> None:
    for n in range(21):
        api.create_item(f"item {n}")

    first = api.request("GET", "/items").json

    assert len(first["items"]) == 20
    assert first["next_cursor"]


def test_cursor_pagination_visits_every_item_exactly_once(api: InProcessApi) -> None:
    created = {api.create_item(f"item {n}")["id"] for n in range(11)}

    seen, pages = api.list_all("limit=3")

    assert [item["id"] for item in seen if item["id"] in created] == [i["id"] for i in seen]
    assert {item["id"] for item in seen} == created
    assert len(seen) == len(created)
    assert pages == 4  # 3 + 3 + 3 + 2, and the last page says so


def test_an_exactly_full_last_page_has_no_cursor(api: InProcessApi) -> None:
    for n in range(4):
        api.create_item(f"item {n}")

    _, pages = api.list_all("limit=2")

    assert pages == 2


def test_status_filter_lists_newest_first(api: InProcessApi) -> None:
    archived = [api.create_item(f"old {n}", status="archived")["id"] for n in range(5)]
    api.create_item("active one")

    seen, _ = api.list_all("status=archived&limit=2")

    assert [item["id"] for item in seen] == list(reversed(archived))
    assert {item["status"] for item in seen} == {"archived"}


def test_status_filter_follows_writes_to_status(api: InProcessApi) -> None:
    item = api.create_item("moves")
    api.request("PATCH", f"/items/{item['id']}", {"status": "archived"})

    archived, _ = api.list_all("status=archived")
    active, _ = api.list_all("status=active")

    assert [i["id"] for i in archived] == [item["id"]]
    assert active == []


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", "1000"])
def test_a_bad_limit_is_a_400(api: InProcessApi, limit: str) -> None:
    assert_error(api.request("GET", f"/items?limit={limit}"), 400, "BadRequestError", "limit")


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limit_bounds_are_accepted(api: InProcessApi, limit: str) -> None:
    assert api.request("GET", f"/items?limit={limit}").status == 200


@pytest.mark.parametrize("status", ["deleted", "ACTIVE", ""])
def test_a_bad_status_is_a_400(api: InProcessApi, status: str) -> None:
    assert_error(api.request("GET", f"/items?status={status}"), 400, "BadRequestError", "status")


def test_tampered_forged_or_foreign_cursors_are_a_400(api: InProcessApi) -> None:
    for n in range(3):
        api.create_item(f"item {n}", status="archived")
    cursor = api.request("GET", "/items?limit=1").json["next_cursor"]
    status_cursor = api.request("GET", "/items?limit=1&status=archived").json["next_cursor"]
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    forged = base64.urlsafe_b64encode(json.dumps({"id": {"S": MISSING_ID}}).encode()).decode()
    for bad in ("abc", flipped, forged, "%00", "x" * 2000):
        assert_error(api.request("GET", f"/items?cursor={bad}"), 400, "BadRequestError", "cursor")
    # A cursor of the status listing is not one of the full listing, and the other way round.
    assert_error(api.request("GET", f"/items?cursor={status_cursor}"), 400, "BadRequestError")
    assert_error(
        api.request("GET", f"/items?status=archived&cursor={cursor}"), 400, "BadRequestError"
    )
    assert_error(
        api.request("GET", f"/items?status=active&cursor={status_cursor}"), 400, "BadRequestError"
    )


# -- replace -----------------------------------------------------------------------------------


def test_put_replaces_every_field_and_resets_omitted_ones(api: InProcessApi) -> None:
    item = api.create_item(
        "full", description="d", status="archived", tags=["t"], attributes={"a": 1}
    )

    reply = api.request("PUT", f"/items/{item['id']}", {"name": "  bare  "})

    assert reply.status == 200
    replaced = reply.json
    assert reply.header("ETag") == '"2"'
    assert replaced == {
        **item,
        "name": "bare",
        "description": "",
        "status": "active",
        "tags": [],
        "attributes": {},
        "version": 2,
        "updated_at": replaced["updated_at"],
    }
    assert replaced["updated_at"] >= item["updated_at"]
    assert api.request("GET", f"/items/{item['id']}").json == replaced


def test_put_on_a_missing_id_is_a_404_and_creates_nothing(api: InProcessApi) -> None:
    assert_error(api.request("PUT", f"/items/{MISSING_ID}", {"name": "x"}), 404, "NotFoundError")
    assert stored(MISSING_ID) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": "a", "version": 9}, "version"), ({"description": "x"}, "name"), ({}, "name")],
)
def test_put_validates_like_create(api: InProcessApi, body: dict[str, Any], field: str) -> None:
    item = api.create_item()

    assert_error(api.request("PUT", f"/items/{item['id']}", body), 400, "BadRequestError", field)
    assert api.request("GET", f"/items/{item['id']}").json == item


def test_put_checks_size_and_content_type(api: InProcessApi) -> None:
    item = api.create_item()
    path = f"/items/{item['id']}"
    big = json.dumps({"name": "a", "description": "x" * (64 * 1024)}).encode()

    assert_error(api.request("PUT", path, raw=big), 413, "PayloadTooLargeError")
    assert_error(
        api.request("PUT", path, raw=b'{"name":"a"}', headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaType",
    )
    assert api.request("GET", path).json == item


# -- If-Match ----------------------------------------------------------------------------------


@pytest.mark.parametrize("if_match", ['"1"', "1", ' "1" ', "*"])
def test_a_matching_if_match_lets_the_write_through(api: InProcessApi, if_match: str) -> None:
    item = api.create_item()

    reply = api.request("PUT", f"/items/{item['id']}", {"name": "b"}, {"If-Match": if_match})

    assert reply.status == 200
    assert reply.json["version"] == 2


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_stale_if_match_is_a_412_and_writes_nothing(api: InProcessApi, method: str) -> None:
    item = api.create_item(attributes={"a": 1})
    path = f"/items/{item['id']}"
    api.request("PATCH", path, {"description": "v2"})
    before = stored(item["id"])
    body = None if method == "DELETE" else {"name": "late", "attributes": {"b": 2}}

    reply = api.request(method, path, body, {"If-Match": '"1"'})

    assert_error(reply, 412, "PreconditionFailedError", "If-Match")
    assert stored(item["id"]) == before


@pytest.mark.parametrize("if_match", ["W/1", '"a', "one", '"1" "2"', "", "1.0", "*, 1"])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_an_unparsable_if_match_is_a_400(api: InProcessApi, method: str, if_match: str) -> None:
    item = api.create_item()
    body = None if method == "DELETE" else {"name": "x"}

    reply = api.request(method, f"/items/{item['id']}", body, {"If-Match": if_match})

    assert_error(reply, 400, "BadRequestError", "If-Match")
    assert api.request("GET", f"/items/{item['id']}").json == item


def test_without_if_match_the_last_writer_wins(api: InProcessApi) -> None:
    item = api.create_item()
    path = f"/items/{item['id']}"

    api.request("PUT", path, {"name": "first"})
    last = api.request("PUT", path, {"name": "second"})

    assert last.json["name"] == "second"
    assert last.json["version"] == 3


# -- merge patch -------------------------------------------------------------------------------


def test_patch_sets_present_keys_and_keeps_the_rest(api: InProcessApi) -> None:
    item = api.create_item("mug", description="blue", tags=["k"], attributes={"a": 1})

    reply = api.request("PATCH", f"/items/{item['id']}", {"description": "red", "tags": []})

    assert reply.status == 200
    assert reply.header("ETag") == '"2"'
    assert reply.json == {
        **item,
        "description": "red",
        "tags": [],
        "version": 2,
        "updated_at": reply.json["updated_at"],
    }


def test_patch_null_resets_an_optional_field(api: InProcessApi) -> None:
    item = api.create_item("mug", description="blue", status="archived", tags=["k"])

    patched = api.request(
        "PATCH", f"/items/{item['id']}", {"description": None, "status": None, "tags": None}
    ).json

    assert (patched["description"], patched["status"], patched["tags"]) == ("", "active", [])


def test_patch_name_null_is_a_400(api: InProcessApi) -> None:
    item = api.create_item()

    assert_error(
        api.request("PATCH", f"/items/{item['id']}", {"name": None}), 400, "BadRequestError", "name"
    )


def test_patch_merges_attributes_recursively(api: InProcessApi) -> None:
    item = api.create_item(attributes={"a": 1, "b": {"c": 2, "d": 3}, "list": [1, 2]})

    patched = api.request(
        "PATCH",
        f"/items/{item['id']}",
        {"attributes": {"a": None, "b": {"d": None, "e": 4}, "list": [3], "new": "x"}},
    ).json

    assert patched["attributes"] == {"b": {"c": 2, "e": 4}, "list": [3], "new": "x"}


def test_patch_attributes_null_resets_them(api: InProcessApi) -> None:
    item = api.create_item(attributes={"a": 1})

    assert (
        api.request("PATCH", f"/items/{item['id']}", {"attributes": None}).json["attributes"] == {}
    )


def test_patch_checks_the_merged_attributes_against_the_limits(api: InProcessApi) -> None:
    item = api.create_item(attributes={"a": "x" * (12 * 1024)})

    reply = api.request("PATCH", f"/items/{item['id']}", {"attributes": {"b": "y" * (8 * 1024)}})

    assert_error(reply, 400, "BadRequestError", "attributes")
    assert api.request("GET", f"/items/{item['id']}").json == item


def test_merge_patch_content_type_is_accepted(api: InProcessApi) -> None:
    item = api.create_item()

    reply = api.request(
        "PATCH",
        f"/items/{item['id']}",
        raw=b'{"status": "archived"}',
        headers={"Content-Type": "application/merge-patch+json"},
    )

    assert reply.status == 200
    assert reply.json["status"] == "archived"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "x"}, "id"),
        ({"version": 3}, "version"),
        ({"colour": "red"}, "colour"),
        ({"tags": ["a", "a"]}, "tags"),
        ({"status": "gone"}, "status"),
        ({"name": " "}, "name"),
    ],
)
def test_patch_validates_the_fields_it_sets(
    api: InProcessApi, body: dict[str, Any], field: str
) -> None:
    item = api.create_item()

    assert_error(api.request("PATCH", f"/items/{item['id']}", body), 400, "BadRequestError", field)
    assert api.request("GET", f"/items/{item['id']}").json == item


def test_patch_of_a_missing_item_is_a_404(api: InProcessApi) -> None:
    for body in ({"name": "x"}, {"attributes": {"a": 1}}):
        assert_error(api.request("PATCH", f"/items/{MISSING_ID}", body), 404, "NotFoundError")
    assert stored(MISSING_ID) is None


def test_patch_checks_size_and_content_type(api: InProcessApi) -> None:
    item = api.create_item()
    path = f"/items/{item['id']}"
    big = json.dumps({"description": "x" * (64 * 1024)}).encode()

    assert_error(api.request("PATCH", path, raw=big), 413, "PayloadTooLargeError")
    assert_error(
        api.request("PATCH", path, raw=b"{}", headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaType",
    )


# -- delete ------------------------------------------------------------------------------------


def test_delete_answers_204_with_an_empty_body_then_404(api: InProcessApi) -> None:
    item = api.create_item()
    path = f"/items/{item['id']}"

    reply = api.request("DELETE", path, headers={"If-Match": '"1"'})

    assert reply.status == 204
    assert reply.body == b""
    assert stored(item["id"]) is None
    assert_error(api.request("GET", path), 404, "NotFoundError")
    assert_error(api.request("DELETE", path), 404, "NotFoundError")


def test_delete_of_a_missing_item_is_a_404(api: InProcessApi) -> None:
    assert_error(api.request("DELETE", f"/items/{MISSING_ID}"), 404, "NotFoundError")


# -- health and headers ------------------------------------------------------------------------


def test_health_reports_each_dependency(api: InProcessApi) -> None:
    reply = api.request("GET", "/health")

    assert reply.status == 200
    assert reply.json == {"status": "ok", "checks": {"dynamodb": "ok", "s3": "ok"}}


def test_responses_carry_the_cors_headers(api: InProcessApi) -> None:
    from chalicelib.routes import common

    item = api.create_item()

    for reply in (
        api.request("GET", f"/items/{item['id']}"),
        api.request("GET", f"/items/{MISSING_ID}"),
        api.request("POST", "/items", raw=b"{}", headers={"Content-Type": "text/plain"}),
    ):
        # The origin is read once, when the app module is first imported (Chalice bakes it
        # into the route table), so it is whatever that import saw.
        assert reply.header("Access-Control-Allow-Origin") == common.CORS.allow_origin
        assert set(reply.header("Access-Control-Expose-Headers").split(",")) == {  # type: ignore[union-attr]
            "ETag",
            "Location",
            "Retry-After",
        }
        allowed = reply.header("Access-Control-Allow-Headers").lower().split(",")  # type: ignore[union-attr]
        assert {"if-match", "idempotency-key", "x-api-key", "content-type"} <= set(allowed)


# -- DynamoDB requests per operation -----------------------------------------------------------


def only(sent: list[tuple[str, dict[str, Any]]], operation: str) -> dict[str, Any]:
    assert [name for name, _ in sent] == [operation], sent
    return sent[0][1]


def assert_conditional(params: dict[str, Any]) -> None:
    assert params["ConditionExpression"]
    names = params.get("ExpressionAttributeNames", {})
    for expression in ("ConditionExpression", "UpdateExpression"):
        text = params.get(expression, "")
        # Every attribute name in an expression is a placeholder.
        for word in text.replace("(", " ").replace(")", " ").replace(",", " ").split():
            if word[0].isalpha() and word.upper() not in {
                "SET",
                "REMOVE",
                "ADD",
                "DELETE",
                "AND",
                "OR",
                "NOT",
                "ATTRIBUTE_EXISTS",
                "ATTRIBUTE_NOT_EXISTS",
                "IF_NOT_EXISTS",
                "LIST_APPEND",
                "SIZE",
            }:
                raise AssertionError(f"{word!r} in {text!r} is not a placeholder")
    assert all(name.startswith("#") for name in names)


def test_create_is_one_transaction_with_a_conditional_put(api: InProcessApi, ddb: Requests) -> None:
    sent = ddb.during(lambda: api.create_item(attributes={"status": 1, "#a": 2}))

    params = only(sent, "TransactWriteItems")
    item = params["TransactItems"][0]["Put"]
    assert item["Item"]["sk"] == {"S": ITEM_RECORD}
    assert "attribute_not_exists" in item["ConditionExpression"]
    assert_conditional(item)
    # The rest are the item's filter entries (see test_filters.py).
    assert all(
        action["Put"]["Item"]["sk"]["S"].startswith("item#entry#")
        for action in params["TransactItems"][1:]
    )


def test_get_is_one_get_item(api: InProcessApi, ddb: Requests) -> None:
    item = api.create_item()

    only(ddb.during(lambda: api.request("GET", f"/items/{item['id']}")), "GetItem")


@pytest.mark.parametrize("if_match", [None, '"1"'])
def test_put_reads_the_item_then_writes_it_with_its_entries_conditionally(
    api: InProcessApi, ddb: Requests, if_match: str | None
) -> None:
    """A PUT sets the name, the tags and the status, which decide the filter listings the item
    is in: it reads the item, then writes it and its entries in one transaction, conditional
    on the version it read (so a concurrent write is never overwritten)."""
    item = api.create_item()
    headers = {"If-Match": if_match} if if_match else {}

    sent = ddb.during(
        lambda: api.request(
            "PUT", f"/items/{item['id']}", {"name": "b", "attributes": {"a.b": 1}}, headers
        )
    )

    assert [name for name, _ in sent] == ["GetItem", "TransactWriteItems"]
    assert sent[0][1]["ConsistentRead"] is True
    update = sent[1][1]["TransactItems"][0]["Update"]
    assert_conditional(update)
    assert {"N": "1"} in update["ExpressionAttributeValues"].values()  # the version it read
    # A failed condition returns the stored item, so the same request tells 404 from a race.
    assert update["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


@pytest.mark.parametrize(
    "patch", [{"description": "b"}, {"attributes": None}, {"description": "x", "attributes": None}]
)
def test_patch_of_fields_no_filter_lists_is_one_conditional_update(
    api: InProcessApi, ddb: Requests, patch: dict[str, Any]
) -> None:
    item = api.create_item(attributes={"a": 1})

    sent = ddb.during(lambda: api.request("PATCH", f"/items/{item['id']}", patch))

    params = only(sent, "UpdateItem")
    assert_conditional(params)
    assert params["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


def test_patch_merging_attributes_reads_then_writes_conditionally(
    api: InProcessApi, ddb: Requests
) -> None:
    item = api.create_item(attributes={"a": 1})

    path = f"/items/{item['id']}"
    sent = ddb.during(lambda: api.request("PATCH", path, {"attributes": {"b": 2}}))

    assert [name for name, _ in sent] == ["GetItem", "UpdateItem"]
    write = sent[1][1]
    assert_conditional(write)
    assert {"N": "1"} in write["ExpressionAttributeValues"].values()  # the version it read


def test_delete_is_one_conditional_delete(api: InProcessApi, ddb: Requests) -> None:
    item = api.create_item()

    sent = ddb.during(lambda: api.request("DELETE", f"/items/{item['id']}"))

    params = only(sent, "DeleteItem")
    assert_conditional(params)
    assert params["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


@pytest.mark.parametrize(
    ("query", "index", "partition"),
    [
        ("", ALL_ITEMS_INDEX, "all#{shard}"),
        ("&status=archived", STATUS_INDEX, "archived#{shard}"),
    ],
)
def test_a_list_page_queries_every_shard_once_then_reads_its_items_in_one_batch(
    api: InProcessApi, ddb: Requests, query: str, index: Any, partition: str
) -> None:
    for n in range(5):
        api.create_item(f"item {n}", status="archived")

    sent = ddb.during(lambda: api.request("GET", f"/items?limit=2{query}"))

    queries = [params for name, params in sent if name == "Query"]
    assert [name for name, _ in sent] == ["Query"] * LISTING_SHARDS + ["BatchGetItem"]
    assert {q["ExpressionAttributeValues"][":pk"]["S"] for q in queries} == {
        partition.format(shard=shard) for shard in range(LISTING_SHARDS)
    }
    for params in queries:
        assert params["IndexName"] == index.name
        assert params["ScanIndexForward"] is False  # newest first
        assert params["Limit"] == 3  # one more than the page: no shard runs dry mid-page
    (batch,) = [params for name, params in sent if name == "BatchGetItem"]
    (request,) = batch["RequestItems"].values()
    assert len(request["Keys"]) == 2
    assert "ConsistentRead" not in request  # an index is eventually consistent anyway


def test_a_later_page_resumes_every_shard_where_the_page_before_left_it(
    api: InProcessApi, ddb: Requests
) -> None:
    for n in range(40):
        api.create_item(f"item {n}")
    first = api.request("GET", "/items?limit=20").json

    sent = ddb.during(lambda: api.request("GET", f"/items?limit=20&cursor={first['next_cursor']}"))

    queries = [params for name, params in sent if name == "Query"]
    resumed = [q for q in queries if "ExclusiveStartKey" in q]
    assert resumed, "no shard resumed after the first page"
    for params in resumed:
        start = params["ExclusiveStartKey"]
        assert set(start) == {"all_shard", "created_key", "id", "sk"}
        assert start["all_shard"] == params["ExpressionAttributeValues"][":pk"]
        assert start["created_key"]["S"].endswith(start["id"]["S"])


def test_refused_requests_never_reach_dynamodb(api: InProcessApi, ddb: Requests) -> None:
    item = api.create_item()
    path = f"/items/{item['id']}"

    for method, target, body, headers in (
        ("POST", "/items", {"name": ""}, {}),
        ("PUT", path, {"name": "a"}, {"If-Match": "x"}),
        ("PATCH", path, {"name": None}, {}),
        ("GET", "/items?cursor=forged", None, {}),
        ("GET", "/items?limit=0", None, {}),
    ):
        assert ddb.during(lambda: api.request(method, target, body, headers)) == []  # noqa: B023
