"""Public routes (no API key, no token): health and the OpenAPI document."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.errors import DependencyUnavailableError, ItemsApiError
from chalicelib.routes.common import route, services
from chalicelib.routes.web import json_response

system_routes = Blueprint(__name__)


@route(system_routes, "/health", public=True)
def health() -> Response:
    current = services()
    checks: dict[str, str] = {}
    for name, ping in (("dynamodb", current.items.repository.ping), ("s3", current.files.ping)):
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


@route(system_routes, "/openapi.json", public=True)
def openapi_document() -> Response:
    from chalicelib.openapi import build_document

    return json_response(build_document())
