"""Issue 11: every client mistake is a 4xx in the error shape and writes nothing. One section per
class of mistake found, each trying every member of its class on every route it can reach.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.unit.harness import InProcessApi, Reply
from tests.unit.hostile import (
    AwsRequests,
    Store,
    assert_error,
    error_problems,
    reference_if_match,
)

MISSING_ID = "00000000-0000-4000-8000-000000000000"
ATTACHMENT_ID = "0" * 28


@pytest.fixture
def store(api: InProcessApi) -> Store:
    return Store()


@pytest.fixture
def item(api: InProcessApi) -> dict[str, Any]:
    return api.create_item("target", attributes={"kept": 1})


def body_routes(item_id: str) -> list[tuple[str, str]]:
    """Every route that reads a body."""
    return [
        ("POST", "/items"),
        ("PUT", f"/items/{item_id}"),
        ("PATCH", f"/items/{item_id}"),
        ("POST", f"/items/{item_id}/attachments"),
    ]


def send(api: InProcessApi, method: str, path: str, raw: bytes, key: str | None) -> Reply:
    headers = {"Idempotency-Key": key} if key and method == "POST" else {}
    return api.request(method, path, raw=raw, headers=headers)


# -- numbers outside what Python or DynamoDB accepts, in every spelling ------------------------

HUGE_NUMBERS = [
    "1" * 5000,  # beyond Python's int-to-string limit (4300 digits)
    "-" + "9" * 4301,
    "1" * 4300,  # just inside it
    "1" + "0" * 4400,  # an exact power of ten, far beyond DynamoDB
    "1e999999999999999999999",  # beyond any decimal context
    "-1e-999999999999999999999",
    "1E+999999999999999999",  # the largest exponent Decimal holds
    "1.5e-999999999999999999",
    "0e999999999999999999999",  # zero with an impossible exponent
    "12345678901234567890123456789012345678.9",  # 39 significant digits
    "1E+126",
    "1e-131",
    "-0.0e-1000000000000000000000000",
]


@pytest.mark.parametrize("key", [None, "numbers-key"])
def test_a_number_no_field_can_hold_is_a_400_naming_the_field(
    api: InProcessApi, store: Store, item: dict[str, Any], key: str | None
) -> None:
    fields = {
        "attributes.n": '{"name": "a", "attributes": {"n": VALUE}}',
        "attributes.deep[0]": '{"name": "a", "attributes": {"deep": [VALUE]}}',
        "name": '{"name": VALUE}',
        "description": '{"name": "a", "description": VALUE}',
        "status": '{"name": "a", "status": VALUE}',
        "tags.0": '{"name": "a", "tags": [VALUE]}',
    }
    with store.unchanged():
        for number in HUGE_NUMBERS:
            for method, path in body_routes(item["id"])[:3]:
                for field, template in fields.items():
                    if number.startswith("-0.0e") and field.startswith("attributes"):
                        continue  # zero, whatever its exponent, is a number DynamoDB holds
                    raw = template.replace("VALUE", number).encode()
                    assert_error(send(api, method, path, raw, key), 400, field)


def test_a_size_no_integer_field_takes_is_a_400_naming_size(
    api: InProcessApi, store: Store, item: dict[str, Any]
) -> None:
    path = f"/items/{item['id']}/attachments"
    with store.unchanged():
        for number in HUGE_NUMBERS:
            if number.startswith("-0.0e"):
                continue  # zero: refused too, as a size below 1
            raw = f'{{"filename": "a", "content_type": "text/plain", "size": {number}}}'.encode()
            assert_error(api.request("POST", path, raw=raw), 400, "size")


def test_zero_with_any_exponent_is_zero(api: InProcessApi) -> None:
    raw = b'{"name": "a", "attributes": {"z": 0e999999999999999999, "m": -0.0e-99}}'
    reply = api.request("POST", "/items", raw=raw)
    assert reply.status == 201, reply.body
    assert {k: Decimal(v) for k, v in json.loads(reply.body)["attributes"].items()} == {
        "z": 0,
        "m": 0,
    }


@pytest.mark.parametrize("size", ["5.0", "5E0", "0.5E1", "500E-2"])
def test_an_integral_size_in_any_spelling_is_that_integer(
    api: InProcessApi, item: dict[str, Any], size: str
) -> None:
    """JSON Schema (the document says ``integer``) counts 5.0 as an integer; so does the API."""
    raw = f'{{"filename": "a.txt", "content_type": "text/plain", "size": {size}}}'.encode()
    reply = api.request("POST", f"/items/{item['id']}/attachments", raw=raw)
    assert reply.status == 201, reply.body
    assert json.loads(reply.body)["attachment"]["size"] == 5


def test_idempotent_creates_tell_38_digit_numbers_apart(api: InProcessApi) -> None:
    """The fingerprint compared numbers at 28 digits: two bodies differing in the 38th digit
    replayed each other instead of being a 422."""
    first = b'{"name": "a", "attributes": {"n": 12345678901234567890123456789012345678}}'
    other = b'{"name": "a", "attributes": {"n": 12345678901234567890123456789012345679}}'
    headers = {"Idempotency-Key": "digits"}
    assert api.request("POST", "/items", raw=first, headers=headers).status == 201
    assert_error(api.request("POST", "/items", raw=other, headers=headers), 422, "Idempotency-Key")


# -- deep nesting, reached before validation ---------------------------------------------------


def nested_object(levels: int, leaf: str = "1") -> str:
    return '{"a":' * levels + leaf + "}" * levels


def nested_array(levels: int, leaf: str = "1") -> str:
    return "[" * levels + leaf + "]" * levels


@pytest.mark.parametrize("key", [None, "deep-key"])
def test_a_body_nested_too_deeply_is_a_400_naming_the_field(
    api: InProcessApi, store: Store, item: dict[str, Any], key: str | None
) -> None:
    bodies = {
        "attributes": '{"name": "a", "attributes": VALUE}',
        "name": '{"name": VALUE}',
        "tags": '{"name": "a", "tags": VALUE}',
        "colour": '{"name": "a", "colour": VALUE}',
        "filename": '{"filename": VALUE, "content_type": "text/plain", "size": 1}',
    }
    cases = [
        (method, path, field, template.replace("VALUE", nest(levels)).encode())
        for levels in (17, 18, 100, 300, 900)
        for nest in (nested_object, nested_array)
        for method, path in body_routes(item["id"])
        for field, template in bodies.items()
        if (field == "filename") == path.endswith("/attachments")
    ]
    with store.unchanged():
        for method, path, field, raw in cases:
            reply = send(api, method, path, raw, key)
            assert_error(reply, 400, field)
            assert "nested deeper than 16 levels" in json.loads(reply.body)["Message"]


@pytest.mark.parametrize("key", [None, "deepest-key"])
def test_a_body_nested_as_deep_as_64_kib_allows_is_a_400(
    api: InProcessApi, store: Store, item: dict[str, Any], key: str | None
) -> None:
    levels = (64 * 1024 - 100) // 2
    with store.unchanged():
        for method, path in body_routes(item["id"]):
            text = '{"name": "a", "attributes": {"a": VALUE}}'
            raw = text.replace("VALUE", nested_array(levels)).encode()
            assert len(raw) <= 64 * 1024
            assert_error(send(api, method, path, raw, key), 400)


def test_16_levels_are_accepted_with_an_idempotency_key(api: InProcessApi) -> None:
    # 16 levels, attributes itself the first
    raw = '{"name": "a", "attributes": VALUE}'.replace("VALUE", nested_object(16)).encode()
    first = api.request("POST", "/items", raw=raw, headers={"Idempotency-Key": "k16"})
    again = api.request("POST", "/items", raw=raw, headers={"Idempotency-Key": "k16"})
    assert first.status == again.status == 201, first.body
    assert again.body == first.body


def test_every_step_after_parsing_handles_the_deepest_body_parsing_lets_through() -> None:
    """Parsing bounds the depth; each later walk of a body (fingerprint, validation, the size
    check's serialization) then runs in a small fraction of the recursion limit."""
    from chalicelib.items.idempotency import fingerprint
    from chalicelib.items.validation import validate_patch, validate_write
    from chalicelib.jsonio import MAX_FIELD_DEPTH, dumps, parse_json_object

    raw = '{"name": "a", "attributes": VALUE}'.replace("VALUE", nested_object(MAX_FIELD_DEPTH))
    raw_body = raw.encode()
    body = parse_json_object(raw_body)

    def at_depth(frames: int, action: Any) -> Any:
        return action() if frames == 0 else at_depth(frames - 1, action)

    headroom = sys.getrecursionlimit() - 6 * MAX_FIELD_DEPTH - 100
    for step in (
        lambda: fingerprint(body),
        lambda: validate_write(body),
        lambda: validate_patch({"attributes": body["attributes"]}),
        lambda: dumps(body),
    ):
        at_depth(headroom, step)


# -- control characters in text that people read -----------------------------------------------

C0 = [chr(c) for c in range(0x00, 0x20)]
C1 = [chr(c) for c in range(0x7F, 0xA0)]
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
CONTROLS = C0 + C1 + BIDI


def test_names_and_tags_refuse_every_control_character(
    api: InProcessApi, store: Store, item: dict[str, Any]
) -> None:
    cases = [
        (body, field)
        for ch in CONTROLS
        for text in (f"{ch}mug", f"m{ch}ug", f"mug{ch}")
        for body, field in (
            ({"name": text}, "name"),
            ({"name": "a", "tags": ["ok", text]}, "tags.1"),
        )
    ]
    with store.unchanged():
        for body, field in cases:
            for method, path in body_routes(item["id"])[:3]:
                assert_error(api.request(method, path, body), 400, field)


def test_descriptions_allow_tab_and_newline_and_no_other_control(
    api: InProcessApi, store: Store, item: dict[str, Any]
) -> None:
    kept = api.create_item("a", description="line one\n\tline two\n")
    assert kept["description"] == "line one\n\tline two\n"
    with store.unchanged():
        for ch in CONTROLS:
            if ch in "\t\n":
                continue
            for method, path in body_routes(item["id"])[:3]:
                reply = api.request(method, path, {"name": "a", "description": f"x{ch}y"})
                assert_error(reply, 400, "description")


def test_filenames_refuse_every_control_character(
    api: InProcessApi, store: Store, item: dict[str, Any]
) -> None:
    with store.unchanged():
        for ch in CONTROLS:
            body = {"filename": f"a{ch}.txt", "content_type": "text/plain", "size": 1}
            reply = api.request("POST", f"/items/{item['id']}/attachments", body)
            assert_error(reply, 400, "filename")


def test_attributes_keep_any_string_exactly(api: InProcessApi) -> None:
    text = "".join(CONTROLS) + "\u200b\ufeff"
    created = api.create_item("a", attributes={text: text, "list": [text]})
    fetched = api.request("GET", f"/items/{created['id']}").json
    assert fetched["attributes"] == {text: text, "list": [text]}


@pytest.mark.parametrize(
    "name", ["  Blue mug  ", "\u00a0Blue mug\u3000", "Blue\u200bmug", "\ufeffmug", "x" * 200]
)
def test_names_without_controls_are_trimmed_of_white_space_only(
    api: InProcessApi, name: str
) -> None:
    assert api.create_item(name)["name"] == name.strip()


@pytest.mark.parametrize("name", [" \u00a0 ", "\u3000", " " + "x" * 201])
def test_a_name_of_only_white_space_or_too_long_once_trimmed_is_a_400(
    api: InProcessApi, name: str
) -> None:
    assert_error(api.request("POST", "/items", {"name": name}), 400, "name")


def test_a_name_may_be_200_characters_between_any_white_space(api: InProcessApi) -> None:
    assert len(api.create_item("\u2003 " + "x" * 200 + " \u00a0")["name"]) == 200


# -- ids that are almost ids -------------------------------------------------------------------

ALMOST_IDS = [
    "{id}\n",
    "{id}\r\n",
    "\n{id}",
    "{id} ",
    " {id}",
    "{id}\x00",
    "{id}\t",
    "{ID}",  # upper case
    "{id}0",
    "{id}/",
    "{id}%0A",
    "x" * 5000,
    "\u202e" + "a" * 100,
]


def id_routes(item_id: str, attachment_id: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        yield method, "/items/{item_id}", {"item_id": item_id}
    for method in ("GET", "POST"):
        yield method, "/items/{item_id}/attachments", {"item_id": item_id}
    for method in ("GET", "DELETE"):
        parameters = {"item_id": item_id, "attachment_id": attachment_id}
        yield method, "/items/{item_id}/attachments/{attachment_id}", parameters


def test_an_almost_id_is_a_404_without_any_request_to_aws(
    api: InProcessApi, store: Store, item: dict[str, Any]
) -> None:
    created = api.request(
        "POST",
        f"/items/{item['id']}/attachments",
        {"filename": "a.txt", "content_type": "text/plain", "size": 1},
    ).json["attachment"]
    sent = AwsRequests(api)
    bodies = {
        "PUT": b'{"name": "x"}',
        "PATCH": b'{"name": "x"}',
        "POST": b'{"filename": "a.txt", "content_type": "text/plain", "size": 1}',
    }
    with store.unchanged():
        for template in ALMOST_IDS:
            bad_item = template.format(id=item["id"], ID=item["id"].upper())
            bad_attachment = template.format(id=created["id"], ID=created["id"].upper())
            for good_item, good_attachment in ((False, False), (True, False), (False, True)):
                item_id = item["id"] if good_item else bad_item
                attachment_id = created["id"] if good_attachment else bad_attachment
                for method, resource, parameters in id_routes(item_id, attachment_id):
                    if good_item and "attachment_id" not in parameters:
                        continue  # nothing malformed in this request
                    sent.sent.clear()
                    reply = api.gateway(method, resource, parameters, body=bodies.get(method))
                    assert_error(reply, 404)
                    assert sent.sent == [], (template, method, resource)


def test_an_id_is_echoed_in_a_message_only_up_to_a_bounded_length(api: InProcessApi) -> None:
    long_id = "a" * 5000
    reply = api.gateway("GET", "/items/{item_id}", {"item_id": long_id})
    message = json.loads(reply.body)["Message"]
    assert len(message) < 200
    assert message.startswith("item " + "a" * 80 + "...")


def test_the_late_upload_sweep_ignores_almost_keys(api: InProcessApi) -> None:
    from chalicelib.attachments.keys import parse_object_key

    item_id, attachment_id = MISSING_ID, ATTACHMENT_ID
    assert parse_object_key(f"attachments/{item_id}/{attachment_id}") == (item_id, attachment_id)
    for key in (
        f"attachments/{item_id}/{attachment_id}\n",
        f"attachments/{item_id}\n/{attachment_id}",
    ):
        assert parse_object_key(key) is None


# -- If-Match as RFC 9110 compares entity-tags --------------------------------------------------


IF_MATCH_CASES = [
    ('"2"', "match"),
    ("2", "match"),
    ('"02"', "mismatch"),
    ("02", "mismatch"),
    ('W/"2"', "mismatch"),
    ('"1", "2"', "match"),
    ('W/"2", "3"', "mismatch"),
    ('W/"2", "2"', "match"),
    ('"x", "2"', "match"),
    ('"a,b", 2', "match"),
    ('"a"', "mismatch"),
    ('""', "mismatch"),
    ('"2" , ,', "match"),
    ('"+2"', "mismatch"),
    ('" 2"', "invalid"),
    ('"2', "invalid"),
    ("W/2", "invalid"),
    ("*, 2", "invalid"),
    ('"2" "3"', "invalid"),
    ("2.0", "invalid"),
    ("", "invalid"),
    (",", "invalid"),
    ("\u0662", "invalid"),  # an Arabic-Indic digit two is no ASCII digit
]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_uses_strong_comparison(api: InProcessApi, store: Store, method: str) -> None:
    for if_match, outcome in IF_MATCH_CASES:
        item = api.create_item("v1")
        path = f"/items/{item['id']}"
        assert api.request("PATCH", path, {"description": "v2"}).json["version"] == 2
        assert reference_if_match(if_match, 2) == outcome, if_match
        body = None if method == "DELETE" else {"name": "v3"}
        before = store.snapshot()

        reply = api.request(method, path, body, {"If-Match": if_match})

        if outcome == "match":
            assert reply.status == (204 if method == "DELETE" else 200), (if_match, reply.body)
            continue
        assert_error(reply, 400 if outcome == "invalid" else 412, "If-Match")
        assert store.snapshot() == before, if_match


def test_an_if_match_that_can_match_nothing_is_a_404_for_a_missing_item(
    api: InProcessApi,
) -> None:
    for if_match in ('W/"1"', '"01"', '"1", "2"'):
        reply = api.request("PUT", f"/items/{MISSING_ID}", {"name": "x"}, {"If-Match": if_match})
        assert_error(reply, 404)


def test_the_documented_if_match_pattern_is_the_servers_grammar() -> None:
    import jsonschema_rs

    from chalicelib.routes.web import IF_MATCH_PATTERN

    validator = jsonschema_rs.validator_for({"type": "string", "pattern": IF_MATCH_PATTERN})
    for value in ('"1"', "1", 'W/"x", "2"', "*", ' "1" ', '"1",', '"a,b"'):
        assert validator.is_valid(value), value
        assert reference_if_match(value, 1) != "invalid"
    for value in ('"1"\n', "W/1", "*, 1", "", ",", '"1" "2"', "1.0"):
        assert not validator.is_valid(value), value
        assert reference_if_match(value, 1) == "invalid"


# -- requests without a body are not refused for their Content-Type ----------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "image/png", "nonsense"]
)
def test_a_body_less_get_or_delete_is_not_refused_for_its_content_type(
    api: InProcessApi, item: dict[str, Any], content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    path = f"/items/{item['id']}"
    for method, target in (
        ("GET", "/items"),
        ("GET", path),
        ("GET", f"{path}/attachments"),
        ("GET", f"{path}/attachments/{ATTACHMENT_ID}"),
        ("DELETE", f"{path}/attachments/{ATTACHMENT_ID}"),
        ("GET", "/health"),
        ("GET", "/openapi.json"),
    ):
        reply = api.request(method, target, headers=headers)
        assert reply.status in (200, 404), (method, target, reply.body)
    assert api.request("DELETE", path, headers=headers).status == 204
    # A body route still checks it.
    assert_error(api.request("POST", "/items", raw=b"{}", headers=headers), 415)


# -- Retry-After on every "retry later" ---------------------------------------------------------


def test_every_retry_later_answer_carries_retry_after() -> None:
    from chalicelib import errors

    for error in (
        errors.ConflictError,
        errors.ThrottledError,
        errors.DependencyUnavailableError,
    ):
        assert error.RETRY_AFTER is not None, error
        assert error.RETRY_AFTER >= 1, error


def test_browsers_can_read_retry_after(api: InProcessApi) -> None:
    reply = api.request("GET", "/items")
    exposed = (reply.header("Access-Control-Expose-Headers") or "").split(",")
    assert "Retry-After" in exposed


def test_the_error_check_notices_an_answer_in_another_shape() -> None:
    bad = Reply(500, {"Content-Type": "text/html"}, b"<h1>oops</h1>")
    assert error_problems(bad) != []


# -- query strings ------------------------------------------------------------------------------


def test_limit_is_ascii_digits_of_1_to_100_however_many_leading_zeros(api: InProcessApi) -> None:
    for limit in ("007", "0100", "0" * 5000 + "1"):
        assert api.request("GET", f"/items?limit={limit}").status == 200, limit
    for limit in ("\u0661", "\u0967\u0966", "1\u0660", "0" * 5000):
        assert_error(api.request("GET", f"/items?limit={limit}"), 400, "limit")


def test_a_refused_content_type_is_named_bounded_and_escaped(api: InProcessApi) -> None:
    reply = api.request("POST", "/items", raw=b"{}", headers={"Content-Type": "\x1f" + "t" * 500})
    assert_error(reply, 415, "Content-Type: \\u001f" + "t" * 79 + "...")


def test_the_snapshot_reads_what_the_aws_api_reads(api: InProcessApi, store: Store) -> None:
    from tests.unit.harness import start_upload, upload

    item = api.create_item("x", attributes={"n": 1.5, "list": [1, "a", None], "m": {"k": True}})
    upload(start_upload(api, item["id"]), b"hello world")
    api.request("POST", "/items", {"name": "y"}, {"Idempotency-Key": "snap"})
    snapshot = store.snapshot()
    assert snapshot == store.scanned()
    # Two items, each with its name-prefix listing entry, and the attachment's record.
    assert len(snapshot["items"]) == 5
    assert len(snapshot["idempotency"]) == 1
    assert len(snapshot["files"]) == 1


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("stauts=archived", "stauts"),
        ("LIMIT=5", "LIMIT"),
        ("limit=5&limit=6", "limit"),
        ("status=active&status=archived", "status"),
        ("x-schemathesis-unknown-property=42", "x-schemathesis-unknown-property"),
    ],
)
def test_a_listing_refuses_a_query_parameter_it_does_not_take_or_takes_twice(
    api: InProcessApi, item: dict[str, Any], query: str, names: str
) -> None:
    """``?stauts=archived`` silently ignored would answer every item."""
    assert_error(api.request("GET", f"/items?{query}"), 400, names)
    if not query.startswith("status"):
        reply = api.request("GET", f"/items/{item['id']}/attachments?{query}")
        assert_error(reply, 400, names)
    assert_error(api.request("GET", f"/items/{item['id']}/attachments?status=active"), 400)
