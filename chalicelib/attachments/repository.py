"""Attachment records in the ``attachments`` map of their item (the items table).

One conditional ``UpdateItem`` both checks that the item exists and records the attachment, and
deleting the item deletes every record at once.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import error_code, translated_aws_errors
from chalicelib.errors import NotFoundError, ValidationError
from chalicelib.items.repository import STORAGE
from chalicelib.schema import ATTACHMENTS_ATTRIBUTE, ITEMS_TABLE

MAX_ATTACHMENTS_PER_ITEM = 100

_ID = ITEMS_TABLE.partition_key.name


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
