"""Strict JSON in, exact JSON out.

Chalice's own ``json_body`` is plain ``json.loads`` (it accepts ``NaN``) and its encoder turns
``Decimal`` into ``float`` (``3`` comes back ``3.0``, big integers lose digits). Request bodies
are therefore parsed here, with every non-integer number kept as ``Decimal``, and responses are
serialized here, writing each number exactly as stored.
"""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from chalicelib.errors import PayloadTooLargeError, ValidationError

MAX_BODY_BYTES = 64 * 1024


def _reject_constant(name: str) -> Any:
    raise ValidationError(f"body: {name} is not a valid JSON number")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValidationError(f"body: duplicate key {json.dumps(key)}")
        result[key] = value
    return result


def parse_json_object(raw_body: bytes | None, *, required: bool = True) -> dict[str, Any]:
    """Parse a request body that must be a JSON object, or raise a client error."""
    if raw_body is None or not raw_body.strip():
        if required:
            raise ValidationError("body: a JSON object is required")
        return {}
    if len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"body: larger than {MAX_BODY_BYTES} bytes")
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("body: not valid UTF-8") from exc
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_reject_duplicate_keys,
        )
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValidationError("body: not valid JSON") from exc
    if not isinstance(value, dict):
        raise ValidationError("body: must be a JSON object")
    try:
        # Lone surrogates ("\ud800") parse fine but cannot be stored as UTF-8.
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("body: contains an invalid Unicode escape") from exc
    return value


def _number(value: Decimal) -> str:
    if value == value.to_integral_value():
        # Integral values, however DynamoDB stored their exponent, print as plain integers.
        return str(int(value))
    return str(value)


# What ``json.dumps(text, ensure_ascii=False)`` does with a string (json's C encoder), without
# building a JSONEncoder per string: a response has a dozen strings, and that was most of the
# serializer's time on a warm GET.
_CONSTANTS = {None: "null", True: "true", False: "false"}


def dumps(value: Any) -> str:  # noqa: PLR0911 - one return per JSON type
    """Compact JSON with ``Decimal`` written exactly (never through ``float``)."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None or isinstance(value, bool):
        return _CONSTANTS[value]
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, float):
        return json.dumps(value, allow_nan=False)
    raise TypeError(f"cannot serialize {type(value).__name__}")
