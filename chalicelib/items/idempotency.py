"""Idempotent creates, on Powertools for AWS Lambda's idempotency utility.

A create with an ``Idempotency-Key`` runs at most once per (principal, idempotency key) for 24
hours: Powertools records the key in DynamoDB with a conditional write before running it and
stores the response after, so a repeat gets the first response back, a repeat while the first
is running is refused, and concurrent repeats cannot both run. A failed first attempt deletes its
record, so a retry may succeed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from typing import Any

from chalicelib import telemetry
from chalicelib.aws import THROTTLING_CODES, error_code
from chalicelib.errors import (
    ConflictError,
    DependencyUnavailableError,
    ItemsApiError,
    ThrottledError,
    UnprocessableEntityError,
    ValidationError,
)
from chalicelib.jsonio import UnrepresentableNumber
from chalicelib.settings import FUNCTION_TIMEOUT_SECONDS

EXPIRES_AFTER_SECONDS = 24 * 60 * 60
# Printable ASCII, at least one character not a space (the length, 1..255, is checked apart).
KEY_PATTERN = r"[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*"
_KEY = re.compile(KEY_PATTERN)
MAX_KEY_LENGTH = 255


def parse_idempotency_key(value: str | None) -> str | None:
    """The ``Idempotency-Key`` header: 1 to 255 printable ASCII characters, or absent."""
    if value is None:
        return None
    if len(value) > MAX_KEY_LENGTH or not _KEY.fullmatch(value):
        raise ValidationError("Idempotency-Key: must be 1 to 255 printable ASCII characters")
    return value


def _canonical_number(number: int | Decimal) -> str:
    """A number's value as text, the same for every spelling (``0.10``, ``1.0E-1``, ``0.1``).

    ``Decimal.normalize()`` in a context as precise as the number itself: the default context
    would round to 28 digits (two 38-digit numbers would look alike) and overflow on large
    exponents. For every number the default context did hold, the text is what it gave, so the
    fingerprints of records written before stay the same.
    """
    if isinstance(number, UnrepresentableNumber):
        return "x:" + number.text.lower()
    exact = Decimal(number)
    context = Context(prec=max(1, len(exact.as_tuple().digits)), Emax=MAX_EMAX, Emin=MIN_EMIN)
    return str(context.normalize(exact))


def fingerprint(value: Any) -> str:
    """A digest of a parsed JSON value that ignores key order and number spelling.

    ``{"a": 0.10}`` and ``{"a": 0.1}`` are the same request; ``1`` and ``"1"`` are not. Strings
    are JSON-quoted and numbers tagged, so no value of one type can collide with another.
    Recursive: bodies reach it from ``jsonio.parse_json_object``, which bounds their depth.
    """

    def canonical(node: Any) -> str:
        if isinstance(node, dict):
            items = sorted((json.dumps(k), canonical(v)) for k, v in node.items())
            return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
        if isinstance(node, list):
            return "[" + ",".join(canonical(v) for v in node) + "]"
        if isinstance(node, (int, Decimal)) and not isinstance(node, bool):
            return "n:" + _canonical_number(node)
        return json.dumps(node)

    return hashlib.sha256(canonical(value).encode()).hexdigest()


class InvocationDeadline:
    """The part of a Lambda context Powertools reads: the milliseconds the invocation has left.

    Powertools lets a retry take over an in-progress record once that time has passed. In
    Lambda it is the context's own figure. ``chalice local`` and the test client give contexts
    of 15 minutes (or none), so a create that failed without clearing its record blocked its key
    for that long; here the time left is also bounded by the deployed function's timeout,
    counted from when the request started, so locally the record expires as it would in Lambda.
    """

    def __init__(self, context: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self._context = context
        self._clock = clock
        self._deadline = clock() + FUNCTION_TIMEOUT_SECONDS

    def get_remaining_time_in_millis(self) -> int:
        own = max(0, int((self._deadline - self._clock()) * 1000))
        remaining = getattr(self._context, "get_remaining_time_in_millis", None)
        return own if remaining is None else max(0, min(own, int(remaining())))


def _persistence_error(exc: Exception) -> Exception:
    cause: BaseException | None = exc
    while cause is not None:
        if error_code(cause) in THROTTLING_CODES:  # type: ignore[arg-type]
            return ThrottledError("storage is busy, retry later")
        cause = cause.__cause__ or cause.__context__
    return DependencyUnavailableError("storage is unavailable, retry later")


class IdempotentCreates:
    """Runs a create at most once per idempotency key, replaying its first response."""

    def __init__(
        self, client: Any, table_name: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
        )

        self._store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._config_class = IdempotencyConfig
        self._clock = clock

    def _config(self, lambda_context: Any) -> Any:
        # One config per request: Powertools keeps the Lambda context in it, and ``chalice
        # local`` serves requests on threads.
        # Powertools types this as LambdaContext; it only calls get_remaining_time_in_millis().
        deadline: Any = InvocationDeadline(lambda_context, self._clock)
        return self._config_class(
            event_key_jmespath="[scope, key]",
            payload_validation_jmespath="fingerprint",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=EXPIRES_AFTER_SECONDS,
            lambda_context=deadline,
        )

    def run_once(
        self,
        *,
        key: str,
        scope: str,
        body: dict[str, Any],
        create: Callable[[], dict[str, Any]],
        discard: Callable[[dict[str, Any]], None] | None = None,
        lambda_context: Any = None,
    ) -> dict[str, Any]:
        """``create()``'s result, computed now or replayed from the first request with ``key``.

        ``scope`` separates principals (the token's subject), so two callers never share a key
        space.
        ``create`` must return a JSON-serializable response record. An in-progress record
        expires when the invocation would (see :class:`InvocationDeadline`), so a crashed
        attempt does not block its key for 24 hours. ``discard(result)`` undoes a create whose
        result could not be recorded: the client is told to retry, and that retry must not apply
        it a second time.
        """
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        created: list[dict[str, Any]] = []

        def create_item(request: dict[str, Any]) -> dict[str, Any]:
            created.append(create())
            return created[0]

        once = idempotent_function(
            data_keyword_argument="request",
            persistence_store=self._store,
            config=self._config(lambda_context),
        )(create_item)
        request = {
            "scope": hashlib.sha256(scope.encode()).hexdigest(),
            "key": key,
            "fingerprint": fingerprint(body),
        }
        try:
            result: dict[str, Any] = once(request=request)
        except IdempotencyValidationError as exc:
            raise UnprocessableEntityError(
                "Idempotency-Key: already used with a different request body"
            ) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise ConflictError(
                "Idempotency-Key: a request with this key is still in progress, retry later"
            ) from exc
        except IdempotencyPersistenceLayerError as exc:
            if created and discard is not None:
                _discard_quietly(discard, created[0])
            raise _persistence_error(exc) from exc
        return result


def _discard_quietly(discard: Callable[[dict[str, Any]], None], result: dict[str, Any]) -> None:
    """Undo a create whose record failed; the client's answer is the record's error either way."""
    try:
        discard(result)
    except ItemsApiError as exc:
        telemetry.logger().warning(
            "could not undo a create after its idempotency record failed",
            extra={"location": result.get("headers", {}).get("Location"), "error": str(exc)},
        )
