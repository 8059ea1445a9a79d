"""Structured logs, CloudWatch EMF metrics and X-Ray tracing, on Powertools for AWS Lambda.

Everything is created on first use: importing the app stays cheap (cold starts), and the X-Ray
SDK is only loaded inside Lambda, where the Powertools layer provides it.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

SERVICE = "items-api"
# Metric names (the stack alarms on ItemConflicts and ItemThrottles).
ITEMS_CREATED = "ItemsCreated"
ITEMS_UPDATED = "ItemsUpdated"
ITEMS_DELETED = "ItemsDeleted"
ITEM_CONFLICTS = "ItemConflicts"
ITEM_THROTTLES = "ItemThrottles"
ORPHANED_FILES = "OrphanedFileCleanupFailures"
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


def orphaned_files(item_id: str, error: Exception) -> None:
    """Report files of a deleted item that could not be removed (for an operator to sweep)."""
    logger().error(
        "files of a deleted item could not be removed",
        extra={"item_id": item_id, "error": type(error).__name__},
    )
    count(ORPHANED_FILES)


def late_upload(key: str, *, removed: bool) -> None:
    """Report an upload the sweep looked at (removed: it belonged to nothing any more)."""
    logger().info(
        "late upload removed" if removed else "upload belongs to an attachment",
        extra={"key": key, "removed": removed},
    )
    if removed:
        count(LATE_UPLOADS_REMOVED)
