"""AWS clients and the translation of AWS failures into domain errors.

Clients are created on first use (never at import time) and take their region and endpoint from
the standard environment (``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL_DYNAMODB``,
``AWS_ENDPOINT_URL_S3``), so the same code talks to the emulator locally and to AWS when deployed.

Every client comes from one botocore session per process: a session loads the endpoint rules,
retry policy and credentials once, where a new boto3 ``Session`` per client loaded them all again.
The clients are plain botocore clients (what boto3's are, minus boto3's S3 transfer methods,
whose import alone costs a cold start tens of milliseconds and which this API never calls).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from chalicelib.errors import DependencyUnavailableError, ThrottledError

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from botocore.session import Session

# botocore's default retry mode is still "legacy", whose back-off alone can sleep ~25 s. Standard
# mode with two attempts and short timeouts bounds one call to 2 x (0.5 s connect + 1.5 s read)
# plus at most 1 s of jittered back-off = 5 s. The busiest routes make three calls in a row
# (an idempotent create; deleting an attachment), so a request gives up within 15 s: inside the
# Lambda timeout (20 s), itself inside API Gateway's 29 s. DynamoDB answers in milliseconds and
# the S3 calls here move no file bytes, so these timeouts only ever cut off a sick connection.
MAX_ATTEMPTS = 2
CONNECT_TIMEOUT_SECONDS = 0.5
READ_TIMEOUT_SECONDS = 1.5

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "SlowDown",
    }
)
UNAVAILABLE_CODES = frozenset(
    {
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        # A missing table or bucket is a deployment fault; the client can only retry later.
        "ResourceNotFoundException",
        "NoSuchBucket",
    }
)


def client_config(service_name: str) -> Config:
    """The retry and timeout policy of every client the API creates."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        tcp_keepalive=True,
        # Presigned S3 URLs and POST policies must use SigV4 (SigV2 is refused in newer regions).
        signature_version="s3v4" if service_name == "s3" else None,
    )


_session: Session | None = None
# Creating clients from one session is not thread-safe (chalice local serves on threads).
_session_lock = threading.Lock()


def create_client(service_name: str) -> Any:
    """A new client for ``service_name`` with the API's retry policy, on the shared session."""
    global _session  # noqa: PLW0603 - the process's one session, created on first use
    with _session_lock:
        if _session is None:
            import botocore.session

            _session = botocore.session.get_session()
        return _session.create_client(service_name, config=client_config(service_name))


def error_code(exc: Exception) -> str:
    """The AWS error code of a ``ClientError`` (empty for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


@functools.cache
def _botocore_errors() -> tuple[type[ClientError], tuple[type[Exception], ...]]:
    """botocore's error classes, imported once (every AWS call of a request enters
    ``translated_aws_errors``; an import statement there cost each call its lookups)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
    )

    return ClientError, (ConnectionError, HTTPClientError, NoCredentialsError)


@contextmanager
def translated_aws_errors(dependency: str) -> Iterator[None]:
    """Turn throttling and unreachable-service failures into 429/503 domain errors.

    ``dependency`` is a neutral word for the message ("storage", "file storage"): no table,
    bucket, exception class or stack trace ever reaches a client.
    """
    client_error, unreachable = _botocore_errors()
    try:
        yield
    except client_error as exc:
        code = error_code(exc)
        if code in THROTTLING_CODES:
            raise ThrottledError(f"{dependency} is busy, retry later") from exc
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in UNAVAILABLE_CODES or status >= 500:
            raise DependencyUnavailableError(f"{dependency} is unavailable, retry later") from exc
        raise
    except unreachable as exc:
        raise DependencyUnavailableError(f"{dependency} is unavailable, retry later") from exc
