"""``list_items_examined``: how many items DynamoDB reads to serve one page of 20, on a table
of 10,000 items (and of 1,000, to show it does not grow with the table).

Without ``status`` a page is one ``Scan`` with ``Limit``; with it, one ``Query`` of the status
index. The baseline for the status listing is what a table without that index would do: a
``Scan`` with a ``FilterExpression``, which reads items until enough of them match.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from bench.figures import Figure
from bench.inprocess import ITEMS, BenchApi, bench_api

PAGE = 20
ARCHIVED_SHARE = 0.1  # one item in ten is archived: the filter has to look far


class Examined:
    """``ScannedCount`` of every Scan/Query response of the app's client."""

    def __init__(self, client: Any) -> None:
        self.scanned = 0
        client.meta.events.register("after-call.dynamodb", self._add)

    def _add(self, parsed: dict[str, Any], **_: Any) -> None:
        self.scanned += int(parsed.get("ScannedCount", 0))


def fill(api: BenchApi, size: int) -> None:
    """``size`` items shaped exactly as the API stores them (clones of one it created)."""
    client = api.aws["dynamodb"]
    template = api.create(b'{"name": "template", "tags": ["t"], "attributes": {"price": 1}}')
    record = client.get_item(TableName=ITEMS, Key={"id": {"S": template["id"]}})["Item"]
    generator = random.Random(7)
    rows = []
    for n in range(size - 1):
        clone = json.loads(json.dumps(record))
        clone["id"] = {"S": str(uuid.UUID(int=generator.getrandbits(128), version=4))}
        clone["name"] = {"S": f"item {n}"}
        archived = generator.random() < ARCHIVED_SHARE
        clone["status"] = {"S": "archived" if archived else "active"}
        clone["created_at"] = {"S": f"2026-01-01T00:00:{n // 1000:02}.{n % 1000:03}Z"}
        rows.append({"PutRequest": {"Item": clone}})
    for start in range(0, len(rows), 25):
        client.batch_write_item(RequestItems={ITEMS: rows[start : start + 25]})


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
            f"<= {PAGE + 1}",
            "items",
            note=f"one page of {PAGE}, no status, table of {size:,} items",
        )
        figures[f"list_items_examined.status{suffix}"] = Figure(
            float(by_status),
            float(baseline),
            f"<= {PAGE + 1}",
            "items",
            note=(
                f"one page of {PAGE} archived items, table of {size:,} ({ARCHIVED_SHARE:.0%} "
                "archived); baseline: a Scan with a status filter"
            ),
        )
    return figures
