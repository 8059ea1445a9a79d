"""Races over real HTTP (issue 4.5): concurrent clients against ``chalice local`` + moto.

Every client waits on one barrier and then sends, so the requests overlap; the assertions are
about outcomes (exactly one winner), never about timing.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.integration.harness import API_KEY, LiveApi
from tests.integration.test_idempotency import stored_with_name

pytestmark = pytest.mark.integration

CLIENTS = 8


def concurrently(
    live: LiveApi, send: Callable[[requests.Session], requests.Response]
) -> list[requests.Response]:
    """``send`` from CLIENTS threads at once, each with its own connection."""
    barrier = threading.Barrier(CLIENTS)
    bearer = f"Bearer {live.token()}"

    def client(_: int) -> requests.Response:
        with requests.Session() as session:
            session.headers["x-api-key"] = API_KEY
            session.headers["Authorization"] = bearer
            barrier.wait(timeout=30)
            return send(session)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(client, range(CLIENTS)))


@pytest.mark.parametrize(
    "patch",
    [{"name": "winner"}, {"attributes": {"merged": True}}],
    ids=["one-conditional-write", "read-merge-write"],
)
def test_parallel_patches_with_one_if_match_have_exactly_one_winner(
    live: LiveApi, patch: dict[str, Any]
) -> None:
    item = live.create_item(attributes={"kept": 1})
    url = f"{live.url}/items/{item['id']}"

    responses = concurrently(
        live, lambda s: s.patch(url, json=patch, headers={"If-Match": '"1"'}, timeout=30)
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 412: CLIENTS - 1}, statuses
    (winner,) = [r for r in responses if r.status_code == 200]
    stored = live.request("GET", f"/items/{item['id']}")
    assert stored.json()["version"] == 2
    assert stored.json() == winner.json()
    assert stored.headers["ETag"] == '"2"'
    for loser in (r for r in responses if r.status_code == 412):
        assert loser.json()["Code"] == "PreconditionFailedError"


def test_parallel_deletes_with_one_if_match_delete_once(live: LiveApi) -> None:
    item = live.create_item()
    url = f"{live.url}/items/{item['id']}"

    responses = concurrently(live, lambda s: s.delete(url, headers={"If-Match": '"1"'}, timeout=30))

    statuses = Counter(r.status_code for r in responses)
    assert statuses[204] == 1, statuses
    assert set(statuses) <= {204, 404, 412}
    assert live.request("GET", f"/items/{item['id']}").status_code == 404


def test_parallel_creates_with_one_idempotency_key_create_one_item(live: LiveApi) -> None:
    name, key = f"race-{uuid.uuid4()}", str(uuid.uuid4())

    responses = concurrently(
        live,
        lambda s: s.post(
            f"{live.url}/items", json={"name": name}, headers={"Idempotency-Key": key}, timeout=30
        ),
    )

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    bodies = {r.content for r in responses if r.status_code == 201}
    assert len(bodies) == 1  # every 201 is the same item, replayed
    for busy in (r for r in responses if r.status_code == 409):
        assert busy.json()["Message"].startswith("Idempotency-Key:")
    stored = stored_with_name(live, name)
    assert len(stored) == 1
    replay = live.request("POST", "/items", {"name": name}, {"Idempotency-Key": key})
    assert replay.status_code == 201
    assert replay.content == bodies.pop()
    assert replay.json()["id"] == stored[0]["id"]["S"]
