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
from collections.abc import Callable
from decimal import Decimal
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

EXPIRES_AFTER_SECONDS = 24 * 60 * 60
_KEY_PATTERN = re.compile(r"^[\x20-\x7e]{1,255}$")


def parse_idempotency_key(value: str | None) -> str | None:
    """The ``Idempotency-Key`` header: 1 to 255 printable ASCII characters, or absent."""
    if value is None:
        return None
    if not _KEY_PATTERN.match(value) or not value.strip():
        raise ValidationError("Idempotency-Key: must be 1 to 255 printable ASCII characters")
    return value


def fingerprint(value: Any) -> str:
    """A digest of a parsed JSON value that ignores key order and number spelling.

    ``{"a": 0.10}`` and ``{"a": 0.1}`` are the same request; ``1`` and ``"1"`` are not. Strings
    are JSON-quoted and numbers tagged, so no value of one type can collide with another.
    """

    def canonical(node: Any) -> str:
        if isinstance(node, dict):
            items = sorted((json.dumps(k), canonical(v)) for k, v in node.items())
            return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
        if isinstance(node, list):
            return "[" + ",".join(canonical(v) for v in node) + "]"
        if isinstance(node, (int, Decimal)) and not isinstance(node, bool):
            return "n:" + str(Decimal(node).normalize())
        return json.dumps(node)

    return hashlib.sha256(canonical(value).encode()).hexdigest()


def _persistence_error(exc: Exception) -> Exception:
    cause: BaseException | None = exc
    while cause is not None:
        if error_code(cause) in THROTTLING_CODES:  # type: ignore[arg-type]
            return ThrottledError("storage is busy, retry later")
        cause = cause.__cause__ or cause.__context__
    return DependencyUnavailableError("storage is unavailable, retry later")


class IdempotentCreates:
    """Runs a create at most once per idempotency key, replaying its first response."""

    def __init__(self, client: Any, table_name: str) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
        )

        self._store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._config = IdempotencyConfig(
            event_key_jmespath="[scope, key]",
            payload_validation_jmespath="fingerprint",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=EXPIRES_AFTER_SECONDS,
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
        ``create`` must return a JSON-serializable response record. With ``lambda_context``
        an in-progress record expires with the invocation, so a crashed attempt does not block
        its key for 24 hours. ``discard(result)`` undoes a create whose result could not be
        recorded: the client is told to retry, and that retry must not apply it a second time.
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

        if lambda_context is not None:
            self._config.register_lambda_context(lambda_context)
        once = idempotent_function(
            data_keyword_argument="request", persistence_store=self._store, config=self._config
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
