"""What the OpenAPI document tells clients beside its shapes (issue 15.6): where the API is
served, tags and descriptions, timestamps as ``date-time``, and how numbers stay exact."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator, oas31_format_checker

from chalicelib.openapi_metadata import EXACT_NUMBERS, HTTP_METHODS, STAGE_PATH, TIMESTAMP_SUFFIX
from tests.unit.harness import InProcessApi, start_upload, upload

REPO = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\{([^}]+)\}")


@pytest.fixture
def document(api: InProcessApi) -> dict[str, Any]:
    served: dict[str, Any] = api.request("GET", "/openapi.json").json
    return served


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def properties(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, schema in document["components"]["schemas"].items():
        for prop, prop_schema in schema.get("properties", {}).items():
            yield name, prop, prop_schema


def validator(document: dict[str, Any], schema_name: str) -> OAS31Validator:
    """A validator of one component schema, with format checks (date-time included)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    return OAS31Validator(schema, format_checker=oas31_format_checker)


def test_every_operation_has_a_declared_tag_and_its_own_description(
    document: dict[str, Any],
) -> None:
    declared = {tag["name"] for tag in document["tags"]}
    assert all(tag.get("description") for tag in document["tags"])
    descriptions = []
    for path, method, operation in operations(document):
        assert len(operation["tags"]) == 1, (path, method)
        assert operation["tags"][0] in declared, (path, method)
        assert operation["description"].strip(), (path, method)
        assert operation["description"] != operation["summary"], (path, method)
        descriptions.append(operation["description"])
    assert len(set(descriptions)) == len(descriptions)  # none copied from another operation


def test_tags_group_operations_by_resource(document: dict[str, Any]) -> None:
    tags = {(path, method): op["tags"][0] for path, method, op in operations(document)}
    assert {k for k, tag in tags.items() if tag == "attachments"} == {
        (path, method) for path, method in tags if "/attachments" in path
    }
    assert {k for k, tag in tags.items() if tag == "service"} == {
        ("/health", "get"),
        ("/openapi.json", "get"),
    }


def test_every_parameter_is_described(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for parameter in operation["parameters"]:
            assert parameter.get("description", "").strip(), (path, method, parameter["name"])


def test_servers_name_the_stage_path_of_the_default_endpoint_and_a_custom_domain_root(
    document: dict[str, Any],
) -> None:
    default_endpoint, custom_domain, local = (server["url"] for server in document["servers"])
    assert re.fullmatch(
        r"https://\{restApiId\}\.execute-api\.\{region\}\.amazonaws\.com/" + STAGE_PATH,
        default_endpoint,
    )
    assert custom_domain == "https://{domainName}"  # base path mapping: the stage at the root
    assert local == "http://127.0.0.1:8000"  # make run's default API port


def test_every_server_variable_is_declared_with_a_default(document: dict[str, Any]) -> None:
    for server in document["servers"]:
        used = set(VARIABLE.findall(server["url"]))
        declared = server.get("variables", {})
        assert used == set(declared), server["url"]
        assert all(variable["default"] for variable in declared.values()), server["url"]
        resolved = server["url"]
        for name, variable in declared.items():
            resolved = resolved.replace("{" + name + "}", variable["default"])
        assert re.fullmatch(r"https?://[a-z0-9.-]+(:\d+)?(/[a-z]+)?", resolved), resolved


def test_the_stage_path_is_the_stage_chalice_and_the_stack_deploy() -> None:
    """The server URL must resolve: API Gateway serves the stage under its name."""
    from infrastructure.config import API_STAGE

    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    stages = {stage["api_gateway_stage"] for stage in config["stages"].values()}
    assert stages == {STAGE_PATH} == {API_STAGE}


def test_every_timestamp_property_is_a_date_time(document: dict[str, Any]) -> None:
    timestamps = [
        (name, prop, schema)
        for name, prop, schema in properties(document)
        if prop.endswith(TIMESTAMP_SUFFIX)
    ]
    assert {(name, prop) for name, prop, _ in timestamps} >= {
        ("ItemPublic", "created_at"),
        ("ItemPublic", "updated_at"),
        ("AttachmentPublic", "created_at"),
        ("AttachmentPublic", "uploaded_at"),
    }
    for name, prop, schema in timestamps:
        strings = [b for b in schema.get("anyOf", [schema]) if b.get("type") == "string"]
        assert strings, (name, prop)
        assert all(branch["format"] == "date-time" for branch in strings), (name, prop)


def test_the_timestamps_the_api_writes_are_valid_date_times(
    api: InProcessApi, document: dict[str, Any]
) -> None:
    """The format is not just declared: every answer validates with format checks on."""
    item = api.create_item("stamped")
    validator(document, "ItemPublic").validate(item)
    upload(start_upload(api, item["id"], size=3), b"abc")
    api.deliver_events()  # S3's event confirms the upload and sets uploaded_at
    listing = api.request("GET", f"/items/{item['id']}/attachments").json
    assert listing["items"][0]["uploaded_at"]
    validator(document, "AttachmentPage").validate(listing)


def test_the_format_check_refuses_a_timestamp_without_offset(
    api: InProcessApi, document: dict[str, Any]
) -> None:
    item = api.create_item("unzoned")
    assert validator(document, "ItemPublic").is_valid(item)
    assert not validator(document, "ItemPublic").is_valid(
        {**item, "created_at": "2026-11-22T23:45:00.123"}
    )


def test_no_number_is_typed_as_a_float(document: dict[str, Any]) -> None:
    """Generators map ``type: number`` to a float: every number the API declares is an integer,
    and the exact decimals live in ``attributes``, which says how to read them."""
    text = json.dumps(document)
    assert '"type": "number"' not in text
    assert "integer" in text


def test_every_attributes_schema_says_how_its_numbers_stay_exact(
    document: dict[str, Any],
) -> None:
    described = [
        (name, schema) for name, prop, schema in properties(document) if prop == "attributes"
    ]
    assert {name for name, _ in described} >= {"ItemWrite", "ItemPatch", "ItemPublic"}
    for name, schema in described:
        assert EXACT_NUMBERS in schema["description"], name
    assert EXACT_NUMBERS in document["info"]["description"]


def test_the_exact_numbers_advice_works(api: InProcessApi) -> None:
    """What the document tells a Python client, applied to a real answer."""
    sent = '{"name": "precise", "attributes": {"x": 0.1, "big": 12345678901234567890.5}}'
    reply = api.request("POST", "/items", raw=sent.encode())
    assert reply.status == 201
    exact = json.loads(reply.body, parse_float=Decimal)["attributes"]
    assert exact == {"x": Decimal("0.1"), "big": Decimal("12345678901234567890.5")}
    rounded = json.loads(reply.body)["attributes"]["big"]
    assert Decimal(repr(rounded)) != exact["big"]  # what a float-parsing client would see
