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

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib import telemetry
from chalicelib.aws import error_code, translated_aws_errors
from chalicelib.cursors import CursorCodec
from chalicelib.errors import NotFoundError, PreconditionFailedError, ThrottledError
from chalicelib.items.filters import (
    STATUSES,
    Filter,
    entry_attributes,
    entry_sort_key,
    filter_partition,
    listings_of,
)
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
    FILTER_INDEX,
    ITEM_FIELDS,
    ITEM_RECORD,
    ITEMS_TABLE,
    LISTING_SHARDS,
    STATUS_INDEX,
    GlobalIndex,
)
from chalicelib.text import shown
from chalicelib.timestamps import utc_now

# Matched against the whole string (fullmatch): "$" would also match before a trailing newline.
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
STORAGE = "storage"
# BatchGetItem may leave keys unprocessed when throttled; ask for them once more (each attempt
# may take the SDK's worst case, and a listing page must answer inside the Lambda timeout).
BATCH_GET_ATTEMPTS = 2
# How many rounds of the listing a page may read to fill itself when entries turn out not to
# match (a name prefix longer than the indexed one, or entries not yet cleaned up): each round
# costs about a page, and a page that is still short after them carries its next_cursor.
FILL_ROUNDS = 4

_ID = ITEMS_TABLE.partition_key.name
_SK = ITEMS_TABLE.sort_key.name if ITEMS_TABLE.sort_key else "sk"
_PROJECTION = ", ".join(f"#{f}" for f in ITEM_FIELDS)
_PROJECTION_NAMES = {f"#{f}": f for f in ITEM_FIELDS}


class ConcurrentWriteError(PreconditionFailedError):
    """The item changed between the read and the write of an update (nothing was written).

    A 412 when the client named a version; otherwise the service tries again."""

    def __init__(self, item_id: str) -> None:
        super().__init__(f"If-Match: item {item_id} changed while it was being updated")


# The fields whose change moves an item between filter listings (see ``filters``).
LISTED_FIELDS = frozenset({"name", "tags", "status"})


def listing_scope(status: str | None, listing_filter: Filter | None) -> str:
    """What a listing's cursors are bound to: its status and filter (a digest of the filter,
    whose value may be long, keeps the cursor short)."""
    scope = f"items:status={status}" if status else "items"
    if listing_filter is None:
        return scope
    digest = hashlib.sha256(listing_filter.scope().encode()).hexdigest()[:32]
    return f"{scope}:filter={digest}"


def missing_item(item_id: str) -> NotFoundError:
    """The 404 of an item id (echoed only up to a bounded length, controls escaped)."""
    return NotFoundError(f"item {shown(item_id)} does not exist")


