"""Attachment records: one record per attachment in the items table, under its item's id.

A record's sort key is ``item#attachment#<attachment id>``, so an item's attachments sort right
after the item's own record (``item``): one ``Query`` reads a page of them and, on the first
page, proves that the item exists. Reading the item itself never touches them.

The per-item bound is kept by a counter on the item record: adding an attachment is one
transaction that increments the counter (on an existing item below the bound) and writes the
record. Deleting never decrements it; when the counter reaches the bound, the records are
counted for real and the counter reset (``recount``), so deletes and expired uploads free their
slots without the cost of a transaction each.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import error_code, translated_aws_errors
from chalicelib.errors import NotFoundError
from chalicelib.items.repository import STORAGE, item_key
from chalicelib.schema import ATTACHMENT_RECORD_PREFIX, EXPIRES_AT, ITEM_RECORD, ITEMS_TABLE

_ID = ITEMS_TABLE.partition_key.name
_SK = ITEMS_TABLE.sort_key.name if ITEMS_TABLE.sort_key else "sk"
COUNT = "attachment_count"
PENDING, UPLOADED = "pending", "uploaded"
# The attributes of a record the API returns or needs (besides the key).
_FIELDS = ("filename", "content_type", "size", "created_at", "upload_state", "uploaded_at")
_RECORD_PROJECTION = ", ".join(f"#{name}" for name in (_SK, *_FIELDS, EXPIRES_AT))
_RECORD_NAMES = {f"#{name}": name for name in (_SK, *_FIELDS, EXPIRES_AT)}


class AttachmentLimitReached(Exception):  # noqa: N818 - a signal to the service, not an error
    """The item's counter is at the bound; ``counted`` is the value it holds."""

    def __init__(self, counted: int) -> None:
        super().__init__(counted)
        self.counted = counted


def record_key(item_id: str, attachment_id: str) -> dict[str, dict[str, str]]:
    return {_ID: {"S": item_id}, _SK: {"S": f"{ATTACHMENT_RECORD_PREFIX}{attachment_id}"}}


def attachment_id_of(sort_key: str) -> str | None:
    """The attachment id of a record's sort key (``None`` for any other record)."""
    if sort_key.startswith(ATTACHMENT_RECORD_PREFIX):
        return sort_key[len(ATTACHMENT_RECORD_PREFIX) :]
    return None


