"""``list_items_examined``: how many entries DynamoDB examines (``ScannedCount``) to serve one
page of 20, on a table of 10,000 items (and of 1,000, to show it does not grow with the table).

Meaning changed with the sharded listing indexes (issue 12): a page queries every shard of an
index for up to 21 keys (one more than a page), so it examines up to ``LISTING_SHARDS`` x 21
index entries, whatever the table's size; a query of keys costs 0.5 RCU whether it returns one
or 21. Before, it was one ``Scan`` or ``Query`` examining 21 items. The baseline for the status
listing is what a table without a status index would do: a ``Scan`` with a
``FilterExpression``, which reads items until enough of them match.
"""

from __future__ import annotations

import json
from typing import Any

from bench.figures import Figure
from bench.inprocess import ITEMS, BenchApi, bench_api
from bench.scale import ARCHIVED_SHARE, fill

PAGE = 20


class Examined:
    """``ScannedCount`` of every Scan/Query response of the app's client."""

    def __init__(self, client: Any) -> None:
        self.scanned = 0
        client.meta.events.register("after-call.dynamodb", self._add)

    def _add(self, parsed: dict[str, Any], **_: Any) -> None:
        self.scanned += int(parsed.get("ScannedCount", 0))


def examined_for(api: BenchApi, examined: Examined, query: str) -> int:
    examined.scanned = 0
    response = api.call("GET", f"/items?limit={PAGE}{query}")
    assert response.status_code == 200, response.body
    assert len(json.loads(response.body)["items"]) == PAGE
    return examined.scanned


def filtered_scan_examines(api: BenchApi) -> int:
    """The baseline: a Scan with a filter on status, read until a page is full."""
    client, scanned, found = api.aws["dynamodb"], 0, 0
    request: dict[str, Any] = {
        "TableName": ITEMS,
        "Limit": PAGE + 1,
        "FilterExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "archived"}},
    }
    while found < PAGE + 1:
        page = client.scan(**request)
        scanned += page["ScannedCount"]
        found += page["Count"]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return scanned


def measure() -> dict[str, Figure]:
    from chalicelib.schema import LISTING_SHARDS

    bound = LISTING_SHARDS * (PAGE + 1)
    figures: dict[str, Figure] = {}
    for size in (1_000, 10_000):
        with bench_api() as api:
            fill(api, size)
            examined = Examined(api.aws["dynamodb"])
            plain = examined_for(api, examined, "")
            by_status = examined_for(api, examined, "&status=archived")
            baseline = filtered_scan_examines(api)
        suffix = "" if size == 10_000 else f".table_{size}"
        figures[f"list_items_examined{suffix}"] = Figure(
            float(plain),
            None,
            f"<= {bound}",
            "items",
            note=f"index entries examined for one page of {PAGE}, no status, table of "
            f"{size:,} items ({LISTING_SHARDS} shards x up to {PAGE + 1}; meaning changed)",
        )
        figures[f"list_items_examined.status{suffix}"] = Figure(
            float(by_status),
            float(baseline),
            f"<= {bound}",
            "items",
            note=(
                f"index entries examined for one page of {PAGE} archived items, table of "
                f"{size:,} ({ARCHIVED_SHARE:.0%} archived; meaning changed); baseline: a Scan "
                "with a status filter"
            ),
        )
    return figures
