"""Public routes (no API key, no token): health and the OpenAPI document."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.errors import DependencyUnavailableError
from chalicelib.routes.common import route, services
from chalicelib.routes.web import json_response

system_routes = Blueprint(__name__)


@route(system_routes, "/health", public=True)
def health() -> Response:
    from chalicelib.health import OK

    # Checked at most every few seconds per process (chalicelib/health.py): open to anyone,
    # this route must not be a way to spend the table's capacity.
    checks = services().health.states()
    if all(state == OK for state in checks.values()):
        return json_response({"status": "ok", "checks": checks})
    retry_after = {"Retry-After": str(DependencyUnavailableError.RETRY_AFTER)}
    return json_response({"status": "unavailable", "checks": checks}, 503, retry_after)


@route(system_routes, "/openapi.json", public=True)
def openapi_document() -> Response:
    from chalicelib.openapi import build_document

    return json_response(build_document())
