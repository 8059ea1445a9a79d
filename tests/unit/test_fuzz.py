"""Our own fuzzers (issue 11): hostile request bodies, headers, query strings and path
parameters, through the real app on in-process moto.

What schemathesis generates stays (mostly) inside the document; these strategies
(``tests/strategies.py``) go outside it on purpose. Every answer must be below 500; every error
is in the contract's shape; a refused request leaves every table and the bucket exactly as they
were; an accepted item keeps the contract's rules; and the server accepts a body exactly when the
served OpenAPI document does (``DocumentOracle``), so a rule the code enforces without the
document saying so, or the other way round, fails here.

A fixed seed and ``FUZZ_EXAMPLES`` examples per test (default: a few hundred, bounded for
``make test``); ``make fuzz`` runs the same tests with ``FUZZ_EXAMPLES=20000``.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from chalicelib.items.repository import is_item_id, item_key
from tests import strategies as hostile
from tests.unit.harness import ITEMS, InProcessApi, Reply
from tests.unit.hostile import (
    AwsRequests,
    DocumentOracle,
    Store,
    error_problems,
    reference_if_match,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SEED = int(os.environ.get("FUZZ_SEED", "20261201"))
FUZZ = settings(
    max_examples=EXAMPLES,
    database=None,
    deadline=None,
    # One app, tables and bucket for all examples of a test: each example compares only what it
    # changed, so sharing the function-scoped fixture is sound.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What each test saw, by outcome (printed by `make fuzz`, and in docs/reliability.md).
OUTCOMES: dict[str, Counter[str]] = {}


def tally(test: str, outcome: str) -> None:
    OUTCOMES.setdefault(test, Counter())[outcome] += 1


@pytest.fixture(scope="module", autouse=True)
def report_outcomes() -> Iterator[None]:
    yield
    if os.environ.get("FUZZ_REPORT"):
        with open(os.environ["FUZZ_REPORT"], "a", encoding="utf-8") as report:
            for test, counts in sorted(OUTCOMES.items()):
                report.write(json.dumps({"test": test, "outcomes": dict(counts)}) + "\n")


class Target:
    """The app, its stored state, an item to write to and the document's verdicts."""

    def __init__(self, api: InProcessApi) -> None:
        self.api = api
        self.store = Store()
        self.aws = AwsRequests(api)
        document = api.request("GET", "/openapi.json")
        self.oracle = DocumentOracle(
            json.loads(document.body, parse_float=__import__("decimal").Decimal)
        )
        self.item = api.create_item("target", attributes={"kept": 1})
        self._stale = False

    @property
    def item_id(self) -> str:
        return str(self.item["id"])

    def refresh(self) -> dict[str, Any]:
        """The item to write to, as stored now (read only after a write may have changed it)."""
        if self._stale:
            reply = self.api.request("GET", f"/items/{self.item_id}")
            if reply.status == 404:  # deleted by an example: a new one to write to
                self.item = self.api.create_item("target", attributes={"kept": 1})
            else:
                self.item = reply.json
            self._stale = False
        return self.item

    def observe(self, method: str, reply: Reply) -> None:
        """Note an answer that may have changed the item."""
        if method in ("PUT", "PATCH", "DELETE") and reply.status < 300:
            self._stale = True

    def attachment_count(self) -> int:
        """How many attachment records the target item has (each is live: none has expired)."""
        from chalicelib.schema import ATTACHMENT_RECORD_PREFIX

        found = self.store.dynamodb.query(
            TableName=ITEMS,
            KeyConditionExpression="#id = :id AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#id": "id", "#sk": "sk"},
            ExpressionAttributeValues={
                ":id": {"S": self.item_id},
                ":prefix": {"S": ATTACHMENT_RECORD_PREFIX},
            },
            Select="COUNT",
        )
        return int(found["Count"])


@pytest.fixture
def target(api: InProcessApi) -> Target:
    return Target(api)


