"""Newest-first listings over write-sharded indexes (issue 12): the merge, the cursor's shard
positions, and how index writes spread over partition key values."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import boto3
import pytest

from chalicelib.items.listing import (
    EXHAUSTED,
    NOT_STARTED,
    Position,
    created_key,
    index_attributes,
    merge_page,
    pack_positions,
    shard_of,
    unpack_positions,
)
from chalicelib.schema import LISTING_SHARDS
from tests.unit.harness import ITEMS, InProcessApi


def seeded_ids(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def test_shards_come_from_the_id_and_spread_evenly() -> None:
    ids = seeded_ids(16_000)
    shares = Counter(shard_of(item_id) for item_id in ids)

    assert set(shares) == set(range(LISTING_SHARDS))
    assert max(shares.values()) / len(ids) < 1.1 / LISTING_SHARDS
    assert all(shard_of(item_id) == shard_of(item_id) for item_id in ids[:10])


def test_an_item_record_carries_both_listing_keys() -> None:
    item_id = seeded_ids(1)[0]
    shard = shard_of(item_id)

    assert index_attributes(item_id, "archived", "2026-11-22T23:45:00.123Z") == {
        "all_shard": f"all#{shard}",
        "status_shard": f"archived#{shard}",
        "created_key": f"2026-11-22T23:45:00.123Z#{item_id}",
    }


def test_positions_survive_the_cursor_exactly() -> None:
    ids = seeded_ids(400)
    by_shard = {shard_of(item_id): item_id for item_id in ids}
    positions: list[Position] = [NOT_STARTED] * LISTING_SHARDS
    for shard, item_id in by_shard.items():
        positions[shard] = created_key("2026-01-02T03:04:05.006Z", item_id)
    positions[0], positions[1] = NOT_STARTED, EXHAUSTED

    packed = pack_positions(positions)

    assert unpack_positions(packed) == positions
    assert len(packed) < 600  # a cursor stays short enough for any URL


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw[:-1],  # truncated
        lambda raw: raw + b"\0",  # too long
        lambda raw: bytes([9]) + raw[1:],  # an unknown tag
        lambda raw: bytes([1, 1]) + raw[2:],  # "exhausted" with a payload
        lambda raw: raw[:23] + raw[:23] + raw[46:],  # shard 0's position given to shard 1
    ],
)
def test_positions_that_this_listing_could_not_have_written_are_refused(mutate: object) -> None:
    import base64

    ids = seeded_ids(400)
    positions: list[Position] = [NOT_STARTED] * LISTING_SHARDS
    for item_id in ids:
        positions[shard_of(item_id)] = created_key("2026-01-02T03:04:05.006Z", item_id)
    raw = base64.urlsafe_b64decode(pack_positions(positions) + "==")

    forged = base64.urlsafe_b64encode(mutate(raw)).rstrip(b"=").decode()  # type: ignore[operator]

    assert unpack_positions(forged) is None


def fake_shards(keys_by_shard: dict[int, list[str]]) -> tuple[object, list[tuple[int, int]]]:
    """A query function over in-memory shards (newest first), recording (shard, limit)."""
    asked: list[tuple[int, int]] = []

    def query(shard: int, position: Position, limit: int) -> tuple[list[str], bool]:
        asked.append((shard, limit))
        keys = sorted(keys_by_shard.get(shard, []), reverse=True)
        if position:
            keys = [k for k in keys if k < position]
        return keys[:limit], len(keys) > limit

    return query, asked


def test_the_merge_takes_the_newest_across_shards_in_one_round() -> None:
    ids = seeded_ids(60)
    keys_by_shard: dict[int, list[str]] = {}
    for n, item_id in enumerate(ids):
        keys_by_shard.setdefault(shard_of(item_id), []).append(
            created_key(f"2026-01-01T00:00:{n:02d}.000Z", item_id)
        )
    query, asked = fake_shards(keys_by_shard)

    page = merge_page(query, [NOT_STARTED] * LISTING_SHARDS, 20)  # type: ignore[arg-type]

    everything = sorted((k for keys in keys_by_shard.values() for k in keys), reverse=True)
    assert page.keys == everything[:20]
    assert page.has_more
    assert sorted(asked) == [(shard, 21) for shard in range(LISTING_SHARDS)]  # one round
    assert page.queries == LISTING_SHARDS


def test_following_the_positions_visits_every_key_once_and_skips_exhausted_shards() -> None:
    ids = seeded_ids(45)
    keys_by_shard: dict[int, list[str]] = {}
    for n, item_id in enumerate(ids):
        keys_by_shard.setdefault(shard_of(item_id), []).append(
            created_key(f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}.000Z", item_id)
        )
    query, asked = fake_shards(keys_by_shard)
    positions: list[Position] = [NOT_STARTED] * LISTING_SHARDS
    seen: list[str] = []
    while True:
        asked.clear()
        page = merge_page(query, positions, 7)  # type: ignore[arg-type]
        queried = {shard for shard, _ in asked}
        assert not queried & {n for n, p in enumerate(positions) if p == EXHAUSTED}
        seen.extend(page.keys)
        if not page.has_more:
            break
        positions = page.positions

    assert seen == sorted((k for keys in keys_by_shard.values() for k in keys), reverse=True)


def test_a_listing_leaves_out_items_its_index_still_lists_but_that_are_gone(
    api: InProcessApi,
) -> None:
    """Index entries can trail the table (an index is eventually consistent): an entry whose
    item is gone, or whose item left the status, is skipped, never a 500 or a wrong item."""
    kept = api.create_item("kept", status="archived")
    ghost = api.create_item("ghost", status="archived")
    moved = api.create_item("moved", status="archived")
    assert api.request("DELETE", f"/items/{ghost['id']}").status == 204
    assert api.request("PATCH", f"/items/{moved['id']}", {"status": "active"}).status == 200
    # What the index may still show for a moment: the old entries of both. Stand-in records
    # that carry only the listing keys put them back into the status index.
    dynamodb = boto3.client("dynamodb")
    for item in (ghost, moved):
        entry = index_attributes(item["id"], "archived", item["created_at"])
        dynamodb.put_item(
            TableName=ITEMS,
            Item={"id": {"S": item["id"]}, "sk": {"S": "stale-index-entry"}}
            | {name: {"S": value} for name, value in entry.items()},
        )

    listed = api.request("GET", "/items?status=archived").json["items"]

    assert [item["id"] for item in listed] == [kept["id"]]
    assert [item["id"] for item in api.request("GET", "/items").json["items"]] == [
        moved["id"],
        kept["id"],
    ]
