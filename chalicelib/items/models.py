"""The item model: validation of what clients send, and the shape of what they get back.

Validation is pydantic v2 (strict: no coercion of ``1`` into ``"1"``). Rules pydantic has no
vocabulary for (the ``attributes`` depth and size limits, numbers DynamoDB can hold) are
validators on the same models, so the OpenAPI document and the checks come from one place.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact, Overflow, Underflow
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic import ValidationError as PydanticValidationError

from chalicelib.errors import ValidationError
from chalicelib.jsonio import dumps

Status = Literal["active", "archived"]
READ_ONLY_FIELDS = frozenset(
    {"id", "created_at", "updated_at", "version", "created_by", "updated_by"}
)
CLIENT_FIELDS = ("name", "description", "status", "tags", "attributes")
DEFAULTS: dict[str, Any] = {"description": "", "status": "active", "tags": [], "attributes": {}}

MAX_ATTRIBUTES_DEPTH = 16
MAX_ATTRIBUTES_BYTES = 16 * 1024

# DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 .. 9.99..E+125. Only the traps
# that mean a changed or refused number: ``Rounded`` and ``Clamped`` also fire when trailing zeros
# are dropped (``1E+60`` written as 61 digits), which loses nothing, and such numbers are exactly
# what the API hands back, so refusing them would make a client unable to send an item back.
_DYNAMODB_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Overflow, Inexact, Underflow])
_SMALLEST_EXPONENT, _LARGEST_EXPONENT = -130, 125

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50)]


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


def _check_json(value: Any, path: str, depth: int) -> Any:
    """Validate one ``attributes`` value; numbers come back as ``Decimal`` for DynamoDB."""
    if isinstance(value, dict):
        if depth > MAX_ATTRIBUTES_DEPTH:
            raise ValueError(f"{path}: nested deeper than {MAX_ATTRIBUTES_DEPTH} levels")
        checked = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{path}: keys must be non-empty strings")
            checked[key] = _check_json(item, f"{path}.{key}", depth + 1)
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


def check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    """Apply the contract's limits to a whole ``attributes`` object."""
    checked: dict[str, Any] = _check_json(value, "attributes", 1)
    if len(dumps(checked).encode("utf-8")) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"attributes: larger than {MAX_ATTRIBUTES_BYTES} bytes as compact JSON")
    return checked


class ItemWrite(BaseModel):
    """The client-settable fields, as sent in ``POST`` and ``PUT`` (``null`` = default)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    status: Status | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str] | None) -> list[str] | None:
        if tags is not None and len(set(tags)) != len(tags):
            raise ValueError("tags must be unique")
        return tags

    @field_validator("attributes")
    @classmethod
    def _valid_attributes(cls, attributes: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if attributes is None else check_attributes(attributes)

    def fields(self) -> dict[str, Any]:
        """Every client-settable field, defaults filled in."""
        values = self.model_dump()
        return {
            k: DEFAULTS[k] if values[k] is None and k in DEFAULTS else values[k]
            for k in CLIENT_FIELDS
        }


class ItemPublic(BaseModel):
    """An item as the API returns it (used for the OpenAPI document)."""

    id: str
    name: str
    description: str
    status: Status
    tags: list[str]
    attributes: dict[str, Any]
    created_at: str
    updated_at: str
    version: int
    # A person's username or a machine client's id; null only on items written before the API
    # recorded who wrote.
    created_by: str | None = Field(
        description="Who created the item: a person's username or a machine client's id "
        "(null only for items written before the API recorded it). Set by the server."
    )
    updated_by: str | None = Field(
        description="Who made the last write: a person's username or a machine client's id "
        "(null only for items written before the API recorded it). Set by the server."
    )


def _reject_read_only(payload: dict[str, Any]) -> None:
    for key in payload:
        if key in READ_ONLY_FIELDS:
            raise ValidationError(f"{key}: is set by the server and cannot be written")


def client_error(exc: PydanticValidationError) -> ValidationError:
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


def validate_write(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate a ``POST``/``PUT`` body; returns every client field with defaults applied."""
    _reject_read_only(payload)
    try:
        return ItemWrite.model_validate(payload).fields()
    except PydanticValidationError as exc:
        raise client_error(exc) from exc


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
    patch (to be merged with the stored value by :func:`apply_patch`) unless it resets them.
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
    try:
        validated = ItemWrite.model_validate(probe).fields()
    except PydanticValidationError as exc:
        raise client_error(exc) from exc
    changes = {key: validated[key] for key in patch if key != "attributes"}
    if "attributes" in patch:
        if attributes_patch is None:
            changes["attributes"] = {}
        else:
            try:
                # Checks numbers, keys and depth of the patch itself; size needs the result.
                checked = _check_json(attributes_patch, "attributes", 1)
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
