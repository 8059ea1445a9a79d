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


# -- every rule the code enforces is in the document (issue 11) ---------------------------------


def validators_of(model: type[Any]) -> list[tuple[str, Any]]:
    """Every validator function in a model's core schema, with the field it belongs to."""
    found: list[tuple[str, Any]] = []

    def walk(node: Any, field: str) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("function-"):
                found.append((field, node["function"]["function"]))
            if node.get("type") == "model-fields":
                for name, sub in node["fields"].items():
                    walk(sub, name)
                return
            for value in node.values():
                walk(value, field)
        elif isinstance(node, list):
            for value in node:
                walk(value, field)

    walk(model.__pydantic_core_schema__, "")
    return found


def field_schema(document: dict[str, Any], model: str, field: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][model]["properties"][field]
    return schema


def keywords_in(schema: Any, wanted: dict[str, Any]) -> bool:
    """Whether ``schema`` or one of its ``anyOf`` branches carries every keyword of ``wanted``."""
    if not isinstance(schema, dict):
        return False
    if all(schema.get(k) == v for k, v in wanted.items()):
        return True
    return any(keywords_in(branch, wanted) for branch in schema.get("anyOf", []))


def undocumented_rules(document: dict[str, Any], models: list[type[Any]]) -> list[str]:
    """Validators of the request models whose rule the document does not state."""
    from chalicelib.attachments.models import documented_rules
    from chalicelib.settings import get_settings
    from chalicelib.validation import DOCUMENTED, TRANSFORMS

    settings = get_settings()
    by_settings = documented_rules(settings.allowed_content_types, settings.max_attachment_bytes)
    problems = []
    for model in models:
        for field, function in validators_of(model):
            where = f"{model.__name__}.{field}: {getattr(function, '__qualname__', function)}"
            if function in TRANSFORMS:
                continue  # changes a value's form, refuses nothing
            if function in DOCUMENTED:
                documented = DOCUMENTED[function]
                wanted = documented.keywords
                if not keywords_in(field_schema(document, model.__name__, field), wanted):
                    problems.append(f"{where} states {wanted} but the document does not")
            elif model.__name__ == "AttachmentCreate" and field in by_settings:
                if not keywords_in(
                    field_schema(document, model.__name__, field), by_settings[field]
                ):
                    problems.append(f"{where}: the document lacks {by_settings[field]}")
            else:
                problems.append(f"{where} has no counterpart in the document")
    return problems


def test_every_validator_of_the_request_models_has_its_rule_in_the_document(
    document: dict[str, Any],
) -> None:
    from chalicelib.attachments.models import AttachmentCreate
    from chalicelib.items.models import ItemWrite

    models: list[type[Any]] = [ItemWrite, AttachmentCreate]
    assert len([v for m in models for v in validators_of(m)]) >= 6  # the walk finds them
    assert undocumented_rules(document, models) == []


def test_a_validator_without_a_counterpart_is_reported(document: dict[str, Any]) -> None:
    from pydantic import BaseModel, ConfigDict, field_validator

    class ItemWrite(BaseModel):  # the document's name, a rule it does not know
        model_config = ConfigDict(strict=True)
        name: str

        @field_validator("name")
        @classmethod
        def _no_mugs(cls, name: str) -> str:
            if "mug" in name:
                raise ValueError("no mugs")
            return name

    assert undocumented_rules(document, [ItemWrite]) == [
        "ItemWrite.name: test_a_validator_without_a_counterpart_is_reported.<locals>."
        "ItemWrite._no_mugs has no counterpart in the document"
    ]


def test_settings_rules_follow_the_settings(document: dict[str, Any]) -> None:
    from chalicelib.openapi import build_document
    from chalicelib.settings import AttachmentLimits, get_settings

    custom = AttachmentLimits(max_bytes=99, allowed_content_types=("text/csv",))
    fields = build_document(custom)["components"]["schemas"]["AttachmentCreate"]["properties"]
    assert fields["size"]["maximum"] == 99
    assert fields["content_type"]["anyOf"][0] == {"enum": ["text/csv"]}
    served = field_schema(document, "AttachmentCreate", "content_type")["anyOf"][0]["enum"]
    assert served == list(get_settings().allowed_content_types)


