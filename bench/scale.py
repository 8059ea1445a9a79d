"""Figures of the data model at scale (issue 12).

- ``index_hottest_key_share`` / ``create_ceiling_per_s``: 100,000 simulated creates and updates
  with a realistic status mix, their index writes counted per partition key value of every
  index, with the keys the repository really writes (``chalicelib.items.listing``). DynamoDB
  gives one partition key value at most 1,000 WCU/s, and a KEYS_ONLY entry is one WCU, so the
  create rate at which the hottest value reaches 1,000 writes/s is the ceiling. Baseline: the
  design before (one status index, ``status`` as its partition key, projecting ``version`` and
  ``updated_at``, so every create and every update wrote it), simulated on the same operations.
- ``list_items_read_per_page`` / ``list_requests_per_page`` / ``list_index_entries_read_per_page``:
  one page of 20 on a table of 100,000 items, with and without ``status``, counted on the app's
  own client (moto's in-process backend).
- ``get_item_bytes_read``: the size DynamoDB reads (and bills) for ``GET /items/{id}``: the whole
  item record, whatever the projection, computed with DynamoDB's item size rules from what is
  stored, for an item with 0 and with 100 attachments. Baseline note: the same item in the
  layout before, with its attachments in a map on the item.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

from bench.figures import Figure
from bench.inprocess import ITEMS, BenchApi, bench_api

OPERATIONS = 100_000
CREATE_SHARE = 0.4  # the rest are updates of existing items
STATUS_CHANGE_SHARE = 0.1  # of the updates: archive an active item, or restore an archived one
ARCHIVED_SHARE = 0.1  # of the items: archived
PARTITION_WCU_PER_S = 1_000
PAGE = 20
TABLE_SIZE = 100_000


# -- index writes per partition key value ----------------------------------------------------


def stamp(n: int) -> str:
    """The ``n``-th millisecond of 2026, in the API's format."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.timestamps import rfc3339

    return rfc3339(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n))


# Names and tags drawn with a long tail, as people name things: a few words and tags are common.
_WORDS = [
    "blue",
    "red",
    "green",
    "large",
    "small",
    "mug",
    "cup",
    "plate",
    "bowl",
    "chair",
    "table",
    "lamp",
    "desk",
    "shelf",
    "box",
    "bag",
    "coat",
    "shoe",
    "book",
    "pen",
    "jar",
    "vase",
    "rug",
    "sofa",
    "bed",
    "clock",
    "fan",
    "kettle",
    "pan",
    "pot",
    "knife",
    "fork",
    "spoon",
    "glass",
]
_TAGS = [f"tag-{n:02d}" for n in range(30)]
TAG_CHANGE_SHARE = 0.1  # of the updates: change the tags


def _zipf(rng: random.Random, values: list[str]) -> str:
    weights = [1 / (rank + 1) for rank in range(len(values))]
    return rng.choices(values, weights)[0]


def _simulate() -> tuple[Counter[str], Counter[str], int]:
    """Index writes per (index, partition key value): ours, the design before, and creates."""
    from chalicelib.items.filters import entry_attributes, listings_of
    from chalicelib.items.listing import index_attributes, status_shard

    rng = random.Random(12)
    ours: Counter[str] = Counter()
    before: Counter[str] = Counter()
    items: list[dict[str, Any]] = []
    creates = 0

    def entries(item: dict[str, Any], listings: set[str]) -> None:
        for listing in listings:
            attributes = entry_attributes(item["id"], listing, item["status"], item["created_at"])
            ours[f"filter-created-index/{attributes['filter_shard']}"] += 1

    for n in range(OPERATIONS):
        if not items or rng.random() < CREATE_SHARE:
            item = {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "status": "archived" if rng.random() < ARCHIVED_SHARE else "active",
                "name": f"{_zipf(rng, _WORDS)} {_zipf(rng, _WORDS)}",
                "tags": sorted({_zipf(rng, _TAGS) for _ in range(rng.randrange(4))}),
                "created_at": stamp(n),
            }
            keys = index_attributes(str(item["id"]), str(item["status"]), str(item["created_at"]))
            ours[f"all-created-index/{keys['all_shard']}"] += 1
            ours[f"status-created-index/{keys['status_shard']}"] += 1
            entries(item, listings_of(item))
            before[f"status-created_at-index/{item['status']}"] += 1
            items.append(item)
            creates += 1
            continue
        item = items[rng.randrange(len(items))]
        item_id, old_status = str(item["id"]), str(item["status"])
        before[f"status-created_at-index/{old_status}"] += 1  # projected: every update
        draw = rng.random()
        if draw < STATUS_CHANGE_SHARE:
            new_status = "archived" if old_status == "active" else "active"
            # A key change is a delete of the old entry and a put of the new one: in the status
            # index, and for every filter entry of the item.
            ours[f"status-created-index/{status_shard(item_id, old_status)}"] += 1
            ours[f"status-created-index/{status_shard(item_id, new_status)}"] += 1
            entries(item, listings_of(item))
            item["status"] = new_status
            entries(item, listings_of(item))
            before[f"status-created_at-index/{new_status}"] += 1
        elif draw < STATUS_CHANGE_SHARE + TAG_CHANGE_SHARE:
            old = listings_of(item)
            item["tags"] = sorted({_zipf(rng, _TAGS) for _ in range(rng.randrange(4))})
            entries(item, old ^ listings_of(item))  # removed and added tag entries
        # Any other update keeps the listing keys: KEYS_ONLY indexes are not written.
    return ours, before, creates


