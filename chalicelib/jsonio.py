"""Strict JSON in, exact JSON out.

Chalice's own ``json_body`` is plain ``json.loads`` (it accepts ``NaN``) and its encoder turns
``Decimal`` into ``float`` (``3`` comes back ``3.0``, big integers lose digits). Request bodies
are therefore parsed here, with every non-integer number kept as ``Decimal``, and responses are
serialized here, writing each number exactly as stored.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from json.encoder import encode_basestring
from typing import Any

from chalicelib.errors import PayloadTooLargeError, ValidationError
from chalicelib.text import shown

MAX_BODY_BYTES = 64 * 1024
# No field of a request body nests deeper than this (the field's own object or array is level 1;
# ``attributes`` has exactly this limit). Refusing deeper bodies here, before anything walks
# them, bounds the recursion of every later step (validation, the idempotency fingerprint,
# serialization) whatever a 64 KiB body holds.
MAX_FIELD_DEPTH = 16
# Integers longer than this stay ``Decimal``: Python refuses to convert longer digit strings to
# ``int`` (its int-to-string limit, 4300 digits by default), and no valid field needs more.
_MAX_INT_DIGITS = 4000


class UnrepresentableNumber(Decimal):
    """A JSON number beyond the exponent range of any decimal context (such as
    ``1e999999999999999999999``). Parsing keeps it, as a NaN that remembers its text, so the
    validator of the field it is in refuses it with a 400 naming that field."""

    text: str

    def __new__(cls, text: str) -> UnrepresentableNumber:
        number = super().__new__(cls, "NaN")
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"UnrepresentableNumber({self.text!r})"


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return UnrepresentableNumber(text)


def _integer(text: str) -> int | Decimal:
    # int() of a long digit string is quadratic and refused past 4300 digits; Decimal is exact.
    return int(text) if len(text) <= _MAX_INT_DIGITS else _decimal(text)


def _reject_constant(name: str) -> Any:
    raise ValidationError(f"body: {name} is not a valid JSON number")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValidationError(f"body: duplicate key {json.dumps(shown(key))}")
        result[key] = value
    return result


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_structure(body: dict[str, Any]) -> None:
    """Refuse a parsed body nested too deeply or holding lone surrogates (``"\\ud800"`` parses
    but cannot be stored as UTF-8). Iterative: safe at any depth."""
    pending: list[tuple[Any, int, str]] = []
    for key, value in body.items():
        if not _is_encodable(key):
            raise ValidationError("body: contains an invalid Unicode escape")
        pending.append((value, 1, key))
    while pending:
        node, depth, field = pending.pop()
        if isinstance(node, str):
            if not _is_encodable(node):
                raise ValidationError(f"{shown(field)}: contains an invalid Unicode escape")
            continue
        if not isinstance(node, (dict, list)):
            continue
        if depth > MAX_FIELD_DEPTH:
            raise ValidationError(f"{shown(field)}: nested deeper than {MAX_FIELD_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, dict) and not all(_is_encodable(key) for key in node):
            raise ValidationError(f"{shown(field)}: contains an invalid Unicode escape")
        pending.extend((child, depth + 1, field) for child in children)


def parse_json_object(raw_body: bytes | None, *, required: bool = True) -> dict[str, Any]:
    """Parse a request body that must be a JSON object, or raise a client error.

    Numbers are exact (``Decimal`` for every non-integer, and for integers too long for
    ``int``); a number no decimal can hold becomes :class:`UnrepresentableNumber`. Whatever
    64 KiB holds, this raises a client error or returns a body nested at most
    ``MAX_FIELD_DEPTH`` levels below its fields.
    """
    if raw_body is not None and len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"body: larger than {MAX_BODY_BYTES} bytes")
    if raw_body is None or not raw_body.strip():
        if required:
            raise ValidationError("body: a JSON object is required")
        return {}
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("body: not valid UTF-8") from exc
    try:
        value = json.loads(
            text,
            parse_float=_decimal,
            parse_int=_integer,
            parse_constant=_reject_constant,
            object_pairs_hook=_reject_duplicate_keys,
        )
    except RecursionError as exc:
        # The C parser's own depth guard: far deeper than any valid body.
        raise ValidationError(f"body: nested deeper than {MAX_FIELD_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise ValidationError("body: not valid JSON") from exc
    if not isinstance(value, dict):
        raise ValidationError("body: must be a JSON object")
    _check_structure(value)
    return value


# Integral numbers print as plain digits (however DynamoDB stored their exponent) up to this
# many; beyond it (never a stored number: DynamoDB's limit is 1E+126) in exponent form, so
# printing never builds a gigantic integer.
_MAX_PLAIN_DIGITS = 1000


def _number(value: Decimal) -> str:
    if isinstance(value, UnrepresentableNumber):
        return value.text
    if (
        value.is_finite()
        and value.adjusted() < _MAX_PLAIN_DIGITS
        and value == value.to_integral_value()
    ):
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
