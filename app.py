"""The Items API: the Chalice app, its blueprints of routes, middleware and event handlers.

Routes live in ``chalicelib/routes/`` (one blueprint per resource); this module wires them,
adds the middleware every request passes through, and holds the functions that events invoke.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, DynamoDBEvent, Response

from chalicelib.routes.attachments import attachment_routes
from chalicelib.routes.authorizer import authorizer_routes
from chalicelib.routes.items import item_routes
from chalicelib.routes.system import system_routes
from chalicelib.routes.web import JSON, header
from chalicelib.schema import ITEM_CHANGES_BATCH_SIZE
from chalicelib.settings import items_table_stream_arn

# configure_logs=False: Powertools Logger owns the log output; Chalice's own handler would print
# every line a second time as plain text.
app = Chalice(app_name="items-api", configure_logs=False)
app.api.binary_types = []  # every body of this API is text
for blueprint in (authorizer_routes, system_routes, item_routes, attachment_routes):
    app.register_blueprint(blueprint)


@app.middleware("http")
def log_and_measure(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """One structured log line and the business metric of every request."""
    from chalicelib import telemetry

    started = time.perf_counter()
    response = get_response(event)
    context = event.context or {}
    telemetry.record_request(
        method=event.method,
        route=context.get("resourcePath", ""),
        status=response.status_code,
        latency_ms=(time.perf_counter() - started) * 1000,
        request_id=context.get("requestId"),
    )
    return response


@app.middleware("http")
def label_chalice_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice's own refusals (such as the 415 for a content type a route does not accept) are
    JSON in our error shape but carry no ``Content-Type``; say what they are. Chalice's 415
    echoes the request's Content-Type whole: say it bounded, controls escaped."""
    response = get_response(event)
    if isinstance(response.body, dict) and header(response.headers, "content-type") is None:
        response.headers["Content-Type"] = JSON
        if response.body.get("Code") == "UnsupportedMediaType":
            from chalicelib.text import shown

            sent = shown(header(event.headers, "content-type") or "")
            response.body["Message"] = f"Content-Type: {sent} is not accepted here"
    return response


@app.middleware("http")
def require_local_api_key(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Local parity for API keys.

    Neither ``chalice local`` nor the test client enforces ``api_key_required``; when
    ``LOCAL_API_KEY`` is set (``make run``, the tests; never in Lambda) this refuses a request
    without that key exactly as API Gateway would.
    """
    expected = os.environ.get("LOCAL_API_KEY")
    if expected and "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
        context = event.context or {}
        entry = app.routes.get(context.get("resourcePath", ""), {}).get(event.method)
        if entry and entry.api_key_required and header(event.headers, "x-api-key") != expected:
            # API Gateway answers before the function runs, so Chalice adds no CORS headers;
            # the deployed stack's gateway responses add them, and so does this refusal: a
            # browser sees the 403 instead of an opaque network error.
            cors = entry.cors.get_access_control_headers() if entry.cors else {}
            return Response(
                body='{"message":"Forbidden"}',
                status_code=403,
                headers={**cors, "Content-Type": JSON},
            )
    return get_response(event)


@app.lambda_function(name="confirm_upload")
def confirm_upload(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge's "Object Created" events of the assets bucket, below the attachments prefix.

    Marks the attachment uploaded, with the file's real size; removes a file that no record
    claims (uploaded with a still-valid presigned POST after its item or attachment was
    deleted), so nothing is left orphaned. Not an HTTP route: ``chalice local`` does not serve
    it; under `make run` the local event feeder invokes it as EventBridge would.
    """
    from chalicelib import telemetry
    from chalicelib.container import get_services
    from chalicelib.timestamps import normalized

    detail = event["detail"]["object"]
    key = detail["key"]  # our keys hold only [0-9a-z/-]: nothing to decode
    outcome = get_services().attachments.confirm_upload(
        key, size=int(detail.get("size", 0)), uploaded_at=normalized(event["time"])
    )
    telemetry.upload_reported(key, outcome)
    return {"key": key, "outcome": telemetry.UPLOAD_OUTCOMES[outcome]}


@app.on_dynamodb_record(
    stream_arn=items_table_stream_arn(),
    batch_size=ITEM_CHANGES_BATCH_SIZE,
    starting_position="TRIM_HORIZON",
    name="clean_up_removed_records",
)
def clean_up_removed_records(event: DynamoDBEvent) -> dict[str, Any]:
    """The items table's stream (removals only): what a removed record leaves behind goes too.

    A removed item record takes every record and file of its item with it; a removed
    attachment record (deleted, or expired because its file never arrived) takes its file.
    A record that fails is reported back (``ReportBatchItemFailures``), so Lambda retries from
    it, splitting the batch, and in the end hands it to the dead-letter queue.
    """
    from chalicelib import telemetry
    from chalicelib.container import get_services

    attachments = get_services().attachments
    for record in event:
        keys = record.keys or {}
        item_id, sort_key = keys.get("id", {}).get("S", ""), keys.get("sk", {}).get("S", "")
        try:
            removed = attachments.on_record_removed(item_id, sort_key)
        except Exception as exc:
            telemetry.cleanup_failed(item_id, sort_key, exc)
            return {"batchItemFailures": [{"itemIdentifier": record.sequence_number}]}
        telemetry.cleaned_up(item_id, sort_key, removed)
    return {"batchItemFailures": []}
