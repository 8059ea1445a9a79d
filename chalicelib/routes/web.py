"""HTTP helpers for the route layer: request parsing and response shaping.

This is the only module of ``chalicelib`` that knows HTTP; the domain below it does not.
"""

from __future__ import annotations

import re
from typing import Any

from chalice.app import Response

from chalicelib.errors import ItemsApiError, ValidationError
from chalicelib.jsonio import dumps

JSON = "application/json"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
STATUSES = ("active", "archived")

_IF_MATCH = re.compile(r'^\s*(?:"(\d{1,15})"|(\d{1,15}))\s*$')


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A response whose body we serialize ourselves (exact numbers, see ``jsonio``)."""
    return Response(
        body=dumps(body), status_code=status_code, headers={"Content-Type": JSON, **(headers or {})}
    )


def etag(version: int) -> str:
    return f'"{version}"'


def item_response(
    item: dict[str, Any], status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A single item, with its version as a strong ETag."""
    return json_response(item, status_code, {"ETag": etag(item["version"]), **(headers or {})})


def error_response(error: ItemsApiError) -> Response:
    headers = {"Retry-After": str(error.RETRY_AFTER)} if error.RETRY_AFTER else {}
    if error.STATUS_CODE == 401:
        # RFC 6750: a refused bearer token says which scheme the API expects.
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return json_response(error.to_body(), error.STATUS_CODE, headers)


def header(headers: Any, name: str) -> str | None:
    """A request header by case-insensitive name (Chalice's dict is case-insensitive)."""
    value = headers.get(name) if headers is not None else None
    return value if isinstance(value, str) else None


def parse_if_match(value: str | None) -> int | None:
    """The version ``If-Match`` requires, ``None`` when absent or ``*`` (any stored version)."""
    if value is None or value.strip() == "*":
        return None
    match = _IF_MATCH.match(value)
    if not match:
        raise ValidationError(
            'If-Match: expected "<version>" (a quoted integer), a bare integer or *'
        )
    return int(match.group(1) or match.group(2))


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not re.fullmatch(r"\d{1,3}", value) or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise ValidationError(f"limit: must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def parse_status(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in STATUSES:
        raise ValidationError("status: must be one of " + ", ".join(STATUSES))
    return value


def parse_cursor(value: str | None) -> str | None:
    if value is None:
        return None
    if not value:
        raise ValidationError("cursor: must not be empty")
    return value
