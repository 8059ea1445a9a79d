"""Item use cases: validation, then storage. Knows nothing of HTTP or Chalice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.errors import ConflictError, PreconditionFailedError
from chalicelib.models import (
    apply_attributes_patch,
    patch_needs_stored_attributes,
    validate_patch,
    validate_write,
)
from chalicelib.repository import ItemRepository
from chalicelib.schema import ATTACHMENTS_ATTRIBUTE

# A merge into stored attributes is read, merged, then written conditionally on the version read;
# without If-Match a concurrent writer makes it try again, up to this many times.
PATCH_ATTEMPTS = 3


class ItemService:
    """The operations of the Items API."""

    def __init__(
        self,
        repository: ItemRepository,
        on_deleted: Callable[[str], None] | None = None,
    ) -> None:
        self.repository = repository
        # Called with the id of a deleted item that had attachments, to remove their files.
        self._on_deleted = on_deleted

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.repository.create(validate_write(body))

    def get(self, item_id: str) -> dict[str, Any]:
        return self.repository.get(item_id)

    def list(
        self, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self.repository.list(limit, cursor, status)

    def replace(
        self, item_id: str, body: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]:
        return self.repository.update(item_id, validate_write(body), expected_version)

    def patch(
        self, item_id: str, patch: dict[str, Any], expected_version: int | None
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
            return self.repository.update(item_id, changes, expected_version)
        for _ in range(PATCH_ATTEMPTS):
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
                return self.repository.update(item_id, merged, stored["version"])
            except PreconditionFailedError:
                if expected_version is not None:
                    raise
        raise ConflictError(f"item {item_id} kept changing during the update, retry")

    def delete(self, item_id: str, expected_version: int | None) -> None:
        """Delete the item (one conditional request), then the files of its attachments."""
        deleted = self.repository.delete(item_id, expected_version)
        if deleted.get(ATTACHMENTS_ATTRIBUTE) and self._on_deleted is not None:
            self._on_deleted(item_id)
