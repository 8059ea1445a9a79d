"""The emulator's patches of moto: TransactWriteItems makes one backup per table with its
rollback intact; Query reads only the partition it names and answers exactly as moto does."""

from __future__ import annotations

import contextlib
import copy
import signal
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb import models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from localdev.moto_server import (
    PartitionIndex,
    Partitions,
    copy_each_table_once,
    query_by_partition,
)


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


# -- Query by partition ------------------------------------------------------------------------

# A table with a sort key and every kind of index the patch files items for: GSIs with and
# without a sort key, ALL / KEYS_ONLY / INCLUDE projections, an LSI; and a table without one.
PARTITIONED_TABLES: list[dict[str, Any]] = [
    {
        "TableName": "t",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (("pk", "S"), ("sk", "N"), ("g", "S"), ("r", "N"), ("h", "N"))
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "g-r",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "r", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "g-only",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "h-r",
                "KeySchema": [
                    {"AttributeName": "h", "KeyType": "HASH"},
                    {"AttributeName": "r", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]},
            },
        ],
        "LocalSecondaryIndexes": [
            {
                "IndexName": "pk-r",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "r", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    },
    {
        "TableName": "u",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "g-only",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    },
]
# (table, index or None, partition key attribute, its type, sort key attribute or None)
QUERY_TARGETS = [
    ("t", None, "pk", "S", "sk"),
    ("t", "g-r", "g", "S", "r"),
    ("t", "g-only", "g", "S", None),
    ("t", "h-r", "h", "N", "r"),
    ("t", "pk-r", "pk", "S", "r"),
    ("u", None, "pk", "S", None),
    ("u", "g-only", "g", "S", None),
]
PKS, GS, HS = ("a", "b", "c"), ("x", "y", "z"), (0, 1, 2)


@pytest.fixture
def moto_classes() -> Iterator[dict[type, dict[str, Any]]]:
    """moto's classes as they were before the test patched them, and put back after it."""
    saved: dict[type, dict[str, Any]] = {
        cls: dict(vars(cls)) for cls in (models.DynamoDBBackend, Table)
    }
    yield saved
    for cls, attributes in saved.items():
        for name, value in attributes.items():
            if vars(cls).get(name) is not value:
                setattr(cls, name, value)


@pytest.fixture
def partitions(moto_classes: dict[type, dict[str, Any]]) -> PartitionIndex:
    """Both emulator patches applied; the partitions the query patch keeps."""
    copy_each_table_once()
    return query_by_partition()


@pytest.fixture
def partitioned(partitions: PartitionIndex) -> Iterator[Any]:
    """A client of in-process moto with both emulator patches, and the tables above."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        for table in PARTITIONED_TABLES:
            client.create_table(**table)
        yield client


@pytest.fixture
def unpatched_query(moto_classes: dict[type, dict[str, Any]]) -> Any:
    """moto's own Table.query, as it was before the patch."""
    query = moto_classes[Table]["query"]
    assert getattr(query, "__module__", "").startswith("moto.")
    return query


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def s(value: str) -> dict[str, str]:
    return {"S": value}


def item_attributes(draw: st.DrawFn, table: str) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": s(draw(st.sampled_from(PKS)))}
    if table == "t":
        item["sk"] = n(draw(st.integers(0, 5)))
        for name, values, kind in (("r", (0, 1, 2, 3), n), ("h", HS, n), ("x", (7,), n)):
            if draw(st.booleans()):
                item[name] = kind(draw(st.sampled_from(values)))
    if draw(st.booleans()):
        # now and then of a type the index does not declare: DynamoDB refuses the write, moto
        # stores it (a list cannot even be a partition key value)
        item["g"] = draw(
            st.sampled_from([s(g) for g in GS]) | st.sampled_from([n(1), {"L": [s("x")]}])
        )
    return item


def key_of(item: dict[str, Any], table: str) -> dict[str, Any]:
    return {name: item[name] for name in (("pk", "sk") if table == "t" else ("pk",))}


