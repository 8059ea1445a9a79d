"""Attachments: files of an item, uploaded and downloaded by clients directly from S3.

The API never handles file bytes. It records an attachment on its item (a map attribute, so one
conditional ``UpdateItem`` both checks that the item exists and records the attachment, and
deleting the item deletes every record at once), hands out a presigned POST whose policy only
admits the declared content type and size, and redirects downloads to short-lived presigned GETs.
Object keys are ``attachments/<item id>/<attachment id>``: server-chosen, never a client filename.
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic import ValidationError as PydanticValidationError

from chalicelib.aws import error_code, translated_aws_errors
from chalicelib.cursors import CursorCodec
from chalicelib.errors import NotFoundError, ValidationError
from chalicelib.models import client_error
from chalicelib.repository import STORAGE, is_item_id
from chalicelib.schema import ATTACHMENTS_ATTRIBUTE, ATTACHMENTS_PREFIX, ITEMS_TABLE
from chalicelib.storage import FileStorage
from chalicelib.timestamps import utc_now

ATTACHMENT_ID_PATTERN = re.compile(r"^[0-9a-f]{28}$")
MAX_ATTACHMENTS_PER_ITEM = 100
UPLOAD_EXPIRES_SECONDS = 15 * 60
DOWNLOAD_EXPIRES_SECONDS = 5 * 60

_ID = ITEMS_TABLE.partition_key.name


def new_attachment_id() -> str:
    """28 hex digits: milliseconds since the epoch, then 64 random bits (sorts by creation)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def is_attachment_id(value: str) -> bool:
    return bool(ATTACHMENT_ID_PATTERN.match(value))


def parse_object_key(key: str) -> tuple[str, str] | None:
    """The item and attachment ids of an object key this API chose, or None for any other key."""
    if not key.startswith(ATTACHMENTS_PREFIX):
        return None
    parts = key[len(ATTACHMENTS_PREFIX) :].split("/")
    if len(parts) != 2 or not is_item_id(parts[0]) or not is_attachment_id(parts[1]):
        return None
    return parts[0], parts[1]


