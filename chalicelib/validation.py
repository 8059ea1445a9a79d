"""What the request models share: validators that carry their counterpart in the OpenAPI
document, and pydantic failures turned into client errors (:mod:`chalicelib.validation_errors`).

A rule pydantic states in JSON Schema by itself (a length, a pattern, a bound, a type) needs
nothing here. A rule written as a function does not reach the document on its own: it is
declared with :class:`Documented`, which runs the function and adds the JSON Schema keywords that
state it, so the check and its documentation are one object. ``tests/unit/test_openapi.py``
walks the models and fails on any validator that is not declared this way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

# Every validator function declared with Documented or Transform, for the test that walks the
# models (a function in a model's schema that is in neither is a rule without a counterpart).
DOCUMENTED: dict[Callable[[Any], Any], Documented] = {}
TRANSFORMS: dict[Callable[[Any], Any], Transform] = {}


@dataclass(frozen=True, eq=False)
class Documented:
    """An after-validator of a field with the JSON Schema keywords that state it.

    ``keywords`` are merged into the field's generated schema; ``replace`` replaces that schema
    (for a rule such as ``attributes``' whose generated schema says nothing useful).
    """

    check: Callable[[Any], Any]
    keywords: dict[str, Any] = field(default_factory=dict)
    replace: bool = False

    def __post_init__(self) -> None:
        DOCUMENTED[self.check] = self

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if self.replace:
            return dict(self.keywords)
        generated = handler(schema)
        return {**generated, **self.keywords}


@dataclass(frozen=True, eq=False)
class Transform:
    """A validator that only changes the form of a value and refuses nothing (so it states no
    rule): before the field's own checks, or with ``after`` on their result.

    ``tests/unit/test_openapi.py`` accepts these without a document counterpart; anything that
    refuses a value must be :class:`Documented` instead.
    """

    convert: Callable[[Any], Any]
    after: bool = False

    def __post_init__(self) -> None:
        TRANSFORMS[self.convert] = self

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        if self.after:
            return core_schema.no_info_after_validator_function(self.convert, handler(source))
        return core_schema.no_info_before_validator_function(self.convert, handler(source))
