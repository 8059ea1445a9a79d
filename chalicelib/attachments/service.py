"""The attachment use cases: record, presign, list, download, delete, sweep late uploads."""

from __future__ import annotations

from typing import Any

from chalicelib.attachments.keys import (
    is_attachment_id,
    item_prefix,
    new_attachment_id,
    object_key,
    parse_object_key,
)
from chalicelib.attachments.models import content_disposition, validate_create
from chalicelib.attachments.repository import AttachmentRepository
from chalicelib.attachments.storage import FileStorage
from chalicelib.cursors import CursorCodec
from chalicelib.errors import NotFoundError
from chalicelib.items.repository import is_item_id, missing_item
from chalicelib.text import shown
from chalicelib.timestamps import utc_now

UPLOAD_EXPIRES_SECONDS = 15 * 60
DOWNLOAD_EXPIRES_SECONDS = 5 * 60


def missing_attachment(item_id: str, attachment_id: str) -> NotFoundError:
    """The 404 of an attachment (ids echoed only up to a bounded length, controls escaped)."""
    return NotFoundError(
        f"attachment {shown(attachment_id)} of item {shown(item_id)} does not exist"
    )


def _public(attachment_id: str, record: dict[str, Any]) -> dict[str, Any]:
    return {"id": attachment_id, **record, "size": int(record["size"])}


class AttachmentService:
    """The attachment operations of the API."""

    def __init__(
        self,
        repository: AttachmentRepository,
        files: FileStorage,
        cursors: CursorCodec,
        *,
        allowed_content_types: tuple[str, ...],
        max_bytes: int,
    ) -> None:
        self._repository = repository
        self._files = files
        self._cursors = cursors
        self._allowed = allowed_content_types
        self._max_bytes = max_bytes

    def create(self, item_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Record an attachment and presign the S3 POST that uploads its file."""
        if not is_item_id(item_id):
            raise missing_item(item_id)
        request = validate_create(body, allowed_types=self._allowed, max_bytes=self._max_bytes)
        attachment_id = new_attachment_id()
        record = {
            "filename": request.filename,
            "content_type": request.content_type,
            "size": request.size,
            "created_at": utc_now(),
        }
        self._repository.add(item_id, attachment_id, record)
        upload = self._files.presign_upload(
            object_key(item_id, attachment_id),
            content_type=request.content_type,
            max_bytes=request.size,
            expires_in=UPLOAD_EXPIRES_SECONDS,
        )
        return {"attachment": _public(attachment_id, record), "upload": upload}

    def list(
        self, item_id: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of an item's attachments, oldest first, with upload times where known."""
        if not is_item_id(item_id):
            raise missing_item(item_id)
        scope = f"attachments:{item_id}"
        records = self._repository.all(item_id)
        ids = sorted(records)
        if cursor:
            after = self._cursors.decode(
                cursor, scope, lambda key: set(key) == {"id"} and is_attachment_id(key["id"])
            )["id"]
            ids = [i for i in ids if i > after]
        page = ids[:limit]
        uploaded = self._files.uploaded_times(item_prefix(item_id)) if page else {}
        items = []
        for attachment_id in page:
            entry = _public(attachment_id, records[attachment_id])
            when = uploaded.get(object_key(item_id, attachment_id))
            if when:
                entry["uploaded_at"] = when
            items.append(entry)
        more = len(ids) > limit
        return items, self._cursors.encode(scope, {"id": page[-1]}) if more else None

    def download_url(self, item_id: str, attachment_id: str) -> str:
        """A short-lived presigned GET of the file (404 until it has been uploaded)."""
        if not is_item_id(item_id) or not is_attachment_id(attachment_id):
            raise missing_attachment(item_id, attachment_id)
        record = self._repository.get(item_id, attachment_id)
        key = object_key(item_id, attachment_id)
        if not self._files.exists(key):
            raise NotFoundError(f"attachment {attachment_id} has not been uploaded yet")
        return self._files.presign_download(
            key,
            content_type=record["content_type"],
            content_disposition=content_disposition(record["filename"]),
            expires_in=DOWNLOAD_EXPIRES_SECONDS,
        )

    def delete(self, item_id: str, attachment_id: str) -> None:
        """Delete the file, then its record (404 if there is none), then the file once more.

        In this order a failure in between leaves a record without a file (a 404 on download,
        and retrying the DELETE finishes the job), never a file nobody can reach; deleting the
        file of a missing record only removes what nothing could reach. The second delete
        removes an upload that landed (its presigned POST still valid) while the record still
        existed, which the late-upload sweep would have kept; anything landing later finds no
        record, and the sweep removes it. Three AWS calls, as many as the slowest route makes.
        """
        if not is_item_id(item_id) or not is_attachment_id(attachment_id):
            raise missing_attachment(item_id, attachment_id)
        key = object_key(item_id, attachment_id)
        self._files.delete(key)
        self._repository.remove(item_id, attachment_id)
        self._files.delete(key)

    def delete_all(self, item_id: str) -> None:
        """Remove every file of a deleted item (its records went with the item)."""
        self._files.delete_prefix(item_prefix(item_id))

    def sweep_upload(self, key: str) -> bool:
        """Delete a just-uploaded object that no attachment record claims; True if deleted.

        A presigned POST stays valid for 15 minutes, so a client can still upload after the
        item or the attachment was deleted, and the sweep that went with that delete has already
        run. The stack sends every "Object Created" event below the attachments prefix here; the
        record is read with a consistent read, and it is written before the POST is presigned,
        so a missing record means the file can never be reached again.
        """
        ids = parse_object_key(key)
        if ids is None:
            return False  # not a key this API hands out: someone else's, leave it alone
        item_id, attachment_id = ids
        try:
            self._repository.get(item_id, attachment_id)
        except NotFoundError:
            self._files.delete(key)
            return True
        return False
