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


def _normalized(schema: Any) -> Any:
    """A core schema without what names its Python objects (class, refs, bound validators)."""
    if isinstance(schema, dict):
        return {
            key: "<function>" if key == "function" else _normalized(value)
            for key, value in schema.items()
            if key not in {"cls", "ref", "metadata", "custom_init", "root_model", "computed_fields"}
        }
    if isinstance(schema, list):
        return [_normalized(value) for value in schema]
    return schema


def test_the_validator_is_the_schema_pydantic_generates_for_item_write() -> None:
    assert _normalized(validation.item_write_schema()) == _normalized(
        ItemWrite.__pydantic_core_schema__
    )


def test_item_write_calls_the_same_rules() -> None:
    assert ItemWrite.model_validate({"name": "a", "tags": None}).tags is None
    with pytest.raises(PydanticValidationError, match="tags must be unique"):
        ItemWrite.model_validate({"name": "a", "tags": ["x", "x"]})
    with pytest.raises(ValidationError, match=r"^tags must be unique$"):
        validation.validate_write({"name": "a", "tags": ["x", "x"]})


def _through_pydantic(payload: dict[str, Any]) -> dict[str, Any] | str:
    try:
        values = ItemWrite.model_validate(payload).model_dump()
    except PydanticValidationError as exc:
        return str(validation.client_error(exc))
    return {
        k: validation.DEFAULTS[k] if values[k] is None and k in validation.DEFAULTS else values[k]
        for k in validation.CLIENT_FIELDS
    }


def _through_the_validator(payload: dict[str, Any]) -> dict[str, Any] | str:
    try:
        return validation.validate_write(payload)
    except ValidationError as exc:
        return str(exc)


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
strings = st.text(max_size=2100) | st.sampled_from(["", " ", "active", "archived", " a "])
tag_lists = st.lists(st.text(max_size=55), max_size=22) | st.lists(st.sampled_from(["a", "b"]))
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


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(payloads)
def test_the_validator_answers_every_body_as_item_write_does(payload: dict[str, Any]) -> None:
    assert _through_the_validator(payload) == _through_pydantic(payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"name": " trimmed ", "attributes": {"n": Decimal("1.5"), "deep": [{"a": None}]}},
        {"name": ""},
        {},
        {"name": 1},
        {"name": "a", "status": "gone"},
        {"name": "a", "tags": ["x"] * 21},
        {"name": "a", "attributes": {"": 1}},
        {"name": "a", "attributes": {"n": Decimal("1E+200")}},
        {"name": "a", "extra": 1},
    ],
)
def test_known_bodies_get_the_same_answer(payload: dict[str, Any]) -> None:
    assert _through_the_validator(payload) == _through_pydantic(payload)
