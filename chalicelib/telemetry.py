"""Structured logs, CloudWatch EMF metrics and X-Ray tracing, on Powertools for AWS Lambda.

Everything is created on first use: importing the app stays cheap (cold starts), and the X-Ray
SDK is only loaded inside Lambda, where the Powertools layer provides it.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

SERVICE = "items-api"
# Metric names (the stack alarms on ItemConflicts and ItemThrottles).
ITEMS_CREATED = "ItemsCreated"
ITEMS_UPDATED = "ItemsUpdated"
ITEMS_DELETED = "ItemsDeleted"
ITEM_CONFLICTS = "ItemConflicts"
ITEM_THROTTLES = "ItemThrottles"
CLEANUP_FAILURES = "RecordCleanupFailures"
LATE_UPLOADS_REMOVED = "LateUploadsRemoved"

_metrics_lock = threading.Lock()


def in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


@functools.cache
def logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))


@functools.cache
def metrics() -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(
        service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ItemsApi"),
    )


# What the tracer instruments: botocore only, which gives every DynamoDB and S3 call its
# subsegment. Patching everything the X-Ray SDK supports (its default) imports a dozen patchers
# (sqlite3, httplib, requests, ...) for libraries this API never calls, on every cold start.
TRACED_MODULES = ("botocore",)


@functools.cache
def tracer() -> Any | None:
    """The X-Ray tracer in Lambda (it patches botocore, so call before creating clients)."""
    if not in_lambda():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(
        service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE), patch_modules=TRACED_MODULES
    )


def with_trace_context(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` as it must run on a worker thread: inside this thread's X-Ray trace.

    The X-Ray SDK keeps the current segment per thread; without this, calls made on a pool
    thread (the parallel queries of a listing page) would record no subsegment and log a
    "cannot find the current segment" error. Outside Lambda there is no trace to carry.
    """
    if tracer() is None:
        return function
    from aws_xray_sdk.core import xray_recorder

    entity = xray_recorder.get_trace_entity()

    def traced(*args: Any) -> T:
        xray_recorder.set_trace_entity(entity)
        try:
            return function(*args)
        finally:
            xray_recorder.clear_trace_entities()

    return traced


def count(name: str, value: int = 1) -> None:
    """Emit one EMF metric now (flushed per call, so nothing is lost if the request fails)."""
    from aws_lambda_powertools.metrics import MetricUnit

    with _metrics_lock:  # chalice local serves requests on threads; Metrics is shared state
        emitter = metrics()
        emitter.add_metric(name=name, unit=MetricUnit.Count, value=value)
        emitter.flush_metrics()


def metric_for(method: str, route: str, status: int) -> str | None:
    """Which business metric a finished request counts towards, if any."""
    if status in (409, 412):
        return ITEM_CONFLICTS
    if status == 429:
        return ITEM_THROTTLES
    if route == "/items" and method == "POST" and status == 201:
        return ITEMS_CREATED
    if route == "/items/{item_id}" and method in ("PUT", "PATCH") and status == 200:
        return ITEMS_UPDATED
    if route == "/items/{item_id}" and method == "DELETE" and status == 204:
        return ITEMS_DELETED
    return None


def record_request(
    *, method: str, route: str, status: int, latency_ms: float, request_id: str | None
) -> None:
    """One structured log line per request (never its body), and its business metric."""
    logger().info(
        "request",
        extra={
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "latency_ms": round(latency_ms, 2),
        },
    )
    name = metric_for(method, route, status)
    if name:
        count(name)


UPLOAD_OUTCOMES = {True: "confirmed", False: "removed", None: "ignored"}


def upload_reported(key: str, outcome: bool | None) -> None:
    """Report what became of a file S3 reported (removed: it belonged to nothing any more)."""
    word = UPLOAD_OUTCOMES[outcome]
    logger().info(f"upload {word}", extra={"key": key, "outcome": word})
    if outcome is False:
        count(LATE_UPLOADS_REMOVED)


def cleaned_up(item_id: str, sort_key: str, removed: int) -> None:
    """Report what a removed record took with it."""
    logger().info(
        "removed record cleaned up",
        extra={"item_id": item_id, "record": sort_key, "removed": removed},
    )


def cleanup_failed(item_id: str, sort_key: str, error: Exception) -> None:
    """Report a removed record whose leftovers could not be removed (Lambda will retry it)."""
    logger().error(
        "could not clean up after a removed record",
        extra={"item_id": item_id, "record": sort_key, "error": type(error).__name__},
    )
    count(CLEANUP_FAILURES)
