"""Timestamps as the API writes them: RFC 3339, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """``moment`` as ``2026-11-22T23:45:00.123Z`` (fixed width, so strings sort by time)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_now() -> str:
    """The current time in the API's format."""
    return rfc3339(datetime.now(UTC))


def normalized(text: str) -> str:
    """An RFC 3339 timestamp from elsewhere (EventBridge writes ``2026-11-22T23:45:00Z``) in
    the API's format."""
    return rfc3339(datetime.fromisoformat(text.replace("Z", "+00:00")))
