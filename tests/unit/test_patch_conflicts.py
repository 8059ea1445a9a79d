"""A merge patch of ``attributes`` under concurrent writers: retried, bounded, never lost.

The patch reads the item, merges, and writes conditionally on the version it read. Here a real
concurrent write (through a second repository on the same in-process table) lands between every
read and its write, so each conditional write fails for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.cursors import CursorCodec
from chalicelib.errors import ConflictError, PreconditionFailedError
from chalicelib.items import service as service_module
from chalicelib.items.repository import ItemRepository
from chalicelib.items.service import PATCH_ATTEMPTS, PATCH_RETRY_WINDOW_SECONDS, ItemService
from chalicelib.items.validation import validate_patch, validate_write
from chalicelib.schema import ITEMS_TABLE

TABLE = "items-patch-conflicts"


class RacedRepository(ItemRepository):
    """Every read is followed by another client's write to the same item."""

    def __init__(self, client: Any, rival: ItemRepository, races: int) -> None:
        super().__init__(client, TABLE, CursorCodec(b"secret"))
        self.rival = rival
        self.races_left = races
        self.reads = 0

    def get(self, item_id: str) -> dict[str, Any]:
        stored = super().get(item_id)
        self.reads += 1
        if self.races_left:
            self.races_left -= 1
            rival_change = validate_patch({"description": f"rival {self.reads}"})
            self.rival.update(item_id, rival_change, None, "rival")
        return stored


class Clock:
    """Reads as ``step`` seconds later at every call."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**ITEMS_TABLE.create_table_kwargs(TABLE))
        yield dynamodb


def setup(client: Any, races: int, clock: Clock) -> tuple[ItemService, RacedRepository, str]:
    rival = ItemRepository(client, TABLE, CursorCodec(b"secret"))
    item = rival.create(validate_write({"name": "contested", "attributes": {"kept": 1}}), "rival")
    repository = RacedRepository(client, rival, races)
    return ItemService(repository, clock=clock), repository, item["id"]


def test_a_lost_race_is_retried_and_keeps_the_other_write(client: Any) -> None:
    items, repository, item_id = setup(client, races=1, clock=Clock(0.01))

    patched = items.patch(item_id, {"attributes": {"added": 2}}, None, actor="editor")

    assert repository.reads == 2
    assert patched["attributes"] == {"kept": 1, "added": 2}
    assert patched["description"] == "rival 1"  # the concurrent write was not overwritten
    assert patched["version"] == 3


def test_endless_races_end_in_a_409_after_the_attempt_limit(client: Any) -> None:
    items, repository, item_id = setup(client, races=99, clock=Clock(0.01))

    with pytest.raises(ConflictError):
        items.patch(item_id, {"attributes": {"added": 2}}, None, actor="editor")

    assert repository.reads == PATCH_ATTEMPTS
    stored = repository.rival.get(item_id)
    assert "added" not in stored["attributes"]  # nothing half-applied
    assert stored["version"] == 1 + PATCH_ATTEMPTS  # only the rival's writes


def test_no_retry_starts_once_the_request_is_past_its_window(client: Any) -> None:
    # Each clock reading is more than a window later: the first attempt runs, no retry does.
    slow = Clock(PATCH_RETRY_WINDOW_SECONDS * 1.5)
    items, repository, item_id = setup(client, races=99, clock=slow)

    with pytest.raises(ConflictError):
        items.patch(item_id, {"attributes": {"added": 2}}, None, actor="editor")

    assert repository.reads == 1


def test_with_if_match_a_lost_race_is_a_412_without_retry(client: Any) -> None:
    items, repository, item_id = setup(client, races=99, clock=Clock(0.01))

    with pytest.raises(PreconditionFailedError):
        items.patch(item_id, {"attributes": {"added": 2}}, frozenset({1}), actor="editor")

    assert repository.reads == 1


def test_the_window_leaves_room_for_one_more_attempt_inside_the_lambda_timeout() -> None:
    from chalicelib import aws
    from infrastructure.config import LAMBDA_TIMEOUT_S

    per_call = aws.MAX_ATTEMPTS * (aws.CONNECT_TIMEOUT_SECONDS + aws.READ_TIMEOUT_SECONDS) + sum(
        min(2**retry, 20) for retry in range(aws.MAX_ATTEMPTS - 1)
    )
    # Retries start only within the window; the attempt that starts last makes two calls.
    assert service_module.PATCH_RETRY_WINDOW_SECONDS + 2 * per_call < LAMBDA_TIMEOUT_S
