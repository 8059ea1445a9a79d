"""Faults (issue 4.2): throttling and unreachable dependencies, injected for real.

Faults are injected at botocore's HTTP layer (a ``before-send`` handler on the app's own
clients): the throttling answer or connection failure goes through botocore's real parsing and
its standard-mode retries, so the tests see what production would after the SDK gave up. The
unreachable cases also run against a closed port. Back-off sleeps are recorded, not slept.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError

from chalicelib import aws
from chalicelib.schema import LISTING_SHARDS
from tests.unit.harness import (
    INTERNAL_NAMES,
    ITEMS,
    InProcessApi,
    Reply,
    bucket_keys,
    item_records,
    start_upload,
    upload,
)

THROTTLING = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
]
LAMBDA_TIMEOUT_SECONDS = 20  # the stack's function timeout (API Gateway's own limit is 29 s)
# What no response body may contain: internal names, exception classes, traces.
LEAKS = (
    *INTERNAL_NAMES,
    "Traceback",
    "Exception",
    "botocore",
    "ClientError",
    "EndpointConnectionError",
    'File "',
    "dynamodb",
    "amazonaws",
    "127.0.0.1",
)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Back-off delays botocore asks for, recorded instead of slept."""
    recorded: list[float] = []
    # botocore.endpoint sleeps with time.sleep between attempts.
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


class Faults:
    """Fails matching requests of one botocore client; counts every attempt it fails."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.failed: list[str] = []  # operation name of each failed attempt
        self._rule: Callable[[Any, str], AWSResponse | None] | None = None
        client.meta.events.register_first("before-send", self._before_send)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        if self._rule is None:
            return None
        response = self._rule(request, operation)
        if response is not None:
            self.failed.append(operation)
            # The service refused the request, so nothing behind this client may process it:
            # an address no emulator serves keeps moto's in-process mock from handling it too.
            request.url = "http://fault-injected.invalid/"
        return response

    def heal(self) -> None:
        self._rule = None

    def throttle(
        self, code: str, *, table: str | None = None, operation: str | None = None
    ) -> None:
        """Answer every matching DynamoDB request with the throttling error ``code``."""

        def rule(request: Any, called: str) -> AWSResponse | None:
            if table is not None and table not in tables_of(json.loads(request.body or b"{}")):
                return None
            if operation is not None and called != operation:
                return None
            body = json.dumps(
                {
                    "__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                    "message": f"Rate of requests exceeds the allowed throughput of {table}",
                }
            ).encode()
            headers = HTTPHeaders()
            headers["Content-Type"] = "application/x-amz-json-1.0"
            headers["x-amzn-RequestId"] = "fault"
            return AWSResponse(request.url, 400, headers, _Body(body))

        self._rule = rule

    def unreachable(self) -> None:
        """Fail every request as if the endpoint refused the connection."""

        def rule(request: Any, operation: str) -> AWSResponse | None:
            self.failed.append(operation)
            raise EndpointConnectionError(endpoint_url=request.url)

        self._rule = rule


def tables_of(body: dict[str, Any]) -> set[str]:
    """The tables a DynamoDB request touches (a transaction's or a batch's too)."""
    tables = {body["TableName"]} if "TableName" in body else set()
    for action in body.get("TransactItems", []):
        tables |= {part["TableName"] for part in action.values()}
    return tables | set(body.get("RequestItems", {}))


def assert_clean(reply: Reply, status: int, retry_after: str) -> None:
    """A fault answer: the status, ``Retry-After``, Chalice's error shape, nothing internal."""
    assert reply.status == status, reply.body
    assert reply.header("Retry-After") == retry_after
    assert reply.header("Content-Type") == "application/json"
    assert set(reply.json) == {"Code", "Message"}
    text = reply.body.decode()
    for leak in LEAKS:
        assert leak.lower() not in text.lower(), (leak, text)


