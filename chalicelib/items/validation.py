"""Validation of what clients write, without importing pydantic (a cold write pays for it).

``models.ItemWrite`` (pydantic) stays the documented definition of a write: the OpenAPI document
is generated from it, and it calls the rule functions defined here. Validating a body with it
would import pydantic and build its models on a cold start's first write (about 50 ms of CPU in
the Lambda layout, docs/benchmarks.md), where pydantic's own validation engine,
``pydantic_core``, costs a fraction of that to import. So ``POST``, ``PUT`` and ``PATCH`` bodies
are checked by a ``pydantic_core.SchemaValidator`` of the very core schema pydantic generates for
``ItemWrite``: the same engine, so the same results and error messages.
``tests/unit/test_validation.py`` holds the two schemas and their answers to each other.
"""

from __future__ import annotations

import functools
from decimal import Context, Decimal, Inexact, Overflow, Underflow
from typing import TYPE_CHECKING, Any

from chalicelib.errors import ValidationError
from chalicelib.jsonio import MAX_FIELD_DEPTH, UnrepresentableNumber, dumps
from chalicelib.text import (
    DESCRIPTION_PATTERN,
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    NO_CONTROLS_PATTERN,
    has_no_controls,
    shown,
)
from chalicelib.validation_errors import client_error as _client_error

if TYPE_CHECKING:
    from pydantic_core import CoreSchema, SchemaValidator
    from pydantic_core import ValidationError as CoreValidationError

STATUSES = ("active", "archived")
READ_ONLY_FIELDS = frozenset(
    {"id", "created_at", "updated_at", "version", "created_by", "updated_by"}
)
CLIENT_FIELDS = ("name", "description", "status", "tags", "attributes")
DEFAULTS: dict[str, Any] = {"description": "", "status": "active", "tags": [], "attributes": {}}

MAX_DESCRIPTION_LENGTH = 2000
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
# Every nested object or array is one level more; attributes itself is level 1. jsonio refuses
# any body nested deeper than this before anything walks it, with the same message.
MAX_ATTRIBUTES_DEPTH = MAX_FIELD_DEPTH
MAX_ATTRIBUTES_BYTES = 16 * 1024
# The schema of one attributes value, under this name in the document's components.
ATTRIBUTE_VALUE = "AttributeValue"

# DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 .. 9.99..E+125. Only the traps
# that mean a changed or refused number: ``Rounded`` and ``Clamped`` also fire when trailing zeros
# are dropped (``1E+60`` written as 61 digits), which loses nothing, and such numbers are exactly
# what the API hands back, so refusing them would make a client unable to send an item back.
_DYNAMODB_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Overflow, Inexact, Underflow])
_SMALLEST_EXPONENT, _LARGEST_EXPONENT = -130, 125
SIGNIFICANT_DIGITS = 38
SMALLEST_MAGNITUDE = Decimal(f"1E{_SMALLEST_EXPONENT}")
MAGNITUDE_LIMIT = Decimal(f"1E+{_LARGEST_EXPONENT + 1}")  # exclusive


_REFUSED = "U+0000-U+001F, U+007F-U+009F, U+202A-U+202E, U+2066-U+2069"


def _controls_message(what: str) -> str:
    return f"must not contain control characters or bidirectional overrides ({what})"


def name_problem(value: Any) -> str:
    """Why a string is not a valid name (the pattern says all of it at once; this says which)."""
    if isinstance(value, str) and not has_no_controls(value):
        return _controls_message(_REFUSED)
    return f"must be 1 to {MAX_NAME_LENGTH} characters once trimmed"


def unique_tags(tags: list[str]) -> list[str]:
    """The ``tags`` rule pydantic has no word for: no tag twice."""
    if len(set(tags)) != len(tags):
        raise ValueError("tags must be unique")
    return tags


# Messages for pattern mismatches, by field (pydantic would print the regular expression).
PATTERN_MESSAGES = {
    "name": name_problem,
    "description": lambda _: _controls_message("tab and newline are allowed"),
    "tags": lambda _: _controls_message(_REFUSED),
}


def _check_number(value: int | Decimal, path: str) -> Decimal:
    if isinstance(value, UnrepresentableNumber):
        raise ValueError(f"{path}: number out of range (magnitude 1E-130 to 9.99...E+125, or 0)")
    try:
        number = _DYNAMODB_NUMBERS.create_decimal(value)
    except ArithmeticError as exc:
        raise ValueError(f"{path}: number cannot be stored exactly") from exc
    if not number.is_finite():
        raise ValueError(f"{path}: number must be finite")
    # The context's exponent limits admit subnormal and clamped values DynamoDB refuses
    # (1E-131, 1E+126): check the magnitude itself.
    if number and not _SMALLEST_EXPONENT <= number.adjusted() <= _LARGEST_EXPONENT:
        raise ValueError(f"{path}: number out of range (magnitude 1E-130 to 9.99...E+125, or 0)")
    return number


