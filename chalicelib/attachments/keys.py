"""Attachment ids and the object keys they map to (no third-party imports: cheap to load)."""

from __future__ import annotations

import re
import secrets
import time

from chalicelib.items.repository import is_item_id
from chalicelib.schema import ATTACHMENTS_PREFIX

# Matched against the whole string (fullmatch): "$" would also match before a trailing newline.
ATTACHMENT_ID_PATTERN = re.compile(r"[0-9a-f]{28}")


def new_attachment_id() -> str:
    """28 hex digits: milliseconds since the epoch, then 64 random bits (sorts by creation)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def is_attachment_id(value: str) -> bool:
    return ATTACHMENT_ID_PATTERN.fullmatch(value) is not None


def item_prefix(item_id: str) -> str:
    """The folder of one item's files."""
    return f"{ATTACHMENTS_PREFIX}{item_id}/"


def object_key(item_id: str, attachment_id: str) -> str:
    """Where the file of an attachment is stored."""
    return f"{item_prefix(item_id)}{attachment_id}"


def parse_object_key(key: str) -> tuple[str, str] | None:
    """The item and attachment ids of an object key this API chose, or None for any other key."""
    if not key.startswith(ATTACHMENTS_PREFIX):
        return None
    parts = key[len(ATTACHMENTS_PREFIX) :].split("/")
    if len(parts) != 2 or not is_item_id(parts[0]) or not is_attachment_id(parts[1]):
        return None
    return parts[0], parts[1]
