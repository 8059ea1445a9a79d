"""``warm_overhead_ratio``: ``GET /items/{id}`` through Chalice's test client against the bare
``get_item`` call it wraps, on the same in-process backend, interleaved."""

from __future__ import annotations

import statistics
from typing import Any

from bench.figures import Figure, timed
from bench.inprocess import bench_api

WARMUP = 50
REPETITIONS = 600


def measure() -> Figure:
    with bench_api() as api:
        client = api.aws["dynamodb"]
        item = api.create(b'{"name": "warm", "tags": ["a", "b"], "attributes": {"price": 12.5}}')
        path = f"/items/{item['id']}"

        # Capture the exact request the route sends, to replay it bare.
        captured: dict[str, Any] = {}

        def capture(params: dict[str, Any], **_: Any) -> None:
            captured.update(params)

        client.meta.events.register("before-parameter-build.dynamodb.GetItem", capture)
        assert api.call("GET", path).status_code == 200
        client.meta.events.unregister("before-parameter-build.dynamodb.GetItem", capture)
        request = dict(captured)

        def through_the_api() -> None:
            api.call("GET", path)

        def bare() -> None:
            client.get_item(**request)

        for _ in range(WARMUP):
            through_the_api()
            bare()
        ours, baseline = [], []
        for _ in range(REPETITIONS):
            ours.append(timed(through_the_api))
            baseline.append(timed(bare))
    return Figure(
        statistics.median(ours),
        statistics.median(baseline),
        "<= 1.3",
        "s",
        target_on_ratio=True,
        note=f"median of {REPETITIONS} interleaved calls each",
    )
