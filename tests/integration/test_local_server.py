"""The local server takes a burst of clients (issue 11, "Also"): ``chalice local`` listened with
``socketserver``'s backlog of 5, so when more clients connected at once than the accept loop
took in, the rest met connection resets (about half of 64 racing clients did). Racing tests and
the console open in several tabs need it to take a burst of 64."""

from __future__ import annotations

import subprocess
import threading
import uuid

import pytest

from localdev.chalice_local import LISTEN_BACKLOG
from tests.integration.harness import LiveApi, burst

pytestmark = pytest.mark.integration
BURST = 64


def test_the_server_listens_with_room_for_a_burst(live: LiveApi) -> None:
    port = live.url.rsplit(":", 1)[1]
    listening = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()

    # For a listening socket, ss's Send-Q column is its backlog.
    assert listening[0] == "LISTEN"
    assert int(listening[2]) == LISTEN_BACKLOG >= BURST


def test_64_racing_clients_all_get_an_answer(live: LiveApi) -> None:
    """POSTs refused for their missing token: the token authorizer answers 401 without any AWS
    call, so every client's answer is known, whatever the machine's load (with the backlog of 5,
    7 to 45 of 64 such clients met resets)."""
    for _ in range(3):  # more than one burst: the first does not warm anything up
        outcomes = burst(f"{live.url}/items", BURST, method="POST", body=b'{"name": "burst"}')
        assert outcomes == {"401": BURST}


def test_the_emulator_applies_concurrent_conditional_writes_one_at_a_time(live: LiveApi) -> None:
    """As DynamoDB does: of concurrent updates conditioned on one version, exactly one writes.
    moto's own server let several through (see ``localdev.moto_server``)."""
    from concurrent.futures import ThreadPoolExecutor

    dynamodb = live.aws("dynamodb")
    table = f"emulator-race-{uuid.uuid4().hex}"  # its own table: the items' schema may change
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    clients, rounds = 16, 10
    start = threading.Barrier(clients)

    def update(key: str) -> bool:
        start.wait(timeout=30)
        try:
            dynamodb.update_item(
                TableName=table,
                Key={"k": {"S": key}},
                UpdateExpression="SET version = :next",
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": {"N": "1"}, ":next": {"N": "2"}},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    winners = []
    try:
        with ThreadPoolExecutor(clients) as pool:
            for n in range(rounds):
                item = {"k": {"S": f"key-{n}"}, "version": {"N": "1"}}
                dynamodb.put_item(TableName=table, Item=item)
                winners.append(sum(pool.map(update, [f"key-{n}"] * clients)))
    finally:
        dynamodb.delete_table(TableName=table)

    assert winners == [1] * rounds