def _hottest(writes: Counter[str]) -> tuple[str, int, float]:
    key, count = writes.most_common(1)[0]
    return key, count, count / sum(writes.values())


def hot_keys() -> dict[str, Figure]:
    ours, before, creates = _simulate()
    key, count, share = _hottest(ours)
    old_key, old_count, old_share = _hottest(before)
    mix = (
        f"{OPERATIONS:,} operations: {CREATE_SHARE:.0%} creates, the rest updates of which "
        f"{STATUS_CHANGE_SHARE:.0%} change the status and {TAG_CHANGE_SHARE:.0%} the tags; "
        f"{ARCHIVED_SHARE:.0%} of items archived; names and 0-3 tags drawn with a long tail"
    )
    ceiling = PARTITION_WCU_PER_S * creates / count
    old_ceiling = PARTITION_WCU_PER_S * creates / old_count
    return {
        "index_hottest_key_share": Figure(
            share,
            old_share,
            "<= 0.1",
            "share",
            note=f"{mix}; hottest: {key}; before: {old_key} (one status index)",
        ),
        "create_ceiling_per_s": Figure(
            ceiling,
            old_ceiling,
            ">= 10000",
            "per_s",
            note="creates/s (with the updates of the mix) at which the hottest index key "
            f"reaches {PARTITION_WCU_PER_S:,} WCU/s; baseline: the design before",
        ),
    }


# -- a page of 20 on 100,000 items -------------------------------------------------------------


