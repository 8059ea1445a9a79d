"""Hypothesis properties of the model (issue 4.4), through the app on in-process moto.

Deterministic: ``derandomize=True`` draws the same examples on every run, no example database.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.jsonio import dumps
from tests.unit.harness import ITEMS, InProcessApi

PROPERTY_SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    # One app and table for all examples: each example only looks at what it created (or
    # empties the table first), so sharing the function-scoped fixture is sound.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- strategies ------------------------------------------------------------------------------

unicode = st.characters(codec="utf-8")  # every code point JSON text can carry (no surrogates)
# What text people read may carry (the contract refuses C0/C1 controls and bidi overrides and
# isolates in names, tags and descriptions; descriptions keep tab and newline).
CONTROLS = "".join(
    map(chr, [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
)
readable = st.characters(codec="utf-8", exclude_characters=CONTROLS)
# What "trimmed" means for names: Unicode's White_Space characters. (Python's str.strip() also
# strips the separators U+001C..U+001F, which are not White_Space.)
WHITE_SPACE = "".join(
    ch for ch in map(chr, range(0x3001)) if ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"
)
text = st.text(unicode, max_size=30)
keys = st.text(unicode, min_size=1, max_size=12)
integers = st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
# Decimals DynamoDB holds exactly: at most 38 significant digits, exponent well inside range.
decimals = st.builds(
    lambda digits, exponent, negative: Decimal(f"{'-' if negative else ''}{digits}E{exponent}"),
    st.integers(min_value=0, max_value=10**20),
    st.integers(min_value=-60, max_value=60),
    st.booleans(),
)
scalars = st.none() | st.booleans() | integers | decimals | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
names = st.text(readable, min_size=1, max_size=200).filter(
    lambda name: 0 < len(name.strip(WHITE_SPACE)) <= 200
)
tags = st.lists(
    st.text(readable, min_size=1, max_size=50),
    max_size=20,
    unique=True,
)
required: dict[str, st.SearchStrategy[Any]] = {"name": names}
items = st.fixed_dictionaries(
    required,
    optional={
        "description": st.text(st.one_of(readable, st.sampled_from("\n\t")), max_size=300),
        "status": st.sampled_from(["active", "archived"]),
        "tags": tags,
        "attributes": st.dictionaries(keys, json_values, max_size=6),
    },
)


def canonical(value: Any) -> Any:
    """A comparable form that keeps JSON types apart (``True`` is not ``1``) and compares
    numbers by value (``0.10`` is ``0.1``, as the contract allows)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, Decimal)):
        return ("number", Decimal(value).normalize())
    if isinstance(value, list):
        return ("array", [canonical(v) for v in value])
    if isinstance(value, dict):
        return ("object", {k: canonical(v) for k, v in value.items()})
    raise TypeError(type(value))


def parse(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


# -- properties ------------------------------------------------------------------------------


@given(item=items)
@PROPERTY_SETTINGS
def test_any_valid_item_survives_a_create_get_round_trip(
    api: InProcessApi, item: dict[str, Any]
) -> None:
    sent = dumps(item).encode()  # exact numbers on the wire, never through float
    created = api.request("POST", "/items", raw=sent)
    assert created.status == 201, created.body
    fetched = api.request("GET", created.header("Location") or "")
    assert fetched.status == 200

    expected = {
        "name": item["name"].strip(WHITE_SPACE),
        "description": item.get("description", ""),
        "status": item.get("status", "active"),
        "tags": item.get("tags", []),
        "attributes": item.get("attributes", {}),
    }
    for body in (created.body, fetched.body):
        stored = parse(body)
        assert canonical({k: stored[k] for k in expected}) == canonical(expected)
        assert stored["version"] == 1
    # Integers keep every digit, in the exact JSON spelling.
    for value in item.get("attributes", {}).values():
        if isinstance(value, int) and not isinstance(value, bool):
            assert str(value) in fetched.body.decode()
    assert fetched.body == created.body


@pytest.mark.parametrize(
    "number", ["1E+60", "100000000000000000000000000000000000000", "-1.5E+45", "2.50000000E+40"]
)
def test_the_api_accepts_the_numbers_it_returns(api: InProcessApi, number: str) -> None:
    """GET then PUT of an unchanged item must work: what the API writes, it must accept."""
    raw = f'{{"name": "n", "attributes": {{"n": {number}}}}}'
    created = api.request("POST", "/items", raw=raw.encode())
    assert created.status == 201, created.body
    fetched = api.request("GET", created.header("Location") or "")
    returned = parse(fetched.body)["attributes"]["n"]
    assert Decimal(returned) == Decimal(number)

    replaced = api.request(
        "PUT",
        created.header("Location") or "",
        raw=dumps({"name": "n", "attributes": parse(fetched.body)["attributes"]}).encode(),
    )
    assert replaced.status == 200, replaced.body
    assert Decimal(parse(replaced.body)["attributes"]["n"]) == Decimal(number)


def _empty_table() -> None:
    client = boto3.client("dynamodb")
    for stored in client.scan(TableName=ITEMS, ProjectionExpression="id, sk")["Items"]:
        client.delete_item(TableName=ITEMS, Key=stored)


@given(
    statuses=st.lists(st.sampled_from(["active", "archived"]), max_size=25),
    limit=st.integers(min_value=1, max_value=7),
)
@PROPERTY_SETTINGS
def test_cursor_pagination_visits_every_item_exactly_once(
    api: InProcessApi, statuses: list[str], limit: int
) -> None:
    _empty_table()
    created = [api.create_item(f"item {i}", status=s) for i, s in enumerate(statuses)]

    everything, pages = api.list_all(f"limit={limit}")
    assert sorted(i["id"] for i in everything) == sorted(i["id"] for i in created)
    # Newest created_at first, ties broken by id: the same total order on every page.
    order = [(i["created_at"], i["id"]) for i in everything]
    assert order == sorted(order, reverse=True)
    assert all(len(everything[i : i + limit]) <= limit for i in range(0, len(everything), limit))
    assert pages == max(1, -(-len(created) // limit))  # the last page ends with null

    for status in ("active", "archived"):
        wanted = sorted(i["id"] for i in created if i["status"] == status)
        listed, _ = api.list_all(f"limit={limit}&status={status}")
        assert sorted(i["id"] for i in listed) == wanted
        order = [(i["created_at"], i["id"]) for i in listed]
        assert order == sorted(order, reverse=True)  # newest first