def check_error(reply: Reply) -> None:
    assert reply.status < 500, reply.body[:500]
    if reply.status >= 400:
        assert error_problems(reply) == [], (reply.status, reply.body[:300])


def item_problems(item: dict[str, Any]) -> list[str]:
    """Where an accepted item breaks the contract's rules (empty: nowhere)."""
    problems = []
    name = item["name"]
    if not 1 <= len(name) <= 200 or name != name.strip() or CONTROLS.search(name):
        problems.append(f"name {name!r:.80}")
    if len(item["description"]) > 2000 or CONTROLS.search(
        item["description"].replace("\n", "").replace("\t", "")
    ):
        problems.append(f"description {item['description']!r:.80}")
    tags = item["tags"]
    if len(tags) > 20 or len(set(tags)) != len(tags):
        problems.append(f"tags {tags!r:.80}")
    for tag in tags:
        if not 1 <= len(tag) <= 50 or CONTROLS.search(tag):
            problems.append(f"tag {tag!r:.80}")
    if item["status"] not in ("active", "archived") or not isinstance(item["attributes"], dict):
        problems.append("status or attributes")
    if not is_item_id(item["id"]) or not isinstance(item["version"], int):
        problems.append("id or version")
    return problems


# -- bodies ------------------------------------------------------------------------------------

BODY_ROUTES = [
    ("POST", "/items", "ItemWrite"),
    ("PUT", "/items/{id}", "ItemWrite"),
    ("PATCH", "/items/{id}", "ItemPatch"),
    ("POST", "/items/{id}/attachments", "AttachmentCreate"),
]


@seed(SEED)
@FUZZ
@given(
    route=st.sampled_from(BODY_ROUTES),
    raw=hostile.raw_bodies,
    key=st.sampled_from([None, "fresh"]),
    if_match=st.one_of(st.sampled_from([None, "current", "stale"]), hostile.if_match_values()),
)
def test_any_body_to_any_write_route(
    target: Target, route: tuple[str, str, str], raw: bytes, key: str | None, if_match: str | None
) -> None:
    method, template, schema = route
    item = target.refresh()
    path = template.replace("{id}", target.item_id)
    headers: dict[str, str] = {}
    if key and path == "/items":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    expected_if_match = "match"
    if if_match and method in ("PUT", "PATCH"):
        value = {"current": f'"{item["version"]}"', "stale": f'"{item["version"] + 1}"'}.get(
            if_match, if_match
        )
        headers["If-Match"] = value
        expected_if_match = reference_if_match(value, item["version"])
    verdict = target.oracle.verdict(schema, raw)
    full = schema == "AttachmentCreate" and target.attachment_count() >= 100
    before = target.store.snapshot()

    reply = target.api.request(method, path, raw=raw, headers=headers)

    target.observe(method, reply)
    check_error(reply)
    tally("bodies", f"{method} {template} {reply.status}")
    if reply.status >= 400:
        assert target.store.snapshot() == before, "a refused request wrote something"
    message = json.loads(reply.body).get("Message", "") if reply.status >= 400 else ""
    if expected_if_match == "invalid":
        assert reply.status == 400, reply.body[:300]
        assert message.startswith("If-Match"), reply.body[:300]
        return
    if verdict is not None:
        assert reply.status == verdict, (
            "the document refuses this body",
            reply.status,
            reply.body[:300],
        )
        return
    if full and reply.status == 400 and message.startswith("attachments:"):
        return
    if method == "PATCH" and reply.status == 400 and "larger than" in message:
        return  # the merged attributes' size, which the body alone cannot tell
    if expected_if_match == "mismatch":
        assert reply.status == 412, reply.body[:300]
        return
    assert reply.status in (200, 201), (
        "the document admits this body",
        reply.status,
        reply.body[:300],
    )
    if schema != "AttachmentCreate":
        assert item_problems(reply.json) == []
        fetched = target.api.request("GET", f"/items/{reply.json['id']}")
        assert fetched.body == reply.body
    if "Idempotency-Key" in headers:
        replay = target.api.request(method, path, raw=raw, headers=headers)
        assert (replay.status, replay.body) == (reply.status, reply.body)
    if path == "/items":  # keep the table small: scans stay cheap for the next examples
        target.store.dynamodb.delete_item(TableName=ITEMS, Key=item_key(reply.json["id"]))