Filename = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class AttachmentCreate(BaseModel):
    """The body of ``POST /items/{id}/attachments``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    filename: Filename
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    size: Annotated[int, Field(ge=1)]

    @field_validator("filename")
    @classmethod
    def _printable(cls, filename: str) -> str:
        if any(unicodedata.category(ch).startswith("C") for ch in filename):
            raise ValueError("filename: must not contain control characters")
        return filename


class AttachmentPublic(BaseModel):
    """An attachment as the API returns it (for the OpenAPI document)."""

    id: str
    filename: str
    content_type: str
    size: int
    created_at: str
    uploaded_at: str | None = None


def content_disposition(filename: str) -> str:
    """``attachment`` with the original filename, safe in a header (RFC 6266 / RFC 5987)."""
    # The quoted form: printable ASCII without quotes, backslashes or path separators, so no
    # client can break out of the header or suggest a path; filename* keeps the exact name.
    fallback = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\/' else "_" for ch in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class AttachmentRepository:
    """Attachment records in the ``attachments`` map of their item (the items table)."""

    def __init__(self, client: Any, table_name: str) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._client = client
        self._table = table_name
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    def add(self, item_id: str, attachment_id: str, record: dict[str, Any]) -> None:
        """Record an attachment on an existing item that has room for one more."""
        from botocore.exceptions import ClientError

        try:
            with translated_aws_errors(STORAGE):
                self._client.update_item(
                    TableName=self._table,
                    Key={_ID: {"S": item_id}},
                    UpdateExpression="SET #att.#aid = :record",
                    ConditionExpression="attribute_exists(#id) AND size(#att) < :max",
                    ExpressionAttributeNames={
                        "#id": _ID,
                        "#att": ATTACHMENTS_ATTRIBUTE,
                        "#aid": attachment_id,
                    },
                    ExpressionAttributeValues={
                        ":record": self._serializer.serialize(record),
                        ":max": {"N": str(MAX_ATTACHMENTS_PER_ITEM)},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            if not exc.response.get("Item"):
                raise NotFoundError(f"item {item_id} does not exist") from exc
            raise ValidationError(
                f"attachments: item {item_id} already has {MAX_ATTACHMENTS_PER_ITEM} attachments"
            ) from exc

    def all(self, item_id: str) -> dict[str, dict[str, Any]]:
        """Every attachment record of an item, by id (404 when the item does not exist)."""
        with translated_aws_errors(STORAGE):
            response = self._client.get_item(
                TableName=self._table,
                Key={_ID: {"S": item_id}},
                ConsistentRead=True,
                ProjectionExpression="#id, #att",
                ExpressionAttributeNames={"#id": _ID, "#att": ATTACHMENTS_ATTRIBUTE},
            )
        if "Item" not in response:
            raise NotFoundError(f"item {item_id} does not exist")
        stored = response["Item"].get(ATTACHMENTS_ATTRIBUTE, {"M": {}})
        records: dict[str, dict[str, Any]] = self._deserializer.deserialize(stored)
        return records

    def get(self, item_id: str, attachment_id: str) -> dict[str, Any]:
        """One attachment record (404 when it or its item does not exist)."""
        with translated_aws_errors(STORAGE):
            response = self._client.get_item(
                TableName=self._table,
                Key={_ID: {"S": item_id}},
                ConsistentRead=True,
                ProjectionExpression="#att.#aid",
                ExpressionAttributeNames={"#att": ATTACHMENTS_ATTRIBUTE, "#aid": attachment_id},
            )
        image = response.get("Item", {}).get(ATTACHMENTS_ATTRIBUTE, {}).get("M", {})
        if attachment_id not in image:
            raise NotFoundError(f"attachment {attachment_id} of item {item_id} does not exist")
        record: dict[str, Any] = self._deserializer.deserialize(image[attachment_id])
        return record

    def remove(self, item_id: str, attachment_id: str) -> None:
        """Delete one attachment record (404 when it or its item does not exist)."""
        from botocore.exceptions import ClientError

        try:
            with translated_aws_errors(STORAGE):
                self._client.update_item(
                    TableName=self._table,
                    Key={_ID: {"S": item_id}},
                    UpdateExpression="REMOVE #att.#aid",
                    ConditionExpression="attribute_exists(#att.#aid)",
                    ExpressionAttributeNames={
                        "#att": ATTACHMENTS_ATTRIBUTE,
                        "#aid": attachment_id,
                    },
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise NotFoundError(
                    f"attachment {attachment_id} of item {item_id} does not exist"
                ) from exc
            raise


def _object_key(item_id: str, attachment_id: str) -> str:
    return f"{FileStorage.item_prefix(item_id)}{attachment_id}"


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

    def _validate(self, body: dict[str, Any]) -> AttachmentCreate:
        try:
            request = AttachmentCreate.model_validate(body)
        except PydanticValidationError as exc:
            raise client_error(exc) from exc
        content_type = request.content_type.strip().lower()
        if content_type not in self._allowed:
            raise ValidationError("content_type: must be one of " + ", ".join(self._allowed))
        if request.size > self._max_bytes:
            raise ValidationError(f"size: must be at most {self._max_bytes} bytes")
        return request.model_copy(update={"content_type": content_type})

    def create(self, item_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Record an attachment and presign the S3 POST that uploads its file."""
        if not is_item_id(item_id):
            raise NotFoundError(f"item {item_id} does not exist")
        request = self._validate(body)
        attachment_id = new_attachment_id()
        record = {
            "filename": request.filename,
            "content_type": request.content_type,
            "size": request.size,
            "created_at": utc_now(),
        }
        self._repository.add(item_id, attachment_id, record)
        upload = self._files.presign_upload(
            _object_key(item_id, attachment_id),
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
            raise NotFoundError(f"item {item_id} does not exist")
        scope = f"attachments:{item_id}"
        records = self._repository.all(item_id)
        ids = sorted(records)
        if cursor:
            after = self._cursors.decode(
                cursor, scope, lambda key: set(key) == {"id"} and is_attachment_id(key["id"])
            )["id"]
            ids = [i for i in ids if i > after]
        page = ids[:limit]
        uploaded = self._files.uploaded_times(FileStorage.item_prefix(item_id)) if page else {}
        items = []
        for attachment_id in page:
            entry = _public(attachment_id, records[attachment_id])
            when = uploaded.get(_object_key(item_id, attachment_id))
            if when:
                entry["uploaded_at"] = when
            items.append(entry)
        more = len(ids) > limit
        return items, self._cursors.encode(scope, {"id": page[-1]}) if more else None

    def download_url(self, item_id: str, attachment_id: str) -> str:
        """A short-lived presigned GET of the file (404 until it has been uploaded)."""
        if not is_item_id(item_id) or not is_attachment_id(attachment_id):
            raise NotFoundError(f"attachment {attachment_id} of item {item_id} does not exist")
        record = self._repository.get(item_id, attachment_id)
        key = _object_key(item_id, attachment_id)
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
            raise NotFoundError(f"attachment {attachment_id} of item {item_id} does not exist")
        key = _object_key(item_id, attachment_id)
        self._files.delete(key)
        self._repository.remove(item_id, attachment_id)
        self._files.delete(key)

    def delete_all(self, item_id: str) -> None:
        """Remove every file of a deleted item (its records went with the item)."""
        self._files.delete_prefix(FileStorage.item_prefix(item_id))

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
