"""Idempotent creates (issue 4.1) through the Chalice test client on in-process moto."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from tests.unit.harness import EDITOR, IDEMPOTENCY, InProcessApi, Reply, item_records


def stored_items() -> list[dict[str, Any]]:
    return item_records()


def idempotency_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=IDEMPOTENCY)["Items"]
    return records


def create(
    api: InProcessApi,
    body: Any,
    key: str | None,
    api_key: str = "key-a",
    token: str | None = None,
) -> Reply:
    """POST /items, by an editor unless ``token`` names someone else."""
    headers = {"x-api-key": api_key}
    if key is not None:
        headers["Idempotency-Key"] = key
    caller: object = token if token is not None else EDITOR
    if isinstance(body, str):  # JSON text, sent exactly as written
        return api.request("POST", "/items", None, headers, raw=body.encode(), token=caller)
    return api.request("POST", "/items", body, headers, token=caller)


def test_replay_returns_the_first_response_and_creates_nothing(api: InProcessApi) -> None:
    body = {"name": "mug", "tags": ["kitchen"], "attributes": {"price": 12.5}}
    first = create(api, body, "order-1")
    second = create(api, body, "order-1")
    third = create(api, body, "order-1")

    assert first.status == 201
    for replay in (second, third):
        assert replay.status == 201
        assert replay.body == first.body
        assert replay.header("ETag") == first.header("ETag") == '"1"'
        assert replay.header("Location") == first.header("Location")
        assert replay.header("Location") == f"/items/{first.json['id']}"
        assert replay.header("Content-Type") == "application/json"
    assert len(stored_items()) == 1


def test_replay_is_the_first_response_even_after_the_item_changed(api: InProcessApi) -> None:
    first = create(api, {"name": "mug"}, "order-2")
    item_id = first.json["id"]
    patched = api.request("PATCH", f"/items/{item_id}", {"name": "cup"})
    assert patched.status == 200

    replay = create(api, {"name": "mug"}, "order-2")
    assert replay.status == 201
    assert replay.body == first.body
    assert replay.header("ETag") == '"1"'
    assert len(stored_items()) == 1


def test_same_key_different_body_is_a_422(api: InProcessApi) -> None:
    first = create(api, {"name": "mug"}, "order-3")
    other = create(api, {"name": "plate"}, "order-3")
    typed = create(api, {"name": "mug", "attributes": {"n": "1"}}, "order-3")

    assert first.status == 201
    for reply in (other, typed):
        assert reply.status == 422
        assert reply.json["Code"] == "UnprocessableEntityError"
        assert reply.json["Message"].startswith("Idempotency-Key:")
    assert len(stored_items()) == 1


def test_bodies_are_compared_as_parsed_json(api: InProcessApi) -> None:
    first = create(api, ('{"name": "mug", "attributes": {"price": 0.10, "qty": 2}}'), "order-4")
    reordered = create(api, ('{"attributes":{"qty":2,"price":0.1},"name":"mug"}'), "order-4")
    spelled = create(api, ('{"name":"mug","attributes":{"price":1.0E-1,"qty":2.0}}'), "order-4")

    assert first.status == 201
    assert reordered.status == 201
    assert reordered.body == first.body
    assert spelled.status == 201
    assert spelled.body == first.body
    assert len(stored_items()) == 1


def test_the_same_key_from_another_principal_is_independent(api: InProcessApi) -> None:
    other_editor = api.tokens.person("another-editor", ["editors"])
    mine = create(api, {"name": "mug"}, "shared-key")
    theirs = create(api, {"name": "plate"}, "shared-key", token=other_editor)
    mine_again = create(api, {"name": "mug"}, "shared-key")

    assert mine.status == theirs.status == 201
    assert mine.json["id"] != theirs.json["id"]
    assert theirs.json["name"] == "plate"
    assert theirs.json["created_by"] == "another-editor"
    assert mine_again.body == mine.body
    assert len(stored_items()) == 2
    # The principal only appears hashed in the records.
    assert all("sub-editor" not in str(record) for record in idempotency_records())


def test_the_same_key_from_the_same_principal_with_another_api_key_replays(
    api: InProcessApi,
) -> None:
    # The API key names the client for metering; it is not who the request acts for.
    first = create(api, {"name": "mug"}, "metered-key", api_key="key-a")
    again = create(api, {"name": "mug"}, "metered-key", api_key="key-b")

    assert again.status == 201
    assert again.body == first.body
    assert len(stored_items()) == 1


def test_a_machine_client_and_a_person_never_share_keys(api: InProcessApi) -> None:
    machine = api.tokens.client(["items/read", "items/write"])
    person = create(api, {"name": "mug"}, "k-1")
    robot = create(api, {"name": "plate"}, "k-1", token=machine)

    assert person.status == robot.status == 201
    assert robot.json["created_by"] == "machine-client-test"
    assert len(stored_items()) == 2


def test_a_failed_first_attempt_is_not_remembered(api: InProcessApi) -> None:
    invalid = create(api, {"name": ""}, "order-5")
    assert invalid.status == 400
    assert stored_items() == []

    fixed = create(api, {"name": "mug"}, "order-5")
    assert fixed.status == 201
    replay = create(api, {"name": "mug"}, "order-5")
    assert replay.body == fixed.body
    assert len(stored_items()) == 1


def test_records_expire_after_24_hours(api: InProcessApi) -> None:
    before = int(time.time())
    assert create(api, {"name": "mug"}, "order-6").status == 201

    (record,) = idempotency_records()
    assert record["status"]["S"] == "COMPLETED"
    expiration = int(record["expiration"]["N"])
    # 24 h from when the request was made (the test itself takes far less than a minute).
    assert before + 24 * 3600 <= expiration <= before + 24 * 3600 + 60


def test_a_repeat_while_the_first_is_in_progress_is_a_409(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import container

    services = container.get_services()
    real_create = services.items.create
    entered, release = threading.Event(), threading.Event()

    def blocking_create(body: dict[str, Any], *, actor: str) -> dict[str, Any]:
        entered.set()
        assert release.wait(30), "the test never released the first request"
        return real_create(body, actor=actor)

    monkeypatch.setattr(services.items, "create", blocking_create)
    results: list[Reply] = []
    first = threading.Thread(target=lambda: results.append(create(api, {"name": "m"}, "o-7")))
    first.start()
    try:
        assert entered.wait(30), "the first request never reached create()"
        concurrent = create(api, {"name": "m"}, "o-7")
        different_body = create(api, {"name": "other"}, "o-7")
    finally:
        release.set()
        first.join(30)

    assert concurrent.status == 409
    assert concurrent.json["Code"] == "ConflictError"
    assert concurrent.json["Message"].startswith("Idempotency-Key:")
    # While in progress the body cannot be compared yet; the key is simply busy.
    assert different_body.status in (409, 422)
    (original,) = results
    assert original.status == 201
    replay = create(api, {"name": "m"}, "o-7")
    assert replay.status == 201
    assert replay.body == original.body
    assert len(stored_items()) == 1


@pytest.mark.parametrize(
    "key",
    ["", "   ", "x" * 256, "ключ", "tab\there", "new\nline", "\x7f"],
)
def test_invalid_idempotency_key_is_a_400(api: InProcessApi, key: str) -> None:
    reply = create(api, {"name": "mug"}, key)
    assert reply.status == 400
    assert reply.json["Message"].startswith("Idempotency-Key:")
    assert stored_items() == []


@pytest.mark.parametrize("key", ["a", "x" * 255, "order 1/2?#&=", "~!@#$%^&*()_+"])
def test_any_printable_key_up_to_255_characters_works(api: InProcessApi, key: str) -> None:
    first = create(api, {"name": "mug"}, key)
    replay = create(api, {"name": "mug"}, key)
    assert first.status == replay.status == 201
    assert replay.body == first.body
    assert len(stored_items()) == 1


def test_a_409_says_when_to_retry(api: InProcessApi, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import container

    services = container.get_services()
    real_create = services.items.create
    entered, release = threading.Event(), threading.Event()

    def blocking_create(body: dict[str, Any], *, actor: str) -> dict[str, Any]:
        entered.set()
        assert release.wait(30), "the test never released the first request"
        return real_create(body, actor=actor)

    monkeypatch.setattr(services.items, "create", blocking_create)
    first = threading.Thread(target=lambda: create(api, {"name": "m"}, "busy"))
    first.start()
    try:
        assert entered.wait(30)
        concurrent = create(api, {"name": "m"}, "busy")
    finally:
        release.set()
        first.join(30)
    assert concurrent.status == 409
    assert concurrent.header("Retry-After") == "1"


class _Later:
    """``datetime`` as Powertools' DynamoDB store sees it, ``seconds`` in the future."""

    def __init__(self, seconds: float) -> None:
        import datetime

        real = datetime.datetime

        class Shifted(real):  # type: ignore[misc, valid-type]
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return real.now(tz) + datetime.timedelta(seconds=seconds)

        self.datetime = Shifted
        self.timedelta = datetime.timedelta


