"""The item model: the documented shape of what clients send and of what they get back.

pydantic v2 (strict: no coercion of ``1`` into ``"1"``): the OpenAPI document is generated from
these models. Requests are validated by ``validation`` with the core schema pydantic generates
for ``ItemWrite`` (pydantic's own engine, without importing pydantic on a cold write); the rules
pydantic has no vocabulary for (the ``attributes`` depth and size limits, numbers DynamoDB can
hold) are ``validation``'s functions, called by both.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chalicelib.items.validation import (
    DESCRIPTION_MAX_LENGTH,
    MAX_TAGS,
    NAME_MAX_LENGTH,
    TAG_MAX_LENGTH,
    apply_attributes_patch,
    client_error,
    patch_needs_stored_attributes,
    unique_tags,
    valid_attributes,
    validate_patch,
    validate_write,
)

__all__ = [
    "ItemPublic",
    "ItemWrite",
    "apply_attributes_patch",
    "client_error",
    "patch_needs_stored_attributes",
    "validate_patch",
    "validate_write",
]

Status = Literal["active", "archived"]

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH)
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=TAG_MAX_LENGTH)]


class ItemWrite(BaseModel):
    """The client-settable fields, as sent in ``POST`` and ``PUT`` (``null`` = default)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name
    description: Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX_LENGTH)] | None = None
    status: Status | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str] | None) -> list[str] | None:
        return unique_tags(tags)

    @field_validator("attributes")
    @classmethod
    def _valid_attributes(cls, attributes: dict[str, Any] | None) -> dict[str, Any] | None:
        return valid_attributes(attributes)


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