# -- headers -----------------------------------------------------------------------------------

ALL_ROUTES = [
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("POST", "/items"),
    ("GET", "/items"),
    ("GET", "/items/{id}"),
    ("PUT", "/items/{id}"),
    ("PATCH", "/items/{id}"),
    ("DELETE", "/items/{id}"),
    ("POST", "/items/{id}/attachments"),
    ("GET", "/items/{id}/attachments"),
    ("GET", "/items/{id}/attachments/00000000000000000000000000ff"),
    ("DELETE", "/items/{id}/attachments/00000000000000000000000000ff"),
]
BODIES = {
    "/items": b'{"name": "from the header fuzzer"}',
    "/items/{id}": b'{"name": "renamed"}',
    "/items/{id}/attachments": b'{"filename": "a.txt", "content_type": "text/plain", "size": 3}',
}


def reference_key(value: str) -> bool:
    return (
        1 <= len(value) <= 255 and all(" " <= ch <= "~" for ch in value) and value.strip(" ") != ""
    )


@seed(SEED)
@FUZZ
@given(
    route=st.sampled_from(ALL_ROUTES),
    if_match=st.none() | hostile.if_match_values(),
    key=st.none() | hostile.idempotency_keys,
    content_type=st.none() | hostile.content_types,
)
def test_any_headers_to_any_route(
    target: Target,
    route: tuple[str, str],
    if_match: str | None,
    key: str | None,
    content_type: str | None,
) -> None:
    method, template = route
    item = target.refresh()
    path = template.replace("{id}", target.item_id)
    headers = {
        name: value
        for name, value in (
            ("If-Match", if_match),
            ("Idempotency-Key", key),
            ("Content-Type", content_type),
        )
        if value is not None
    }
    raw = BODIES.get(template) if method in ("POST", "PUT", "PATCH") else None
    before = target.store.snapshot()

    reply = target.api.request(method, path, raw=raw, headers=headers)

    target.observe(method, reply)
    check_error(reply)
    tally("headers", f"{method} {template} {reply.status}")
    if reply.status >= 400:
        assert target.store.snapshot() == before, "a refused request wrote something"
    if method in ("GET", "DELETE") or raw is None:
        assert reply.status != 415, "a request without a body refused for its Content-Type"
    if reply.status == 415:
        return
    if if_match is not None and method in ("PUT", "PATCH", "DELETE") and template == "/items/{id}":
        expected = reference_if_match(if_match, item["version"])
        if expected == "invalid":
            assert reply.status == 400, (if_match, reply.body[:200])
        elif expected == "mismatch":
            assert reply.status == 412, (if_match, reply.body[:200])
        else:
            assert reply.status in (200, 204), (if_match, reply.body[:200])
    if key is not None and (method, template) == ("POST", "/items"):
        assert (reply.status == 201) == reference_key(key), (key, reply.body[:200])
        if reply.status == 201:
            target.store.dynamodb.delete_item(TableName=ITEMS, Key=item_key(reply.json["id"]))


# -- query strings -----------------------------------------------------------------------------


def reference_limit(value: str) -> bool:
    return (
        re.fullmatch(r"[0-9]+", value) is not None
        and 1 <= int(value.lstrip("0") or "0") <= 100
        and len(value.lstrip("0")) <= 3
    )