# Each rule of the request bodies: a body just inside it and one just outside. The server and
# the document (read by the same oracle the fuzzers use) must agree on both.
ITEM_RULES: list[tuple[str, Any, Any]] = [
    ("name length", {"name": "x" * 200}, {"name": "x" * 201}),
    ("name trimmed", {"name": "  x  "}, {"name": "   "}),
    ("name controls", {"name": "a\u200bb"}, {"name": "a\u202eb"}),
    ("name type", {"name": "1"}, {"name": 1}),
    (
        "description length",
        {"name": "a", "description": "d" * 2000},
        {"name": "a", "description": "d" * 2001},
    ),
    (
        "description controls",
        {"name": "a", "description": "a\n\tb"},
        {"name": "a", "description": "a\rb"},
    ),
    ("status enum", {"name": "a", "status": "archived"}, {"name": "a", "status": "deleted"}),
    ("tags unique", {"name": "a", "tags": ["x", "y"]}, {"name": "a", "tags": ["x", "x"]}),
    (
        "tags count",
        {"name": "a", "tags": [str(n) for n in range(20)]},
        {"name": "a", "tags": [str(n) for n in range(21)]},
    ),
    ("tag length", {"name": "a", "tags": ["t" * 50]}, {"name": "a", "tags": ["t" * 51]}),
    ("tag empty", {"name": "a", "tags": ["t"]}, {"name": "a", "tags": [""]}),
    ("tag controls", {"name": "a", "tags": ["t t"]}, {"name": "a", "tags": ["t\x00"]}),
    ("attribute keys", {"name": "a", "attributes": {"k": 1}}, {"name": "a", "attributes": {"": 1}}),
    (
        "nested keys",
        {"name": "a", "attributes": {"k": {"j": 1}}},
        {"name": "a", "attributes": {"k": {"": 1}}},
    ),
    ("attributes type", {"name": "a", "attributes": {}}, {"name": "a", "attributes": []}),
    ("unknown field", {"name": "a"}, {"name": "a", "colour": "red"}),
    ("read-only field", {"name": "a"}, {"name": "a", "version": 1}),
]
RAW_RULES: list[tuple[str, str, str]] = [
    (
        "largest number",
        '{"name": "a", "attributes": {"n": 9.9E+125}}',
        '{"name": "a", "attributes": {"n": 1E+126}}',
    ),
    (
        "smallest number",
        '{"name": "a", "attributes": {"n": -1E-130}}',
        '{"name": "a", "attributes": {"n": 1E-131}}',
    ),
    (
        "digits",
        '{"name": "a", "attributes": {"n": %s}}' % ("1" * 38),
        '{"name": "a", "attributes": {"n": %s}}' % ("1" * 39),
    ),
    (
        "trailing zeros",
        '{"name": "a", "attributes": {"n": 1%s}}' % ("0" * 100),
        '{"name": "a", "attributes": {"n": 1%s1}}' % ("0" * 100),
    ),
    (
        "depth",
        '{"name": "a", "attributes": %s}' % ('{"a":' * 16 + "1" + "}" * 16),
        '{"name": "a", "attributes": %s}' % ('{"a":' * 17 + "1" + "}" * 17),
    ),
    (
        "size",
        '{"name": "a", "attributes": {"k": "%s"}}' % ("x" * (16 * 1024 - 8)),
        '{"name": "a", "attributes": {"k": "%s"}}' % ("x" * (16 * 1024 - 7)),
    ),
]
ATTACHMENT_RULES: list[tuple[str, Any, Any]] = [
    ("filename length", {"filename": "f" * 255}, {"filename": "f" * 256}),
    ("filename empty", {"filename": "f"}, {"filename": ""}),
    ("filename controls", {"filename": "a b.txt"}, {"filename": "a\u2066b.txt"}),
    ("content type", {"content_type": "IMAGE/png"}, {"content_type": "image/svg+xml"}),
    ("size", {"size": 25 * 1024 * 1024}, {"size": 25 * 1024 * 1024 + 1}),
    ("size type", {"size": 1}, {"size": "1"}),
    ("size minimum", {"size": 1}, {"size": 0}),
    ("unknown field", {}, {"path": "/etc"}),
]


@pytest.fixture
def oracle(document: dict[str, Any], api: InProcessApi) -> Any:
    import json
    from decimal import Decimal

    from tests.unit.hostile import DocumentOracle

    served = api.request("GET", "/openapi.json").body
    return DocumentOracle(json.loads(served, parse_float=Decimal))


def test_the_server_and_the_document_agree_on_every_item_rule(
    api: InProcessApi, oracle: Any
) -> None:
    import json

    item = api.create_item()
    cases = [(rule, json.dumps(ok), json.dumps(bad)) for rule, ok, bad in ITEM_RULES] + RAW_RULES
    for rule, inside, outside in cases:
        for body, admitted in ((inside, True), (outside, False)):
            raw = body.encode()
            for method, path, schema in (
                ("POST", "/items", "ItemWrite"),
                ("PUT", f"/items/{item['id']}", "ItemWrite"),
                ("PATCH", f"/items/{item['id']}", "ItemPatch"),
            ):
                status = api.request(method, path, raw=raw).status
                assert (status < 300) == admitted, (rule, method, status, body[:80])
                assert (oracle.verdict(schema, raw) is None) == admitted, (rule, schema, body[:80])


def test_the_server_and_the_document_agree_on_every_attachment_rule(
    api: InProcessApi, oracle: Any
) -> None:
    import json

    item = api.create_item()
    base = {"filename": "a.txt", "content_type": "text/plain", "size": 3}
    for rule, inside, outside in ATTACHMENT_RULES:
        for change, admitted in ((inside, True), (outside, False)):
            raw = json.dumps({**base, **change}).encode()
            status = api.request("POST", f"/items/{item['id']}/attachments", raw=raw).status
            assert (status < 300) == admitted, (rule, status)
            assert (oracle.verdict("AttachmentCreate", raw) is None) == admitted, rule


def test_every_schema_compiles_as_ecma_262_as_schemathesis_reads_it(
    document: dict[str, Any],
) -> None:
    import jsonschema_rs

    for name in document["components"]["schemas"]:
        root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        jsonschema_rs.validator_for(root)  # raises on a pattern ECMA-262 cannot read
    for path in document["paths"].values():
        for operation in path.values():
            for parameter in operation["parameters"]:
                jsonschema_rs.validator_for(parameter["schema"])


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
