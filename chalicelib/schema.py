"""The one definition of the DynamoDB tables and S3 layout.

Both the local bootstrap (``localdev``) and the CDK stack (``infrastructure``) read these
definitions, and the repository uses the same attribute and index names, so the emulator and a
deployed stack cannot drift apart. Physical table and bucket names are not here: CDK generates
them and hands them to the function through the environment (see ``settings``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AttributeType = Literal["S", "N", "B"]


@dataclass(frozen=True)
class KeyAttribute:
    """A key attribute: its name and DynamoDB scalar type."""

    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index. ``projected`` lists the non-key attributes it copies."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projected: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableDefinition:
    """A table's key schema, indexes and time-to-live attribute."""

    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    indexes: tuple[GlobalIndex, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None

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
        """Arguments for ``CreateTable`` (used by the local bootstrap)."""
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
        return kwargs


def _key_schema(partition: KeyAttribute, sort: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


# The item fields every read returns. ``attachments`` (a map of attachment records kept on the
# item so that one conditional write creates, and one delete removes, an attachment) is
# deliberately not among them.
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

# The map of an item's attachment records, keyed by attachment id.
ATTACHMENTS_ATTRIBUTE = "attachments"

STATUS_INDEX = GlobalIndex(
    name="status-created_at-index",
    partition_key=KeyAttribute("status"),
    sort_key=KeyAttribute("created_at"),
    # INCLUDE rather than ALL: the index serves list pages, which never return attachments.
    projected=tuple(f for f in ITEM_FIELDS if f not in {"id", "status", "created_at"}),
)

ITEMS_TABLE = TableDefinition(partition_key=KeyAttribute("id"), indexes=(STATUS_INDEX,))

# Powertools' DynamoDBPersistenceLayer defaults: key "id", TTL attribute "expiration".
IDEMPOTENCY_TABLE = TableDefinition(partition_key=KeyAttribute("id"), ttl_attribute="expiration")

# Every object the API writes lives below this prefix, one folder per item, so that the Lambda
# role can be scoped to it and deleting an item can remove its folder.
ATTACHMENTS_PREFIX = "attachments/"
