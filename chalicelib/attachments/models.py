"""The attachment request model and the shape of an attachment as the API returns it."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic import ValidationError as PydanticValidationError

from chalicelib.errors import ValidationError
from chalicelib.items.validation import client_error

Filename = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class AttachmentCreate(BaseModel):
    """The body of ``POST /items/{id}/attachments``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    filename: Filename
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    size: Annotated[int, Field(ge=1)]

    @field_validator("filename")
    @classmethod
    def _printable(cls, filename: str) -> str:
        if any(unicodedata.category(ch).startswith("C") for ch in filename):
            raise ValueError("filename: must not contain control characters")
        return filename


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
        request = AttachmentCreate.model_validate(body)
    except PydanticValidationError as exc:
        raise client_error(exc) from exc
    content_type = request.content_type.strip().lower()
    if content_type not in allowed_types:
        raise ValidationError("content_type: must be one of " + ", ".join(allowed_types))
    if request.size > max_bytes:
        raise ValidationError(f"size: must be at most {max_bytes} bytes")
    return request.model_copy(update={"content_type": content_type})
