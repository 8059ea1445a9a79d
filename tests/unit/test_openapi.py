"""The OpenAPI document (issue 4.3): served without a key, valid 3.1, in step with the routes."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tests.unit.harness import InProcessApi

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
def document(api: InProcessApi) -> dict[str, Any]:
    reply = api.request("GET", "/openapi.json")
    assert reply.status == 200
    served: dict[str, Any] = reply.json
    return served


def chalice_routes(routes: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    """Every (path, method) of a Chalice route table; OPTIONS is API Gateway's CORS preflight."""
    return {
        (path, method)
        for path, methods in routes.items()
        for method in methods
        if method != "OPTIONS"
    }


def documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def route_differences(
    routes: set[tuple[str, str]], operations: set[tuple[str, str]], document: dict[str, Any]
) -> list[str]:
    """Why the routes, the declared operations and the document disagree (empty: they agree)."""
    documented = documented_routes(document)
    problems = [f"route {r} is not documented" for r in sorted(routes - documented)]
    problems += [f"documented {r} is not a route" for r in sorted(documented - routes)]
    problems += [f"route {r} is missing from OPERATIONS" for r in sorted(routes - operations)]
    problems += [f"OPERATIONS {r} is not a route" for r in sorted(operations - routes)]
    return problems


def test_the_document_needs_no_api_key(api: InProcessApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_API_KEY", "secret")
    assert api.request("GET", "/items").status == 403  # the key is enforced...
    reply = api.request("GET", "/openapi.json")  # ...but not for the document
    assert reply.status == 200
    assert reply.header("Content-Type") == "application/json"
    assert reply.json["openapi"].startswith("3.1")


def test_the_served_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any schema violation or unresolvable $ref


def test_the_validator_rejects_a_broken_document(document: dict[str, Any]) -> None:
    broken = {**document, "paths": {"/items": {"get": {"responses": "nope"}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_route_is_documented_and_every_documented_operation_is_a_route(
    document: dict[str, Any],
) -> None:
    import app
    from chalicelib.openapi import OPERATIONS

    routes = chalice_routes(app.app.routes)
    assert len(routes) == 12
    assert route_differences(routes, set(OPERATIONS), document) == []


def test_the_route_check_notices_a_missing_or_extra_route(document: dict[str, Any]) -> None:
    import app
    from chalicelib.openapi import OPERATIONS

    routes = chalice_routes(app.app.routes)
    with_new_route = routes | {("/items/{item_id}/archive", "POST")}
    assert route_differences(with_new_route, set(OPERATIONS), document) == [
        "route ('/items/{item_id}/archive', 'POST') is not documented",
        "route ('/items/{item_id}/archive', 'POST') is missing from OPERATIONS",
    ]
    without_route = routes - {("/health", "GET")}
    assert route_differences(without_route, set(OPERATIONS), document) == [
        "documented ('/health', 'GET') is not a route",
        "OPERATIONS ('/health', 'GET') is not a route",
    ]


def test_security_path_parameters_and_statuses_match_the_routes(document: dict[str, Any]) -> None:
    import app

    for path, methods in app.app.routes.items():
        for method, entry in methods.items():
            if method == "OPTIONS":
                continue
            operation = document["paths"][path][method.lower()]
            assert bool(operation["security"]) == entry.api_key_required, (path, method)
            # The token and the key are both required: one requirement object naming both.
            protected = entry.authorizer is not None
            assert protected == entry.api_key_required, (path, method)
            expected_security: list[dict[str, list[str]]] = (
                [{"bearerAuth": [], "apiKey": []}] if protected else []
            )
            assert operation["security"] == expected_security, (path, method)
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == set(entry.view_args), (path, method)
            if entry.api_key_required:
                assert {"401", "403"} <= set(operation["responses"]), (path, method)
                permission = "items/read" if method == "GET" else "items/write"
                assert f"`{permission}`" in operation["description"], (path, method)
            if method in ("POST", "PUT", "PATCH"):
                content = operation["requestBody"]["content"]
                assert set(content) == set(entry.content_types), (path, method)


def test_the_audit_fields_are_documented_read_only(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for field in ("created_by", "updated_by"):
        assert field in schemas["ItemPublic"]["required"]
        assert "Set by the server" in schemas["ItemPublic"]["properties"][field]["description"]
        assert field not in schemas["ItemWrite"]["properties"]
        assert field not in schemas["ItemPatch"]["properties"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}


def test_request_schemas_come_from_the_validation_models(document: dict[str, Any]) -> None:
    from chalicelib.attachments.models import AttachmentCreate
    from chalicelib.items.models import ItemWrite

    schemas = document["components"]["schemas"]
    for model in (ItemWrite, AttachmentCreate):
        schema = schemas[model.__name__]
        assert set(schema["properties"]) == set(model.model_fields)
        assert schema.get("additionalProperties") is False
    assert set(schemas["ItemWrite"]["required"]) == {"name"}
    assert set(schemas["AttachmentCreate"]["required"]) == {"filename", "content_type", "size"}


GATEWAY_BODIES = {
    # What API Gateway sends by itself (its default gateway responses).
    403: {"message": "Forbidden"},
    429: {"message": "Too Many Requests"},
    500: {"message": "Internal server error"},
    502: {"message": "Internal server error"},
    504: {"message": "Endpoint request timed out"},
}


def accepts(document: dict[str, Any], response: dict[str, Any], body: object) -> bool:
    """Whether ``body`` is valid for a documented response (its $refs resolved in the document)."""
    from openapi_schema_validator import OAS31Validator

    schema = response["content"]["application/json"]["schema"]
    return bool(OAS31Validator({**schema, "components": document["components"]}).is_valid(body))


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_declares_api_gateways_own_answers(document: dict[str, Any]) -> None:
    """API Gateway throttles (429) and fails (500/502/504) before or instead of the function,
    with ``{"message": ...}``: a client generated from the document must parse that body (an
    undeclared 429 made a generated client crash, expecting ``Code``)."""
    for name, operation in operations(document):
        for status, body in GATEWAY_BODIES.items():
            if status == 403 and not operation["security"]:
                continue  # no API key, no missing-key refusal
            response = operation["responses"].get(str(status))
            assert response is not None, (name, status)
            assert accepts(document, response, body), (name, status)
            assert not accepts(document, response, {"unexpected": 1}), (name, status)


def test_where_the_app_answers_the_same_status_both_shapes_are_declared(
    document: dict[str, Any],
) -> None:
    ours = {"Code": "ThrottledError", "Message": "storage is busy, retry later"}
    item_routes = [(n, o) for n, o in operations(document) if " /items" in n]

    for name, operation in item_routes:
        for status in ("429", "503"):
            response = operation["responses"][status]
            assert accepts(document, response, ours), (name, status)
            assert accepts(document, response, {"message": "Too Many Requests"}), (name, status)