def snapshot() -> list[dict[str, Any]]:
    """Everything stored in the items table, in a stable order."""
    items = boto3.client("dynamodb").scan(TableName=ITEMS, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: item["id"]["S"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def max_backoff(retry: int) -> float:
    """The longest sleep standard mode may take before retry number ``retry`` (0-based)."""
    return float(min(2**retry, 20))


# -- the retry policy and the time it can take ----------------------------------------------


@pytest.mark.parametrize("service", ["dynamodb", "s3"])
def test_clients_use_standard_retries_few_attempts_and_timeouts(
    api: InProcessApi, service: str
) -> None:
    config = api.app_client(service).meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": aws.MAX_ATTEMPTS}
    assert 2 <= aws.MAX_ATTEMPTS <= 3
    assert config.connect_timeout == aws.CONNECT_TIMEOUT_SECONDS <= 2
    assert config.read_timeout == aws.READ_TIMEOUT_SECONDS <= 5


def test_botocore_backoff_is_the_documented_truncated_exponential() -> None:
    from botocore.configprovider import NEW_RETRIES_ENABLED

    # The bound below assumes the classic standard-mode back-off: rand(0, 1) * min(2**i, 20)
    # (the unreleased "new retries" add up to 5 s per retry when a service sends a hint).
    assert NEW_RETRIES_ENABLED is False


def per_call_worst_case() -> float:
    attempts = aws.MAX_ATTEMPTS
    waiting = attempts * (aws.CONNECT_TIMEOUT_SECONDS + aws.READ_TIMEOUT_SECONDS)
    return waiting + sum(max_backoff(retry) for retry in range(attempts - 1))


def test_one_aws_call_gives_up_well_inside_the_lambda_timeout() -> None:
    # 3 attempts x (1 s connect + 2 s read) + (1 s + 2 s) of back-off = 12 s < 20 s.
    assert per_call_worst_case() < LAMBDA_TIMEOUT_SECONDS


def sequential_steps(threads: list[str], request_thread: str) -> int:
    """How many AWS calls a request waits for one after the other: each call on the request's
    own thread, and each run of calls on worker threads (a listing page's parallel queries,
    which the request thread waits for together) as one."""
    steps, previous = 0, None
    for thread in threads:
        if thread == request_thread or previous in (None, request_thread):
            steps += 1
        previous = thread
    return steps


def test_sequential_steps_count_a_parallel_round_once() -> None:
    assert sequential_steps(["main", "main"], "main") == 2
    assert sequential_steps(["main", "w1", "w2", "w1", "main"], "main") == 3
    assert sequential_steps(["w1", "w2", "main", "w3"], "main") == 3


def test_the_slowest_request_gives_up_inside_the_lambda_timeout(api: InProcessApi) -> None:
    """Every AWS call a request makes may take the per-call worst case, one after the other
    (calls made in parallel take it together)."""
    import threading

    calls: list[str] = []
    for service in ("dynamodb", "s3"):
        api.app_client(service).meta.events.register(
            "before-call", lambda **_: calls.append(threading.current_thread().name)
        )
    request_thread = threading.current_thread().name
    item = api.create_item()
    created = start_upload(api, item["id"], size=1)
    upload(created, b"x")
    attachment = f"/items/{item['id']}/attachments/{created['attachment']['id']}"
    requests = [
        ("GET", "/health", None, {}),
        ("POST", "/items", {"name": "a"}, {"Idempotency-Key": "k"}),
        ("GET", "/items", None, {}),
        ("GET", f"/items/{item['id']}", None, {}),
        ("PUT", f"/items/{item['id']}", {"name": "b"}, {}),
        ("PATCH", f"/items/{item['id']}", {"attributes": {"a": 1}}, {}),
        (
            "POST",
            f"/items/{item['id']}/attachments",
            {"filename": "f", "content_type": "text/plain", "size": 1},
            {},
        ),
        ("GET", f"/items/{item['id']}/attachments", None, {}),
        ("GET", attachment, None, {}),
        ("DELETE", attachment, None, {}),
        ("DELETE", f"/items/{item['id']}", None, {}),
    ]
    per_request: dict[str, int] = {}
    for method, path, body, headers in requests:
        calls.clear()
        reply = api.request(method, path, body, headers)
        assert reply.status < 400, (method, path, reply.body)
        per_request[f"{method} {path}"] = sequential_steps(calls, request_thread)
    slowest = max(per_request.values())

    assert slowest >= 3  # e.g. an idempotent create: record, item, record again
    worst = slowest * per_call_worst_case()
    assert worst < LAMBDA_TIMEOUT_SECONDS, (
        f"a request making {slowest} AWS calls in a row may take {worst:.0f} s to give up, "
        f"beyond the {LAMBDA_TIMEOUT_SECONDS} s Lambda timeout: {per_request}"
    )


# -- throttling ------------------------------------------------------------------------------


def _operations(item_id: str) -> list[tuple[str, str, Any]]:
    return [
        ("POST", "/items", {"name": "new"}),
        ("GET", "/items", None),
        ("GET", "/items?status=active", None),
        ("GET", f"/items/{item_id}", None),
        ("PUT", f"/items/{item_id}", {"name": "replaced"}),
        ("PATCH", f"/items/{item_id}", {"name": "patched"}),
        ("PATCH", f"/items/{item_id}", {"attributes": {"merged": 1}}),
        ("DELETE", f"/items/{item_id}", None),
        (
            "POST",
            f"/items/{item_id}/attachments",
            {"filename": "a", "content_type": "text/plain", "size": 1},
        ),
        ("GET", f"/items/{item_id}/attachments", None),
    ]


def calls_per_attempt(method: str, path: str) -> int:
    """How many DynamoDB requests one attempt of an operation sends before it fails: a listing
    queries every shard of its index at once."""
    return LISTING_SHARDS if method == "GET" and path.split("?", maxsplit=1)[0] == "/items" else 1


@pytest.mark.parametrize("code", THROTTLING)
def test_throttling_is_a_429_after_the_sdk_retries_and_writes_nothing(
    api: InProcessApi, sleeps: list[float], code: str
) -> None:
    item = api.create_item(attributes={"keep": "me"})
    before = snapshot()
    faults = Faults(api.app_client("dynamodb"))

    for method, path, body in _operations(item["id"]):
        faults.throttle(code)
        faults.failed.clear()
        sleeps.clear()
        reply = api.request(method, path, body)
        faults.heal()

        assert_clean(reply, 429, "1")
        assert reply.json["Code"] == "TooManyRequestsError"
        # The SDK tried each request exactly MAX_ATTEMPTS times, backing off within bounds.
        calls = calls_per_attempt(method, path)
        assert len(faults.failed) == aws.MAX_ATTEMPTS * calls, (method, path, faults.failed)
        assert len(sleeps) == (aws.MAX_ATTEMPTS - 1) * calls
        assert all(0 <= s <= max_backoff(i) for i, s in enumerate(sleeps)), sleeps
        assert snapshot() == before, (method, path)


def test_a_merge_patch_throttled_between_its_read_and_its_write_changes_nothing(
    api: InProcessApi, sleeps: list[float]
) -> None:
    item = api.create_item(attributes={"a": 1, "b": {"c": 2}})
    before = snapshot()
    faults = Faults(api.app_client("dynamodb"))
    faults.throttle("ProvisionedThroughputExceededException", operation="UpdateItem")

    reply = api.request("PATCH", f"/items/{item['id']}", {"attributes": {"b": {"c": None}}})
    faults.heal()

    assert_clean(reply, 429, "1")
    assert faults.failed == ["UpdateItem"] * aws.MAX_ATTEMPTS  # the read went through
    assert snapshot() == before
    retried = api.request("PATCH", f"/items/{item['id']}", {"attributes": {"b": {"c": None}}})
    assert retried.status == 200
    assert retried.json["attributes"] == {"a": 1, "b": {}}
    assert retried.json["version"] == 2


def test_a_throttled_idempotent_create_can_be_retried_and_creates_one_item(
    api: InProcessApi, sleeps: list[float]
) -> None:
    faults = Faults(api.app_client("dynamodb"))
    body = {"name": "once"}
    headers = {"Idempotency-Key": "retry-me"}

    faults.throttle("ProvisionedThroughputExceededException", table=ITEMS)
    throttled = api.request("POST", "/items", body, headers)
    faults.heal()
    assert_clean(throttled, 429, "1")
    assert snapshot() == []

    created = api.request("POST", "/items", body, headers)
    replay = api.request("POST", "/items", body, headers)
    assert created.status == replay.status == 201
    assert replay.body == created.body
    assert [i["id"]["S"] for i in item_records()] == [created.json["id"]]


def test_a_create_whose_idempotency_record_cannot_be_completed_is_not_repeated(
    api: InProcessApi, sleeps: list[float]
) -> None:
    """The item is written, then recording the response fails: the client sees a 429 and
    retries. However long it waits, the retry must not create a second item."""
    from tests.unit.harness import IDEMPOTENCY

    body, headers = {"name": "exactly once"}, {"Idempotency-Key": "completion-fails"}
    faults = Faults(api.app_client("dynamodb"))
    faults.throttle("ThrottlingException", table=IDEMPOTENCY, operation="UpdateItem")
    failed = api.request("POST", "/items", body, headers)
    faults.heal()
    assert_clean(failed, 429, "1")

    busy = api.request("POST", "/items", body, headers)
    assert busy.status == 409  # the first attempt's record is still marked in progress
    # The in-progress mark expires with the first invocation (in Lambda: within its timeout).
    # Let that time pass:
    dynamodb = boto3.client("dynamodb")
    (record,) = dynamodb.scan(TableName=IDEMPOTENCY)["Items"]
    assert record["status"]["S"] == "INPROGRESS"
    dynamodb.update_item(
        TableName=IDEMPOTENCY,
        Key={"id": record["id"]},
        UpdateExpression="SET in_progress_expiration = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )

    retried = api.request("POST", "/items", body, headers)
    assert retried.status == 201
    assert len(item_records()) == 1, "the create was applied twice"


def test_a_throttled_idempotency_table_is_a_429_and_creates_nothing(
    api: InProcessApi, sleeps: list[float]
) -> None:
    from tests.unit.harness import IDEMPOTENCY

    faults = Faults(api.app_client("dynamodb"))
    faults.throttle("ThrottlingException", table=IDEMPOTENCY)
    reply = api.request("POST", "/items", {"name": "x"}, {"Idempotency-Key": "k"})
    faults.heal()

    assert_clean(reply, 429, "1")
    assert snapshot() == []
    assert api.request("POST", "/items", {"name": "x"}, {"Idempotency-Key": "k"}).status == 201
    assert len(item_records()) == 1


# -- unreachable dependencies ----------------------------------------------------------------


def test_unreachable_dynamodb_is_a_503_and_changes_nothing(
    api: InProcessApi, sleeps: list[float]
) -> None:
    item = api.create_item()
    before = snapshot()
    faults = Faults(api.app_client("dynamodb"))

    for method, path, body in _operations(item["id"]):
        faults.unreachable()
        faults.failed.clear()
        reply = api.request(method, path, body)
        faults.heal()
        assert_clean(reply, 503, "5")
        assert reply.json["Code"] == "ServiceUnavailableError"
        calls = calls_per_attempt(method, path)
        assert len(faults.failed) == aws.MAX_ATTEMPTS * calls, (method, path)
        assert snapshot() == before

    faults.unreachable()
    health = api.request("GET", "/health")
    faults.heal()
    assert health.status == 503
    assert health.header("Retry-After") == "5"
    assert health.json == {
        "status": "unavailable",
        "checks": {"dynamodb": "unavailable", "s3": "ok"},
    }
    api.recheck_health()
    assert api.request("GET", "/health").json == {
        "status": "ok",
        "checks": {"dynamodb": "ok", "s3": "ok"},
    }


def test_unreachable_s3_is_a_503_and_leaves_no_file_behind(
    api: InProcessApi, sleeps: list[float]
) -> None:
    item = api.create_item()
    created = start_upload(api, item["id"], size=4)
    upload(created, b"file")  # S3's event not delivered yet: a download asks S3 itself
    attachment = f"/items/{item['id']}/attachments/{created['attachment']['id']}"
    faults = Faults(api.app_client("s3"))

    for method, path in [("GET", attachment), ("DELETE", attachment)]:
        faults.unreachable()
        reply = api.request(method, path)
        faults.heal()
        assert_clean(reply, 503, "5")
    # The failed DELETE removed the record but not the file: the stream's cleanup does that.
    assert api.request("GET", attachment).status == 404
    assert bucket_keys() == {created["upload"]["fields"]["key"]}
    api.deliver_events()
    assert bucket_keys() == set()

    faults.unreachable()
    health = api.request("GET", "/health")
    faults.heal()
    assert health.status == 503
    assert health.json == {
        "status": "unavailable",
        "checks": {"dynamodb": "ok", "s3": "unavailable"},
    }


def test_an_item_deleted_while_s3_is_down_loses_its_files_once_s3_is_back(
    api: InProcessApi, sleeps: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    """The delete itself needs only DynamoDB. Its cleanup fails while S3 is down, is retried
    and dead-lettered; the attachment records it did remove are on the stream too, and their
    cleanup removes the files once S3 answers again."""
    item = api.create_item()
    files = [start_upload(api, item["id"], size=1) for _ in range(2)]
    for created in files:
        upload(created, b"x")
    api.deliver_events()
    faults = Faults(api.app_client("s3"))

    assert api.request("DELETE", f"/items/{item['id']}").status == 204
    faults.unreachable()
    capsys.readouterr()
    api.deliver_events()
    faults.heal()

    assert api.feeder is not None
    assert [entry["DDBStreamBatchInfo"]["batchSize"] for entry in api.feeder.dead_lettered] == [1]
    assert '"RecordCleanupFailures":[1.0]' in capsys.readouterr().out
    assert len(bucket_keys(f"attachments/{item['id']}/")) == 2
    assert api.deliver_events() == 2  # the removed attachment records
    assert bucket_keys(f"attachments/{item['id']}/") == set()


@pytest.mark.parametrize(
    ("variable", "down"), [("AWS_ENDPOINT_URL_DYNAMODB", "dynamodb"), ("AWS_ENDPOINT_URL_S3", "s3")]
)
def test_a_closed_port_is_a_503_and_health_names_the_dependency(
    api: InProcessApi,
    monkeypatch: pytest.MonkeyPatch,
    sleeps: list[float],
    variable: str,
    down: str,
) -> None:
    from chalicelib import container

    monkeypatch.setenv(variable, f"http://127.0.0.1:{closed_port()}")
    container.get_services.cache_clear()
    api.app_client(down)  # the app's clients are built now, against the closed port
    monkeypatch.delenv(variable)  # and the test's own clients keep reaching the emulator

    health = api.request("GET", "/health")
    assert health.status == 503
    assert health.header("Retry-After") == "5"
    up = "s3" if down == "dynamodb" else "dynamodb"
    assert health.json == {"status": "unavailable", "checks": {down: "unavailable", up: "ok"}}
    assert "127.0.0.1" not in health.body.decode()

    if down == "dynamodb":
        assert_clean(api.request("POST", "/items", {"name": "x"}), 503, "5")
        assert snapshot() == []
    else:
        item = api.create_item()  # DynamoDB still answers
        created = start_upload(api, item["id"])  # presigning needs no request to S3
        path = f"/items/{item['id']}/attachments/{created['attachment']['id']}"
        assert_clean(api.request("GET", path), 503, "5")