def test_a_create_that_failed_with_its_record_leaves_it_only_as_long_as_an_invocation(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB failed during the create and again when Powertools deleted the record: the
    answer is a 503, and the in-progress record stays. Its retry is a 409 only while the first
    invocation could still be running: the function's timeout (20 s), not the 15 minutes of
    ``chalice local``'s context, nor 24 hours."""
    from aws_lambda_powertools.utilities.idempotency.persistence import dynamodb as store_module

    from chalicelib import container
    from chalicelib.errors import DependencyUnavailableError
    from chalicelib.settings import FUNCTION_TIMEOUT_SECONDS

    services = container.get_services()
    real_create = services.items.create
    real_delete = services.idempotency._store._delete_record

    def failing_create(body: dict[str, Any]) -> dict[str, Any]:
        raise DependencyUnavailableError("storage is unavailable, retry later")

    def failing_delete(*_: Any, **__: Any) -> None:
        raise RuntimeError("DynamoDB is still unreachable")

    monkeypatch.setattr(services.items, "create", failing_create)
    monkeypatch.setattr(services.idempotency._store, "_delete_record", failing_delete)
    started_ms = time.time() * 1000
    failed = create(api, {"name": "mug"}, "stuck")
    assert failed.status == 503
    (record,) = idempotency_records()
    assert record["status"]["S"] == "INPROGRESS"
    expires_ms = int(record["in_progress_expiration"]["N"])
    assert expires_ms <= started_ms + FUNCTION_TIMEOUT_SECONDS * 1000 + 5000
    monkeypatch.setattr(services.items, "create", real_create)
    monkeypatch.setattr(services.idempotency._store, "_delete_record", real_delete)

    blocked = create(api, {"name": "mug"}, "stuck")
    assert blocked.status == 409
    assert blocked.header("Retry-After") == "1"

    monkeypatch.setattr(store_module, "dt", _Later(FUNCTION_TIMEOUT_SECONDS + 1))
    retried = create(api, {"name": "mug"}, "stuck")
    assert retried.status == 201, retried.body
    assert len(stored_items()) == 1


def test_the_local_stand_in_for_an_invocation_is_the_deployed_timeout() -> None:
    from chalicelib.settings import FUNCTION_TIMEOUT_SECONDS
    from infrastructure.config import LAMBDA_TIMEOUT_S

    assert FUNCTION_TIMEOUT_SECONDS == LAMBDA_TIMEOUT_S


def test_the_invocation_deadline_is_the_shorter_of_the_context_and_the_timeout() -> None:
    from chalicelib.items.idempotency import InvocationDeadline

    now = [100.0]

    class Context:
        def __init__(self, remaining_ms: int) -> None:
            self.remaining_ms = remaining_ms

        def get_remaining_time_in_millis(self) -> int:
            return self.remaining_ms

    assert InvocationDeadline(None, lambda: now[0]).get_remaining_time_in_millis() == 20_000
    assert (
        InvocationDeadline(Context(900_000), lambda: now[0]).get_remaining_time_in_millis()
        == 20_000
    )
    assert (
        InvocationDeadline(Context(3_000), lambda: now[0]).get_remaining_time_in_millis() == 3_000
    )
    deadline = InvocationDeadline(Context(900_000), lambda: now[0])
    now[0] += 25
    assert deadline.get_remaining_time_in_millis() == 0
