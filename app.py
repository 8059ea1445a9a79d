"""The Items API: the Chalice app, its blueprints of routes, middleware and event handlers.

Routes live in ``chalicelib/routes/`` (one blueprint per resource); this module wires them,
adds the middleware every request passes through, and holds the functions that events invoke.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Response

from chalicelib.routes.attachments import attachment_routes
from chalicelib.routes.authorizer import authorizer_routes
from chalicelib.routes.items import item_routes
from chalicelib.routes.system import system_routes
from chalicelib.routes.web import JSON, header

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
    JSON in our error shape but carry no ``Content-Type``; say what they are."""
    response = get_response(event)
    if isinstance(response.body, dict) and header(response.headers, "content-type") is None:
        response.headers["Content-Type"] = JSON
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
        requires_key = entry is not None and entry.api_key_required
        if requires_key and header(event.headers, "x-api-key") != expected:
            return Response(
                body='{"message":"Forbidden"}',
                status_code=403,
                headers={"Content-Type": "application/json"},
            )
    return get_response(event)


@app.lambda_function(name="sweep_late_upload")
def sweep_late_upload(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge's "Object Created" events of the assets bucket, below the attachments prefix.

    Removes a file uploaded (with a still-valid presigned POST) after its item or attachment was
    deleted, so nothing is left orphaned. Not an HTTP route: ``chalice local`` does not serve it.
    """
    from chalicelib import telemetry
    from chalicelib.container import get_services

    key = event["detail"]["object"]["key"]  # our keys hold only [0-9a-z/-]: nothing to decode
    removed = get_services().attachments.sweep_upload(key)
    telemetry.late_upload(key, removed=removed)
    return {"key": key, "removed": removed}
