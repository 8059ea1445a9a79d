"""The emulator behaves as DynamoDB does where the API depends on it (``localdev.moto_server``)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.harness import LiveApi

pytestmark = pytest.mark.integration


def _put_new(table: str, record_id: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": {"id": {"S": record_id}, "sk": {"S": "emulator-check"}},
            "ConditionExpression": "attribute_not_exists(id)",
        }
    }


def test_a_transaction_repeated_with_its_client_token_succeeds_and_changes_nothing(
    live: LiveApi,
) -> None:
    """botocore sends a transaction's ``ClientRequestToken`` again on each retry; DynamoDB answers
    the repeat of a completed transaction with success (TransactWriteItems, "Idempotency": for 10
    minutes). moto ignored the token, so a create applied on its first attempt but answered
    after the read timeout failed its own ``attribute_not_exists`` on the retry: a 500."""
    dynamodb = live.aws("dynamodb")
    record_id, token = f"emulator-{uuid.uuid4()}", str(uuid.uuid4())
    transaction = [_put_new(live.items_table, record_id)]

    dynamodb.transact_write_items(TransactItems=transaction, ClientRequestToken=token)
    dynamodb.transact_write_items(TransactItems=transaction, ClientRequestToken=token)

    key = {"id": {"S": record_id}, "sk": {"S": "emulator-check"}}
    assert dynamodb.get_item(TableName=live.items_table, Key=key)["Item"] == key
    # Without the token, the same transaction is a new one, and its condition fails.
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=transaction)
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    # The same token with other parameters is refused as DynamoDB refuses it.
    with pytest.raises(ClientError) as mismatch:
        dynamodb.transact_write_items(
            TransactItems=[_put_new(live.items_table, f"{record_id}-other")],
            ClientRequestToken=token,
        )
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    dynamodb.delete_item(TableName=live.items_table, Key=key)


def test_a_failed_transaction_leaves_its_token_free(live: LiveApi) -> None:
    """Only a successful transaction is replayed: a cancelled one runs again on a repeat."""
    dynamodb = live.aws("dynamodb")
    record_id, token = f"emulator-{uuid.uuid4()}", str(uuid.uuid4())
    key = {"id": {"S": record_id}, "sk": {"S": "emulator-check"}}
    dynamodb.put_item(TableName=live.items_table, Item=key)
    transaction = [_put_new(live.items_table, record_id)]
    for _ in range(2):
        with pytest.raises(ClientError) as refused:
            dynamodb.transact_write_items(TransactItems=transaction, ClientRequestToken=token)
        assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    dynamodb.delete_item(TableName=live.items_table, Key=key)


def test_an_index_query_follows_every_write_of_its_partition(live: LiveApi) -> None:
    """The emulator answers an index query from the queried partition only (the items under
    the partition key value, kept up to date on each write): a put, an update that moves a
    record into the partition in place, a rolled-back transaction and a delete each show in
    the next query, over the wire, pages and order as DynamoDB gives them."""
    dynamodb = live.aws("dynamodb")
    table, index = live.items_table, "filter-created-index"
    here, elsewhere = f"emulator-{uuid.uuid4()}", f"emulator-{uuid.uuid4()}"
    first, second = (
        {"id": {"S": f"emulator-{uuid.uuid4()}"}, "sk": {"S": "emulator-check"}} for _ in range(2)
    )

    def in_partition(limit: int = 1) -> list[str]:
        found: list[str] = []
        request: dict[str, Any] = {
            "TableName": table,
            "IndexName": index,
            "KeyConditionExpression": "filter_shard = :p",
            "ExpressionAttributeValues": {":p": {"S": here}},
            "Limit": limit,
        }
        while True:
            page = dynamodb.query(**request)
            found.extend(item["id"]["S"] for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    dynamodb.put_item(
        TableName=table,
        Item={**first, "filter_shard": {"S": here}, "created_key": {"S": "2"}},
    )
    dynamodb.put_item(
        TableName=table,
        Item={**second, "filter_shard": {"S": elsewhere}, "created_key": {"S": "1"}},
    )
    assert in_partition() == [first["id"]["S"]]
    dynamodb.update_item(
        TableName=table,
        Key=second,
        UpdateExpression="SET filter_shard = :p",
        ExpressionAttributeValues={":p": {"S": here}},
    )
    assert in_partition() == [second["id"]["S"], first["id"]["S"]]  # by created_key
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": first,
                        "UpdateExpression": "SET filter_shard = :p",
                        "ExpressionAttributeValues": {":p": {"S": elsewhere}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"id": {"S": "emulator-nobody"}, "sk": {"S": "emulator-check"}},
                        "ConditionExpression": "attribute_exists(id)",
                    }
                },
            ]
        )
    assert in_partition(limit=10) == [second["id"]["S"], first["id"]["S"]]  # rolled back
    dynamodb.delete_item(TableName=table, Key=first)
    assert in_partition() == [second["id"]["S"]]
    dynamodb.delete_item(TableName=table, Key=second)
    assert in_partition() == []
