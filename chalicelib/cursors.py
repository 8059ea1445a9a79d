"""Opaque, signed pagination cursors.

A cursor carries the DynamoDB key to resume from, the listing it belongs to (its *scope*, e.g.
items filtered by ``status=active``) and an HMAC over both. Verification rejects anything
tampered, anything issued for another listing or table, and any key whose shape is not exactly
what that listing produces, so nothing forged ever reaches DynamoDB as ``ExclusiveStartKey``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from chalicelib.errors import ValidationError

_SIGNATURE_BYTES = 16


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Encodes and verifies cursors with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def encode(self, scope: str, key: dict[str, str]) -> str:
        """A cursor resuming ``scope`` after ``key`` (string-valued key attributes)."""
        payload = json.dumps({"s": scope, "k": key}, separators=(",", ":"), sort_keys=True).encode()
        return _b64encode(self._sign(payload) + payload)

    def decode(
        self, cursor: str, scope: str, check_key: Callable[[dict[str, Any]], bool]
    ) -> dict[str, str]:
        """The key inside ``cursor``, or a 400 naming ``cursor``."""
        invalid = ValidationError("cursor: invalid or expired, start again without it")
        if len(cursor) > 2048:
            raise invalid
        try:
            raw = _b64decode(cursor)
        except (binascii.Error, ValueError) as exc:
            raise invalid from exc
        signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise invalid
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise invalid from exc
        if not isinstance(data, dict) or data.get("s") != scope:
            raise invalid
        key = data.get("k")
        if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
            raise invalid
        if not check_key(key):
            raise invalid
        return key