def is_item_id(value: str) -> bool:
    """Whether ``value`` is an id this API could have assigned (lowercase UUID4)."""
    return UUID_PATTERN.fullmatch(value) is not None


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
            return missing_item(item_id)
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
        # The item and its filter entries in one transaction: no crash leaves an item that a
        # filter cannot find. The id is random, so the condition only guards against the
        # impossible collision; it makes "create never overwrites" true by construction.
        item_put = {
            "Put": {
                "TableName": self._table,
                "Item": {k: self._to_dynamo(v) for k, v in (record | internal).items()},
                "ConditionExpression": "attribute_not_exists(#id)",
                "ExpressionAttributeNames": {"#id": _ID},
            }
        }
        entries = [self._entry_put(record, listing) for listing in sorted(listings_of(record))]
        with translated_aws_errors(STORAGE):
            self._client.transact_write_items(TransactItems=[item_put, *entries])
        return self._public(record)

    def _entry_put(self, item: dict[str, Any], listing: str) -> dict[str, Any]:
        """The ``Put`` of one filter entry of ``item`` (its status and creation as they are)."""
        attributes = entry_attributes(item["id"], listing, item["status"], item["created_at"])
        return {
            "Put": {
                "TableName": self._table,
                "Item": {_ID: {"S": item["id"]}, _SK: {"S": entry_sort_key(listing)}}
                | {name: {"S": value} for name, value in attributes.items()},
            }
        }

    def _entry_delete(self, item_id: str, listing: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": {_ID: {"S": item_id}, _SK: {"S": entry_sort_key(listing)}},
            }
        }

    def get(self, item_id: str) -> dict[str, Any]:
        """The stored item (strongly consistent, so an ETag just returned is current)."""
        return self._public(self._get_record(item_id, _PROJECTION, _PROJECTION_NAMES))

    def _get_record(self, item_id: str, projection: str, names: dict[str, str]) -> dict[str, Any]:
        if not is_item_id(item_id):
            raise missing_item(item_id)
        with translated_aws_errors(STORAGE):
            response = self._client.get_item(
                TableName=self._table,
                Key=item_key(item_id),
                ConsistentRead=True,
                ProjectionExpression=projection,
                ExpressionAttributeNames=names,
            )
        if "Item" not in response:
            raise missing_item(item_id)
        return self._from_dynamo(response["Item"])

    def update(
        self,
        item_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
        actor: str,
        *,
        current: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Set the given client fields (all of them for PUT), written by ``actor``.

        A change of the name, the tags or the status changes the filter listings the item is
        in: the item is read (unless ``current`` is the item just read), then written in one
        transaction with its entries, conditional on the version read. Any other change is one
        conditional ``UpdateItem``.
        """
        if not is_item_id(item_id):
            raise missing_item(item_id)
        if not LISTED_FIELDS & set(changes):
            return self._update_in_place(item_id, changes, expected_version, actor)
        stored = current if current is not None else self.get(item_id)
        if expected_version is not None and stored["version"] != expected_version:
            raise PreconditionFailedError(
                f"If-Match: item {item_id} is at version {stored['version']}, "
                f"not {expected_version}"
            )
        return self._update_with_entries(stored, changes, actor)

    def _assignments(
        self, item_id: str, changes: dict[str, Any], actor: str
    ) -> tuple[str, dict[str, str], dict[str, Any], str]:
        """The ``UpdateExpression`` of a write by ``actor`` (and its names and values, and its
        time)."""
        now = self._clock()
        names = {
            "#id": _ID,
            "#version": "version",
            "#updated_at": "updated_at",
            "#updated_by": "updated_by",
        }
        values: dict[str, Any] = {
            ":now": self._to_dynamo(now),
            ":actor": {"S": actor},
            ":one": {"N": "1"},
        }
        assignments = ["#updated_at = :now", "#updated_by = :actor"]
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
        expression = "SET " + ", ".join(assignments) + " ADD #version :one"
        return expression, names, values, now

    def _update_in_place(
        self, item_id: str, changes: dict[str, Any], expected_version: int | None, actor: str
    ) -> dict[str, Any]:
        condition, condition_values = self._write_condition(expected_version)
        expression, names, values, _ = self._assignments(item_id, changes, actor)
        response = self._conditional_write(
            self._client.update_item,
            item_id,
            expected_version,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values | condition_values,
            ReturnValues="ALL_NEW",
        )
        return self._public(self._from_dynamo(response["Attributes"]))

    def _update_with_entries(
        self, stored: dict[str, Any], changes: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        """Write ``changes`` by ``actor`` to the item at ``stored``'s version with its entries,
        at once."""
        from botocore.exceptions import ClientError

        item_id = stored["id"]
        expression, names, values, now = self._assignments(item_id, changes, actor)
        updated = {
            **stored,
            **changes,
            "updated_at": now,
            "updated_by": actor,
            "version": stored["version"] + 1,
        }
        before, after = listings_of(stored), listings_of(updated)
        # A status change moves every entry to the shards of the new status.
        rewritten = after if updated["status"] != stored["status"] else after - before
        actions = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": item_key(item_id),
                    "UpdateExpression": expression,
                    "ConditionExpression": "attribute_exists(#id) AND #version = :read",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values | {":read": {"N": str(stored["version"])}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            *(self._entry_delete(item_id, listing) for listing in sorted(before - after)),
            *(self._entry_put(updated, listing) for listing in sorted(rewritten)),
        ]
        try:
            with translated_aws_errors(STORAGE):
                self._client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reason = (exc.response.get("CancellationReasons") or [{}])[0]
            if reason.get("Code") != "ConditionalCheckFailed":
                raise
            if not reason.get("Item"):
                raise missing_item(item_id) from exc
            # Another write came between the read and this one: nothing was written.
            raise ConcurrentWriteError(item_id) from exc
        return self._public(updated)

    def delete(self, item_id: str, expected_version: int | None) -> None:
        """Delete the item record (its attachments follow through the table's stream)."""
        if not is_item_id(item_id):
            raise missing_item(item_id)
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
        self,
        limit: int,
        cursor: str | None,
        status: str | None,
        listing_filter: Filter | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of items, newest ``created_at`` first, and the cursor of the next page
        (``None`` on the last one).

        The shards of one listing (all items, one status, or a filter's entries, with or
        without a status) are queried in parallel and merged (``listing.merge_page``); the
        page's items are then read with one eventually consistent ``BatchGetItem``, as an
        index is eventually consistent anyway. An item the index still lists but that no longer
        belongs there (deleted, another status, another name or tags), or whose name only shares
        the indexed first characters of a longer prefix, is left out, and the listing is read on
        (at most ``FILL_ROUNDS`` rounds) so that a page comes back full whenever the listing
        holds enough matches within that reach.
        """
        streams = self._streams(status, listing_filter)
        scope = listing_scope(status, listing_filter)
        positions: list[Position] = [NOT_STARTED] * len(streams)
        if cursor:
            key = self._cursors.decode(
                cursor,
                scope,
                lambda k: set(k) == {"p"} and unpack_positions(k["p"], len(streams)) is not None,
            )
            positions = unpack_positions(key["p"], len(streams)) or positions

        def query_stream(stream: int, position: Position, count: int) -> tuple[list[str], bool]:
            index, partition, base_sort_key = streams[stream]
            with translated_aws_errors(STORAGE):
                response = self._client.query(
                    TableName=self._table,
                    **query_parameters(index, partition, position, base_sort_key, count),
                )
            keys = [entry["created_key"]["S"] for entry in response.get("Items", [])]
            return keys, "LastEvaluatedKey" in response

        items: list[dict[str, Any]] = []
        for _ in range(FILL_ROUNDS):
            page = merge_page(
                query_stream,
                positions,
                limit - len(items),
                run_in_parallel=telemetry.with_trace_context,
            )
            items += [
                item
                for item in self._read_many([item_id_of(key) for key in page.keys])
                if (status is None or item["status"] == status)
                and (listing_filter is None or listing_filter.matches(item))
            ]
            positions = page.positions
            if len(items) >= limit or not page.has_more:
                break
        next_cursor = (
            self._cursors.encode(scope, {"p": pack_positions(positions)}) if page.has_more else None
        )
        return items, next_cursor

    @staticmethod
    def _streams(
        status: str | None, listing_filter: Filter | None
    ) -> list[tuple[GlobalIndex, str, str]]:
        """The (index, partition, base sort key) of every stream a listing merges."""
        if listing_filter is None:
            index = STATUS_INDEX if status else ALL_ITEMS_INDEX
            return [
                (index, f"{status}#{shard}" if status else f"all#{shard}", ITEM_RECORD)
                for shard in range(LISTING_SHARDS)
            ]
        # A filter's entries keep the status in their key: without a status the listing
        # merges both statuses' shards.
        entry = entry_sort_key(listing_filter.listing)
        return [
            (FILTER_INDEX, filter_partition(listing_filter.listing, each, shard), entry)
            for each in ([status] if status else STATUSES)
            for shard in range(LISTING_SHARDS)
        ]

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