class ReadCounter:
    """What the app's client sends and reads: requests, index entries, items."""

    def __init__(self, client: Any) -> None:
        self.requests: Counter[str] = Counter()
        self.index_entries = 0
        self.items = 0
        client.meta.events.register("before-call.dynamodb", self._sent)
        client.meta.events.register("after-call.dynamodb", self._read)

    def clear(self) -> None:
        self.requests.clear()
        self.index_entries = self.items = 0

    def _sent(self, model: Any, **_: Any) -> None:
        self.requests[model.name] += 1

    def _read(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name == "Query":
            self.index_entries += int(parsed.get("Count", 0))
        elif model.name == "BatchGetItem":
            self.items += sum(len(rows) for rows in parsed.get("Responses", {}).values())


def fill(api: BenchApi, size: int) -> None:
    """``size`` items stored exactly as the API stores them (clones of one it created)."""
    from chalicelib.items.listing import index_attributes

    client = api.aws["dynamodb"]
    template = api.create(b'{"name": "template", "tags": ["t"], "attributes": {"price": 1}}')
    record = client.get_item(
        TableName=ITEMS, Key={"id": {"S": template["id"]}, "sk": {"S": "item"}}
    )["Item"]
    generator = random.Random(7)
    rows = []
    for n in range(size - 1):
        clone = json.loads(json.dumps(record))
        item_id = str(uuid.UUID(int=generator.getrandbits(128), version=4))
        status = "archived" if generator.random() < ARCHIVED_SHARE else "active"
        created_at = stamp(n)
        clone |= {
            "id": {"S": item_id},
            "name": {"S": f"item {n}"},
            "status": {"S": status},
            "created_at": {"S": created_at},
            "updated_at": {"S": created_at},
        }
        clone |= {k: {"S": v} for k, v in index_attributes(item_id, status, created_at).items()}
        rows.append({"PutRequest": {"Item": clone}})
    for start in range(0, len(rows), 25):
        client.batch_write_item(RequestItems={ITEMS: rows[start : start + 25]})


def pages() -> dict[str, Figure]:
    from chalicelib.schema import LISTING_SHARDS

    figures: dict[str, Figure] = {}
    with bench_api() as api:
        fill(api, TABLE_SIZE)
        counter = ReadCounter(api.aws["dynamodb"])
        for suffix, query in (("", ""), (".status", "&status=archived")):
            cursor = ""
            for page in ("first", "next"):
                counter.clear()
                response = api.call("GET", f"/items?limit={PAGE}{query}{cursor}")
                assert response.status_code == 200, response.body
                body = json.loads(response.body)
                assert len(body["items"]) == PAGE
                cursor = f"&cursor={body['next_cursor']}"
                label = f"{suffix}.{page}_page" if page == "next" else suffix
                where = f"table of {TABLE_SIZE:,} items" + (
                    f", {ARCHIVED_SHARE:.0%} archived" if suffix else ""
                )
                figures[f"list_items_read_per_page{label}"] = Figure(
                    float(counter.items),
                    None,
                    f"<= {2 * (PAGE + 1)}",
                    "items",
                    note=f"items read for a {page} page of {PAGE}, {where}",
                )
                figures[f"list_requests_per_page{label}"] = Figure(
                    float(sum(counter.requests.values())),
                    None,
                    f"<= {LISTING_SHARDS + 1}",
                    "requests",
                    note=f"{counter.requests['Query']} shard queries in parallel, then "
                    f"{counter.requests['BatchGetItem']} BatchGetItem (meaning changed: was one "
                    "Scan or Query)",
                )
                figures[f"list_index_entries_read_per_page{label}"] = Figure(
                    float(counter.index_entries),
                    None,
                    f"<= {LISTING_SHARDS * (PAGE + 1)}",
                    "items",
                    note=f"keys read from the {LISTING_SHARDS} shards (up to {PAGE + 1} each: "
                    "one query of keys costs 0.5 RCU however many it returns)",
                )
    return figures


# -- what a GET reads --------------------------------------------------------------------------


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of a stored item: attribute names plus values, by its documented rules
    (strings and binary by length, numbers about one byte per two digits plus one, 3 bytes of
    overhead per list or map and 1 per element, 1 byte for a boolean or null)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:  # noqa: PLR0911 - one return per type
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        digits = Decimal(inner).as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())
    return sum(len(str(v).encode()) for v in inner)  # SS, NS, BS


def get_costs() -> dict[str, Figure]:
    from chalicelib.attachments.service import MAX_ATTACHMENTS_PER_ITEM

    with bench_api() as api:
        client = api.aws["dynamodb"]
        body = b'{"name": "a mug", "tags": ["kitchen"], "attributes": {"price": 12.5}}'
        sizes: dict[int, int] = {}
        for count in (0, MAX_ATTACHMENTS_PER_ITEM):
            item = api.create(body)
            for n in range(count):
                created = api.call(
                    "POST",
                    f"/items/{item['id']}/attachments",
                    json.dumps(
                        {"filename": f"photo-{n:03d}.jpg", "content_type": "image/jpeg", "size": 1}
                    ).encode(),
                )
                assert created.status_code == 201, created.body
            response = api.call("GET", f"/items/{item['id']}")
            assert response.status_code == 200
            stored = client.get_item(
                TableName=ITEMS, Key={"id": {"S": item["id"]}, "sk": {"S": "item"}}
            )["Item"]
            sizes[count] = item_size(stored)
            if count:
                attachments = client.query(
                    TableName=ITEMS,
                    KeyConditionExpression="id = :id AND begins_with(sk, :a)",
                    ExpressionAttributeValues={
                        ":id": {"S": item["id"]},
                        ":a": {"S": "item#attachment#"},
                    },
                )["Items"]
                # The layout before: every record in a map attribute of the item itself.
                before = stored | {
                    "attachments": {"M": {a["sk"]["S"][-28:]: {"M": a} for a in attachments}}
                }
                before_size = item_size(before)
    many = MAX_ATTACHMENTS_PER_ITEM
    return {
        "get_item_bytes_read.attachments_0": Figure(
            float(sizes[0]), None, "<= 4096", "bytes", note="one strongly consistent RCU"
        ),
        f"get_item_bytes_read.attachments_{many}": Figure(
            float(sizes[many]),
            float(sizes[0]),
            "<= 1.1",
            "bytes",
            target_on_ratio=True,
            note=f"the item record with {many} attachment records beside it, over the same item "
            f"with none; with the attachments on the item (before) it would be "
            f"{before_size:,} bytes, {-(-before_size // 4096)} RCU",
        ),
    }


