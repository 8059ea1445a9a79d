"""The Items API routes: parse the request, call chalicelib, shape the response."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, CORSConfig, Request, Response

from chalicelib.errors import DependencyUnavailableError, ItemsApiError
from chalicelib.jsonio import dumps
from chalicelib.settings import cors_allow_origin, get_settings
from chalicelib.web import (
    JSON,
    error_response,
    etag,
    header,
    item_response,
    json_response,
    parse_cursor,
    parse_if_match,
    parse_limit,
    parse_status,
)

if TYPE_CHECKING:
    from chalicelib.container import Services

# configure_logs=False: Powertools Logger owns the log output; Chalice's own handler would print
# every line a second time as plain text.
app = Chalice(app_name="items-api", configure_logs=False)
app.api.binary_types = []  # every body of this API is text

CORS = CORSConfig(
    allow_origin=cors_allow_origin(),
    allow_headers=["Content-Type", "If-Match", "Idempotency-Key", "X-Api-Key"],
    expose_headers=["ETag", "Location"],
    max_age=600,
)
JSON_TYPES = ["application/json"]
MERGE_PATCH_TYPES = ["application/json", "application/merge-patch+json"]


@functools.cache
def get_services() -> Services:
    """The services of this process, built on first use (no AWS client at import time)."""
    from chalicelib.container import build_services

    return build_services(get_settings())


def route(path: str, *, api_key_required: bool = True, **options: Any) -> Callable[..., Any]:
    """``app.route`` with the API's defaults: CORS, API key, and domain errors as responses."""

    def register(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def handle(**params: str) -> Response:
            try:
                return view(**params)
            except ItemsApiError as error:
                return error_response(error)

        app.route(path, cors=CORS, api_key_required=api_key_required, **options)(handle)
        return handle

    return register


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


def _request() -> Request:
    request = app.current_request
    assert request is not None, "only called while a request is being handled"
    return request


def _body() -> dict[str, Any]:
    from chalicelib.jsonio import parse_json_object

    raw = _request().raw_body
    return parse_json_object(raw.encode() if isinstance(raw, str) else raw)


def _expected_version() -> int | None:
    return parse_if_match(header(_request().headers, "if-match"))


@route("/health", api_key_required=False)
def health() -> Response:
    services = get_services()
    checks: dict[str, str] = {}
    for name, ping in (("dynamodb", services.items.repository.ping), ("s3", services.files.ping)):
        try:
            ping()
            checks[name] = "ok"
        except ItemsApiError:
            checks[name] = "unavailable"
    healthy = all(state == "ok" for state in checks.values())
    if healthy:
        return json_response({"status": "ok", "checks": checks})
    retry_after = {"Retry-After": str(DependencyUnavailableError.RETRY_AFTER)}
    return json_response({"status": "unavailable", "checks": checks}, 503, retry_after)


@route("/openapi.json", api_key_required=False)
def openapi_document() -> Response:
    from chalicelib.openapi import build_document

    return json_response(build_document())


@route("/items", methods=["POST"], content_types=JSON_TYPES)
def create_item() -> Response:
    from chalicelib.idempotency import parse_idempotency_key

    request = _request()
    key = parse_idempotency_key(header(request.headers, "idempotency-key"))
    body = _body()
    services = get_services()

    def create() -> dict[str, Any]:
        item = services.items.create(body)
        return {
            "status_code": 201,
            "body": dumps(item),
            "headers": {"ETag": etag(item["version"]), "Location": f"/items/{item['id']}"},
        }

    def discard(created: dict[str, Any]) -> None:
        # The item was written but its idempotency record could not be completed: undo it, or
        # the client's retry (answered 429/503) would create the item a second time.
        services.items.delete(created["headers"]["Location"].rsplit("/", 1)[1], 1)

    if key is None:
        created = create()
    else:
        created = services.idempotency.run_once(
            key=key,
            scope=header(request.headers, "x-api-key") or "",
            body=body,
            create=create,
            discard=discard,
            lambda_context=app.lambda_context,
        )
    return Response(
        body=created["body"],
        status_code=created["status_code"],
        headers={"Content-Type": JSON, **created["headers"]},
    )


@route("/items", methods=["GET"])
def list_items() -> Response:
    params: Any = _request().query_params or {}
    items, next_cursor = get_services().items.list(
        parse_limit(params.get("limit")),
        parse_cursor(params.get("cursor")),
        parse_status(params.get("status")),
    )
    return json_response({"items": items, "next_cursor": next_cursor})


@route("/items/{item_id}", methods=["GET"])
def get_item(item_id: str) -> Response:
    return item_response(get_services().items.get(item_id))


@route("/items/{item_id}", methods=["PUT"], content_types=JSON_TYPES)
def replace_item(item_id: str) -> Response:
    expected = _expected_version()
    return item_response(get_services().items.replace(item_id, _body(), expected))


@route("/items/{item_id}", methods=["PATCH"], content_types=MERGE_PATCH_TYPES)
def patch_item(item_id: str) -> Response:
    expected = _expected_version()
    return item_response(get_services().items.patch(item_id, _body(), expected))


@route("/items/{item_id}", methods=["DELETE"])
def delete_item(item_id: str) -> Response:
    get_services().items.delete(item_id, _expected_version())
    return Response(body="", status_code=204)


@route("/items/{item_id}/attachments", methods=["POST"], content_types=JSON_TYPES)
def create_attachment(item_id: str) -> Response:
    created = get_services().attachments.create(item_id, _body())
    location = f"/items/{item_id}/attachments/{created['attachment']['id']}"
    return json_response(created, 201, {"Location": location})


@route("/items/{item_id}/attachments", methods=["GET"])
def list_attachments(item_id: str) -> Response:
    params: Any = _request().query_params or {}
    attachments, next_cursor = get_services().attachments.list(
        item_id, parse_limit(params.get("limit")), parse_cursor(params.get("cursor"))
    )
    return json_response({"items": attachments, "next_cursor": next_cursor})


@route("/items/{item_id}/attachments/{attachment_id}", methods=["GET"])
def download_attachment(item_id: str, attachment_id: str) -> Response:
    url = get_services().attachments.download_url(item_id, attachment_id)
    return Response(
        body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"}
    )


@route("/items/{item_id}/attachments/{attachment_id}", methods=["DELETE"])
def delete_attachment(item_id: str, attachment_id: str) -> Response:
    get_services().attachments.delete(item_id, attachment_id)
    return Response(body="", status_code=204)


@app.lambda_function(name="sweep_late_upload")
def sweep_late_upload(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge's "Object Created" events of the assets bucket, below the attachments prefix.

    Removes a file uploaded (with a still-valid presigned POST) after its item or attachment was
    deleted, so nothing is left orphaned. Not an HTTP route: ``chalice local`` does not serve it.
    """
    from chalicelib import telemetry

    key = event["detail"]["object"]["key"]  # our keys hold only [0-9a-z/-]: nothing to decode
    removed = get_services().attachments.sweep_upload(key)
    telemetry.late_upload(key, removed=removed)
    return {"key": key, "removed": removed}
