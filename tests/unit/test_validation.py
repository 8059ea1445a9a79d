"""Writes are validated without pydantic (``chalicelib.items.validation``), by the core schema
pydantic generates for ``ItemWrite``: the two must stay the same schema, with the same answers.

Deterministic: ``derandomize=True`` draws the same examples on every run, no example database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from chalicelib.errors import ValidationError
from chalicelib.items import validation
from chalicelib.items.models import ItemWrite
from chalicelib.jsonio import MAX_FIELD_DEPTH, parse_json_object
from tests.unit.test_hardening import CONTROLS, HUGE_NUMBERS, nested_array, nested_object

# What names a schema's Python objects or only feeds the JSON Schema (the class, its ref, the
# documented validators' JSON Schema functions), not what validation does.
_NOT_VALIDATION = {"cls", "ref", "metadata", "custom_init", "root_model", "computed_fields"}


def _normalized(schema: Any) -> Any:
    """A core schema without what does not validate; validator functions stay themselves, so
    both schemas must call the very same rule functions."""
    if isinstance(schema, dict):
        return {
            key: _normalized(value) for key, value in schema.items() if key not in _NOT_VALIDATION
        }
    if isinstance(schema, list):
        return [_normalized(value) for value in schema]
    return schema


def test_the_validator_is_the_schema_pydantic_generates_for_item_write() -> None:
    assert _normalized(validation.item_write_schema()) == _normalized(
        ItemWrite.__pydantic_core_schema__
    )


def test_the_normalized_schemas_still_tell_rules_apart() -> None:
    """The comparison above can fail: a changed limit or rule function shows."""
    ours = _normalized(validation.item_write_schema())
    tags = ours["schema"]["fields"]["tags"]["schema"]["schema"]["schema"]
    assert tags["function"]["function"] is validation.unique_tags
    assert tags["schema"]["max_length"] == validation.MAX_TAGS
    changed = {**tags, "schema": {**tags["schema"], "max_length": validation.MAX_TAGS + 1}}
    assert _normalized(changed) != _normalized(tags)


def test_the_validator_is_built_once_per_process() -> None:
    assert validation.item_write_validator() is validation.item_write_validator()


def test_item_write_calls_the_same_rules() -> None:
    assert ItemWrite.model_validate({"name": "a", "tags": None}).tags is None
    with pytest.raises(PydanticValidationError, match="tags must be unique"):
        ItemWrite.model_validate({"name": "a", "tags": ["x", "x"]})
    with pytest.raises(ValidationError, match=r"^tags must be unique$"):
        validation.validate_write({"name": "a", "tags": ["x", "x"]})


def _through_pydantic(payload: dict[str, Any]) -> dict[str, Any] | str:
    try:
        return ItemWrite.model_validate(payload).fields()
    except PydanticValidationError as exc:
        return str(validation.client_error(exc))


def _through_the_validator(payload: dict[str, Any]) -> dict[str, Any] | str:
    try:
        return validation.validate_write(payload)
    except ValidationError as exc:
        return str(exc)


def _same_answer(payload: dict[str, Any]) -> None:
    ours, pydantics = _through_the_validator(payload), _through_pydantic(payload)
    assert ours == pydantics
    assert type(ours) is type(pydantics)


anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False)
    | st.floats(allow_nan=False)
    | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=25) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)
hostile_text = st.text(
    st.characters(codec="utf-8") | st.sampled_from([*CONTROLS, "\u00a0", "\u3000", "\ufeff"]),
    max_size=30,
)
strings = (
    st.text(max_size=2100)
    | hostile_text
    | st.sampled_from(["", " ", "active", "archived", " a ", "x" * 200, " " + "x" * 200 + " "])
)
tag_lists = st.lists(st.text(max_size=55) | hostile_text, max_size=22) | st.lists(
    st.sampled_from(["a", "b"])
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "name": strings | anything,
        "description": strings | anything,
        "status": strings | anything,
        "tags": tag_lists | anything,
        "attributes": st.dictionaries(st.text(max_size=5), anything) | anything,
        "unknown": anything,
    },
)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(payloads)
def test_the_validator_answers_every_body_as_item_write_does(payload: dict[str, Any]) -> None:
    _same_answer(payload)


def _parsed(text: str) -> dict[str, Any]:
    """A body as the API reads it (jsonio's numbers, including the unrepresentable ones)."""
    return parse_json_object(text.encode())


HOSTILE = [
    # the named hostile cases of test_hardening: numbers in every spelling, depth, controls
    *[_parsed(f'{{"name": "a", "attributes": {{"n": {number}}}}}') for number in HUGE_NUMBERS],
    _parsed('{"name": "a", "attributes": V}'.replace("V", nested_object(MAX_FIELD_DEPTH))),
    _parsed('{"name": "a", "attributes": {"a": V}}'.replace("V", nested_array(15))),
    _parsed('{"name": "a", "attributes": {"a": V}}'.replace("V", nested_object(15))),
    *[
        body
        for ch in CONTROLS
        for text in (f"{ch}mug", f"m{ch}ug", f"mug{ch}")
        for body in (
            {"name": text},
            {"name": "a", "tags": ["ok", text]},
            {"name": "a", "description": text},
        )
    ],
    *[
        {"name": name}
        for name in (
            "  Blue mug  ",
            "\u00a0Blue mug\u3000",
            "Blue\u200bmug",
            "\ufeffmug",
            "x" * 200,
            " \u00a0 ",
            "\u3000",
            " " + "x" * 201,
            "\u2003 " + "x" * 200 + " \u00a0",
        )
    ],
    {"name": "a", "description": "line one\n\tline two\n"},
    # the shapes of a write
    {"name": " trimmed ", "attributes": {"n": Decimal("1.5"), "deep": [{"a": None}]}},
    {"name": ""},
    {},
    {"name": 1},
    {"name": None},
    {"name": "a", "status": "gone"},
    {"name": "a", "status": None, "tags": None, "description": None, "attributes": None},
    {"name": "a", "tags": ["x"] * 21},
    {"name": "a", "tags": ["x", "x"]},
    {"name": "a", "tags": [""]},
    {"name": "a", "tags": "x"},
    {"name": "a", "attributes": {"": 1}},
    {"name": "a", "attributes": {"n": Decimal("1E+200")}},
    {"name": "a", "attributes": {"n": 1.5}},
    {"name": "a", "attributes": {"big": "x" * (16 * 1024)}},
    {"name": "a", "attributes": []},
    {"name": "a", "extra": 1},
    {"name": "a", "extra\n\u202e": 1},
]


@pytest.mark.parametrize("payload", HOSTILE, ids=range(len(HOSTILE)))
def test_known_and_hostile_bodies_get_the_same_answer(payload: dict[str, Any]) -> None:
    _same_answer(payload)
