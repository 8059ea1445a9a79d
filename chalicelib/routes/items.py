"""The item routes: create (optionally idempotent), list, read, replace, patch, delete."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.jsonio import dumps
from chalicelib.routes.common import (
    JSON_TYPES,
    MERGE_PATCH_TYPES,
    expected_versions,
    json_body,
    principal,
    query,
    route,
    services,
)
from chalicelib.routes.web import (
    ITEM_LISTING_QUERY,
    JSON,
    etag,
    header,
    item_response,
    json_response,
    location,
    parse_cursor,
    parse_filter,
    parse_limit,
    parse_status,
)

item_routes = Blueprint(__name__)


@route(item_routes, "/items", methods=["POST"], content_types=JSON_TYPES)
def create_item() -> Response:
    request = item_routes.current_request
    key = header(request.headers, "idempotency-key")
    if key is not None:
        # Imported only for an idempotent create: a plain one (a cold start's) needs none of it.
        from chalicelib.items.idempotency import parse_idempotency_key

        key = parse_idempotency_key(key)
    body = json_body(request)
    caller = principal(request)
    current = services()

    def create() -> dict[str, Any]:
        item = current.items.create(body, actor=caller.name)
        return {
            "status_code": 201,
            "body": dumps(item),
            "headers": {"ETag": etag(item["version"]), "Location": f"/items/{item['id']}"},
        }

    def discard(created: dict[str, Any]) -> None:
        # The item was written but its idempotency record could not be completed: undo it, or
        # the client's retry (answered 429/503) would create the item a second time.
        current.items.delete(created["headers"]["Location"].rsplit("/", 1)[1], frozenset({1}))

    if key is None:
        created = create()
    else:
        created = current.idempotency.run_once(
            key=key,
            # Per principal (the token's subject): one client's keys never meet another's.
            scope=caller.subject,
            body=body,
            create=create,
            discard=discard,
            lambda_context=item_routes.lambda_context,
        )
    # The stored answer (replayed to a repeat of the request) names the item by its path
    # below the API; each answer resolves it for the endpoint that request came through.
    headers = {**created["headers"]}
    headers["Location"] = location(request.context, headers["Location"])
    return Response(
        body=created["body"],
        status_code=created["status_code"],
        headers={"Content-Type": JSON, **headers},
    )


@route(item_routes, "/items", methods=["GET"])
def list_items() -> Response:
    params = query(item_routes.current_request, ITEM_LISTING_QUERY)
    items, next_cursor = services().items.list(
        parse_limit(params.get("limit")),
        parse_cursor(params.get("cursor")),
        parse_status(params.get("status")),
        parse_filter(params.get("tag"), params.get("name_prefix")),
    )
    return json_response({"items": items, "next_cursor": next_cursor})


@route(item_routes, "/items/{item_id}", methods=["GET"])
def get_item(item_id: str) -> Response:
    return item_response(services().items.get(item_id))


@route(item_routes, "/items/{item_id}", methods=["PUT"], content_types=JSON_TYPES)
def replace_item(item_id: str) -> Response:
    request = item_routes.current_request
    expected = expected_versions(request)
    actor = principal(request).name
    return item_response(
        services().items.replace(item_id, json_body(request), expected, actor=actor)
    )


@route(item_routes, "/items/{item_id}", methods=["PATCH"], content_types=MERGE_PATCH_TYPES)
def patch_item(item_id: str) -> Response:
    request = item_routes.current_request
    expected = expected_versions(request)
    actor = principal(request).name
    return item_response(services().items.patch(item_id, json_body(request), expected, actor=actor))


@route(item_routes, "/items/{item_id}", methods=["DELETE"])
def delete_item(item_id: str) -> Response:
    services().items.delete(item_id, expected_versions(item_routes.current_request))
    return Response(body="", status_code=204)
