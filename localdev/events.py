"""The local event feeder: what Lambda and DynamoDB do around the functions of the deployed
stack, played against the emulator so the same handlers run under `make run` and in the tests.

- **The items table's stream** (Lambda's event source mapping): reads moto's DynamoDB stream,
  keeps the records the mapping's filter admits (``schema.ITEM_CHANGES_FILTER``, with moto's
  implementation of EventBridge patterns, the syntax Lambda's filters use), and invokes
  ``app.clean_up_removed_records`` with batches in Lambda's event shape. A failing batch is
  retried from the record it reports (``ReportBatchItemFailures``), halved each time, at most
  ``ITEM_CHANGES_MAX_RETRIES`` times; then its records go to the dead-letter queue.
- **S3's events through EventBridge**: moto delivers the assets bucket's "Object Created" events
  to a rule with the stack's pattern (``schema.uploads_event_pattern``), whose target is an SQS
  queue here; each event invokes ``app.confirm_upload`` as an asynchronous invocation would
  (two retries, then the dead-letter queue).
- **DynamoDB's time to live**: moto keeps expired records; records past their TTL attribute are
  deleted here (AWS does it within days of expiry; here within ``TTL_SWEEP_SECONDS``).

``python -m localdev.events`` runs it in its own process (like a Lambda function's container),
with the local stage's environment; ``EventFeeder.deliver()`` runs one round, for tests.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib import settings
from chalicelib.schema import (
    IDEMPOTENCY_TABLE,
    ITEM_CHANGES_BATCH_SIZE,
    ITEM_CHANGES_FILTER,
    ITEM_CHANGES_MAX_RETRIES,
    ITEMS_TABLE,
    TableDefinition,
)

# The local stand-ins of the stack's queues (moto SQS): the rule's target, and the two
# dead-letter queues (the cleanup mapping's on-failure destination, the upload function's).
UPLOADS_QUEUE = "items-api-uploads"
UPLOADS_DEAD_LETTERS = "items-api-uploads-dead-letters"
CLEANUP_DEAD_LETTERS = "items-api-cleanup-dead-letters"
UPLOADS_RULE = "items-api-new-attachment-files"
# Lambda retries an asynchronous invocation twice.
ASYNC_RETRIES = 2
TTL_SWEEP_SECONDS = 30.0
POLL_SECONDS = 0.1

Handler = Callable[[dict[str, Any], Any], Any]


class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers may read."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.aws_request_id = f"local-{time.time_ns()}"
        self.memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


@dataclass
class Handlers:
    """The functions the feeder invokes (app.py's, or stand-ins in tests)."""

    clean_up_removed_records: Handler
    confirm_upload: Handler

    @classmethod
    def of_app(cls) -> Handlers:
        import app

        return cls(
            clean_up_removed_records=app.clean_up_removed_records,
            confirm_upload=app.confirm_upload,
        )


@dataclass
class _StreamReader:
    stream_arn: str
    read_up_to: dict[str, str] = field(default_factory=dict)  # shard id -> last sequence number


class EventFeeder:
    """Feeds the emulator's events to the handlers, the way the deployed stack would."""

    def __init__(
        self,
        clients: Callable[[str], Any],
        environment: dict[str, str],
        handlers: Handlers,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from moto.events.models import EventPattern

        self._client = clients
        self._items_table = environment[settings.ITEMS_TABLE_NAME]
        self._ttl_tables = {
            environment[settings.ITEMS_TABLE_NAME]: ITEMS_TABLE,
            environment[settings.IDEMPOTENCY_TABLE_NAME]: IDEMPOTENCY_TABLE,
        }
        self._handlers = handlers
        self._filter = EventPattern(json.dumps(ITEM_CHANGES_FILTER), ITEM_CHANGES_FILTER)
        self._clock = clock
        self._stream: _StreamReader | None = None
        self._last_ttl_sweep = 0.0
        self.dead_lettered: list[dict[str, Any]] = []  # what was sent to a dead-letter queue

    # -- one round -----------------------------------------------------------------------------

    def deliver(self, *, sweep_ttl: bool = False) -> int:
        """Deliver everything pending now; returns how many events the handlers were given."""
        delivered = self._deliver_stream() + self._deliver_uploads()
        if sweep_ttl or self._clock() - self._last_ttl_sweep >= TTL_SWEEP_SECONDS:
            self.expire_records()
            self._last_ttl_sweep = self._clock()
            delivered += self._deliver_stream()  # what the expiries removed
        return delivered

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set."""
        while not stop.is_set():
            try:
                delivered = self.deliver()
            except Exception as exc:  # the emulator restarting, say: keep going
                print(f"event feeder: {type(exc).__name__}: {exc}", file=sys.stderr)
                delivered = 0
            if not delivered:
                stop.wait(POLL_SECONDS)

    # -- the items table's stream ----------------------------------------------------------------

    def _reader(self) -> _StreamReader:
        if self._stream is None:
            table = self._client("dynamodb").describe_table(TableName=self._items_table)
            self._stream = _StreamReader(table["Table"]["LatestStreamArn"])
        return self._stream

    def _deliver_stream(self) -> int:
        streams = self._client("dynamodbstreams")
        reader = self._reader()
        description = streams.describe_stream(StreamArn=reader.stream_arn)["StreamDescription"]
        delivered = 0
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            # A fresh iterator after the last record read, every time: moto replaces a table
            # (its stream shard included) with a copy when a transaction fails, and an
            # iterator kept from before would never see another record.
            last = reader.read_up_to.get(shard_id)
            position: dict[str, str] = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
                if last
                else {"ShardIteratorType": "TRIM_HORIZON"}  # where the mapping starts
            )
            iterator = streams.get_shard_iterator(
                StreamArn=reader.stream_arn, ShardId=shard_id, **position
            )["ShardIterator"]
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = [
                lambda_record(record, reader.stream_arn) for record in response.get("Records", [])
            ]
            if records:
                reader.read_up_to[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            admitted = [r for r in records if self._filter.matches_event(r)]  # type: ignore[arg-type]
            for start in range(0, len(admitted), ITEM_CHANGES_BATCH_SIZE):
                batch = admitted[start : start + ITEM_CHANGES_BATCH_SIZE]
                self._invoke_stream_batch(batch, shard_id, reader.stream_arn)
                delivered += len(batch)
        return delivered

    def _invoke_stream_batch(self, batch: list[dict[str, Any]], shard: str, arn: str) -> None:
        """One batch as the mapping handles it: the records before a reported failure are done;
        the rest is split in two (bisect on error) and retried, at most
        ``ITEM_CHANGES_MAX_RETRIES`` times per record, then sent to the on-failure
        destination; the shard moves on either way."""
        queue, attempts = [batch], dict[str, int]()
        while queue:
            pending = queue.pop(0)
            failed_from = self._invoke_once(pending)
            if failed_from is None:
                continue
            rest = pending[failed_from:]
            first = rest[0]["dynamodb"]["SequenceNumber"]
            attempts[first] = attempts.get(first, 0) + 1
            if attempts[first] > ITEM_CHANGES_MAX_RETRIES:
                self._dead_letter(
                    CLEANUP_DEAD_LETTERS, stream_failure(rest, shard, arn, attempts[first])
                )
                continue
            half = max(1, len(rest) // 2)
            queue[:0] = [rest[:half], rest[half:]] if len(rest) > 1 else [rest]

    def _invoke_once(self, batch: list[dict[str, Any]]) -> int | None:
        """Invoke the handler; the index of the first failed record, or None if all succeeded."""
        try:
            result = self._handlers.clean_up_removed_records(
                {"Records": batch}, LocalLambdaContext("clean_up_removed_records")
            )
        except Exception:  # a failed invocation fails the whole batch
            return 0
        failures = (result or {}).get("batchItemFailures", [])
        if not failures:
            return None
        failed = {entry["itemIdentifier"] for entry in failures}
        for index, record in enumerate(batch):
            if record["dynamodb"]["SequenceNumber"] in failed:
                return index
        return 0  # an identifier not in the batch: Lambda retries the whole batch

    # -- S3 events through EventBridge -----------------------------------------------------------

    def _queue_url(self, name: str) -> str:
        url: str = self._client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return url

    def _deliver_uploads(self) -> int:
        sqs = self._client("sqs")
        url = self._queue_url(UPLOADS_QUEUE)
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            for attempt in range(1 + ASYNC_RETRIES):
                try:
                    self._handlers.confirm_upload(event, LocalLambdaContext("confirm_upload"))
                    break
                except Exception:  # as Lambda: retry, then dead-letter
                    if attempt == ASYNC_RETRIES:
                        self._dead_letter(UPLOADS_DEAD_LETTERS, event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _dead_letter(self, queue: str, body: dict[str, Any]) -> None:
        self.dead_lettered.append(body)
        self._client("sqs").send_message(
            QueueUrl=self._queue_url(queue), MessageBody=json.dumps(body, default=str)
        )

    # -- time to live ------------------------------------------------------------------------

    def expire_records(self) -> int:
        """Delete every record whose TTL attribute has passed (what DynamoDB's TTL does)."""
        dynamodb = self._client("dynamodb")
        now = int(self._clock())
        expired = 0
        for table, definition in self._ttl_tables.items():
            if not definition.ttl_attribute:
                continue
            key_names = _key_names(definition)
            names = {"#ttl": definition.ttl_attribute} | {
                f"#k{i}": k for i, k in enumerate(key_names)
            }
            paginator = dynamodb.get_paginator("scan")
            for page in paginator.paginate(
                TableName=table,
                FilterExpression="#ttl < :now",
                ProjectionExpression=", ".join(f"#k{i}" for i in range(len(key_names))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":now": {"N": str(now)}},
            ):
                for key in page.get("Items", []):
                    try:
                        dynamodb.delete_item(
                            TableName=table,
                            Key=key,
                            ConditionExpression="#ttl < :now",
                            ExpressionAttributeNames={"#ttl": definition.ttl_attribute},
                            ExpressionAttributeValues={":now": {"N": str(now)}},
                        )
                        expired += 1
                    except dynamodb.exceptions.ConditionalCheckFailedException:
                        pass  # confirmed (its TTL removed) since the scan
        return expired


def _key_names(definition: TableDefinition) -> list[str]:
    names = [definition.partition_key.name]
    if definition.sort_key:
        names.append(definition.sort_key.name)
    return names


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda hands it to a function: with the stream's ARN, and the
    creation time as epoch seconds (the Streams API returns a timestamp)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


def stream_failure(
    records: list[dict[str, Any]], shard: str, arn: str, attempts: int
) -> dict[str, Any]:
    """What Lambda sends to a stream mapping's on-failure destination: where the batch is."""
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    return {
        "requestContext": {
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": numbers[0],
            "endSequenceNumber": numbers[-1],
            "batchSize": len(records),
            "streamArn": arn,
        },
    }


def emulator_clients(environment: dict[str, str]) -> Callable[[str], Any]:
    """Clients of the emulator named in ``environment``, one per service."""
    import boto3

    from localdev.emulator import FAKE_CREDENTIALS

    session = boto3.session.Session(
        region_name=environment["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            # One emulator serves every service; S3 has its own variable (the app reads both).
            endpoint = environment[
                "AWS_ENDPOINT_URL_S3" if service == "s3" else "AWS_ENDPOINT_URL_DYNAMODB"
            ]
            cache[service] = session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]
        return cache[service]

    return client


def main() -> int:
    """Feed the emulator's events to app.py's handlers until SIGTERM or SIGINT."""
    environment = dict(os.environ)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    feeder = EventFeeder(emulator_clients(environment), environment, Handlers.of_app())
    feeder.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
