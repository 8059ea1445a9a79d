"""Telemetry (issue 4.6): one JSON log line per request, never a body; EMF business metrics."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.unit.harness import ITEMS, InProcessApi, Reply, editor_context
from tests.unit.test_faults import Faults

MARKER = "BODY-MARKER-7f3a"  # must never appear in any log output


@contextmanager
def log_output() -> Iterator[io.StringIO]:
    """Everything the app's logger writes, whichever handlers it has."""
    import app  # noqa: F401 - the app configures its logger on import
    from chalicelib import telemetry

    telemetry.logger()  # the Powertools handler exists before we redirect it
    buffer = io.StringIO()
    logger = logging.getLogger(telemetry.SERVICE)
    handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "the app's logger has no handler"
    previous = [h.setStream(buffer) for h in handlers]
    try:
        yield buffer
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)


def emf_metrics(stdout: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines of ``stdout``."""
    documents = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_counts(stdout: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for document in emf_metrics(stdout):
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ItemsApi"
        assert directive["Dimensions"] == [["service"]]
        assert document["service"] == "items-api"
        assert isinstance(document["_aws"]["Timestamp"], int)
        for metric in directive["Metrics"]:
            assert metric["Unit"] == "Count"
            values = document[metric["Name"]]
            counts[metric["Name"]] = counts.get(metric["Name"], 0) + sum(
                values if isinstance(values, list) else [values]
            )
    return counts


def lambda_request(method: str, path: str, body: str | None, request_id: str) -> dict[str, Any]:
    """A request as Lambda receives it from API Gateway, request id included."""
    from chalice.local import LambdaContext, LambdaEventConverter, RouteMatcher

    import app

    converter = LambdaEventConverter(RouteMatcher(list(app.app.routes)))
    event = converter.create_lambda_event(
        method=method,
        path=path,
        headers={"Content-Type": "application/json"},
        body=body.encode() if body is not None else None,
    )
    event["requestContext"]["requestId"] = request_id
    event["requestContext"]["authorizer"] = editor_context()
    event["body"] = body
    context = LambdaContext("items-api", 256, max_runtime_ms=20_000)
    response: dict[str, Any] = app.app(event, context)
    return response


def test_each_request_logs_one_json_line_without_the_body(api: InProcessApi) -> None:
    body = json.dumps({"name": MARKER, "attributes": {"secret": MARKER}})
    with log_output() as logs:
        response = lambda_request("POST", "/items", body, "req-1234")
    assert response["statusCode"] == 201

    lines = logs.getvalue().splitlines()
    assert len(lines) == 1, lines  # exactly one line per request, and it is JSON
    record = json.loads(lines[0])
    assert record["request_id"] == "req-1234"
    assert record["method"] == "POST"
    assert record["route"] == "/items"
    assert record["status"] == 201
    assert isinstance(record["latency_ms"], (int, float))
    assert record["latency_ms"] >= 0
    assert record["level"] == "INFO"
    assert record["service"] == "items-api"
    assert MARKER not in logs.getvalue()


def test_failed_requests_log_their_status_and_never_the_body(
    api: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    item = api.create_item()
    with log_output() as logs:
        bad = lambda_request("POST", "/items", json.dumps({"nmae": MARKER}), "req-bad")
        broken = lambda_request("POST", "/items", '{"name": "' + MARKER, "req-broken")
        patched = lambda_request("PATCH", f"/items/{item['id']}", json.dumps({"tags": 5}), "r3")
    assert (bad["statusCode"], broken["statusCode"], patched["statusCode"]) == (400, 400, 400)

    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert [(r["request_id"], r["status"]) for r in records] == [
        ("req-bad", 400),
        ("req-broken", 400),
        ("r3", 400),
    ]
    assert records[2]["route"] == "/items/{item_id}"  # the route, not the id-bearing path
    captured = capsys.readouterr()
    for text in (logs.getvalue(), captured.out, captured.err):
        assert MARKER not in text


def _counts_after(api: InProcessApi, capsys: pytest.CaptureFixture[str], *calls: Any) -> Any:
    capsys.readouterr()
    replies: list[Reply] = [api.request(*call) for call in calls]
    return replies, metric_counts(capsys.readouterr().out)


def test_business_metrics_are_emitted_as_emf(
    api: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    item = api.create_item()
    path = f"/items/{item['id']}"

    cases: list[tuple[tuple[Any, ...], int, dict[str, float]]] = [
        (("POST", "/items", {"name": "a"}), 201, {"ItemsCreated": 1}),
        (("PUT", path, {"name": "b"}), 200, {"ItemsUpdated": 1}),
        (("PATCH", path, {"name": "c"}), 200, {"ItemsUpdated": 1}),
        (("PATCH", path, {"name": "d"}, {"If-Match": '"1"'}), 412, {"ItemConflicts": 1}),
        (("GET", path), 200, {}),
        (("GET", "/items"), 200, {}),
        (("POST", "/items", {"name": ""}), 400, {}),
        (("DELETE", path, None, {"If-Match": '"3"'}), 204, {"ItemsDeleted": 1}),
        (("DELETE", path), 404, {}),
    ]
    for call, status, expected in cases:
        (reply,), counts = _counts_after(api, capsys, call)
        assert reply.status == status, (call, reply.body)
        assert counts == expected, call


def test_throttles_and_idempotency_conflicts_are_counted(
    api: InProcessApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)  # botocore's back-off between attempts
    faults = Faults(api.app_client("dynamodb"))
    faults.throttle("ProvisionedThroughputExceededException", table=ITEMS)
    (throttled,), counts = _counts_after(api, capsys, ("GET", "/items"))
    faults.heal()
    assert throttled.status == 429
    assert counts == {"ItemThrottles": 1}

    from chalicelib import container

    services = container.get_services()
    real_create = services.items.create
    nested: list[Reply] = []

    def create_racing_a_repeat(body: dict[str, Any], *, actor: str) -> dict[str, Any]:
        # The repeat arrives while the first request is still in progress.
        if not nested:
            nested.append(api.request("POST", "/items", body, {"Idempotency-Key": "k"}))
        return real_create(body, actor=actor)

    monkeypatch.setattr(services.items, "create", create_racing_a_repeat)
    (first,), counts = _counts_after(
        api, capsys, ("POST", "/items", {"name": "x"}, {"Idempotency-Key": "k"})
    )
    assert first.status == 201
    assert [r.status for r in nested] == [409]
    assert counts == {"ItemConflicts": 1, "ItemsCreated": 1}