def _check_json(value: Any, path: str, depth: int) -> Any:
    """Validate one ``attributes`` value; numbers come back as ``Decimal`` for DynamoDB.

    Recursive, but never deeper than ``MAX_ATTRIBUTES_DEPTH`` levels: it stops there, and the
    body was already refused by ``jsonio`` if it nests deeper.
    """
    if isinstance(value, dict):
        if depth > MAX_ATTRIBUTES_DEPTH:
            raise ValueError(f"{path}: nested deeper than {MAX_ATTRIBUTES_DEPTH} levels")
        checked = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{path}: keys must be non-empty strings")
            checked[key] = _check_json(item, f"{path}.{shown(key, 24)}", depth + 1)
        return checked
    if isinstance(value, list):
        if depth > MAX_ATTRIBUTES_DEPTH:
            raise ValueError(f"{path}: nested deeper than {MAX_ATTRIBUTES_DEPTH} levels")
        return [_check_json(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, Decimal)):
        return _check_number(value, path)
    raise ValueError(f"{path}: unsupported value")


def check_attributes_patch(value: dict[str, Any]) -> dict[str, Any]:
    """Check an ``attributes`` object for keys, numbers and depth (not size): a merge patch's
    size limit applies to the merged result."""
    checked: dict[str, Any] = _check_json(value, "attributes", 1)
    return checked


def check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    """Apply the contract's limits to a whole ``attributes`` object."""
    checked = check_attributes_patch(value)
    if len(dumps(checked).encode("utf-8")) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"attributes: larger than {MAX_ATTRIBUTES_BYTES} bytes as compact JSON")
    return checked


def attributes_schema() -> dict[str, Any]:
    """``attributes`` in the document: an object of attribute values, keys non-empty; depth,
    size and precision, which JSON Schema has no keyword for, as ``x-`` extensions."""
    return {
        "type": "object",
        "propertyNames": {"minLength": 1},
        "additionalProperties": {"$ref": f"#/components/schemas/{ATTRIBUTE_VALUE}"},
        "x-max-depth": MAX_ATTRIBUTES_DEPTH,
        "x-max-json-bytes": MAX_ATTRIBUTES_BYTES,
        "description": f"Any JSON object, at most {MAX_ATTRIBUTES_DEPTH} levels deep (this "
        f"object is level 1) and {MAX_ATTRIBUTES_BYTES} bytes as compact UTF-8 JSON.",
    }


def attribute_value_schema() -> dict[str, Any]:
    """One attributes value: any JSON value whose numbers DynamoDB can hold exactly.

    No ``type`` and no union on purpose: each keyword applies only to the JSON type it is about
    (``items`` to arrays, ``propertyNames`` to objects, the bounds to numbers), so code
    generators read the value as "any" (not a float, not a union to pick from). The ``not``
    refuses nonzero numbers smaller in magnitude than DynamoDB's 1E-130; the 38 significant
    digits, which JSON Schema cannot say, are ``x-max-significant-digits``.
    """
    ref = {"$ref": f"#/components/schemas/{ATTRIBUTE_VALUE}"}
    # Plain JSON numbers (1e-130 and the 127-digit 10**126), so any JSON encoder writes them.
    tiny, limit = float(SMALLEST_MAGNITUDE), int(MAGNITUDE_LIMIT)
    # Holds for every value that is not a number (numeric keywords do not apply to them), and
    # for no number (none is both >= 1 and <= 0): "not a number", without naming a type.
    not_a_number = {"minimum": 1, "maximum": 0}
    return {
        "title": ATTRIBUTE_VALUE,
        "items": ref,
        "propertyNames": {"minLength": 1},
        "additionalProperties": ref,
        "exclusiveMaximum": limit,
        "exclusiveMinimum": -limit,
        "not": {
            "exclusiveMinimum": -tiny,
            "exclusiveMaximum": tiny,
            "not": {"anyOf": [{"const": 0}, not_a_number]},
        },
        "x-max-significant-digits": SIGNIFICANT_DIGITS,
        "description": f"Any JSON value. Numbers: 0 or a magnitude from 1E-130 up to (not "
        f"including) 1E+126, with at most {SIGNIFICANT_DIGITS} significant digits (what "
        "DynamoDB holds exactly). Object keys are non-empty.",
    }


class _ValidatedWrite:
    """What the validator fills in (``__dict__``: the fields), in place of a pydantic model."""


