"""What the OpenAPI document says to people and to client generators, beside its shapes.

``chalicelib.openapi`` builds the paths and schemas from the models that validate requests; this
module adds, in one pass at the end (:func:`add_metadata`), what those models cannot say: where
the API is served (``servers``), how operations group (tags), what each operation does, which
strings are timestamps, and how numbers are represented. Each concern is one small function so
that changes to the shapes and changes to the prose never touch the same lines.
"""

from __future__ import annotations

from typing import Any

# API Gateway serves the stage under this path on its default endpoint
# (https://{id}.execute-api.{region}.amazonaws.com/api). The same name is the stage in
# .chalice/config.json and infrastructure.config.API_STAGE; a test keeps the three equal.
STAGE_PATH = "api"

TIMESTAMP_SUFFIX = "_at"  # created_at, updated_at, uploaded_at: every one is RFC 3339, UTC

EXACT_NUMBERS = (
    "Numbers inside `attributes` are exact decimals of up to 38 significant digits "
    "(DynamoDB's number type), written as plain JSON number literals: `0.1` stays `0.1` and "
    "`12345678901234567890` stays `12345678901234567890` (`0.10` may come back as `0.1`). "
    "A JSON parser that reads numbers as binary floating point (JavaScript's `JSON.parse`, "
    "Python's `json.loads` for fractions, and the code client generators emit) rounds the ones "
    "a double cannot hold. To keep them exact, parse the raw body with a decimal-preserving "
    "parser: in Python `json.loads(body, parse_float=decimal.Decimal)` (integers are already "
    "exact); in JavaScript `JSON.parse` with a reviver that keeps `context.source` (for "
    "example as `JSON.rawJSON`), or a library such as lossless-json. Send numbers the same "
    "way: as the literal you mean, not a rounded double."
)

INTEGERS = (
    "Every other number of the API (`version`, `size`, `limit`) is an integer below 2^53, so "
    "every JSON parser, JavaScript's included, reads it exactly."
)

AUTHENTICATION = (
    "Every operation but `GET /health` and `GET /openapi.json` needs `Authorization: Bearer "
    "<JWT>` from the deployment's Amazon Cognito user pool (a signed-in person's token, or a "
    "machine client's access token from the client credentials grant) and the client's "
    "`x-api-key`. A missing, expired, tampered or foreign token is a 401. Two permissions: "
    "`items/read` (every GET) and `items/write` (every other method). People get them from "
    "their group (`viewers`: read; `editors`: read and write), machine clients from their "
    "scopes. A valid token without the permission is a 403 `ForbiddenError` and writes "
    "nothing. `Idempotency-Key` is scoped per principal (the token's subject), and every item "
    "records who created it (`created_by`) and who wrote it last (`updated_by`)."
)

TAGS: list[dict[str, str]] = [
    {
        "name": "items",
        "description": "Items: create, read, list, replace, merge-patch and delete, with "
        "optimistic concurrency (`ETag`/`If-Match`) and idempotent creates "
        "(`Idempotency-Key`).",
    },
    {
        "name": "attachments",
        "description": "Files of an item. Uploads go straight to S3 through a presigned POST; "
        "downloads are redirects to a short-lived presigned GET.",
    },
    {
        "name": "service",
        "description": "The API's own health and this document. Neither needs an API key or "
        "a token.",
    },
]

ITEM = "/items/{item_id}"
ATTACHMENTS = "/items/{item_id}/attachments"
ATTACHMENT = "/items/{item_id}/attachments/{attachment_id}"

DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("/health", "GET"): (
        "Pings DynamoDB and S3. 200 when both answer, 503 (with `Retry-After`) naming the "
        "check that failed. Needs no API key and no token, so load balancers and uptime checks "
        "can call it."
    ),
    ("/openapi.json", "GET"): (
        "This OpenAPI 3.1 document, generated from the models that validate requests. Needs no "
        "API key and no token. The same document is committed as `docs/openapi.json`."
    ),
    ("/items", "POST"): (
        "Creates an item from the client-settable fields; the server assigns `id`, the "
        "timestamps and `version` 1. Answers 201 with the item, its `ETag` and its `Location`. "
        "With an `Idempotency-Key`, a repeat of the same request within 24 hours replays the "
        "first response instead of creating a second item; the same key with another body is "
        "a 422, and a repeat while the first is still running is a 409."
    ),
    ("/items", "GET"): (
        "Lists items newest first, one page at a time. Follow `next_cursor` until it is `null` "
        "to visit every item exactly once. `status` filters by status; `tag` (items carrying "
        "that tag) or `name_prefix` (names starting with the text, case-insensitively after "
        "Unicode NFKC folding) filter further, each combinable with `status`. Listings are "
        "eventually consistent. A cursor is opaque, signed, and only valid with the filters it "
        "was issued for."
    ),
    (
        ITEM,
        "GET",
    ): "Reads one item. Its `ETag` is the version a later write can name in `If-Match`.",
    (ITEM, "PUT"): (
        "Replaces every client-settable field: an omitted optional field returns to its "
        "default. No upsert: a missing id is a 404. With `If-Match`, a stale version is a 412 "
        "and nothing is written."
    ),
    (ITEM, "PATCH"): (
        "Applies a JSON Merge Patch (RFC 7396): a present key sets the field, `null` resets an "
        "optional field to its default, and inside `attributes` the merge is recursive "
        '(`{"attributes": {"a": null}}` removes key `a` only). With `If-Match`, a stale version '
        "is a 412 and nothing is written."
    ),
    (ITEM, "DELETE"): (
        "Deletes the item; its attachments (records and files) follow within seconds. 204 with "
        "an empty body; with `If-Match`, a stale version is a 412 and nothing is deleted."
    ),
    (ATTACHMENTS, "POST"): (
        "Registers an attachment and returns a presigned S3 POST for its file: send a "
        "`multipart/form-data` POST to `upload.url` with every entry of `upload.fields`, then "
        "the file as the `file` field. S3 admits only the declared content type and at most "
        "the declared size, for 15 minutes."
    ),
    (ATTACHMENTS, "GET"): (
        "Lists an item's attachments oldest first, paged like the items (`next_cursor` until "
        "`null`); `uploaded_at` is set once S3 reported the file. An attachment whose file "
        "never arrived is no longer listed once its upload window has passed."
    ),
    (ATTACHMENT, "GET"): (
        "Redirects (302) to a short-lived presigned S3 GET of the file, which names the "
        "original filename. 404 until the file has been uploaded."
    ),
    (ATTACHMENT, "DELETE"): "Deletes the attachment's record and its file. 204 with an empty body.",
}

# Parameters that do not describe themselves in chalicelib.openapi (their limits are in their
# schemas, so the prose does not repeat numbers).
PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "item_id": "The item's `id`.",
    "attachment_id": "The attachment's `id`.",
    "limit": "The largest number of entries on the page.",
    "status": "Only items with this status.",
    "tag": "Only items carrying this tag (not combinable with `name_prefix`).",
    "name_prefix": "Only items whose name starts with this text, compared case-insensitively "
    "after Unicode NFKC folding (not combinable with `tag`).",
}

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def servers() -> list[dict[str, Any]]:
    """Where the API is served: API Gateway's default endpoint (under the stage path), a custom
    domain (at its root, through the base path mapping), and ``make run``."""
    return [
        {
            "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/" + STAGE_PATH,
            "description": "API Gateway's default endpoint: the stack output `ApiUrl`, stage "
            f"path `/{STAGE_PATH}` included.",
            "variables": {
                "restApiId": {
                    "default": "a1b2c3d4e5",
                    "description": "The REST API's id, the first label of `ApiUrl`.",
                },
                "region": {"default": "us-west-2", "description": "The stack's AWS region."},
            },
        },
        {
            "url": "https://{domainName}",
            "description": "A custom domain (context `domainName`): the stage is mapped at its "
            "root, without the stage path.",
            "variables": {
                "domainName": {
                    "default": "items.example.com",
                    "description": "The custom domain's name.",
                }
            },
        },
        {"url": "http://127.0.0.1:8000", "description": "`make run` (`chalice local`)."},
    ]