@st.composite
def writes(draw: st.DrawFn) -> tuple[str, Any]:
    """One write, of any kind the patch keeps partitions up to date through."""
    table = draw(st.sampled_from(["t", "t", "u"]))
    kind = draw(st.sampled_from(["put", "update", "delete", "transact", "batch"]))
    item = item_attributes(draw, table)
    key = key_of(item, table)
    if kind == "put":
        return kind, {"TableName": table, "Item": item}
    if kind == "delete":
        return kind, {"TableName": table, "Key": key}
    if kind == "update":
        # set or remove an index key attribute in place (moto's update changes the stored item)
        attribute = draw(st.sampled_from(["g", "r", "h"] if table == "t" else ["g"]))
        if draw(st.booleans()):
            value = s(draw(st.sampled_from(GS))) if attribute == "g" else n(draw(st.integers(0, 3)))
            return kind, {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET #a = :v",
                "ExpressionAttributeNames": {"#a": attribute},
                "ExpressionAttributeValues": {":v": value},
            }
        return kind, {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "REMOVE #a",
            "ExpressionAttributeNames": {"#a": attribute},
        }
    if kind == "transact":
        # a put and an update, and sometimes a condition that fails: the whole rolls back
        other = item_attributes(draw, table)
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": table, "Item": item}},
            {
                "Update": {
                    "TableName": table,
                    "Key": key_of(other, table),
                    "UpdateExpression": "SET g = :g",
                    "ExpressionAttributeValues": {":g": s(draw(st.sampled_from(GS)))},
                }
            },
        ]
        if key_of(other, table) == key:
            actions.pop()  # one action per item in a transaction
        if draw(st.booleans()):
            actions.append(
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": s("nobody"), **({"sk": n(9)} if table == "t" else {})},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
        return kind, actions
    return kind, {table: [{"PutRequest": {"Item": item}}, {"DeleteRequest": {"Key": key}}]}


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    """One Query over a partition: any target, sort key condition, direction, limit, filter,
    projection."""
    table, index, partition, kind, sort = draw(st.sampled_from(QUERY_TARGETS))
    if kind == "S":
        value = s(draw(st.sampled_from(PKS if partition == "pk" else GS)))
    else:
        value = n(draw(st.sampled_from(HS)))
    values: dict[str, Any] = {":p": value}
    condition = "#p = :p"
    names = {"#p": partition}
    if sort is not None and draw(st.booleans()):
        names["#s"] = sort
        operator = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "BETWEEN"]))
        low, high = sorted(draw(st.lists(st.integers(0, 5), min_size=2, max_size=2)))
        values[":lo"] = n(low)
        if operator == "BETWEEN":
            values[":hi"] = n(high)
            condition += " AND #s BETWEEN :lo AND :hi"
        else:
            condition += f" AND #s {operator} :lo"
    query: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": draw(st.booleans()),
    }
    if index is not None:
        query["IndexName"] = index
    if draw(st.booleans()):
        query["Limit"] = draw(st.integers(1, 4))
    if table == "t" and index != "g-only" and draw(st.booleans()):
        query["FilterExpression"] = "attribute_exists(#x)"
        names["#x"] = "x"
    if draw(st.booleans()):
        query["Select"] = "COUNT"
    return query


