"""The attachment routes: start an upload, list, download (a redirect), delete."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.routes.common import JSON_TYPES, json_body, query, route, services
from chalicelib.routes.web import (
    ATTACHMENT_LISTING_QUERY,
    json_response,
    location,
    parse_cursor,
    parse_limit,
)

attachment_routes = Blueprint(__name__)
ATTACHMENTS = "/items/{item_id}/attachments"
ATTACHMENT = "/items/{item_id}/attachments/{attachment_id}"


@route(
    attachment_routes, "/items/{item_id}/attachments", methods=["POST"], content_types=JSON_TYPES
)
def create_attachment(item_id: str) -> Response:
    request = attachment_routes.current_request
    created = services().attachments.create(item_id, json_body(request))
    path = f"/items/{item_id}/attachments/{created['attachment']['id']}"
    return json_response(created, 201, {"Location": location(request.context, path)})


@route(attachment_routes, ATTACHMENTS, methods=["GET"])
def list_attachments(item_id: str) -> Response:
    params = query(attachment_routes.current_request, ATTACHMENT_LISTING_QUERY)
    attachments, next_cursor = services().attachments.list(
        item_id, parse_limit(params.get("limit")), parse_cursor(params.get("cursor"))
    )
    return json_response({"items": attachments, "next_cursor": next_cursor})


@route(attachment_routes, ATTACHMENT, methods=["GET"])
def download_attachment(item_id: str, attachment_id: str) -> Response:
    url = services().attachments.download_url(item_id, attachment_id)
    return Response(
        body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"}
    )


@route(attachment_routes, ATTACHMENT, methods=["DELETE"])
def delete_attachment(item_id: str, attachment_id: str) -> Response:
    services().attachments.delete(item_id, attachment_id)
    return Response(body="", status_code=204)
