"""The emulator's patch of moto's TransactWriteItems: one backup per table, rollback intact."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb import models
from moto.dynamodb.models.table import Table

from localdev.moto_server import copy_each_table_once


@pytest.fixture
def patched() -> Iterator[Any]:
    original = models.DynamoDBBackend.transact_write_items
    copy_each_table_once()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client
    models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


def put(key: str, condition: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"TableName": "t", "Item": {"pk": {"S": key}}}
    if condition:
        action["ConditionExpression"] = condition
    return {"Put": action}


def test_a_transaction_of_ten_actions_copies_its_table_once(
    patched: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[str] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    patched.transact_write_items(TransactItems=[put(f"k{n}") for n in range(10)])
    assert copied == ["t"]
    assert patched.scan(TableName="t")["Count"] == 10
    assert vars(models)["copy"] is copy  # the shim is gone after the call


def test_a_failed_condition_still_rolls_the_whole_transaction_back(patched: Any) -> None:
    patched.put_item(TableName="t", Item={"pk": {"S": "taken"}})
    actions = [put(f"new{n}") for n in range(5)] + [put("taken", "attribute_not_exists(pk)")]
    with pytest.raises(patched.exceptions.TransactionCanceledException):
        patched.transact_write_items(TransactItems=actions)
    assert [item["pk"]["S"] for item in patched.scan(TableName="t")["Items"]] == ["taken"]
    assert vars(models)["copy"] is copy