def pages(client: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the query, following LastEvaluatedKey, without the response metadata."""
    answers: list[dict[str, Any]] = []
    request = dict(query)
    while True:
        answer = client.query(**request)
        answer.pop("ResponseMetadata")
        answers.append(answer)
        if "LastEvaluatedKey" not in answer or len(answers) > 50:
            return answers
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def brute_force(client: Any, query: dict[str, Any]) -> set[tuple[str, ...]]:
    """The keys of the items the query's key condition and filter select, from a Scan."""
    table = query["TableName"]
    index = query.get("IndexName")
    target = next(t for t in QUERY_TARGETS if t[0] == table and t[1] == index)
    partition, sort = target[2], target[4]
    wanted = query["ExpressionAttributeValues"][":p"]
    condition = query["KeyConditionExpression"]
    found: set[tuple[str, ...]] = set()
    for item in client.scan(TableName=table)["Items"]:
        if item.get(partition) != wanted or (sort is not None and sort not in item):
            continue
        if " AND " in condition:
            at = int(item[sort]["N"])
            low = int(query["ExpressionAttributeValues"][":lo"]["N"])
            operator = condition.split("#s ", 1)[1].split(" ", 1)[0]
            if operator == "BETWEEN":
                high = int(query["ExpressionAttributeValues"][":hi"]["N"])
                if not low <= at <= high:
                    continue
            elif not {
                "=": at == low,
                "<": at < low,
                "<=": at <= low,
                ">": at > low,
                ">=": at >= low,
            }[operator]:
                continue
        if "FilterExpression" in query and "x" not in item:
            continue
        found.add(
            tuple(value for name in ("pk", "sk") if name in item for value in item[name].values())
        )
    return found


def apply(client: Any, write: tuple[str, Any]) -> None:
    kind, request = write
    errors = (client.exceptions.TransactionCanceledException, client.exceptions.ClientError)
    with contextlib.suppress(*errors):
        if kind == "put":
            client.put_item(**request)
        elif kind == "delete":
            client.delete_item(**request)
        elif kind == "update":
            client.update_item(**request)
        elif kind == "transact":
            client.transact_write_items(TransactItems=request)
        else:
            client.batch_write_item(RequestItems=request)


def filed(partitions: Partitions) -> dict[str, dict[Any, dict[Any, int]]]:
    """Which item (by identity) each index partition holds under each primary key."""
    return {
        index: {
            values: {key: id(item) for key, item in bucket.items()}
            for values, bucket in by_value.items()
        }
        for index, by_value in partitions.by_index.items()
    }


def assert_filed_as_a_rebuild(client: Any, partitions: PartitionIndex) -> None:
    """The partitions kept up to date write by write are those a walk of the table builds."""
    from moto.dynamodb.models import dynamodb_backends

    for table in dynamodb_backends["123456789012"]["eu-west-1"].tables.values():
        kept = partitions.kept(table)
        if kept is not None:
            assert filed(kept) == filed(Partitions(table)), table.name


@settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.one_of(writes(), queries()), min_size=10, max_size=60))
def test_a_query_by_partition_answers_exactly_as_moto_walking_the_table(
    partitioned: Any, partitions: PartitionIndex, unpatched_query: Any, steps: list[Any]
) -> None:
    """GIVEN any mix of puts, in-place updates, deletes, transactions (some rolled back) and
    batches, WHEN any query runs, THEN every page (items, counts, LastEvaluatedKey) equals
    unpatched moto's on the same data, and the pages together hold exactly the items a
    brute-force filter of a Scan selects; and after every write the partitions kept are those
    a fresh walk of the table files."""
    for table in ("t", "u"):  # each example starts empty (the fixture is shared by examples)
        for item in partitioned.scan(TableName=table)["Items"]:
            partitioned.delete_item(TableName=table, Key=key_of(item, table))
    patched_query = Table.query
    for step in steps:
        if isinstance(step, tuple):
            apply(partitioned, step)
            assert_filed_as_a_rebuild(partitioned, partitions)
            continue
        answered = pages(partitioned, step)
        Table.query = unpatched_query  # type: ignore[method-assign]
        try:
            expected = pages(partitioned, step)
        finally:
            Table.query = patched_query  # type: ignore[method-assign]
        assert answered == expected, step
        if step.get("Select") != "COUNT":
            keys = {
                tuple(
                    value for name in ("pk", "sk") if name in item for value in item[name].values()
                )
                for page in answered
                for item in page["Items"]
            }
            assert keys == brute_force(partitioned, step), step


