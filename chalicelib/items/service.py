"""Item use cases: validation, then storage. Knows nothing of HTTP or Chalice."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from chalicelib import telemetry
from chalicelib.errors import (
    ConflictError,
    DependencyUnavailableError,
    ItemsApiError,
    NotFoundError,
    PreconditionFailedError,
)
from chalicelib.items.models import (
    apply_attributes_patch,
    patch_needs_stored_attributes,
    validate_patch,
    validate_write,
)
from chalicelib.items.repository import ItemRepository, is_item_id

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
        self,
        repository: ItemRepository,
        remove_files: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repository = repository
        # Removes every attachment file of an item id (see AttachmentService.delete_all).
        self._remove_files = remove_files
        self._clock = clock

    def create(self, body: dict[str, Any], *, actor: str) -> dict[str, Any]:
        """Create an item; ``actor`` (a username or client id) is recorded as its creator."""
        return self.repository.create(validate_write(body), actor)

    def get(self, item_id: str) -> dict[str, Any]:
        return self.repository.get(item_id)

    def list(
        self, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self.repository.list(limit, cursor, status)

    def replace(
        self, item_id: str, body: dict[str, Any], expected_version: int | None, *, actor: str
    ) -> dict[str, Any]:
        return self.repository.update(item_id, validate_write(body), expected_version, actor)

    def patch(
        self, item_id: str, patch: dict[str, Any], expected_version: int | None, *, actor: str
    ) -> dict[str, Any]:
        """Apply an RFC 7396 merge patch.

        Top-level fields (and resetting ``attributes``) are one conditional ``UpdateItem``. A
        non-empty ``attributes`` patch merges recursively into the stored object, and the
        16 KiB limit applies to the result, which DynamoDB cannot check in a condition: that
        case reads the item, merges, and writes conditionally on the version it read, so a
        concurrent write is never overwritten.
        """
        changes = validate_patch(patch)
        if not patch_needs_stored_attributes(changes):
            return self.repository.update(item_id, changes, expected_version, actor)
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
                return self.repository.update(item_id, merged, stored["version"], actor)
            except PreconditionFailedError:
                if expected_version is not None:
                    raise
        raise ConflictError(f"item {item_id} kept changing during the update, retry")

    def delete(self, item_id: str, expected_version: int | None) -> None:
        """Delete the item (one conditional request), then every file below its folder.

        The folder is swept even when no attachment is recorded, because a presigned upload may
        land after its record was deleted. If the sweep fails, the answer is a 503 and the
        failure is logged and counted; the retried DELETE (then a 404) sweeps again.
        """
        try:
            self.repository.delete(item_id, expected_version)
        except NotFoundError:
            if self._remove_files is not None and is_item_id(item_id):
                with contextlib.suppress(ItemsApiError):
                    self._remove_files(item_id)
            raise
        if self._remove_files is None:
            return
        try:
            self._remove_files(item_id)
        except ItemsApiError as exc:
            telemetry.orphaned_files(item_id, exc)
            raise DependencyUnavailableError(
                f"item {item_id} was deleted but some of its files were not; "
                "retry the DELETE to remove them"
            ) from exc
