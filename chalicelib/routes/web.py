"""HTTP helpers for the route layer: request parsing and response shaping.

This is the only module of ``chalicelib`` that knows HTTP; the domain below it does not.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.errors import ItemsApiError, ValidationError

if TYPE_CHECKING:
    from chalicelib.items.filters import Filter
from chalicelib.jsonio import dumps
from chalicelib.text import has_no_controls

JSON = "application/json"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
STATUSES = ("active", "archived")
# The query parameters each listing takes (the document declares exactly these).
ITEM_LISTING_QUERY = ("limit", "cursor", "status", "tag", "name_prefix")
ATTACHMENT_LISTING_QUERY = ("limit", "cursor")

# If-Match as RFC 9110 writes it: "*" or a list of entity-tags (empty list elements allowed),
# each strong ("...") or weak (W/"..."); the contract also admits a bare integer, read as the
# strong tag of those digits. One pattern, in the subset Python and ECMA-262 (JSON Schema) read
# alike, is both the server's syntax check and the document's.
_OWS = r"[ \t]*"
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_MEMBER = f"(?:{_ENTITY_TAG}|[0-9]+)"
IF_MATCH_PATTERN = rf"^{_OWS}(?:\*|(?:,{_OWS})*{_MEMBER}(?:{_OWS},(?:{_OWS}{_MEMBER})?)*){_OWS}$"
_IF_MATCH = re.compile(IF_MATCH_PATTERN[1:-1])
_MEMBERS = re.compile(r'(W/)?"([^"]*)"|([0-9]+)')
_VERSION = re.compile(r"[1-9][0-9]{0,17}")


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


def base_path(request_context: dict[str, Any] | None) -> str:
    """The path the API is served below, as the client called it: ``/api`` on API Gateway's
    default endpoint (its stage), ``""`` at a custom domain's root, ``/v1`` below a base path
    mapping, ``""`` under ``chalice local``.

    ``requestContext.path`` is the path the client requested, ``resourcePath`` the route it
    matched; the segments the first has in front of the route's are the base path. Segments
    are counted, not compared, so an encoded path parameter cannot shift them.
    """
    context = request_context or {}
    requested = [s for s in str(context.get("path") or "").split("/") if s]
    route = [s for s in str(context.get("resourcePath") or "").split("/") if s]
    prefix = requested[: max(len(requested) - len(route), 0)]
    return "".join(f"/{segment}" for segment in prefix)


def location(request_context: dict[str, Any] | None, path: str) -> str:
    """A ``Location`` for ``path`` (``/items/...``) that resolves on the endpoint the client
    called, whatever base path it has (RFC 9110 resolves it against the request's URL)."""
    return base_path(request_context) + path


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


def parse_if_match(value: str | None) -> frozenset[int] | None:
    """The versions ``If-Match`` lets a write apply to; ``None`` when absent or ``*``.

    Strong comparison (RFC 9110, 8.8.3.2): only a strong tag whose text is exactly a version's
    (``"1"``; not ``"01"``) names it, and a weak tag names nothing, so a list of only such tags is
    valid and matches nothing (an empty set: the answer is 412, or 404 for a missing item).
    """
    if value is None:
        return None
    if _IF_MATCH.fullmatch(value) is None:
        raise ValidationError(
            'If-Match: expected *, or a list of entity-tags ("<version>", W/"<tag>") or bare '
            "integers"
        )
    if value.strip(" \t") == "*":
        return None
    versions = set()
    for weak, opaque, bare in _MEMBERS.findall(value):
        text = bare or opaque
        if not weak and _VERSION.fullmatch(text):
            versions.add(int(text))
    return frozenset(versions)


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    # ASCII digits only (re's \d also matches other scripts' digits); leading zeros are still
    # the integer, and are stripped before int() so no digit string is too long for it.
    significant = value.lstrip("0")
    if (
        re.fullmatch(r"[0-9]+", value) is None
        or len(significant) > 3
        or not 1 <= int(significant or "0") <= MAX_PAGE_SIZE
    ):
        raise ValidationError(f"limit: must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(significant)


def parse_status(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in STATUSES:
        raise ValidationError("status: must be one of " + ", ".join(STATUSES))
    return value


# What people read may not carry: C0 and C1 controls, bidirectional overrides and isolates.


def parse_filter(tag: str | None, name_prefix: str | None) -> Filter | None:
    """The ``tag`` or ``name_prefix`` filter of a listing (one at a time), or ``None``."""
    from chalicelib.items.filters import Filter, fold

    if tag is not None and name_prefix is not None:
        raise ValidationError("tag: cannot be combined with name_prefix; use one of them")
    if tag is not None:
        if not 1 <= len(tag) <= 50 or not has_no_controls(tag):
            raise ValidationError("tag: must be 1 to 50 characters without control characters")
        return Filter("tag", tag)
    if name_prefix is not None:
        folded = fold(name_prefix)
        if not 1 <= len(name_prefix) <= 200 or not folded or not has_no_controls(name_prefix):
            raise ValidationError(
                "name_prefix: must be 1 to 200 characters without control characters"
            )
        return Filter("name", folded)
    return None


def parse_cursor(value: str | None) -> str | None:
    if value is None:
        return None
    if not value:
        raise ValidationError("cursor: must not be empty")
    return value