def test_an_index_query_examines_only_its_partition(
    partitioned: Any, unpatched_query: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: moto checks each item it examines against the queried partition key
    with ``!=``; patched, only the queried partition's items are examined, however many items
    the table holds, and the items filed by writes after the first query stay filed."""
    partitioned.query(  # the first query files the (empty) table
        TableName="t",
        IndexName="g-r",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": s("p0")},
    )
    for partition in range(20):
        for sort in range(10):
            partitioned.put_item(
                TableName="t",
                Item={
                    "pk": s(f"item{partition}-{sort}"),
                    "sk": n(0),
                    "g": s(f"p{partition}"),
                    "r": n(sort),
                },
            )
    examined: list[Any] = []
    real_ne = DynamoType.__ne__

    def counting_ne(self: DynamoType, other: DynamoType) -> bool:
        examined.append(self)
        return real_ne(self, other)

    monkeypatch.setattr(DynamoType, "__ne__", counting_ne)
    query = {
        "TableName": "t",
        "IndexName": "g-r",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": s("p7")},
    }
    answer = partitioned.query(**query)
    assert answer["Count"] == 10
    assert len(examined) == 10  # the partition, not the 200 items of the table
    examined.clear()
    monkeypatch.setattr(Table, "query", unpatched_query)
    assert partitioned.query(**query)["Items"] == answer["Items"]
    assert len(examined) == 200  # moto's own walk: every item of the table


def test_a_table_query_walks_no_other_partition(
    partitioned: Any, unpatched_query: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto answers a query of the table itself by walking all of it (``all_items``, sorted);
    patched, it reads the queried partition only: no walk of the table, the same answer."""
    for partition in range(20):
        for sort in range(5):
            partitioned.put_item(TableName="t", Item={"pk": s(f"p{partition}"), "sk": n(sort)})
    walked: list[int] = []
    real_all_items = Table.all_items

    def counting_all_items(self: Table) -> list[Any]:
        everything = real_all_items(self)
        walked.append(len(everything))
        return everything

    monkeypatch.setattr(Table, "all_items", counting_all_items)
    query = {
        "TableName": "t",
        "KeyConditionExpression": "pk = :p AND sk >= :s",
        "ExpressionAttributeValues": {":p": s("p3"), ":s": n(1)},
        "ScanIndexForward": False,
    }
    answer = partitioned.query(**query)
    assert [int(item["sk"]["N"]) for item in answer["Items"]] == [4, 3, 2, 1]
    assert walked == []
    monkeypatch.setattr(Table, "query", unpatched_query)
    assert partitioned.query(**query)["Items"] == answer["Items"]
    assert walked == [100]  # moto's own: the whole table


def test_an_index_added_later_and_a_rolled_back_transaction_are_filed_afresh(
    partitioned: Any,
) -> None:
    """A new index (UpdateTable) gets its partitions from the items already stored, and a
    transaction moto rolls back (it swaps in its copy of the table) leaves no trace."""
    partitioned.put_item(TableName="u", Item={"pk": s("a"), "g": s("x"), "w": s("old")})
    by_g = {
        "TableName": "u",
        "IndexName": "g-only",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": s("x")},
    }
    assert partitioned.query(**by_g)["Count"] == 1
    with pytest.raises(partitioned.exceptions.TransactionCanceledException):
        partitioned.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        **{k: by_g[k] for k in ("TableName",)},
                        "Key": {"pk": s("a")},
                        "UpdateExpression": "SET g = :y",
                        "ExpressionAttributeValues": {":y": s("y")},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "u",
                        "Key": {"pk": s("nobody")},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert [item["pk"] for item in partitioned.query(**by_g)["Items"]] == [s("a")]
    partitioned.update_table(
        TableName="u",
        AttributeDefinitions=[{"AttributeName": "w", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "w-only",
                    "KeySchema": [{"AttributeName": "w", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    by_w = partitioned.query(
        TableName="u",
        IndexName="w-only",
        KeyConditionExpression="w = :w",
        ExpressionAttributeValues={":w": s("old")},
    )
    assert [item["pk"] for item in by_w["Items"]] == [s("a")]


def test_the_server_runs_moto_with_both_patches(
    moto_classes: dict[type, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from werkzeug import serving

    from localdev import moto_server

    served: list[Any] = []
    monkeypatch.setattr(serving, "run_simple", lambda *args, **kwargs: served.append(args))
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's handlers
    moto_server.main(["-p", "0"])
    assert served
    assert Table.query is not moto_classes[Table]["query"]
    assert Table.put_item is not moto_classes[Table]["put_item"]
    transact = models.DynamoDBBackend.transact_write_items
    assert transact is not moto_classes[models.DynamoDBBackend]["transact_write_items"]
