"""What every blueprint shares: CORS, the route decorator, request parsing, the services."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CORSConfig, Request, Response

from chalicelib.auth.permissions import InvalidPrincipalError, Principal, required_permission
from chalicelib.errors import ForbiddenError, ItemsApiError, UnauthorizedError
from chalicelib.routes.authorizer import authorize
from chalicelib.routes.web import error_response, header, parse_if_match
from chalicelib.settings import cors_allow_origin

if TYPE_CHECKING:
    from chalicelib.container import Services

CORS = CORSConfig(
    allow_origin=cors_allow_origin(),
    allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Api-Key"],
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
    blueprint: Blueprint, path: str, *, public: bool = False, **options: Any
) -> Callable[..., Any]:
    """``blueprint.route`` with the API's defaults: CORS, domain errors as responses, and unless
    ``public``: the API key, the token authorizer and the permission the method needs
    (``items/read`` for a GET, ``items/write`` for anything else), checked before the view."""
    methods = options.get("methods", ["GET"])
    permissions = {required_permission(method) for method in methods}
    if len(permissions) != 1:
        raise ValueError(f"{path}: a route must not mix reading and writing methods")
    (permission,) = permissions

    def register(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def handle(**params: str) -> Response:
            try:
                if not public:
                    check_permission(blueprint.current_request, permission)
                return view(**params)
            except ItemsApiError as error:
                return error_response(error)

        protection: dict[str, Any] = (
            {"api_key_required": False}
            if public
            else {"api_key_required": True, "authorizer": authorize}
        )
        if set(options.get("methods", ["GET"])) <= BODYLESS_METHODS:
            # An empty list switches Chalice's content-type check off for the route.
            options.setdefault("content_types", [])
        blueprint.route(path, cors=CORS, **protection, **options)(handle)
        return handle

    return register


def principal(request: Request) -> Principal:
    """Who the request acts for, from the context the authorizer put on it."""
    context = request.context.get("authorizer") if request.context else None
    try:
        return Principal.from_context(context or {})
    except InvalidPrincipalError as exc:
        # Only a route without the authorizer could get here: refuse rather than guess.
        raise UnauthorizedError("the request carries no verified principal") from exc


def check_permission(request: Request, permission: str) -> Principal:
    """The request's principal, if it holds ``permission`` and its token is still valid."""
    caller = principal(request)
    if caller.expired():
        raise UnauthorizedError("the token has expired")
    if not caller.may(permission):
        held = ", ".join(sorted(caller.permissions)) or "no permission"
        resource = (request.context or {}).get("resourcePath", "")
        raise ForbiddenError(
            f"{request.method} {resource} needs {permission}; {caller.name} has {held}"
        )
    return caller


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