def tag_of(path: str) -> str:
    """The tag of an operation, from its path: attachments below an item, then items."""
    if path.startswith(ATTACHMENTS):
        return "attachments"
    if path.startswith("/items"):
        return "items"
    return "service"


def _permission_note(method: str) -> str:
    from chalicelib.auth.permissions import required_permission

    return f" Needs the `{required_permission(method)}` permission (see Authentication)."


def describe_operations(paths: dict[str, dict[str, Any]]) -> None:
    """Give every operation its tag and its description. An operation missing from
    DESCRIPTIONS goes without one rather than failing the document: Spectral and the tests
    report it."""
    for path, item in paths.items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                operation["tags"] = [tag_of(path)]
                description = DESCRIPTIONS.get((path, method.upper()))
                if description is not None:
                    protected = bool(operation.get("security"))
                    operation["description"] = description + (
                        _permission_note(method) if protected else ""
                    )


def describe_parameters(paths: dict[str, dict[str, Any]]) -> None:
    """A description for every parameter that has none and is in PARAMETER_DESCRIPTIONS (the
    shared parameter objects are copied, so one operation's change never shows up in
    another's; one missing from both is reported by the tests)."""
    for item in paths.values():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            operation["parameters"] = [
                {**p, "description": PARAMETER_DESCRIPTIONS[p["name"]]}
                if "description" not in p and p["name"] in PARAMETER_DESCRIPTIONS
                else p
                for p in operation["parameters"]
            ]


def _timestamp(schema: dict[str, Any]) -> None:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["format"] = "date-time"
    schema["description"] = "RFC 3339 timestamp in UTC with milliseconds, set by the server."
    schema["examples"] = ["2026-11-22T23:45:00.123Z"]


def mark_timestamps(schemas: dict[str, Any]) -> None:
    """``format: date-time`` on every ``*_at`` property (nullable ones: on the string branch)."""
    for schema in schemas.values():
        for name, prop in schema.get("properties", {}).items():
            if name.endswith(TIMESTAMP_SUFFIX):
                _timestamp(prop)


def describe_numbers(schemas: dict[str, Any]) -> None:
    """Say on every ``attributes`` property how its numbers are represented."""
    for schema in schemas.values():
        attributes = schema.get("properties", {}).get("attributes")
        if attributes is not None:
            attributes["description"] = "Free-form JSON object. " + EXACT_NUMBERS


def describe_api(info: dict[str, Any]) -> None:
    """The document's own description: what the API is, and how its numbers are represented."""
    info["description"] = (
        f"{info['description']}\n\n## Numbers\n\n{EXACT_NUMBERS}\n\n{INTEGERS}\n\n"
        '## Errors\n\nThe application\'s errors are `{"Code": ..., "Message": ...}`; API '
        "Gateway's own refusals (a missing API key, a refused token, throttling) are "
        '`{"message": ...}`.\n\n## Authentication\n\n' + AUTHENTICATION
    )
    info["contact"] = {"name": "Items API maintainers"}


def add_metadata(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with servers, tags, descriptions, timestamp formats and number notes."""
    describe_api(document["info"])
    describe_operations(document["paths"])
    describe_parameters(document["paths"])
    schemas = document["components"]["schemas"]
    mark_timestamps(schemas)
    describe_numbers(schemas)
    # servers and tags right after info, where readers of the document look for them
    head = {key: document[key] for key in ("openapi", "info")}
    return {**head, "servers": servers(), "tags": TAGS, **document}
