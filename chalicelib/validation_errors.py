"""Validation failures as client errors, without importing pydantic.

A failure of pydantic's validation engine (``pydantic_core.ValidationError``, which is also what
``pydantic.ValidationError`` is) becomes a 400 whose message starts with the offending field.
It lives apart from :mod:`chalicelib.validation` (which imports pydantic for the documented
validators) so that writes validated on ``pydantic_core`` alone share it: a cold ``POST`` does
not import pydantic (see docs/benchmarks.md, cold starts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.errors import ValidationError
from chalicelib.text import shown

if TYPE_CHECKING:
    from pydantic_core import ValidationError as CoreValidationError


def client_error(
    exc: CoreValidationError, messages: dict[str, Callable[[Any], str]] | None = None
) -> ValidationError:
    """A pydantic failure as a 400 whose message starts with the offending field.

    ``messages`` replaces pydantic's wording for a field (by its dotted location): a pattern
    mismatch would otherwise print the whole regular expression.
    """
    error = exc.errors(include_url=False)[0]
    location = ".".join(shown(str(part)) for part in error["loc"]) or "body"
    message = error["msg"]
    field_name = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif messages and field_name in messages and error["type"] == "string_pattern_mismatch":
        message = messages[field_name](error.get("input"))
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
        # Our own validators already name the nested path ("attributes.a.b: ...").
        if message.startswith(location):
            return ValidationError(message)
    return ValidationError(f"{location}: {message}")