def item_write_schema() -> CoreSchema:
    """The core schema pydantic generates for ``models.ItemWrite``.

    Field by field what ``ItemWrite``'s annotations and ``ConfigDict(extra="forbid",
    strict=True)`` generate, with the same functions as its validators (``str.strip`` after the
    name's pattern, :func:`unique_tags`, :func:`check_attributes`);
    ``tests/unit/test_validation.py`` compares the two schemas and their answers.
    """
    from pydantic_core import core_schema

    def optional(schema: CoreSchema) -> core_schema.ModelField:
        return core_schema.model_field(
            core_schema.with_default_schema(core_schema.nullable_schema(schema), default=None)
        )

    fields = {
        "name": core_schema.model_field(
            core_schema.no_info_after_validator_function(
                str.strip, core_schema.str_schema(pattern=NAME_PATTERN)
            )
        ),
        "description": optional(
            core_schema.str_schema(max_length=MAX_DESCRIPTION_LENGTH, pattern=DESCRIPTION_PATTERN)
        ),
        "status": optional(core_schema.literal_schema(list(STATUSES))),
        "tags": optional(
            core_schema.no_info_after_validator_function(
                unique_tags,
                core_schema.list_schema(
                    core_schema.str_schema(
                        min_length=1, max_length=MAX_TAG_LENGTH, pattern=NO_CONTROLS_PATTERN
                    ),
                    max_length=MAX_TAGS,
                ),
            )
        ),
        "attributes": optional(
            core_schema.no_info_after_validator_function(
                check_attributes,
                core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema()),
            )
        ),
    }
    return core_schema.model_schema(
        _ValidatedWrite,
        core_schema.model_fields_schema(fields, model_name="ItemWrite"),
        config=core_schema.CoreConfig(
            title="ItemWrite", extra_fields_behavior="forbid", strict=True
        ),
    )


@functools.cache
def item_write_validator() -> SchemaValidator:
    """``ItemWrite``'s validator, built once per process (on the first write)."""
    from pydantic_core import SchemaValidator

    return SchemaValidator(item_write_schema())


def client_error(exc: CoreValidationError) -> ValidationError:
    """A failure of an item body as a 400 whose message starts with the field."""
    return _client_error(exc, PATTERN_MESSAGES)


def with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """Every client-settable field of a validated write, defaults filled in for ``null``."""
    return {
        k: DEFAULTS[k] if values[k] is None and k in DEFAULTS else values[k] for k in CLIENT_FIELDS
    }


def _reject_read_only(payload: dict[str, Any]) -> None:
    for key in payload:
        if key in READ_ONLY_FIELDS:
            raise ValidationError(f"{key}: is set by the server and cannot be written")


def _validated_fields(payload: dict[str, Any]) -> dict[str, Any]:
    from pydantic_core import ValidationError as CoreValidationError

    try:
        values: dict[str, Any] = item_write_validator().validate_python(payload).__dict__
    except CoreValidationError as exc:
        raise client_error(exc) from exc
    return with_defaults(values)


def validate_write(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate a ``POST``/``PUT`` body; returns every client field with defaults applied."""
    _reject_read_only(payload)
    return _validated_fields(payload)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def validate_patch(patch: dict[str, Any]) -> dict[str, Any]:
    """Check a merge patch on its own (before the stored item is known).

    Returns the top-level changes with ``null`` turned into defaults; ``attributes`` stays a
    patch (to be merged with the stored value by :func:`apply_attributes_patch`) unless it
    resets them.
    """
    _reject_read_only(patch)
    unknown = [key for key in patch if key not in CLIENT_FIELDS]
    if unknown:
        raise ValidationError(f"{shown(unknown[0])}: unknown field")
    if "name" in patch and patch["name"] is None:
        raise ValidationError("name: is required and cannot be null")
    attributes_patch = patch.get("attributes")
    if attributes_patch is not None and not isinstance(attributes_patch, dict):
        raise ValidationError("attributes: must be a JSON object")
    # Validate the non-attributes fields by running them through the write schema with a
    # placeholder name when the patch does not set one.
    probe = {key: value for key, value in patch.items() if key != "attributes"}
    probe.setdefault("name", "placeholder")
    validated = _validated_fields(probe)
    changes = {key: validated[key] for key in patch if key != "attributes"}
    if "attributes" in patch:
        if attributes_patch is None:
            changes["attributes"] = {}
        else:
            try:
                # Checks numbers, keys and depth of the patch itself; size needs the result.
                checked = check_attributes_patch(attributes_patch)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc
            # Merging {} changes nothing (RFC 7396), so it must not reach the write as a value.
            if checked:
                changes["attributes"] = checked
    return changes


def patch_needs_stored_attributes(changes: dict[str, Any]) -> bool:
    """Whether applying ``changes`` requires the stored ``attributes`` (a non-empty merge)."""
    attributes = changes.get("attributes")
    return isinstance(attributes, dict) and bool(attributes)


def apply_attributes_patch(
    stored: dict[str, Any], attributes_patch: dict[str, Any]
) -> dict[str, Any]:
    """Merge an ``attributes`` patch into the stored value and check the result's limits."""
    merged = merge_patch(stored, attributes_patch)
    try:
        return check_attributes(merged)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