class AttachmentRepository:
    """Attachment records of the items table (and the item's attachment counter)."""

    def __init__(self, client: Any, table_name: str) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._client = client
        self._table = table_name
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    def _from_dynamo(self, image: dict[str, Any]) -> dict[str, Any]:
        return {k: self._deserializer.deserialize(v) for k, v in image.items()}

    def add(self, item_id: str, attachment_id: str, record: dict[str, Any], *, limit: int) -> None:
        """Record a pending attachment on an existing item below ``limit`` attachments.

        Raises ``NotFoundError`` when the item does not exist and ``AttachmentLimitReached``
        when its counter is at the bound.
        """
        from botocore.exceptions import ClientError

        names = {"#id": _ID, "#count": COUNT}
        try:
            with translated_aws_errors(STORAGE):
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": item_key(item_id),
                                "UpdateExpression": "SET #count = if_not_exists(#count, :zero)"
                                " + :one",
                                "ConditionExpression": "attribute_exists(#id) AND "
                                "(attribute_not_exists(#count) OR #count < :limit)",
                                "ExpressionAttributeNames": names,
                                "ExpressionAttributeValues": {
                                    ":zero": {"N": "0"},
                                    ":one": {"N": "1"},
                                    ":limit": {"N": str(limit)},
                                },
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": record_key(item_id, attachment_id)
                                | {k: self._serializer.serialize(v) for k, v in record.items()},
                                "ConditionExpression": "attribute_not_exists(#id)",
                                "ExpressionAttributeNames": {"#id": _ID},
                            }
                        },
                    ]
                )
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons", [])
            item_reason = reasons[0] if reasons else {}
            if item_reason.get("Code") != "ConditionalCheckFailed":
                raise
            old: dict[str, Any] = dict(item_reason.get("Item") or {})
            if not old:
                raise NotFoundError(f"item {item_id} does not exist") from exc
            raise AttachmentLimitReached(int(old.get(COUNT, {}).get("N", "0"))) from exc

    def count_live(self, item_id: str, now: int) -> int:
        """How many attachments the item really has: uploaded, or pending and not expired."""
        total = 0
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#id = :id AND begins_with(#sk, :prefix)",
            "FilterExpression": "#state = :uploaded OR #expires > :now",
            "ExpressionAttributeNames": {
                "#id": _ID,
                "#sk": _SK,
                "#state": "upload_state",
                "#expires": EXPIRES_AT,
            },
            "ExpressionAttributeValues": {
                ":id": {"S": item_id},
                ":prefix": {"S": ATTACHMENT_RECORD_PREFIX},
                ":uploaded": {"S": UPLOADED},
                ":now": {"N": str(now)},
            },
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        while True:
            with translated_aws_errors(STORAGE):
                response = self._client.query(**request)
            total += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def reset_count(self, item_id: str, *, seen: int, actual: int) -> bool:
        """Set the counter to ``actual`` if it still holds ``seen`` (False if it moved on)."""
        from botocore.exceptions import ClientError

        try:
            with translated_aws_errors(STORAGE):
                self._client.update_item(
                    TableName=self._table,
                    Key=item_key(item_id),
                    UpdateExpression="SET #count = :actual",
                    ConditionExpression="#count = :seen",
                    ExpressionAttributeNames={"#count": COUNT},
                    ExpressionAttributeValues={
                        ":actual": {"N": str(actual)},
                        ":seen": {"N": str(seen)},
                    },
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, item_id: str, attachment_id: str) -> dict[str, Any]:
        """One attachment record (404 when it does not exist)."""
        with translated_aws_errors(STORAGE):
            response = self._client.get_item(
                TableName=self._table,
                Key=record_key(item_id, attachment_id),
                ConsistentRead=True,
                ProjectionExpression=_RECORD_PROJECTION,
                ExpressionAttributeNames=_RECORD_NAMES,
            )
        if "Item" not in response:
            raise NotFoundError(f"attachment {attachment_id} of item {item_id} does not exist")
        return self._from_dynamo(response["Item"])

    def page(
        self, item_id: str, limit: int, after: str | None
    ) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
        """Up to ``limit`` records (attachment id, record) oldest first, after ``after``, and
        whether more follow. Without ``after`` the item's own record is read too, so a missing
        item is a 404 in the same request."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#id = :id AND #sk BETWEEN :from AND :to",
            "ExpressionAttributeNames": _RECORD_NAMES | {"#id": _ID},
            "ExpressionAttributeValues": {
                ":id": {"S": item_id},
                ":from": {"S": ITEM_RECORD},
                # Above every attachment id (hex digits): the end of this item's attachments.
                ":to": {"S": f"{ATTACHMENT_RECORD_PREFIX}\uffff"},
            },
            "ProjectionExpression": _RECORD_PROJECTION,
            # One more than a page tells whether more follow (plus the item record, first).
            "Limit": limit + (1 if after else 2),
        }
        if after:
            request["ExclusiveStartKey"] = record_key(item_id, after)
        with translated_aws_errors(STORAGE):
            response = self._client.query(**request)
        records = [self._from_dynamo(image) for image in response.get("Items", [])]
        if not after:
            if not records or records[0][_SK] != ITEM_RECORD:
                raise NotFoundError(f"item {item_id} does not exist")
            records = records[1:]
        page = [(attachment_id_of(r[_SK]) or "", r) for r in records[:limit]]
        return page, len(records) > limit

    def remove(self, item_id: str, attachment_id: str) -> None:
        """Delete one attachment record (404 when it does not exist)."""
        from botocore.exceptions import ClientError

        try:
            with translated_aws_errors(STORAGE):
                self._client.delete_item(
                    TableName=self._table,
                    Key=record_key(item_id, attachment_id),
                    ConditionExpression="attribute_exists(#id)",
                    ExpressionAttributeNames={"#id": _ID},
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise NotFoundError(
                    f"attachment {attachment_id} of item {item_id} does not exist"
                ) from exc
            raise

    def mark_uploaded(
        self, item_id: str, attachment_id: str, *, size: int, uploaded_at: str
    ) -> bool:
        """Record that the file arrived (its real size, and no more expiry); False when no
        record claims it."""
        from botocore.exceptions import ClientError

        try:
            with translated_aws_errors(STORAGE):
                self._client.update_item(
                    TableName=self._table,
                    Key=record_key(item_id, attachment_id),
                    UpdateExpression="SET #state = :uploaded, #size = :size, "
                    "#uploaded_at = :uploaded_at REMOVE #expires",
                    ConditionExpression="attribute_exists(#id)",
                    ExpressionAttributeNames={
                        "#id": _ID,
                        "#state": "upload_state",
                        "#size": "size",
                        "#uploaded_at": "uploaded_at",
                        "#expires": EXPIRES_AT,
                    },
                    ExpressionAttributeValues={
                        ":uploaded": {"S": UPLOADED},
                        ":size": {"N": str(size)},
                        ":uploaded_at": {"S": uploaded_at},
                    },
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def remove_all(self, item_id: str) -> int:
        """Delete every record left under a deleted item's id; returns how many there were."""
        keys: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#id = :id",
            "ExpressionAttributeNames": {"#id": _ID, "#sk": _SK},
            "ExpressionAttributeValues": {":id": {"S": item_id}},
            "ProjectionExpression": "#id, #sk",
            "ConsistentRead": True,
        }
        while True:
            with translated_aws_errors(STORAGE):
                response = self._client.query(**request)
            keys.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        for start in range(0, len(keys), 25):
            pending = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            while pending:
                with translated_aws_errors(STORAGE):
                    response = self._client.batch_write_item(RequestItems={self._table: pending})
                # Throttled deletes come back unprocessed: send them again (the SDK backs off
                # between attempts; a persistent failure raises and the stream retries).
                pending = response.get("UnprocessedItems", {}).get(self._table, [])
        return len(keys)
