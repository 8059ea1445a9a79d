"""Newest-first listings over write-sharded indexes.

Each listing index spreads its entries over ``LISTING_SHARDS`` partition key values
(``<listing>#<shard>``, the shard taken from the item id), so no single key takes every create.
Reading a page means merging the shards: each shard is queried (in parallel) from where the
previous page left it, newest first, and the newest entries across all shards make the page.
A cursor carries every shard's position: the ``created_key`` of the last entry taken from it, or
that it has not been read yet, or that it is exhausted.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.schema import CREATED_KEY, LISTING_SHARDS, GlobalIndex

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

_CREATED_KEY = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)#"
    r"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})"
)
# A shard position: not read yet, exhausted, or resume after this created_key.
NOT_STARTED: None = None
EXHAUSTED = ""
Position = str | None
# One position per shard in 23 bytes: a tag, the creation time in ms, the id's 16 bytes.
_TAG_NOT_STARTED, _TAG_EXHAUSTED, _TAG_AFTER = 0, 1, 2
_POSITION_BYTES = 1 + 6 + 16


def shard_of(item_id: str) -> int:
    """The listing shard of an item: from the id's random leading hex digits (UUID4)."""
    return int(item_id[:8], 16) % LISTING_SHARDS


def created_key(created_at: str, item_id: str) -> str:
    return f"{created_at}#{item_id}"


def index_attributes(item_id: str, status: str, created_at: str) -> dict[str, str]:
    """The attributes that put an item record into both listing indexes."""
    shard = shard_of(item_id)
    return {
        "all_shard": f"all#{shard}",
        "status_shard": f"{status}#{shard}",
        CREATED_KEY.name: created_key(created_at, item_id),
    }


def status_shard(item_id: str, status: str) -> str:
    return f"{status}#{shard_of(item_id)}"


def item_id_of(key: str) -> str:
    return key.rsplit("#", 1)[1]


# -- cursors -----------------------------------------------------------------------------------


def pack_positions(positions: Sequence[Position]) -> str:
    """Every stream's position, compactly (16 shards fit in about 500 characters)."""
    packed = bytearray()
    for position in positions:
        if position is NOT_STARTED:
            packed += bytes([_TAG_NOT_STARTED]) + bytes(_POSITION_BYTES - 1)
        elif position == EXHAUSTED:
            packed += bytes([_TAG_EXHAUSTED]) + bytes(_POSITION_BYTES - 1)
        else:
            created_at, item_id = position.split("#")
            moment = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            millis = int(moment.timestamp()) * 1000 + moment.microsecond // 1000
            packed += bytes([_TAG_AFTER]) + millis.to_bytes(6, "big") + uuid.UUID(item_id).bytes
    return base64.urlsafe_b64encode(bytes(packed)).rstrip(b"=").decode("ascii")


