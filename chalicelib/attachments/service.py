"""The attachment use cases: record and presign, list, download, delete; and what the events
of the deployed stack drive: confirming uploads, and cleaning up after removed records."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.attachments.keys import (
    is_attachment_id,
    item_prefix,
    new_attachment_id,
    object_key,
    parse_object_key,
)
from chalicelib.attachments.models import content_disposition, validate_create
from chalicelib.attachments.repository import (
    PENDING,
    UPLOADED,
    AttachmentLimitReached,
    AttachmentRepository,
    attachment_id_of,
)
from chalicelib.attachments.storage import FileStorage
from chalicelib.cursors import CursorCodec
from chalicelib.errors import NotFoundError, ValidationError
from chalicelib.items.repository import is_item_id, missing_item
from chalicelib.schema import EXPIRES_AT, ITEM_RECORD
from chalicelib.text import shown
from chalicelib.timestamps import utc_now

MAX_ATTACHMENTS_PER_ITEM = 100
UPLOAD_EXPIRES_SECONDS = 15 * 60
# A pending record outlives its presigned POST by this much before it counts as abandoned: an
# upload that started just before the POST expired may still be arriving.
UPLOAD_GRACE_SECONDS = 60 * 60
DOWNLOAD_EXPIRES_SECONDS = 5 * 60


def missing_attachment(item_id: str, attachment_id: str) -> NotFoundError:
    """The 404 of an attachment (ids echoed only up to a bounded length, controls escaped)."""
    return NotFoundError(
        f"attachment {shown(attachment_id)} of item {shown(item_id)} does not exist"
    )


def _public(attachment_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """An attachment as the API returns it (``uploaded_at`` once its file arrived)."""
    public = {
        "id": attachment_id,
        "filename": record["filename"],
        "content_type": record["content_type"],
        "size": int(record["size"]),
        "created_at": record["created_at"],
    }
    if record.get("uploaded_at"):
        public["uploaded_at"] = record["uploaded_at"]
    return public


def _abandoned(record: dict[str, Any], now: int) -> bool:
    """A pending record whose upload window (and grace) has passed: its file never arrived."""
    return record.get("upload_state") == PENDING and int(record.get(EXPIRES_AT, 0)) <= now


class AttachmentService:
    """The attachment operations of the API and of its event handlers."""

    def __init__(
        self,
        repository: AttachmentRepository,
        files: FileStorage,
        cursors: CursorCodec,
        *,
        allowed_content_types: tuple[str, ...],
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repository = repository
        self._files = files
        self._cursors = cursors
        self._allowed = allowed_content_types
        self._max_bytes = max_bytes
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def create(self, item_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Record a pending attachment and presign the S3 POST that uploads its file."""
        if not is_item_id(item_id):
            raise missing_item(item_id)
        request = validate_create(body, allowed_types=self._allowed, max_bytes=self._max_bytes)
        attachment_id = new_attachment_id()
        record = {
            "filename": request.filename,
            "content_type": request.content_type,
            "size": request.size,
            "created_at": utc_now(),
            "upload_state": PENDING,
            EXPIRES_AT: self._now() + UPLOAD_EXPIRES_SECONDS + UPLOAD_GRACE_SECONDS,
        }
        self._add(item_id, attachment_id, record)
        upload = self._files.presign_upload(
            object_key(item_id, attachment_id),
            content_type=request.content_type,
            max_bytes=request.size,
            expires_in=UPLOAD_EXPIRES_SECONDS,
        )
        return {"attachment": _public(attachment_id, record), "upload": upload}

    def _add(self, item_id: str, attachment_id: str, record: dict[str, Any]) -> None:
        """Add the record within the per-item bound.

        The counter only ever grows (deletes and expired uploads do not decrement it), so when
        it reaches the bound the live records are counted and the counter reset to that number,
        once, before the add is refused.
        """
        limit = MAX_ATTACHMENTS_PER_ITEM
        try:
            self._repository.add(item_id, attachment_id, record, limit=limit)
            return
        except AttachmentLimitReached as reached:
            live = self._repository.count_live(item_id, self._now())
            if live >= limit:
                raise ValidationError(
                    f"attachments: item {item_id} already has {limit} attachments"
                ) from reached
            # If a concurrent add moved the counter first, the retry below sees that one.
            self._repository.reset_count(item_id, seen=reached.counted, actual=live)
        try:
            self._repository.add(item_id, attachment_id, record, limit=limit)
        except AttachmentLimitReached as reached:
            raise ValidationError(
                f"attachments: item {item_id} already has {limit} attachments"
            ) from reached

    def list(
        self, item_id: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of an item's attachments, oldest first (abandoned uploads left out)."""
        if not is_item_id(item_id):
            raise missing_item(item_id)
        scope = f"attachments:{item_id}"
        after = None
        if cursor:
            after = self._cursors.decode(
                cursor, scope, lambda key: set(key) == {"id"} and is_attachment_id(key["id"])
            )["id"]
        page, more = self._repository.page(item_id, limit, after)
        now = self._now()
        items = [_public(aid, record) for aid, record in page if not _abandoned(record, now)]
        next_cursor = self._cursors.encode(scope, {"id": page[-1][0]}) if more and page else None
        return items, next_cursor

    def download_url(self, item_id: str, attachment_id: str) -> str:
        """A short-lived presigned GET of the file (404 until it has been uploaded).

        The record says so once S3's event confirmed the upload. Before that (the event may
        still be on its way), the file itself is asked for, and a file found confirms the
        record here.
        """
        if not is_item_id(item_id) or not is_attachment_id(attachment_id):
            raise missing_attachment(item_id, attachment_id)
        record = self._repository.get(item_id, attachment_id)
        key = object_key(item_id, attachment_id)
        if record.get("upload_state") != UPLOADED:
            found = self._files.head(key)
            if found is None:
                raise NotFoundError(f"attachment {attachment_id} has not been uploaded yet")
            self._repository.mark_uploaded(
                item_id, attachment_id, size=found.size, uploaded_at=found.uploaded_at
            )
        return self._files.presign_download(
            key,
            content_type=record["content_type"],
            content_disposition=content_disposition(record["filename"]),
            expires_in=DOWNLOAD_EXPIRES_SECONDS,
        )

    def delete(self, item_id: str, attachment_id: str) -> None:
        """Delete the record (404 if there is none), then the file.

        In this order no file outlives its record: a failure in between leaves a file whose
        record is gone, which the stream's cleanup (``forget``) removes; an upload landing
        after the record is gone is removed when S3 reports it (``confirm_upload``).
        """
        if not is_item_id(item_id) or not is_attachment_id(attachment_id):
            raise missing_attachment(item_id, attachment_id)
        self._repository.remove(item_id, attachment_id)
        self._files.delete(object_key(item_id, attachment_id))

    # -- what the stack's events invoke --------------------------------------------------------

    def confirm_upload(self, key: str, *, size: int, uploaded_at: str) -> bool | None:
        """S3 reported a new file: mark its record uploaded (True), or delete the file when no
        record claims it (False: a late upload, its item or attachment already deleted).
        ``None`` for a key this API never hands out: someone else's, left alone."""
        ids = parse_object_key(key)
        if ids is None:
            return None
        item_id, attachment_id = ids
        if self._repository.mark_uploaded(
            item_id, attachment_id, size=size, uploaded_at=uploaded_at
        ):
            return True
        self._files.delete(key)
        return False

    def remove_all(self, item_id: str) -> int:
        """After an item's record was removed: delete every record and file it left.

        Records first, then files: an upload landing in between finds no record and is
        removed by ``confirm_upload``. Returns how many records there were.
        """
        removed = self._repository.remove_all(item_id)
        self._files.delete_prefix(item_prefix(item_id))
        return removed

    def on_record_removed(self, item_id: str, sort_key: str) -> int:
        """A record of the items table was removed: clean up after it (the stream's handler).

        Returns how many records and files were removed along with it.
        """
        if not is_item_id(item_id):
            return 0  # not a record this API writes (the health check reads a fixed key)
        if sort_key == ITEM_RECORD:
            return self.remove_all(item_id)
        attachment_id = attachment_id_of(sort_key)
        if attachment_id is not None and is_attachment_id(attachment_id):
            self.forget(item_id, attachment_id)
            return 1
        return 0

    def forget(self, item_id: str, attachment_id: str) -> None:
        """After an attachment record was removed (deleted, expired, or with its item): its
        file goes too. Usually already gone; deleting a missing object is harmless."""
        self._files.delete(object_key(item_id, attachment_id))
