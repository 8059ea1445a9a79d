"""The item repository: the only code that talks to DynamoDB.

Every write is one conditional request (no read-before-write): create is ``PutItem`` with
``attribute_not_exists``, replace/patch an ``UpdateItem`` and delete a ``DeleteItem`` whose
condition holds the version check. ``ReturnValuesOnConditionCheckFailure=ALL_OLD`` tells a
missing item (404) from a stale version (412) in that same request. Attribute names always go
through ``ExpressionAttributeNames``, so no user-supplied key is ever parsed as an expression.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib.aws import error_code, translated_aws_errors
from chalicelib.cursors import CursorCodec
from chalicelib.errors import NotFoundError, PreconditionFailedError
from chalicelib.schema import ATTACHMENTS_ATTRIBUTE, ITEM_FIELDS, ITEMS_TABLE, STATUS_INDEX
from chalicelib.timestamps import utc_now

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
STORAGE = "storage"

_ID = ITEMS_TABLE.partition_key.name
_PROJECTION = ", ".join(f"#{f}" for f in ITEM_FIELDS)
_PROJECTION_NAMES = {f"#{f}": f for f in ITEM_FIELDS}


def is_item_id(value: str) -> bool:
    """Whether ``value`` is an id this API could have assigned (lowercase UUID4)."""
    return bool(UUID_PATTERN.match(value))


class ItemRepository:
    """Items in one DynamoDB table, addressed by id, listed by scan or by status."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        cursors: CursorCodec,
        *,
        clock: Callable[[], str] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._client = client
        self._table = table_name
        self._cursors = cursors
        self._clock = clock
        self._new_id = new_id
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    # -- conversions -------------------------------------------------------------------------

    def _to_dynamo(self, value: Any) -> dict[str, Any]:
        return dict(self._serializer.serialize(value))

    def _from_dynamo(self, image: dict[str, Any]) -> dict[str, Any]:
        return {k: self._deserializer.deserialize(v) for k, v in image.items()}

    @staticmethod
    def _public(record: dict[str, Any]) -> dict[str, Any]:
        item = {field: record[field] for field in ITEM_FIELDS if field in record}
        item["version"] = int(item["version"])
        # Items written before the API recorded who wrote have no audit fields: null, not absent.
        item.setdefault("created_by", None)
        item.setdefault("updated_by", None)
        return item

    def _conflict(self, item_id: str, exc: Exception, expected_version: int | None) -> Exception:
        """404 or 412 for a failed condition, from the item DynamoDB returned with the failure."""
        old = getattr(exc, "response", {}).get("Item")
        if not old:
            return NotFoundError(f"item {item_id} does not exist")
        stored = int(self._from_dynamo(old)["version"])
        return PreconditionFailedError(
            f"If-Match: item {item_id} is at version {stored}, not {expected_version}"
        )

    def _conditional_write(
        self,
        operation: Callable[..., dict[str, Any]],
        item_id: str,
        expected_version: int | None,
        **request: Any,
    ) -> dict[str, Any]:
        """Run a conditional write of one item; a failed condition becomes a 404 or a 412."""
        from botocore.exceptions import ClientError

        try:
            with translated_aws_errors(STORAGE):
                return operation(
                    TableName=self._table,
                    Key={_ID: {"S": item_id}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **request,
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise self._conflict(item_id, exc, expected_version) from exc
            raise

    @staticmethod
    def _write_condition(expected_version: int | None) -> tuple[str, dict[str, Any]]:
        if expected_version is None:
            return "attribute_exists(#id)", {}
        return "attribute_exists(#id) AND #version = :expected", {
            ":expected": {"N": str(expected_version)}
        }

    def ping(self) -> None:
        """Raise ``DependencyUnavailableError`` when the table cannot be read."""
        with translated_aws_errors(STORAGE):
            self._client.get_item(
                TableName=self._table,
                Key={_ID: {"S": "health-check"}},
                ProjectionExpression="#id",
                ExpressionAttributeNames={"#id": _ID},
            )

    # -- single items ------------------------------------------------------------------------

    def create(self, fields: dict[str, Any], actor: str) -> dict[str, Any]:
        """Store a new item with a fresh id at version 1, created by ``actor``."""
        now = self._clock()
        record = {
            **fields,
            "id": self._new_id(),
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "created_by": actor,
            "updated_by": actor,
        }
        with translated_aws_errors(STORAGE):
            # The id is random, so the condition only guards against the impossible collision;
            # it costs nothing and makes "create never overwrites" true by construction.
            self._client.put_item(
                TableName=self._table,
                # An empty attachments map from the start lets adding an attachment be a
                # single conditional UpdateItem of "attachments.<id>" (see attachments.py).
                Item={k: self._to_dynamo(v) for k, v in record.items()}
                | {ATTACHMENTS_ATTRIBUTE: {"M": {}}},
                ConditionExpression="attribute_not_exists(#id)",
                ExpressionAttributeNames={"#id": _ID},
            )
        return self._public(record)

    def get(self, item_id: str) -> dict[str, Any]:
        """The stored item (strongly consistent, so an ETag just returned is current)."""
        return self._public(self._get_record(item_id, _PROJECTION, _PROJECTION_NAMES))

    def _get_record(self, item_id: str, projection: str, names: dict[str, str]) -> dict[str, Any]:
        if not is_item_id(item_id):
            raise NotFoundError(f"item {item_id} does not exist")
        with translated_aws_errors(STORAGE):
            response = self._client.get_item(
                TableName=self._table,
                Key={_ID: {"S": item_id}},
                ConsistentRead=True,
                ProjectionExpression=projection,
                ExpressionAttributeNames=names,
            )
        if "Item" not in response:
            raise NotFoundError(f"item {item_id} does not exist")
        return self._from_dynamo(response["Item"])

    def update(
        self, item_id: str, changes: dict[str, Any], expected_version: int | None, actor: str
    ) -> dict[str, Any]:
        """Set the given client fields (all of them for PUT) in one conditional write by
        ``actor``."""
        if not is_item_id(item_id):
            raise NotFoundError(f"item {item_id} does not exist")
        condition, values = self._write_condition(expected_version)
        names = {
            "#id": _ID,
            "#version": "version",
            "#updated_at": "updated_at",
            "#updated_by": "updated_by",
        }
        assignments = ["#updated_at = :now", "#updated_by = :actor"]
        values[":now"] = self._to_dynamo(self._clock())
        values[":actor"] = {"S": actor}
        values[":one"] = {"N": "1"}
        for index, (field, value) in enumerate(sorted(changes.items())):
            names[f"#f{index}"] = field
            values[f":f{index}"] = self._to_dynamo(value)
            assignments.append(f"#f{index} = :f{index}")
        response = self._conditional_write(
            self._client.update_item,
            item_id,
            expected_version,
            UpdateExpression="SET " + ", ".join(assignments) + " ADD #version :one",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return self._public(self._from_dynamo(response["Attributes"]))

    def delete(self, item_id: str, expected_version: int | None) -> dict[str, Any]:
        """Delete the item; returns everything it held (attachments included)."""
        if not is_item_id(item_id):
            raise NotFoundError(f"item {item_id} does not exist")
        condition, values = self._write_condition(expected_version)
        kwargs: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        response = self._conditional_write(
            self._client.delete_item,
            item_id,
            expected_version,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#id": _ID} | ({"#version": "version"} if values else {}),
            ReturnValues="ALL_OLD",
            **kwargs,
        )
        return self._from_dynamo(response.get("Attributes", {}))

    # -- listing -----------------------------------------------------------------------------

    def list(
        self, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of items and the cursor of the next page (``None`` on the last one).

        Without ``status`` this is a ``Scan`` (every item once, in key order); with it, a
        ``Query`` of the status index, newest first. Either reads ``limit + 1`` items: the
        extra one only tells whether another page exists, so the last page ends with ``None``
        rather than with a cursor to an empty page.
        """
        scope = f"items:status={status}" if status else "items"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Limit": limit + 1,
            "ProjectionExpression": _PROJECTION,
            "ExpressionAttributeNames": dict(_PROJECTION_NAMES),
        }
        if cursor:
            key = self._cursors.decode(cursor, scope, self._key_checker(status))
            kwargs["ExclusiveStartKey"] = {name: {"S": value} for name, value in key.items()}
        with translated_aws_errors(STORAGE):
            if status:
                response = self._client.query(
                    IndexName=STATUS_INDEX.name,
                    KeyConditionExpression="#status = :status",
                    ExpressionAttributeValues={":status": {"S": status}},
                    ScanIndexForward=False,
                    **kwargs,
                )
            else:
                response = self._client.scan(**kwargs)
        records = [self._from_dynamo(image) for image in response.get("Items", [])]
        page = records[:limit]
        key_names = [_ID] + (["status", "created_at"] if status else [])
        next_key: dict[str, Any] | None = None
        if len(records) > limit:
            next_key = page[-1]
        elif "LastEvaluatedKey" in response:
            # DynamoDB stopped early (its 1 MB page limit): resume where it stopped.
            next_key = self._from_dynamo(response["LastEvaluatedKey"])
        next_cursor = (
            self._cursors.encode(scope, {k: str(next_key[k]) for k in key_names})
            if next_key is not None
            else None
        )
        return [self._public(r) for r in page], next_cursor

    @staticmethod
    def _key_checker(status: str | None) -> Callable[[dict[str, Any]], bool]:
        def check(key: dict[str, Any]) -> bool:
            if not status:
                return set(key) == {_ID} and is_item_id(key[_ID])
            return (
                set(key) == {_ID, "status", "created_at"}
                and is_item_id(key[_ID])
                and key["status"] == status
                and bool(TIMESTAMP_PATTERN.match(key["created_at"]))
            )

        return check
