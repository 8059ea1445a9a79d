"""The attachment request model and the shape of an attachment as the API returns it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic import ValidationError as PydanticValidationError

from chalicelib.text import NO_CONTROLS_PATTERN
from chalicelib.validation import Transform
from chalicelib.validation_errors import client_error

MAX_FILENAME_LENGTH = 255
Filename = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_FILENAME_LENGTH, pattern=NO_CONTROLS_PATTERN),
]
PATTERN_MESSAGES = {
    "filename": lambda _: "must not contain control characters or bidirectional overrides",
}


def _integral(value: Any) -> Any:
    """``5.0`` and ``5E0`` as ``5``: JSON Schema counts them as integers, and so does the API."""
    integral = (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() < 19
        and value == value.to_integral_value()
    )
    return int(value) if integral else value


def _case_insensitive(text: str) -> str:
    """A regular expression (Python and ECMA-262 alike) matching ``text`` in any letter case."""
    special = set(".+*?()[]{}|^$\\")
    return "".join(
        f"[{ch.lower()}{ch.upper()}]"
        if ch.isascii() and ch.isalpha()
        else f"\\{ch}"
        if ch in special
        else ch
        for ch in text
    )


def documented_rules(allowed_types: tuple[str, ...], max_bytes: int) -> dict[str, dict[str, Any]]:
    """The JSON Schema of the fields whose rules are settings, by field: what the validators of
    :class:`AttachmentCreate` check, given the same settings as validation context."""
    alternatives = "|".join(_case_insensitive(t) for t in allowed_types)
    return {
        "content_type": {
            "type": "string",
            "anyOf": [{"enum": list(allowed_types)}, {"pattern": f"^(?:{alternatives})$"}],
            "description": "One of the allowed types, in any letter case (media types are "
            "case-insensitive); stored in lower case.",
        },
        "size": {"type": "integer", "minimum": 1, "maximum": max_bytes},
    }


def _setting(info: ValidationInfo, name: str) -> Any:
    if not isinstance(info.context, dict) or name not in info.context:
        raise TypeError(f"AttachmentCreate needs {name} as validation context")
    return info.context[name]


class AttachmentCreate(BaseModel):
    """The body of ``POST /items/{id}/attachments``."""

    # The allowed content types and the largest size are settings, passed as validation context
    # ({"allowed_types": ..., "max_bytes": ...}); documented_rules() states them.

    model_config = ConfigDict(extra="forbid", strict=True)

    filename: Filename
    content_type: str
    size: Annotated[int, Field(ge=1), Transform(_integral)]

    @field_validator("content_type")
    @classmethod
    def _allowed_type(cls, content_type: str, info: ValidationInfo) -> str:
        allowed: tuple[str, ...] = _setting(info, "allowed_types")
        if content_type.lower() not in allowed:
            raise ValueError("content_type: must be one of " + ", ".join(allowed))
        return content_type.lower()

    @field_validator("size")
    @classmethod
    def _at_most(cls, size: int, info: ValidationInfo) -> int:
        largest: int = _setting(info, "max_bytes")
        if size > largest:
            raise ValueError(f"size: must be at most {largest} bytes")
        return size


class AttachmentPublic(BaseModel):
    """An attachment as the API returns it (for the OpenAPI document)."""

    id: str
    filename: str
    content_type: str
    size: int
    created_at: str
    uploaded_at: str | None = None


def content_disposition(filename: str) -> str:
    """``attachment`` with the original filename, safe in a header (RFC 6266 / RFC 5987)."""
    # The quoted form: printable ASCII without quotes, backslashes or path separators, so no
    # client can break out of the header or suggest a path; filename* keeps the exact name.
    fallback = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\/' else "_" for ch in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def validate_create(
    body: dict[str, Any], *, allowed_types: tuple[str, ...], max_bytes: int
) -> AttachmentCreate:
    """Validate a ``POST /items/{id}/attachments`` body against the configured limits."""
    try:
        return AttachmentCreate.model_validate(
            body, context={"allowed_types": allowed_types, "max_bytes": max_bytes}
        )
    except PydanticValidationError as exc:
        raise client_error(exc, PATTERN_MESSAGES) from exc
