"""moto's server, as `make run` and the tests run it, with DynamoDB's atomic writes.

DynamoDB applies a conditional write atomically: of two concurrent ``UpdateItem`` calls whose
condition names the same version, one writes and the other fails its condition. moto's
threaded server checks the condition and writes without a lock, so both can win: eight
concurrent ``PATCH``es with one ``If-Match`` had two winners in about one burst in eight (more
once ``chalice local`` stopped refusing connections beyond five). This serves moto's own WSGI
application with DynamoDB requests taken one at a time, which is what makes conditions hold;
moto answers each in milliseconds. Everything else (S3 uploads) stays concurrent.

It also honours ``TransactWriteItems``' ``ClientRequestToken``, which moto ignores. botocore fills
the token in once per call and sends it again on every retry; DynamoDB answers a repeat of a
completed, successful transaction with the same token (within 10 minutes) with success and
changes nothing, and a repeat with other parameters with ``IdempotentParameterMismatchException``.
Without that, a create whose first attempt was applied but answered after the client's read
timeout failed its own ``attribute_not_exists`` condition on the retry: a 500 for a write that
had succeeded.

And moto 5.2's ``TransactWriteItems`` backs up the whole table (items, indexes and stream
records) with ``copy.deepcopy`` once *per action*: the API's create is one item and up to nine
filter entries, so each create copied the table ten times and creates grew slower with every item
stored (past botocore's 1.5 s read timeout after a few hundred items on a loaded machine: 503s).
``copy_each_table_once`` keeps moto's rollback but copies each table once per transaction.

``python -m localdev.moto_server -H HOST -p PORT`` (run through ``localdev.guard``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# X-Amz-Target of DynamoDB's JSON protocol (and of its streams): DynamoDB_20120810.UpdateItem
SERIALIZED_TARGETS = ("DynamoDB_", "DynamoDBStreams_")
TRANSACT_WRITE_TARGET = "DynamoDB_20120810.TransactWriteItems"
# How long DynamoDB holds a client request token after its transaction completed.
TOKEN_LIFETIME_SECONDS = 600.0


class _Answer:
    """A WSGI answer's status and headers, recorded so that it can be given again."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        self.status, self.headers = status, list(headers)


class TransactionTokens:
    """Successful ``TransactWriteItems`` answers by client request token, as DynamoDB keeps them.

    Called with the serializing lock held, so a token's first use and its replay never overlap.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # token -> (digest of the request's other parameters, status, headers, body, completed at)
        self._completed: dict[str, tuple[str, str, list[tuple[str, str]], bytes, float]] = {}

    def handle(
        self, app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        token = request.pop("ClientRequestToken", None) if isinstance(request, dict) else None
        if not isinstance(token, str):
            return list(app(environ, start_response))
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        now = self._clock()
        self._completed = {
            t: kept for t, kept in self._completed.items() if now - kept[4] < TOKEN_LIFETIME_SECONDS
        }
        if token in self._completed:
            seen, status, headers, answer, _ = self._completed[token]
            if seen != digest:
                return self._mismatch(start_response)
            start_response(status, headers)
            return [answer]
        recorded = _Answer()
        answer = b"".join(app(environ, recorded.start_response))
        if recorded.status.startswith("200"):
            self._completed[token] = (digest, recorded.status, recorded.headers, answer, now)
        start_response(recorded.status, recorded.headers)
        return [answer]

    @staticmethod
    def _mismatch(start_response: Callable[..., Any]) -> list[bytes]:
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "message": "The request uses the same client token as a previous, but non-identical"
                " request.",
            }
        ).encode()
        start_response(
            "400 Bad Request",
            [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
        )
        return [body]


def serialize_dynamodb(app: WsgiApp) -> WsgiApp:
    """``app`` with DynamoDB requests handled one at a time, each answered in full, and
    transactions' client request tokens honoured (:class:`TransactionTokens`)."""
    lock = threading.Lock()
    tokens = TransactionTokens()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith(SERIALIZED_TARGETS):
            with lock:
                if target == TRANSACT_WRITE_TARGET:
                    return tokens.handle(app, environ, start_response)
                return list(app(environ, start_response))
        return app(environ, start_response)

    return application


def copy_each_table_once() -> None:
    """Patch moto's ``transact_write_items`` so its backup copies each table once per call.

    moto copies ``self.tables[name]`` for every action of the transaction into a dict keyed by
    table name, so all but the last copy of a table are thrown away; returning the first copy
    again is the same backup. Only ``Table`` objects are memoized, and only during the call.
    """
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    class CopyOncePerTable:
        def __init__(self) -> None:
            self.tables: dict[int, Any] = {}

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table):
                if id(value) not in self.tables:
                    self.tables[id(value)] = copy.deepcopy(value, memo)
                return self.tables[id(value)]
            return copy.deepcopy(value, memo)

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        # DynamoDB requests are serialized (serialize_dynamodb), so no other call sees the shim.
        vars(models)["copy"] = CopyOncePerTable()
        try:
            original(self, transact_items)
        finally:
            vars(models)["copy"] = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog="localdev.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    copy_each_table_once()
    run_simple(
        args.host,
        args.port,
        serialize_dynamodb(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