# -- filtered pages ----------------------------------------------------------------------------

FILTER_TABLE_SIZE = 10_000


def fill_with_entries(api: BenchApi, size: int) -> None:
    """``size`` items with names and tags drawn with a long tail, stored with their filter
    entries exactly as the repository writes them."""
    from chalicelib.items.filters import entry_attributes, entry_sort_key, listings_of
    from chalicelib.items.listing import index_attributes

    client = api.aws["dynamodb"]
    rng = random.Random(16)
    rows: list[dict[str, Any]] = []
    for n in range(size):
        item: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "name": f"{_zipf(rng, _WORDS)} {_zipf(rng, _WORDS)}",
            "description": "",
            "status": "archived" if rng.random() < ARCHIVED_SHARE else "active",
            "tags": sorted({_zipf(rng, _TAGS) for _ in range(rng.randrange(4))}),
            "created_at": stamp(n),
        }
        record = {
            "id": {"S": item["id"]},
            "sk": {"S": "item"},
            "name": {"S": item["name"]},
            "description": {"S": ""},
            "status": {"S": item["status"]},
            "tags": {"L": [{"S": tag} for tag in item["tags"]]},
            "attributes": {"M": {}},
            "created_at": {"S": item["created_at"]},
            "updated_at": {"S": item["created_at"]},
            "version": {"N": "1"},
        } | {
            k: {"S": v}
            for k, v in index_attributes(item["id"], item["status"], item["created_at"]).items()
        }
        rows.append({"PutRequest": {"Item": record}})
        for listing in listings_of(item):
            entry = entry_attributes(item["id"], listing, item["status"], item["created_at"])
            rows.append(
                {
                    "PutRequest": {
                        "Item": {"id": {"S": item["id"]}, "sk": {"S": entry_sort_key(listing)}}
                        | {k: {"S": v} for k, v in entry.items()}
                    }
                }
            )
    for start in range(0, len(rows), 25):
        client.batch_write_item(RequestItems={ITEMS: rows[start : start + 25]})


def filter_pages() -> dict[str, Figure]:
    from chalicelib.schema import LISTING_SHARDS

    figures: dict[str, Figure] = {}
    queries = {
        "tag": ("tag=tag-00", 2),
        "tag_status": ("tag=tag-00&status=active", 1),
        "name_prefix": ("name_prefix=ke", 2),
        # Longer than the indexed prefixes: the listing of "kettle s", kept to "kettle sp...".
        "name_prefix_long": ("name_prefix=kettle%20sp", 2),
    }
    with bench_api() as api:
        fill_with_entries(api, FILTER_TABLE_SIZE)
        counter = ReadCounter(api.aws["dynamodb"])
        for label, (query, statuses) in queries.items():
            counter.clear()
            response = api.call("GET", f"/items?limit={PAGE}&{query}")
            assert response.status_code == 200, response.body
            returned = len(json.loads(response.body)["items"])
            where = f"`?{query}`, table of {FILTER_TABLE_SIZE:,} items"
            figures[f"list_items_read_per_page.{label}"] = Figure(
                float(counter.items),
                None,
                f"<= {2 * (PAGE + 1)}",
                "items",
                note=f"items read for a page of {PAGE} ({returned} returned), {where}",
            )
            figures[f"list_requests_per_page.{label}"] = Figure(
                float(sum(counter.requests.values())),
                None,
                f"<= {statuses * LISTING_SHARDS + 1}",
                "requests",
                note=f"{counter.requests['Query']} shard queries in parallel "
                f"({'both statuses' if statuses == 2 else 'one status'}), then "
                f"{counter.requests['BatchGetItem']} BatchGetItem",
            )
    return figures


def measure() -> dict[str, Figure]:
    return {**hot_keys(), **get_costs(), **pages(), **filter_pages()}
