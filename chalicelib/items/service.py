"""Item use cases: validation, then storage. Knows nothing of HTTP or Chalice."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.errors import ConflictError, PreconditionFailedError
from chalicelib.items.filters import Filter
from chalicelib.items.repository import (
    ConcurrentWriteError,
    ItemRepository,
    is_item_id,
    missing_item,
)

# The versions a conditional write may apply to (from If-Match); ``None``: any version. An
# empty set matches no version: such a write is a 412 (a 404 when the item does not exist).
Versions = frozenset[int]

# A merge into stored attributes is read, merged, then written conditionally on the version read;
# without If-Match a concurrent writer makes it try again, up to this many times, and only while
# the request is young: a conflict is a fast answer, but each attempt's two calls may each take
# the SDK's worst case, so a retry starts only within this window. That keeps the worst case at
# about one window plus one attempt, not three attempts, inside the Lambda timeout.
PATCH_ATTEMPTS = 3
PATCH_RETRY_WINDOW_SECONDS = 1.0


class ItemService:
    """The operations of the Items API."""

    def __init__(
        self, repository: ItemRepository, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.repository = repository
        self._clock = clock

    def create(self, body: dict[str, Any], *, actor: str) -> dict[str, Any]:
        """Create an item; ``actor`` (a username or client id) is recorded as its creator."""
        # Validation (pydantic_core, not pydantic) is imported by the first write: reads never
        # validate a body, so a cold GET does not pay for it (see docs/benchmarks.md, cold starts).
        from chalicelib.items.validation import validate_write

        return self.repository.create(validate_write(body), actor)

    def get(self, item_id: str) -> dict[str, Any]:
        return self.repository.get(item_id)

    def list(
        self,
        limit: int,
        cursor: str | None,
        status: str | None,
        listing_filter: Filter | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self.repository.page(limit, cursor, status, listing_filter)

    @staticmethod
    def _existing_id(item_id: str) -> None:
        """A malformed id is a 404 before anything else, without a request to DynamoDB."""
        if not is_item_id(item_id):
            raise missing_item(item_id)

    def _expected_version(self, item_id: str, expected: Versions | None) -> int | None:
        """The one version a conditional write checks for.

        One version (the usual If-Match) goes into the write's own condition. Several, or none
        that can match, need the stored version first: one read, then the write is conditional
        on the version read, so a write in between is still a 412, never overwritten.
        """
        if expected is None:
            return None
        if len(expected) == 1:
            return next(iter(expected))
        stored = int(self.repository.get(item_id)["version"])
        if stored not in expected:
            raise PreconditionFailedError(
                f"If-Match: item {item_id} is at version {stored}, "
                f'which no strong entity-tag of If-Match names ("{stored}")'
            )
        return stored

    def replace(
        self, item_id: str, body: dict[str, Any], expected: Versions | None, *, actor: str
    ) -> dict[str, Any]:
        from chalicelib.items.validation import validate_write

        self._existing_id(item_id)
        changes = validate_write(body)
        expected_version = self._expected_version(item_id, expected)
        return self._retried(
            item_id,
            expected_version,
            lambda: self.repository.update(item_id, changes, expected_version, actor),
        )

    def _retried(
        self, item_id: str, expected_version: int | None, write: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """``write()``, tried again while another writer wins the race between its read and
        its write (only without ``If-Match``: with it, that race is the client's 412)."""
        started = self._clock()
        for attempt in range(PATCH_ATTEMPTS):
            if attempt and self._clock() - started > PATCH_RETRY_WINDOW_SECONDS:
                break
            try:
                return write()
            except ConcurrentWriteError:
                if expected_version is not None:
                    raise
        raise ConflictError(f"item {item_id} kept changing during the update, retry")

    def patch(
        self, item_id: str, patch: dict[str, Any], expected: Versions | None, *, actor: str
    ) -> dict[str, Any]:
        """Apply an RFC 7396 merge patch.

        Top-level fields (and resetting ``attributes``) are one conditional ``UpdateItem``. A
        non-empty ``attributes`` patch merges recursively into the stored object, and the
        16 KiB limit applies to the result, which DynamoDB cannot check in a condition: that
        case reads the item, merges, and writes conditionally on the version it read, so a
        concurrent write is never overwritten.
        """
        from chalicelib.items.validation import (
            apply_attributes_patch,
            patch_needs_stored_attributes,
            validate_patch,
        )

        self._existing_id(item_id)
        changes = validate_patch(patch)
        expected_version = self._expected_version(item_id, expected)
        if not patch_needs_stored_attributes(changes):
            return self._retried(
                item_id,
                expected_version,
                lambda: self.repository.update(item_id, changes, expected_version, actor),
            )
        started = self._clock()
        for attempt in range(PATCH_ATTEMPTS):
            if attempt and self._clock() - started > PATCH_RETRY_WINDOW_SECONDS:
                break
            stored = self.repository.get(item_id)
            if expected_version is not None and stored["version"] != expected_version:
                raise PreconditionFailedError(
                    f"If-Match: item {item_id} is at version {stored['version']}, "
                    f"not {expected_version}"
                )
            merged = {
                **changes,
                "attributes": apply_attributes_patch(stored["attributes"], changes["attributes"]),
            }
            try:
                return self.repository.update(
                    item_id, merged, stored["version"], actor, current=stored
                )
            except PreconditionFailedError:
                if expected_version is not None:
                    raise
        raise ConflictError(f"item {item_id} kept changing during the update, retry")

    def delete(self, item_id: str, expected: Versions | None) -> None:
        """Delete the item (one conditional request).

        Its attachment records and files are removed by ``AttachmentService.remove_all``,
        which the items table's stream invokes for every removed item: retried until it
        succeeds, then dead-lettered, so neither a crash here nor a lost response leaves
        anything behind.
        """
        self._existing_id(item_id)
        self.repository.delete(item_id, self._expected_version(item_id, expected))
