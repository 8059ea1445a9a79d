"""The OpenAPI 3.1 document of the API, built from the models that validate requests.

``OPERATIONS`` declares every route once; a test compares it with Chalice's route table, so a
route cannot be added or removed without the document following.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.attachments.keys import ATTACHMENT_ID_PATTERN
from chalicelib.attachments.models import AttachmentCreate, AttachmentPublic, documented_rules
from chalicelib.items.idempotency import EXPIRES_AFTER_SECONDS, KEY_PATTERN
from chalicelib.items.models import ItemPublic, ItemWrite
from chalicelib.items.repository import UUID_PATTERN
from chalicelib.items.validation import ATTRIBUTE_VALUE, attribute_value_schema
from chalicelib.jsonio import MAX_BODY_BYTES
from chalicelib.openapi_metadata import add_metadata
from chalicelib.routes.web import (
    ATTACHMENT_LISTING_QUERY,
    DEFAULT_PAGE_SIZE,
    IF_MATCH_PATTERN,
    ITEM_LISTING_QUERY,
    MAX_PAGE_SIZE,
    STATUSES,
)
from chalicelib.settings import AttachmentLimits, attachment_limits
from chalicelib.text import NO_CONTROLS_PATTERN, NON_BLANK_PATTERN

REF = "#/components/schemas/{model}"


class Error(BaseModel):
    """An error of the application (Chalice's shape)."""

    Code: str
    Message: str


class GatewayError(BaseModel):
    """A refusal by API Gateway itself, such as a missing API key or a refused token."""

    message: str


class Health(BaseModel):
    status: str
    checks: dict[str, str]


class ItemPage(BaseModel):
    items: list[ItemPublic]
    next_cursor: str | None


class AttachmentPage(BaseModel):
    items: list[AttachmentPublic]
    next_cursor: str | None


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str]


class AttachmentCreated(BaseModel):
    attachment: AttachmentPublic
    upload: PresignedPost


@dataclass(frozen=True)
class Operation:
    """One method of one path, as documented."""

    summary: str
    success: int
    response: str | None = None  # schema name of the success body
    request: str | None = None  # schema name of the request body
    request_types: tuple[str, ...] = ("application/json",)
    errors: tuple[int, ...] = ()
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    success_headers: tuple[str, ...] = ()
    api_key: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


ITEM = "/items/{item_id}"
ATTACHMENTS = "/items/{item_id}/attachments"
ATTACHMENT = "/items/{item_id}/attachments/{attachment_id}"

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/health", "GET"): Operation(
        "Health of the API and its dependencies", 200, "Health", errors=(503,), api_key=False
    ),
    ("/openapi.json", "GET"): Operation("This document", 200, api_key=False),
    ("/items", "POST"): Operation(
        "Create an item",
        201,
        "ItemPublic",
        "ItemWrite",
        errors=(400, 409, 413, 415, 422, 429, 503),
        headers=("Idempotency-Key",),
        success_headers=("ETag", "Location"),
    ),
    ("/items", "GET"): Operation(
        "List items", 200, "ItemPage", errors=(400, 429, 503), query=ITEM_LISTING_QUERY
    ),
    (ITEM, "GET"): Operation(
        "Get an item", 200, "ItemPublic", errors=(404, 429, 503), success_headers=("ETag",)
    ),
    (ITEM, "PUT"): Operation(
        "Replace an item",
        200,
        "ItemPublic",
        "ItemWrite",
        errors=(400, 404, 412, 413, 415, 429, 503),
        headers=("If-Match",),
        success_headers=("ETag",),
    ),
    (ITEM, "PATCH"): Operation(
        "Merge-patch an item (RFC 7396)",
        200,
        "ItemPublic",
        "ItemPatch",
        request_types=("application/merge-patch+json", "application/json"),
        errors=(400, 404, 409, 412, 413, 415, 429, 503),
        headers=("If-Match",),
        success_headers=("ETag",),
    ),
    (ITEM, "DELETE"): Operation(
        "Delete an item and its attachments",
        204,
        errors=(400, 404, 412, 429, 503),
        headers=("If-Match",),
    ),
    (ATTACHMENTS, "POST"): Operation(
        "Start an attachment upload (presigned S3 POST)",
        201,
        "AttachmentCreated",
        "AttachmentCreate",
        errors=(400, 404, 413, 415, 429, 503),
        success_headers=("Location",),
    ),
    (ATTACHMENTS, "GET"): Operation(
        "List an item's attachments",
        200,
        "AttachmentPage",
        errors=(400, 404, 429, 503),
        query=ATTACHMENT_LISTING_QUERY,
    ),
    (ATTACHMENT, "GET"): Operation(
        "Download an attachment (redirect to a presigned S3 GET)",
        302,
        errors=(404, 429, 503),
        success_headers=("Location",),
    ),
    (ATTACHMENT, "DELETE"): Operation(
        "Delete an attachment and its file", 204, errors=(404, 429, 503)
    ),
}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "item_id": {
        "name": "item_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{UUID_PATTERN.pattern}$"},
    },
    "attachment_id": {
        "name": "attachment_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{ATTACHMENT_ID_PATTERN.pattern}$"},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGE_SIZE,
            "default": DEFAULT_PAGE_SIZE,
        },
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "description": "Opaque: the next_cursor of the previous page.",
        "schema": {"type": "string", "minLength": 1},
    },
    "status": {"name": "status", "in": "query", "schema": {"type": "string", "enum": STATUSES}},
    "tag": {
        "name": "tag",
        "in": "query",
        "description": "Only items carrying this tag (exact, case-sensitive), newest first. "
        "Cannot be combined with name_prefix: the pair is refused with 400.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 50,
            "pattern": NO_CONTROLS_PATTERN,
        },
    },
    "name_prefix": {
        "name": "name_prefix",
        "in": "query",
        "description": "Only items whose name starts with this text, compared after NFKC "
        "normalization and case folding, newest first. Cannot be combined with tag: the pair "
        "is refused with 400.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "pattern": NON_BLANK_PATTERN,
        },
    },
    "If-Match": {
        "name": "If-Match",
        "in": "header",
        "description": 'The versions the write may apply to: "<version>" (or a bare integer), a '
        'list of them, or *. Compared as RFC 9110\'s strong comparison: "01" is not version 1 '
        'and a weak tag (W/"1") never matches.',
        "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
    },
    "Idempotency-Key": {
        "name": "Idempotency-Key",
        "in": "header",
        "description": f"Repeats within {EXPIRES_AFTER_SECONDS // 3600} h replay the first "
        "response.",
        "schema": {"type": "string", "maxLength": 255, "pattern": f"^{KEY_PATTERN}$"},
    },
}

