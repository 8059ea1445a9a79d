"""What every blueprint shares: CORS, the route decorator, request parsing, the services."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CORSConfig, Request, Response

from chalicelib.errors import ItemsApiError
from chalicelib.routes.web import error_response, header, parse_if_match
from chalicelib.settings import cors_allow_origin

if TYPE_CHECKING:
    from chalicelib.container import Services

CORS = CORSConfig(
    allow_origin=cors_allow_origin(),
    allow_headers=["Content-Type", "If-Match", "Idempotency-Key", "X-Api-Key"],
    # Retry-After: browsers may only read the headers listed here (429, 503 and 409 carry it).
    expose_headers=["ETag", "Location", "Retry-After"],
    max_age=600,
)
JSON_TYPES = ["application/json"]
# Methods whose requests carry no body this API reads: their Content-Type is not checked (Chalice
# would otherwise refuse a GET that says "Content-Type: text/plain" with a 415).
BODYLESS_METHODS = frozenset({"GET", "DELETE"})
MERGE_PATCH_TYPES = ["application/json", "application/merge-patch+json"]


def services() -> Services:
    """The services of this process (built on first use: importing routes stays cheap)."""
    from chalicelib.container import get_services

    return get_services()


def route(
    blueprint: Blueprint, path: str, *, api_key_required: bool = True, **options: Any
) -> Callable[..., Any]:
    """``blueprint.route`` with the API's defaults: CORS, API key, domain errors as responses."""

    def register(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def handle(**params: str) -> Response:
            try:
                return view(**params)
            except ItemsApiError as error:
                return error_response(error)

        if set(options.get("methods", ["GET"])) <= BODYLESS_METHODS:
            # An empty list switches Chalice's content-type check off for the route.
            options.setdefault("content_types", [])
        blueprint.route(path, cors=CORS, api_key_required=api_key_required, **options)(handle)
        return handle

    return register


def json_body(request: Request) -> dict[str, Any]:
    """The request body, which must be a JSON object (strict parsing, exact numbers)."""
    from chalicelib.jsonio import parse_json_object

    raw = request.raw_body
    return parse_json_object(raw.encode() if isinstance(raw, str) else raw)


def expected_versions(request: Request) -> frozenset[int] | None:
    """The versions ``If-Match`` lets the write apply to (``None``: absent or ``*``)."""
    return parse_if_match(header(request.headers, "if-match"))


def query(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters of a listing, each at most once and each one it takes.

    An unknown parameter is a 400 like an unknown body field: ``?stauts=archived`` silently
    ignored would answer every item.
    """
    from chalicelib.errors import ValidationError
    from chalicelib.text import shown

    params = request.query_params
    if not params:
        return {}
    found: dict[str, str] = {}
    for name in params:
        if name not in allowed:
            raise ValidationError(
                f"{shown(name)}: unknown query parameter (this listing takes "
                + ", ".join(allowed)
                + ")"
            )
        values = params.getlist(name)
        if len(values) != 1:
            raise ValidationError(f"{name}: given more than once")
        found[name] = values[0]
    return found
