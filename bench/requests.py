"""``ddb_requests_per_op``: the DynamoDB requests each API operation sends, counted with a
botocore event hook on the app's own client, per table."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.figures import Figure
from bench.inprocess import IDEMPOTENCY, ITEMS, BenchApi, bench_api


def _table_of(params: dict[str, Any]) -> str:
    """The table a request is about: its TableName, or that of a transaction's or batch's
    first action (a transaction is one request, whatever it writes)."""
    if "TableName" in params:
        return str(params["TableName"])
    for action in params.get("TransactItems", []):
        (body,) = action.values()
        return str(body["TableName"])
    for table in params.get("RequestItems", {}):
        return str(table)
    return "?"


class RequestCounter:
    """DynamoDB requests by table, as the app's client sends them."""

    def __init__(self, client: Any) -> None:
        self.by_table: Counter[str] = Counter()
        client.meta.events.register("before-parameter-build.dynamodb", self._count)

    def _count(self, params: dict[str, Any], **_: Any) -> None:
        self.by_table[_table_of(params)] += 1

    def during(self, action: Callable[[], Any]) -> Counter[str]:
        self.by_table.clear()
        response = action()
        assert response.status_code < 300, response.body
        return Counter(self.by_table)


# Writes that move an item between listings (the filters' entries are written in the same
# transaction as the item, so the old name, tags and status are read first).
MOVES_BETWEEN_LISTINGS = ("put", "patch")


def measure() -> dict[str, Figure]:
    with bench_api() as api:
        return _measure(api)


def _measure(api: BenchApi) -> dict[str, Figure]:
    counter = RequestCounter(api.aws["dynamodb"])
    for n in range(30):
        api.create(json.dumps({"name": f"item {n}", "status": "archived"}).encode())
    item = api.create(b'{"name": "measured", "attributes": {"a": 1}}')
    other_item = api.create(b'{"name": "with attachments"}')
    path = f"/items/{item['id']}"
    operations: dict[str, Callable[[], Any]] = {
        "create": lambda: api.call("POST", "/items", b'{"name": "x"}'),
        "get": lambda: api.call("GET", path),
        "put": lambda: api.call("PUT", path, b'{"name": "y", "attributes": {"a": 1}}'),
        "patch": lambda: api.call("PATCH", path, b'{"status": "archived"}', **{"If-Match": "2"}),
        "patch_unlisted": lambda: api.call("PATCH", path, b'{"description": "d"}'),
        "list": lambda: api.call("GET", "/items?limit=20"),
        "list_status": lambda: api.call("GET", "/items?limit=20&status=archived"),
        "delete": lambda: api.call("DELETE", path),
    }
    from chalicelib.schema import LISTING_SHARDS

    figures: dict[str, Figure] = {}
    for name, action in operations.items():
        counted = counter.during(action)
        if name.startswith("list"):
            # Meaning changed (issue 12): a page queries every shard of its listing index in
            # parallel, then reads its items in one BatchGetItem.
            figures[name] = Figure(
                float(counted[ITEMS]),
                None,
                f"<= {LISTING_SHARDS + 1}",
                "requests",
                note=f"{LISTING_SHARDS} shard queries in parallel, then one BatchGetItem",
            )
        elif name in MOVES_BETWEEN_LISTINGS:
            figures[name] = Figure(
                float(counted[ITEMS]),
                None,
                "<= 2",
                "requests",
                note="changes the name, tags or status: reads the item, then one transaction "
                "with its listing entries (docs/scale.md)",
            )
        else:
            figures[name] = Figure(float(counted[ITEMS]), None, "== 1", "requests")
    attachment = counter.during(
        lambda: api.call(
            "POST",
            f"/items/{other_item['id']}/attachments",
            b'{"filename": "a.txt", "content_type": "text/plain", "size": 1}',
        )
    )
    figures["create_attachment"] = Figure(
        float(attachment[ITEMS]),
        None,
        "== 1",
        "requests",
        note="one transaction: the item's counter (it exists, below the bound) and the record",
    )

    # A merge into stored attributes: the documented exception (read, merge, conditional write).
    other = api.create(b'{"name": "merged", "attributes": {"a": 1}}')
    merge = counter.during(
        lambda: api.call("PATCH", f"/items/{other['id']}", b'{"attributes": {"b": 2}}')
    )
    figures["patch_attributes"] = Figure(
        float(merge[ITEMS]),
        None,
        "<= 2",
        "requests",
        note="a merge into stored attributes reads, merges and writes conditionally",
    )

    # An idempotent create: one request on the items table, Powertools' records apart.
    keyed = counter.during(
        lambda: api.call("POST", "/items", b'{"name": "once"}', **{"Idempotency-Key": "k-1"})
    )
    figures["create_idempotent"] = Figure(float(keyed[ITEMS]), None, "== 1", "requests")
    figures["create_idempotent.records"] = Figure(
        float(keyed[IDEMPOTENCY]),
        None,
        "<= 2",
        "requests",
        note="Powertools' idempotency records: claim the key, then store the response",
    )
    replay = counter.during(
        lambda: api.call("POST", "/items", b'{"name": "once"}', **{"Idempotency-Key": "k-1"})
    )
    figures["create_idempotent.replay"] = Figure(
        float(sum(replay.values())),
        None,
        "<= 1",
        "requests",
        note="a replay reads the stored response and writes nothing",
    )
    return figures
