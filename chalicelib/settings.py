"""Runtime configuration, read from the environment only.

Each variable is named once here. The CDK stack sets them on the function, `.chalice/config.json`
sets them for `chalice local`. A missing required variable fails loudly on first use, naming it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ITEMS_TABLE_NAME = "ITEMS_TABLE_NAME"
ITEMS_TABLE_STREAM_ARN = "ITEMS_TABLE_STREAM_ARN"
IDEMPOTENCY_TABLE_NAME = "IDEMPOTENCY_TABLE_NAME"
ASSETS_BUCKET_NAME = "ASSETS_BUCKET_NAME"
CORS_ALLOW_ORIGIN = "CORS_ALLOW_ORIGIN"
CURSOR_SECRET = "CURSOR_SECRET"  # noqa: S105 - the variable name, not a secret
LOCAL_API_KEY = "LOCAL_API_KEY"
MAX_ATTACHMENT_BYTES = "MAX_ATTACHMENT_BYTES"
ALLOWED_CONTENT_TYPES = "ALLOWED_CONTENT_TYPES"
# JSON list of {"issuer", "jwks_url" (optional), "client_ids"}: whose tokens the authorizer accepts.
AUTH_TRUSTED_ISSUERS = "AUTH_TRUSTED_ISSUERS"

# The deployed function's timeout (infrastructure/config.py's LAMBDA_TIMEOUT_S, a test keeps them
# equal): what locally stands in for a Lambda invocation's remaining time.
FUNCTION_TIMEOUT_SECONDS = 20

DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
DEFAULT_ALLOWED_CONTENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
)


class MissingSettingError(RuntimeError):
    """A required environment variable is not set (a deployment mistake, not a client one)."""


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSettingError(f"environment variable {name} must be set")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the application reads from its environment."""

    items_table_name: str
    idempotency_table_name: str
    assets_bucket_name: str
    cursor_secret: bytes
    local_api_key: str | None
    max_attachment_bytes: int
    allowed_content_types: tuple[str, ...]

    @classmethod
    def from_environment(cls) -> Settings:
        items_table = _required(ITEMS_TABLE_NAME)
        limits = attachment_limits()
        return cls(
            items_table_name=items_table,
            idempotency_table_name=_required(IDEMPOTENCY_TABLE_NAME),
            assets_bucket_name=_required(ASSETS_BUCKET_NAME),
            # Cursors are signed to detect tampering and cursors from another table; the key
            # protects integrity only (a cursor reveals nothing secret), so the table name is an
            # acceptable default when no dedicated secret is configured.
            cursor_secret=os.environ.get(CURSOR_SECRET, items_table).encode(),
            local_api_key=os.environ.get(LOCAL_API_KEY) or None,
            max_attachment_bytes=limits.max_bytes,
            allowed_content_types=limits.allowed_content_types,
        )


@dataclass(frozen=True)
class AttachmentLimits:
    """The settings that are rules of a request (the OpenAPI document states them)."""

    max_bytes: int
    allowed_content_types: tuple[str, ...]


def attachment_limits() -> AttachmentLimits:
    """The attachment limits of this environment (defaults where unset): needs nothing else, so
    the document can be built anywhere, its committed copy with the defaults."""
    max_bytes_text = os.environ.get(MAX_ATTACHMENT_BYTES, "").strip()
    try:
        max_bytes = int(max_bytes_text) if max_bytes_text else DEFAULT_MAX_ATTACHMENT_BYTES
    except ValueError as exc:
        raise MissingSettingError(f"{MAX_ATTACHMENT_BYTES} must be an integer") from exc
    types_text = os.environ.get(ALLOWED_CONTENT_TYPES, "").strip()
    allowed_types = (
        tuple(t.strip().lower() for t in types_text.split(",") if t.strip())
        if types_text
        else DEFAULT_ALLOWED_CONTENT_TYPES
    )
    return AttachmentLimits(max_bytes=max_bytes, allowed_content_types=allowed_types)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings.from_environment()


def items_table_stream_arn() -> str:
    """The items table's stream, which the cleanup function consumes. Read at import time by
    the event handler's decorator, which ``chalice package`` turns into the event source."""
    return _required(ITEMS_TABLE_STREAM_ARN)


def cors_allow_origin() -> str:
    """The origin browsers may call the API from. Read at import time by the route table,
    because Chalice bakes CORS preflight answers into the API definition."""
    return _required(CORS_ALLOW_ORIGIN)


def trusted_issuers() -> list[dict[str, Any]]:
    """The issuers (and their clients) whose tokens the authorizer accepts.

    Read by the authorizer function only. Required: without it every token would be refused,
    which is a deployment mistake to report, not a state to serve.
    """
    text = _required(AUTH_TRUSTED_ISSUERS)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MissingSettingError(f"{AUTH_TRUSTED_ISSUERS} must be a JSON list") from exc
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise MissingSettingError(f"{AUTH_TRUSTED_ISSUERS} must be a non-empty JSON list")
    return value
