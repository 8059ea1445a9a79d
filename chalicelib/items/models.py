"""The item model as pydantic states it: the documented definition of a write, and the shape of
what clients get back.

The OpenAPI document is generated from these classes. Requests are not validated with them: a
cold write would pay for importing pydantic and building them, so
:mod:`chalicelib.items.validation` validates on ``pydantic_core`` alone with the core schema
pydantic generates for :class:`ItemWrite` (``tests/unit/test_validation.py`` holds the two to
each other). The rules pydantic has no vocabulary for (unique tags, the ``attributes`` depth and
size limits, numbers DynamoDB can hold) are functions of that module, declared here as
:class:`~chalicelib.validation.Documented` validators so that the document states them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.items.validation import (
    MAX_DESCRIPTION_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    attributes_schema,
    check_attributes,
    unique_tags,
    with_defaults,
)
from chalicelib.text import DESCRIPTION_PATTERN, NAME_PATTERN, NO_CONTROLS_PATTERN
from chalicelib.validation import Documented, Transform

Status = Literal["active", "archived"]

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN), Transform(str.strip, after=True)]
Description = Annotated[
    str, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH, pattern=DESCRIPTION_PATTERN)
]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TAG_LENGTH, pattern=NO_CONTROLS_PATTERN)
]
Tags = Annotated[
    list[Tag], Field(max_length=MAX_TAGS), Documented(unique_tags, {"uniqueItems": True})
]
Attributes = Annotated[
    dict[str, Any], Documented(check_attributes, attributes_schema(), replace=True)
]


class ItemWrite(BaseModel):
    """The client-settable fields, as sent in ``POST`` and ``PUT`` (``null`` = default)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name
    description: Description | None = None
    status: Status | None = None
    tags: Tags | None = None
    attributes: Attributes | None = None

    def fields(self) -> dict[str, Any]:
        """Every client-settable field, defaults filled in."""
        return with_defaults(self.model_dump())


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