@seed(SEED)
@FUZZ
@given(
    listing=st.sampled_from(["/items", "/items/{item_id}/attachments"]),
    params=st.dictionaries(
        st.sampled_from(["limit", "cursor", "status", "tag", "name_prefix", "other", "LIMIT"]),
        hostile.query_values,
        max_size=4,
    ),
)
def test_any_query_string_to_a_listing(
    target: Target, listing: str, params: dict[str, str]
) -> None:
    target.refresh()
    path = listing.replace("{item_id}", target.item_id)
    query = {name: [value] for name, value in params.items()}
    reply = target.api.gateway(
        "GET", listing, {"item_id": target.item_id} if "{item_id}" in listing else None, query=query
    )

    check_error(reply)
    tally("query", f"GET {listing} {reply.status}")
    takes = {"limit", "cursor"}
    if listing == "/items":
        takes |= {"status", "tag", "name_prefix"}
    valid = (
        set(params) <= takes
        and reference_limit(params.get("limit", "20"))
        and "cursor" not in params  # no generated cursor is one the server signed
        and params.get("status", "active") in ("active", "archived")
        and not {"tag", "name_prefix"} <= set(params)
        and reference_filter_text(params.get("tag", "t"), 50)
        and reference_filter_text(params.get("name_prefix", "p"), 200)
    )
    assert reply.status == (200 if valid else 400), (path, params, reply.body[:200])
    if reply.status == 400:
        message = json.loads(reply.body)["Message"]
        named = message.split(":")[0]
        # Either a parameter this listing takes, with a bad value, or one it does not take.
        assert named in takes or "unknown query parameter" in message, message


def reference_filter_text(value: str, longest: int) -> bool:
    """A tag or name prefix filter: 1..longest characters, some not white space, no controls."""
    return 1 <= len(value) <= longest and value.strip() != "" and not CONTROLS.search(value)


# -- path parameters ---------------------------------------------------------------------------

ID_ROUTES = [
    ("GET", "/items/{item_id}"),
    ("PUT", "/items/{item_id}"),
    ("PATCH", "/items/{item_id}"),
    ("DELETE", "/items/{item_id}"),
    ("POST", "/items/{item_id}/attachments"),
    ("GET", "/items/{item_id}/attachments"),
    ("GET", "/items/{item_id}/attachments/{attachment_id}"),
    ("DELETE", "/items/{item_id}/attachments/{attachment_id}"),
]
ATTACHMENT_ID = "0" * 28


@seed(SEED)
@FUZZ
@given(
    route=st.sampled_from(ID_ROUTES),
    which=st.sampled_from(["item", "attachment"]),
    data=st.data(),
)
def test_any_path_parameter(
    target: Target, route: tuple[str, str], which: str, data: st.DataObject
) -> None:
    from chalicelib.attachments.keys import is_attachment_id

    method, resource = route
    target.refresh()
    valid = {"item_id": target.item_id, "attachment_id": ATTACHMENT_ID}
    name = "attachment_id" if which == "attachment" and "{attachment_id}" in resource else "item_id"
    value = data.draw(st.one_of(hostile.almost(valid[name]), hostile.path_values), label=name)
    parameters = {
        key: valid[key] for key in ("item_id", "attachment_id") if "{" + key + "}" in resource
    }
    parameters[name] = value
    raw = (
        BODIES.get(resource.replace("{item_id}", "{id}"))
        if method in ("POST", "PUT", "PATCH")
        else None
    )
    well_formed = is_item_id(parameters["item_id"]) and is_attachment_id(
        parameters.get("attachment_id", ATTACHMENT_ID)
    )
    before = target.store.snapshot()
    target.aws.sent.clear()

    reply = target.api.gateway(method, resource, parameters, body=raw)

    target.observe(method, reply)
    check_error(reply)
    tally("path", f"{method} {resource} {reply.status}")
    if reply.status >= 400:
        assert target.store.snapshot() == before, "a refused request wrote something"
    if not well_formed:
        assert reply.status == 404, (parameters, reply.body[:200])
        assert target.aws.sent == [], ("a malformed id reached AWS", parameters, target.aws.sent)