_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {"description": 'The item\'s version, quoted: "3".', "schema": {"type": "string"}},
    "Location": {"description": "URL of the resource.", "schema": {"type": "string"}},
}

_ERRORS = {
    400: "Invalid request; the message names the field or header",
    401: "No bearer token, or one that is expired, tampered, signed by another key, or issued "
    "by another pool or for another client (API Gateway's shape; the app's shape when a cached "
    "authorization outlived its token)",
    403: "Missing or invalid API key (API Gateway's shape), or a valid token without the "
    "permission the operation needs (ForbiddenError); nothing was written",
    404: "No such resource",
    409: "An idempotent request with this key is still in progress, or concurrent changes",
    412: "If-Match does not match the stored version; nothing was written",
    413: f"Body larger than {MAX_BODY_BYTES} bytes",
    415: "Body is not JSON",
    422: "Idempotency-Key reused with a different body",
    429: "Throttled; retry after Retry-After seconds",
    503: "A dependency is unavailable; retry after Retry-After seconds",
}


def _settings_rules(schemas: dict[str, Any], limits: AttachmentLimits) -> None:
    """The rules that are settings (attachment content types and size), and the schema of an
    attributes value, which the generated schemas refer to."""
    schemas[ATTRIBUTE_VALUE] = attribute_value_schema()
    fields = schemas["AttachmentCreate"]["properties"]
    rules = documented_rules(limits.allowed_content_types, limits.max_bytes)
    for name, schema in rules.items():
        fields[name] = {"title": fields[name].get("title", name), **schema}


def _schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        ItemWrite,
        ItemPublic,
        ItemPage,
        AttachmentCreate,
        AttachmentPublic,
        AttachmentPage,
        AttachmentCreated,
        PresignedPost,
        Health,
        Error,
        GatewayError,
    ]
    _, definitions = models_json_schema(
        [(m, "serialization" if m is not ItemWrite else "validation") for m in models],
        ref_template=REF,
    )
    schemas: dict[str, Any] = definitions["$defs"]
    # A merge patch: every field optional; name may not be null, the others reset to defaults.
    patch = copy.deepcopy(schemas["ItemWrite"])
    patch.pop("required", None)
    patch["title"] = "ItemPatch"
    schemas["ItemPatch"] = patch
    return schemas


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=schema)}}}


# What API Gateway answers by itself, before or instead of the function, on any route: stage or
# usage-plan throttling and quotas (429), and its 5xx (500 configuration, 502 a function error or
# malformed answer, 504 integration failure or timeout). Its body is {"message": ...}, never
# {"Code", "Message"}; where the app answers the same status (429, 503), either shape comes.
GATEWAY_ANSWERS = {
    429: "Throttled (API Gateway's rate or quota limit, or DynamoDB's); retry after Retry-After",
    500: "API Gateway could not handle the request",
    502: "The function failed or answered malformed (API Gateway)",
    503: "A dependency is unavailable; retry after Retry-After seconds",
    504: "The function did not answer in time (API Gateway)",
}


def _add_gateway_answers(responses: dict[str, Any]) -> None:
    """Declare API Gateway's own answers, so a generated client can parse them too."""
    gateway = {"$ref": REF.format(model="GatewayError")}
    for status, description in GATEWAY_ANSWERS.items():
        ours = responses.get(str(status))
        schema: dict[str, Any] = gateway
        if ours is not None:
            schema = {"anyOf": [ours["content"]["application/json"]["schema"], gateway]}
        responses[str(status)] = {
            "description": ours["description"] if ours else description,
            "content": {"application/json": {"schema": schema}},
        }