def unpack_positions(text: str, streams: int = LISTING_SHARDS) -> list[Position] | None:
    """The positions of :func:`pack_positions` for ``streams`` streams (stream ``i`` reads shard
    ``i % LISTING_SHARDS``), or ``None`` when ``text`` is not such a value."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != streams * _POSITION_BYTES:
        return None
    positions: list[Position] = []
    for stream in range(streams):
        chunk = raw[stream * _POSITION_BYTES : (stream + 1) * _POSITION_BYTES]
        position = _unpack_position(stream % LISTING_SHARDS, chunk)
        if position is _INVALID:
            return None
        positions.append(position)
    return positions


_INVALID = "invalid"


def _unpack_position(shard: int, chunk: bytes) -> Position:
    """One shard's position, or ``_INVALID`` for anything this listing could not have written."""
    tag, rest = chunk[0], chunk[1:]
    if tag in (_TAG_NOT_STARTED, _TAG_EXHAUSTED) and not any(rest):
        return NOT_STARTED if tag == _TAG_NOT_STARTED else EXHAUSTED
    if tag != _TAG_AFTER:
        return _INVALID
    seconds, millis = divmod(int.from_bytes(rest[:6], "big"), 1000)
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return _INVALID
    item_id = str(uuid.UUID(bytes=rest[6:]))
    key = created_key(moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z", item_id)
    # Only positions this listing could have produced: a UUID4 of this very shard.
    if not _CREATED_KEY.fullmatch(key) or shard_of(item_id) != shard:
        return _INVALID
    return key


# -- the merge ---------------------------------------------------------------------------------

QueryShard = Callable[[int, Position, int], tuple[list[str], bool]]
"""Query one stream (a shard of one listing) after a position for at most ``limit``
created_keys, newest first; returns them and whether the stream may hold more."""


@dataclass
class _Shard:
    number: int
    position: Position
    buffered: list[str] = field(default_factory=list)
    more: bool = True  # may hold entries beyond what is buffered

    @property
    def exhausted(self) -> bool:
        return not self.buffered and not self.more


@dataclass(frozen=True)
class Page:
    """The created_keys of one page, and where every shard stands after it."""

    keys: list[str]
    positions: list[Position]
    has_more: bool
    queries: int  # requests sent, for the benchmarks and the request-count tests


_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor  # noqa: PLW0603 - one pool per process, created on first use
    if _executor is None:
        # Imported here: a GET or POST of one item (a cold start's first request) never lists.
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(max_workers=LISTING_SHARDS, thread_name_prefix="shard")
    return _executor


def merge_page(
    query_shard: QueryShard,
    positions: Sequence[Position],
    limit: int,
    *,
    run_in_parallel: Callable[[Callable[..., Any]], Callable[..., Any]] = lambda f: f,
) -> Page:
    """The newest ``limit`` entries after ``positions`` across every shard.

    Every shard that is not exhausted is queried once, in parallel, for up to ``limit + 1``
    keys (keys are small: a query of 21 costs what a query of 1 costs, 0.5 RCU). One more than
    a page means no shard can run dry while it still holds entries the page needs, or leave it
    unknown whether a next page exists: one round of queries serves the page. (A shard that
    stops early, DynamoDB's 1 MB limit, is queried again.) ``run_in_parallel`` wraps the
    function the worker threads run (tracing passes its context that way).
    """
    shards = [
        _Shard(number, position, more=position != EXHAUSTED)
        for number, position in enumerate(positions)
    ]
    queries = 0

    def refill(pending: list[_Shard]) -> None:
        nonlocal queries
        work = run_in_parallel(lambda shard: query_shard(shard.number, shard.position, limit + 1))
        queries += len(pending)
        if len(pending) == 1:
            results = [work(pending[0])]
        else:
            # Every query finishes before the page does, failed or not: nothing of this request
            # may still be running when it is answered (or when Lambda freezes the process).
            from concurrent.futures import wait

            futures = [_pool().submit(work, shard) for shard in pending]
            wait(futures)
            results = [future.result() for future in futures]
        for shard, (keys, more) in zip(pending, results, strict=True):
            shard.buffered.extend(keys)
            shard.more = more
            if keys:
                shard.position = keys[-1]

    taken: list[str] = []
    last_taken: dict[int, str] = {}
    while True:
        empty = [s for s in shards if not s.buffered and s.more]
        if empty:
            refill(empty)
        live = [s for s in shards if s.buffered]
        if len(taken) == limit or not live:
            break
        newest = max(live, key=lambda s: s.buffered[0])
        key = newest.buffered.pop(0)
        taken.append(key)
        last_taken[newest.number] = key
    # Resume each stream after the last key this page took from it: keys fetched but not taken
    # are read again by the next page.
    after: list[Position] = [
        EXHAUSTED if shard.exhausted else last_taken.get(shard.number, positions[shard.number])
        for shard in shards
    ]
    has_more = any(not shard.exhausted for shard in shards)
    return Page(keys=taken, positions=after, has_more=has_more, queries=queries)


def query_parameters(
    index: GlobalIndex, partition: str, position: Position, item_record: str, limit: int
) -> dict[str, Any]:
    """The ``Query`` of one shard of ``index`` after ``position``, newest first."""
    partition_key = index.partition_key.name
    parameters: dict[str, Any] = {
        "IndexName": index.name,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": partition_key},
        "ExpressionAttributeValues": {":pk": {"S": partition}},
        "ProjectionExpression": "#ck",
        "ScanIndexForward": False,
        "Limit": limit,
    }
    parameters["ExpressionAttributeNames"]["#ck"] = CREATED_KEY.name
    if position:
        parameters["ExclusiveStartKey"] = {
            partition_key: {"S": partition},
            CREATED_KEY.name: {"S": position},
            "id": {"S": item_id_of(position)},
            "sk": {"S": item_record},
        }
    return parameters
