"""Idempotent creates over real HTTP (issue 4.1), against ``chalice local`` + the moto server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.integration.harness import LiveApi

pytestmark = pytest.mark.integration


def stored_with_name(live: LiveApi, name: str) -> list[dict[str, Any]]:
    scan = live.aws("dynamodb").scan(
        TableName=live.items_table,
        ConsistentRead=True,
        FilterExpression="#n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"S": name}},
    )
    items: list[dict[str, Any]] = scan["Items"]
    return items


def post(live: LiveApi, raw: str, key: str) -> requests.Response:
    return live.request("POST", "/items", raw=raw.encode(), headers={"Idempotency-Key": key})


def test_a_replay_returns_the_first_response_and_creates_nothing(live: LiveApi) -> None:
    name, key = f"replay-{uuid.uuid4()}", str(uuid.uuid4())
    first = post(live, f'{{"name": "{name}", "attributes": {{"price": 0.10}}}}', key)
    replays = [
        post(live, f'{{"attributes":{{"price":0.1}},"name":"{name}"}}', key) for _ in range(3)
    ]

    assert first.status_code == 201
    for replay in replays:
        assert replay.status_code == 201
        assert replay.content == first.content
        assert replay.headers["ETag"] == first.headers["ETag"] == '"1"'
        assert replay.headers["Location"] == first.headers["Location"]
    assert len(stored_with_name(live, name)) == 1


def test_the_same_key_with_another_body_is_a_422(live: LiveApi) -> None:
    name, key = f"conflict-{uuid.uuid4()}", str(uuid.uuid4())
    assert post(live, f'{{"name": "{name}"}}', key).status_code == 201
    other = post(live, f'{{"name": "{name}", "tags": ["x"]}}', key)

    assert other.status_code == 422
    assert other.headers["Content-Type"] == "application/json"
    assert other.json()["Message"].startswith("Idempotency-Key:")
    assert len(stored_with_name(live, name)) == 1


def test_a_failed_first_attempt_is_not_remembered(live: LiveApi) -> None:
    name, key = f"retry-{uuid.uuid4()}", str(uuid.uuid4())
    failed = post(live, f'{{"name": "{name}", "status": "gone"}}', key)
    assert failed.status_code == 400
    assert failed.json()["Message"].startswith("status")

    fixed = post(live, f'{{"name": "{name}"}}', key)
    assert fixed.status_code == 201
    assert post(live, f'{{"name": "{name}"}}', key).content == fixed.content
    assert len(stored_with_name(live, name)) == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "clé", "a\x7fb"])
def test_an_invalid_key_is_a_400_naming_the_header(live: LiveApi, key: str) -> None:
    name = f"invalid-{uuid.uuid4()}"
    response = live.request(
        "POST",
        "/items",
        {"name": name},
        headers={"Idempotency-Key": key.encode().decode("latin-1")},
    )
    assert response.status_code == 400
    assert response.json()["Message"].startswith("Idempotency-Key:")
    assert stored_with_name(live, name) == []
