"""Validation of what clients write, without importing pydantic (a cold ``POST`` pays for it).

``models.ItemWrite`` (pydantic) stays the documented definition of a write: the OpenAPI document
is generated from it. Validating a body with it would import pydantic and build its model on a
cold start's first write, about 50 ms of CPU in the Lambda layout (docs/benchmarks.md), where
pydantic's own validation engine, ``pydantic_core``, costs a fraction of that to import. So the
same checks run here on a ``pydantic_core.SchemaValidator`` built from the very core schema
pydantic generates for ``ItemWrite`` (the same engine, so the same results and error messages);
a test holds the two to each other. The contract's own rules (``attributes`` limits, DynamoDB
numbers) are plain functions both of them call.
"""

from __future__ import annotations

import functools
from decimal import Context, Decimal, Inexact, Overflow, Underflow
from typing import TYPE_CHECKING, Any

from chalicelib.errors import ValidationError
from chalicelib.jsonio import dumps

if TYPE_CHECKING:
    from pydantic_core import SchemaValidator, core_schema
    from pydantic_core import ValidationError as CoreValidationError

STATUSES = ("active", "archived")
READ_ONLY_FIELDS = frozenset({"id", "created_at", "updated_at", "version"})
CLIENT_FIELDS = ("name", "description", "status", "tags", "attributes")
DEFAULTS: dict[str, Any] = {"description": "", "status": "active", "tags": [], "attributes": {}}

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
TAG_MAX_LENGTH = 50
MAX_TAGS = 20
MAX_ATTRIBUTES_DEPTH = 16
MAX_ATTRIBUTES_BYTES = 16 * 1024

# DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 .. 9.99..E+125. Only the traps
# that mean a changed or refused number: ``Rounded`` and ``Clamped`` also fire when trailing zeros
# are dropped (``1E+60`` written as 61 digits), which loses nothing, and such numbers are exactly
# what the API hands back, so refusing them would make a client unable to send an item back.
_DYNAMODB_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Overflow, Inexact, Underflow])
_SMALLEST_EXPONENT, _LARGEST_EXPONENT = -130, 125


def _check_number(value: int | Decimal, path: str) -> Decimal:
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


def check_json(value: Any, path: str, depth: int) -> Any:
    """Validate one ``attributes`` value; numbers come back as ``Decimal`` for DynamoDB."""
    if isinstance(value, dict):
        if depth > MAX_ATTRIBUTES_DEPTH:
            raise ValueError(f"{path}: nested deeper than {MAX_ATTRIBUTES_DEPTH} levels")
        checked = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{path}: keys must be non-empty strings")
            checked[key] = check_json(item, f"{path}.{key}", depth + 1)
        return checked
    if isinstance(value, list):
        if depth > MAX_ATTRIBUTES_DEPTH:
            raise ValueError(f"{path}: nested deeper than {MAX_ATTRIBUTES_DEPTH} levels")
        return [check_json(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, Decimal)):
        return _check_number(value, path)
    raise ValueError(f"{path}: unsupported value")


def check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    """Apply the contract's limits to a whole ``attributes`` object."""
    checked: dict[str, Any] = check_json(value, "attributes", 1)
    if len(dumps(checked).encode("utf-8")) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"attributes: larger than {MAX_ATTRIBUTES_BYTES} bytes as compact JSON")
    return checked


def unique_tags(tags: list[str] | None) -> list[str] | None:
    """The ``tags`` rule pydantic has no word for: no tag twice."""
    if tags is not None and len(set(tags)) != len(tags):
        raise ValueError("tags must be unique")
    return tags


def valid_attributes(attributes: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if attributes is None else check_attributes(attributes)


class _ValidatedWrite:
    """What the validator fills in (``__dict__``: the fields), in place of a pydantic model."""


def item_write_schema() -> core_schema.CoreSchema:
    """The core schema pydantic generates for ``models.ItemWrite``.

    Field by field what ``ItemWrite``'s annotations and ``ConfigDict(extra="forbid",
    strict=True)`` generate (``tests/unit/test_validation.py`` compares the two schemas and
    their answers), with this module's rules as its after-validators.
    """
    from pydantic_core import core_schema

    def optional(schema: core_schema.CoreSchema) -> core_schema.ModelField:
        return core_schema.model_field(
            core_schema.with_default_schema(core_schema.nullable_schema(schema), default=None)
        )

    def checked(function: Any, schema: core_schema.CoreSchema) -> core_schema.ModelField:
        return core_schema.model_field(
            core_schema.with_default_schema(
                core_schema.no_info_after_validator_function(
                    function, core_schema.nullable_schema(schema)
                ),
                default=None,
            )
        )

    fields = {
        "name": core_schema.model_field(
            core_schema.str_schema(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH)
        ),
        "description": optional(core_schema.str_schema(max_length=DESCRIPTION_MAX_LENGTH)),
        "status": optional(core_schema.literal_schema(list(STATUSES))),
        "tags": checked(
            unique_tags,
            core_schema.list_schema(
                core_schema.str_schema(min_length=1, max_length=TAG_MAX_LENGTH),
                max_length=MAX_TAGS,
            ),
        ),
        "attributes": checked(
            valid_attributes,
            core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema()),
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
    """``ItemWrite``'s validator, built once per process."""
    from pydantic_core import SchemaValidator

    return SchemaValidator(item_write_schema())


def _reject_read_only(payload: dict[str, Any]) -> None:
    for key in payload:
        if key in READ_ONLY_FIELDS:
            raise ValidationError(f"{key}: is set by the server and cannot be written")


def client_error(exc: CoreValidationError) -> ValidationError:
    """A pydantic failure as a 400 whose message starts with the offending field."""
    error = exc.errors(include_url=False)[0]
    location = ".".join(str(part) for part in error["loc"]) or "body"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
        # Our own validators already name the nested path ("attributes.a.b: ...").
        if message.startswith(location):
            return ValidationError(message)
    return ValidationError(f"{location}: {message}")


def _validated_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """Every client-settable field of a valid write, defaults filled in."""
    from pydantic_core import ValidationError as CoreValidationError

    try:
        values = item_write_validator().validate_python(payload).__dict__
    except CoreValidationError as exc:
        raise client_error(exc) from exc
    return {
        k: DEFAULTS[k] if values[k] is None and k in DEFAULTS else values[k] for k in CLIENT_FIELDS
    }


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
        raise ValidationError(f"{unknown[0]}: unknown field")
    if "name" in patch and patch["name"] is None:
        raise ValidationError("name: is required and cannot be null")
    attributes_patch = patch.get("attributes")
    if attributes_patch is not None and not isinstance(attributes_patch, dict):
        raise ValidationError("attributes: must be a JSON object")
    # Validate the non-attributes fields by running them through the write model with a
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
                checked = check_json(attributes_patch, "attributes", 1)
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