def _operation(path: str, method: str, spec: Operation) -> dict[str, Any]:
    path_params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    names = [*path_params, *spec.query, *spec.headers]
    success: dict[str, Any] = {"description": spec.summary}
    if spec.response:
        success["content"] = _json(spec.response)
    elif path == "/openapi.json":
        success["content"] = {"application/json": {"schema": {"type": "object"}}}
    if spec.success_headers:
        success["headers"] = {h: _HEADERS[h] for h in spec.success_headers}
    responses: dict[str, Any] = {str(spec.success): success}
    for status in spec.errors:
        responses[str(status)] = {"description": _ERRORS[status], "content": _json("Error")}
    if spec.api_key:
        either = {
            "oneOf": [
                {"$ref": REF.format(model="GatewayError")},
                {"$ref": REF.format(model="Error")},
            ]
        }
        for status in (401, 403):
            responses[str(status)] = {
                "description": _ERRORS[status],
                "content": {"application/json": {"schema": either}},
            }
    _add_gateway_answers(responses)
    operation: dict[str, Any] = {
        "operationId": operation_id(path, method),
        "summary": spec.summary,
        "parameters": [_PARAMETERS[n] for n in names],
        "responses": responses,
        # One requirement naming both: the token and the key are each required.
        "security": [{"bearerAuth": [], "apiKey": []}] if spec.api_key else [],
    }
    if spec.request:
        operation["requestBody"] = {
            "required": True,
            "content": {
                t: {"schema": {"$ref": REF.format(model=spec.request)}} for t in spec.request_types
            },
        }
    return operation


def operation_id(path: str, method: str) -> str:
    words = [w.strip("{}").replace(".", "_") for w in path.strip("/").split("/")]
    return "_".join([method.lower(), *words])


def _link(path: str, method: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id(path, method), "parameters": parameters}


def _links() -> dict[tuple[str, str], dict[str, Any]]:
    """OpenAPI links of the success responses: how a client goes from a created resource to
    the operations on it (schemathesis's stateful phase follows them)."""
    item = "$response.body#/id"
    etag = "$response.header.ETag"
    on_item = {
        "GetItem": _link(ITEM, "GET", item_id=item),
        "ReplaceItem": _link(ITEM, "PUT", item_id=item, **{"header.If-Match": etag}),
        "PatchItem": _link(ITEM, "PATCH", item_id=item, **{"header.If-Match": etag}),
        "DeleteItem": _link(ITEM, "DELETE", item_id=item, **{"header.If-Match": etag}),
        "CreateAttachment": _link(ATTACHMENTS, "POST", item_id=item),
        "ListAttachments": _link(ATTACHMENTS, "GET", item_id=item),
    }
    attachment = {
        "item_id": "$request.path.item_id",
        "attachment_id": "$response.body#/attachment/id",
    }
    return {
        ("/items", "POST"): on_item,
        (ITEM, "PUT"): on_item,
        (ITEM, "PATCH"): on_item,
        ("/items", "GET"): {
            "GetListedItem": _link(ITEM, "GET", item_id="$response.body#/items/0/id"),
            "NextPage": _link(
                "/items",
                "GET",
                **{"query.cursor": "$response.body#/next_cursor"},
            ),
        },
        (ATTACHMENTS, "POST"): {
            "GetAttachment": _link(ATTACHMENT, "GET", **attachment),
            "DeleteAttachment": _link(ATTACHMENT, "DELETE", **attachment),
        },
        (ATTACHMENTS, "GET"): {
            "GetListedAttachment": _link(
                ATTACHMENT,
                "GET",
                item_id="$request.path.item_id",
                attachment_id="$response.body#/items/0/id",
            ),
            "NextAttachments": _link(
                ATTACHMENTS,
                "GET",
                item_id="$request.path.item_id",
                **{"query.cursor": "$response.body#/next_cursor"},
            ),
        },
    }


def build_document(limits: AttachmentLimits | None = None) -> dict[str, Any]:
    """The whole OpenAPI document (the attachment rules come from ``limits``, by default this
    environment's)."""
    paths: dict[str, dict[str, Any]] = {}
    links = _links()
    for (path, method), spec in OPERATIONS.items():
        operation = _operation(path, method, spec)
        if (path, method) in links:
            operation["responses"][str(spec.success)]["links"] = links[(path, method)]
        paths.setdefault(path, {})[method.lower()] = operation
    schemas = _schemas()
    _settings_rules(schemas, limits or attachment_limits())
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Items API",
            "version": "1.0.0",
            "description": "Item CRUD with optimistic concurrency, idempotent creates and "
            "attachments stored in S3.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token of the deployment's Amazon Cognito user pool: a "
                    "signed-in person's (their group decides: viewers read, editors read and "
                    "write) or a machine client's access token from the client credentials "
                    "grant (its scopes decide). Every GET needs items/read, every other "
                    "method items/write.",
                },
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "Names the client for its usage plan (throttle and quota). "
                    "Not a secret; it never authenticates anyone.",
                },
            },
        },
    }
    return add_metadata(document)
