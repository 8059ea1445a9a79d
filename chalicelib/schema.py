"""The one definition of the DynamoDB tables, their indexes and streams, and the S3 layout.

Both the local bootstrap (``localdev``) and the CDK stack (``infrastructure``) read these
definitions, and the repositories use the same attribute, key and index names, so the emulator
and a deployed stack cannot drift apart. Physical table and bucket names are not here: CDK
generates them and hands them to the function through the environment (see ``settings``).

The items table holds every record of an item under the item's id (the partition key), told
apart by the sort key ``sk``:

- ``item``: the item itself, with the attributes of the listing indexes;
- ``item#attachment#<attachment id>``: one record per attachment, so reading an item never pays
  for its attachments, and the attachments of an item are one ``Query`` (they sort right after
  the item record, so one ``Query`` can also prove the item exists);
- ``item#entry#<listing>``: one small record per filter listing the item is in (a tag, a name
  prefix), which puts it into the filter index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AttributeType = Literal["S", "N", "B"]
StreamViewType = Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]


@dataclass(frozen=True)
class KeyAttribute:
    """A key attribute: its name and DynamoDB scalar type."""

    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index. ``projected`` lists the non-key attributes it copies; empty
    means ``KEYS_ONLY``."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projected: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableDefinition:
    """A table's key schema, indexes, time-to-live attribute and stream."""

    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    indexes: tuple[GlobalIndex, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None
    stream_view_type: StreamViewType | None = None

    def attribute_definitions(self) -> list[dict[str, str]]:
        """Every key attribute of the table and its indexes, once each."""
        keys: dict[str, str] = {}
        for key in self._all_keys():
            keys.setdefault(key.name, key.type)
        return [{"AttributeName": n, "AttributeType": t} for n, t in keys.items()]

    def _all_keys(self) -> list[KeyAttribute]:
        keys = [self.partition_key]
        if self.sort_key:
            keys.append(self.sort_key)
        for index in self.indexes:
            keys.append(index.partition_key)
            if index.sort_key:
                keys.append(index.sort_key)
        return keys

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        """Arguments for ``CreateTable`` (used by the local bootstrap and the test harnesses)."""
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
            "AttributeDefinitions": self.attribute_definitions(),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.partition_key, index.sort_key),
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": list(index.projected),
                    }
                    if index.projected
                    else {"ProjectionType": "KEYS_ONLY"},
                }
                for index in self.indexes
            ]
        if self.stream_view_type:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": self.stream_view_type,
            }
        return kwargs


def _key_schema(partition: KeyAttribute, sort: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


# The item fields every read returns; every other attribute of an item record is internal.
ITEM_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "description",
    "status",
    "tags",
    "attributes",
    "created_at",
    "updated_at",
    "version",
    # The audit fields: the principal of the create and of the last write.
    "created_by",
    "updated_by",
)

# Sort key values of the items table (see the module docstring).
ITEM_RECORD = "item"
ATTACHMENT_RECORD_PREFIX = "item#attachment#"

# How many partition key values each listing index spreads its entries over. An item's shard
# comes from its id and never changes. DynamoDB gives one partition key value at most 1,000 WCU/s;
# each create writes one entry into each listing index, so the hottest shard caps creates near
# LISTING_SHARDS x 1,000/s (`make bench`: index_hottest_key_share, create_ceiling_per_s). A page
# queries every shard in parallel, so reads pay one small Query per shard: docs/scale.md weighs
# the two.
LISTING_SHARDS = 16

# The listing indexes: newest first by ``created_key`` (``<created_at>#<id>``: time order with the
# id as a stable tie-break) within each shard. KEYS_ONLY: an update that keeps the status writes
# neither index, and a page fetches its items from the table (one BatchGetItem).
CREATED_KEY = KeyAttribute("created_key")
ALL_ITEMS_INDEX = GlobalIndex(
    name="all-created-index", partition_key=KeyAttribute("all_shard"), sort_key=CREATED_KEY
)
STATUS_INDEX = GlobalIndex(
    name="status-created-index", partition_key=KeyAttribute("status_shard"), sort_key=CREATED_KEY
)

# The filter entries of an item (``items.filters``): one small record per tag and per short name
# prefix, under the item's id, keyed into one more KEYS_ONLY index by listing, status and shard.
ENTRY_RECORD_PREFIX = "item#entry#"
FILTER_INDEX = GlobalIndex(
    name="filter-created-index", partition_key=KeyAttribute("filter_shard"), sort_key=CREATED_KEY
)

# Attachment records waiting for their file carry this time-to-live attribute (epoch seconds);
# DynamoDB deletes a record whose file never arrived, the upload confirmation removes it.
EXPIRES_AT = "expires_at"

ITEMS_TABLE = TableDefinition(
    partition_key=KeyAttribute("id"),
    sort_key=KeyAttribute("sk"),
    indexes=(ALL_ITEMS_INDEX, STATUS_INDEX, FILTER_INDEX),
    ttl_attribute=EXPIRES_AT,
    # Keys are all the cleanup needs: it reads what else the item had from the table itself.
    stream_view_type="KEYS_ONLY",
)

# Powertools' DynamoDBPersistenceLayer defaults: key "id", TTL attribute "expiration".
IDEMPOTENCY_TABLE = TableDefinition(partition_key=KeyAttribute("id"), ttl_attribute="expiration")

# Every object the API writes lives below this prefix, one folder per item, so that the Lambda
# roles can be scoped to it and deleting an item can remove its folder.
ATTACHMENTS_PREFIX = "attachments/"


# -- event sources (what the stack wires, and what `make run` feeds the same way) --------------

# The item cleanup function gets only the removals of item and attachment records from the
# items table's stream, in batches; Lambda's event filtering (and the local feeder) drop every
# other record (writes, and the filter entries the cleanup itself removes) before it is invoked.
ITEM_CHANGES_BATCH_SIZE = 25
ITEM_CHANGES_FILTER: dict[str, Any] = {
    "eventName": ["REMOVE"],
    "dynamodb": {"Keys": {"sk": {"S": [ITEM_RECORD, {"prefix": ATTACHMENT_RECORD_PREFIX}]}}},
}
# Lambda retries a failing batch this often (halving it each time), then hands the records to
# the dead-letter queue.
ITEM_CHANGES_MAX_RETRIES = 5


def uploads_event_pattern(bucket_name: str) -> dict[str, Any]:
    """The EventBridge pattern of new files below the attachments prefix of ``bucket_name``."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket_name]},
            "object": {"key": [{"prefix": ATTACHMENTS_PREFIX}]},
        },
    }
