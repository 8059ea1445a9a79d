"""The item repository: the only code that reads or writes item records in DynamoDB.

Every write is one conditional request (no read-before-write): create is ``PutItem`` with
``attribute_not_exists``, replace/patch an ``UpdateItem`` and delete a ``DeleteItem`` whose
condition holds the version check. ``ReturnValuesOnConditionCheckFailure=ALL_OLD`` tells a
missing item (404) from a stale version (412) in that same request. Attribute names always go
through ``ExpressionAttributeNames``, so no user-supplied key is ever parsed as an expression.

An item record carries the attributes of the two listing indexes (see ``listing``); a listing
page queries the shards of one index and reads its items with one ``BatchGetItem``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib import telemetry
from chalicelib.aws import error_code, translated_aws_errors
from chalicelib.cursors import CursorCodec
from chalicelib.errors import NotFoundError, PreconditionFailedError, ThrottledError
from chalicelib.items.listing import (
    NOT_STARTED,
    Position,
    index_attributes,
    item_id_of,
    merge_page,
    pack_positions,
    query_parameters,
    status_shard,
    unpack_positions,
)
from chalicelib.schema import (
    ALL_ITEMS_INDEX,
    ITEM_FIELDS,
    ITEM_RECORD,
    ITEMS_TABLE,
    LISTING_SHARDS,
    STATUS_INDEX,
)
from chalicelib.timestamps import utc_now

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
STORAGE = "storage"
# BatchGetItem may leave keys unprocessed when throttled; ask for them once more (each attempt
# may take the SDK's worst case, and a listing page must answer inside the Lambda timeout).
BATCH_GET_ATTEMPTS = 2

_ID = ITEMS_TABLE.partition_key.name
_SK = ITEMS_TABLE.sort_key.name if ITEMS_TABLE.sort_key else "sk"
_PROJECTION = ", ".join(f"#{f}" for f in ITEM_FIELDS)
_PROJECTION_NAMES = {f"#{f}": f for f in ITEM_FIELDS}


def is_item_id(value: str) -> bool:
    """Whether ``value`` is an id this API could have assigned (lowercase UUID4)."""
    return bool(UUID_PATTERN.match(value))


def item_key(item_id: str) -> dict[str, dict[str, str]]:
    """The primary key of an item's own record."""
    return {_ID: {"S": item_id}, _SK: {"S": ITEM_RECORD}}


class ItemRepository:
    """Item records in the items table, addressed by id, listed newest first."""

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
                    Key=item_key(item_id),
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
                Key=item_key("health-check"),
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
        internal = {_SK: ITEM_RECORD} | index_attributes(
            record["id"], record["status"], record["created_at"]
        )
        with translated_aws_errors(STORAGE):
            # The id is random, so the condition only guards against the impossible collision;
            # it costs nothing and makes "create never overwrites" true by construction.
            self._client.put_item(
                TableName=self._table,
                Item={k: self._to_dynamo(v) for k, v in (record | internal).items()},
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
                Key=item_key(item_id),
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
        if "status" in changes:
            # The status index's shard key moves with the status (the other listing keys never
            # change, so an update that keeps the status writes neither index).
            names["#status_shard"] = STATUS_INDEX.partition_key.name
            values[":status_shard"] = {"S": status_shard(item_id, changes["status"])}
            assignments.append("#status_shard = :status_shard")
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

    def delete(self, item_id: str, expected_version: int | None) -> None:
        """Delete the item record (its attachments follow through the table's stream)."""
        if not is_item_id(item_id):
            raise NotFoundError(f"item {item_id} does not exist")
        condition, values = self._write_condition(expected_version)
        kwargs: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        self._conditional_write(
            self._client.delete_item,
            item_id,
            expected_version,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#id": _ID} | ({"#version": "version"} if values else {}),
            **kwargs,
        )

    # -- listing -----------------------------------------------------------------------------

    def page(
        self, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of items, newest ``created_at`` first, and the cursor of the next page
        (``None`` on the last one).

        The shards of the listing index (all items, or one status) are queried in parallel and
        merged (``listing.merge_page``); the page's items are then read with one eventually
        consistent ``BatchGetItem``, as an index is eventually consistent anyway. An item the
        index still lists but that has since been deleted, or has changed its status, is
        left out.
        """
        scope = f"items:status={status}" if status else "items"
        index = STATUS_INDEX if status else ALL_ITEMS_INDEX
        positions: list[Position] = [NOT_STARTED] * LISTING_SHARDS
        if cursor:
            key = self._cursors.decode(
                cursor, scope, lambda k: set(k) == {"p"} and unpack_positions(k["p"]) is not None
            )
            positions = unpack_positions(key["p"]) or positions

        def query_shard(shard: int, position: Position, count: int) -> tuple[list[str], bool]:
            partition = f"{status}#{shard}" if status else f"all#{shard}"
            with translated_aws_errors(STORAGE):
                response = self._client.query(
                    TableName=self._table,
                    **query_parameters(index, partition, position, ITEM_RECORD, count),
                )
            keys = [entry["created_key"]["S"] for entry in response.get("Items", [])]
            return keys, "LastEvaluatedKey" in response

        page = merge_page(
            query_shard, positions, limit, run_in_parallel=telemetry.with_trace_context
        )
        items = self._read_many([item_id_of(key) for key in page.keys])
        if status:
            items = [item for item in items if item["status"] == status]
        next_cursor = (
            self._cursors.encode(scope, {"p": pack_positions(page.positions)})
            if page.has_more
            else None
        )
        return items, next_cursor

    def _read_many(self, item_ids: list[str]) -> list[dict[str, Any]]:
        """The items of ``item_ids`` (at most 100) in that order, leaving out missing ones."""
        if not item_ids:
            return []
        # BatchGetItem refuses duplicate keys; an index never lists an item twice, but a page
        # must not fail if it did.
        pending: list[dict[str, Any]] = [item_key(i) for i in dict.fromkeys(item_ids)]
        found: dict[str, dict[str, Any]] = {}
        for _ in range(BATCH_GET_ATTEMPTS):
            with translated_aws_errors(STORAGE):
                response = self._client.batch_get_item(
                    RequestItems={
                        self._table: {
                            "Keys": pending,
                            "ProjectionExpression": _PROJECTION,
                            "ExpressionAttributeNames": dict(_PROJECTION_NAMES),
                        }
                    }
                )
            for image in response.get("Responses", {}).get(self._table, []):
                record = self._from_dynamo(image)
                found[record["id"]] = self._public(record)
            pending = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            if not pending:
                return [found[item_id] for item_id in dict.fromkeys(item_ids) if item_id in found]
        raise ThrottledError(f"{STORAGE} is busy, retry later")
