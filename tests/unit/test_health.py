"""``GET /health`` cannot be used to drain capacity (issue 10, defect 12): it needs no API key,
so its dependency checks (a DynamoDB read, an S3 request) run at most once per interval in each
process, however many requests arrive. Counted in AWS requests; time is moved, never waited."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.errors import DependencyUnavailableError
from chalicelib.health import CHECK_INTERVAL_SECONDS, DependencyHealth
from tests.unit.harness import InProcessApi

FLOOD = 50


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Check:
    """A dependency check that counts its runs and fails while ``down``."""

    def __init__(self) -> None:
        self.runs = 0
        self.down = False

    def __call__(self) -> None:
        self.runs += 1
        if self.down:
            raise DependencyUnavailableError("storage is unavailable, retry later")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_flood_runs_each_check_once_per_interval(clock: Clock) -> None:
    table, bucket = Check(), Check()
    health = DependencyHealth({"dynamodb": table, "s3": bucket}, clock=clock)

    for _ in range(FLOOD):
        assert health.states() == {"dynamodb": "ok", "s3": "ok"}
    assert (table.runs, bucket.runs) == (1, 1)

    clock.now += CHECK_INTERVAL_SECONDS - 0.001
    health.states()
    assert (table.runs, bucket.runs) == (1, 1)

    clock.now += 0.001
    for _ in range(FLOOD):
        health.states()
    assert (table.runs, bucket.runs) == (2, 2)


def test_a_failure_is_remembered_too_and_a_recovery_seen_after_the_interval(
    clock: Clock,
) -> None:
    """During an outage a flood must not add retries to a dependency that is struggling."""
    table = Check()
    table.down = True
    health = DependencyHealth({"dynamodb": table}, clock=clock)

    for _ in range(FLOOD):
        assert health.states() == {"dynamodb": "unavailable"}
    assert table.runs == 1

    table.down = False
    assert health.states() == {"dynamodb": "unavailable"}
    clock.now += CHECK_INTERVAL_SECONDS
    assert health.states() == {"dynamodb": "ok"}
    assert table.runs == 2


def test_concurrent_requests_share_one_check(clock: Clock) -> None:
    """``chalice local`` is threaded: requests arriving while a check runs wait for its result
    instead of each starting one more."""
    release = threading.Event()
    runs: list[int] = []

    def slow_check() -> None:
        runs.append(1)
        release.wait(timeout=30)

    health = DependencyHealth({"dynamodb": slow_check}, clock=clock)
    results: list[dict[str, str]] = []
    threads = [threading.Thread(target=lambda: results.append(health.states())) for _ in range(16)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert results == [{"dynamodb": "ok"}] * 16
    assert runs == [1]


def test_the_states_handed_out_are_copies(clock: Clock) -> None:
    health = DependencyHealth({"dynamodb": Check()}, clock=clock)

    health.states()["dynamodb"] = "tampered"

    assert health.states() == {"dynamodb": "ok"}


class AwsRequests:
    """Every request the app's own botocore clients send, by service and operation."""

    def __init__(self, api: InProcessApi) -> None:
        self.sent: list[str] = []
        for service in ("dynamodb", "s3"):
            api.app_client(service).meta.events.register("before-call", self._record)

    def _record(self, event_name: str, **_: Any) -> None:
        self.sent.append(event_name.removeprefix("before-call."))


def test_a_flood_of_health_requests_costs_one_read_and_one_s3_request_per_interval(
    api: InProcessApi,
) -> None:
    sent = AwsRequests(api)

    for _ in range(FLOOD):
        reply = api.request("GET", "/health")
        assert reply.status == 200
        assert reply.json == {"status": "ok", "checks": {"dynamodb": "ok", "s3": "ok"}}
    assert sorted(sent.sent) == ["dynamodb.GetItem", "s3.HeadObject"]

    api.recheck_health()
    for _ in range(FLOOD):
        api.request("GET", "/health")
    assert sorted(sent.sent) == ["dynamodb.GetItem"] * 2 + ["s3.HeadObject"] * 2


def test_other_routes_are_not_cached(api: InProcessApi) -> None:
    """Only the health checks are remembered: every item request still reaches the table."""
    sent = AwsRequests(api)
    item = api.create_item()

    for _ in range(3):
        assert api.request("GET", f"/items/{item['id']}").status == 200

    assert sent.sent.count("dynamodb.GetItem") == 3
