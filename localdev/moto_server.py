"""moto's server, as `make run` and the tests run it, with DynamoDB's atomic writes.

DynamoDB applies a conditional write atomically: of two concurrent ``UpdateItem`` calls whose
condition names the same version, one writes and the other fails its condition. moto's
threaded server checks the condition and writes without a lock, so both can win: eight
concurrent ``PATCH``es with one ``If-Match`` had two winners in about one burst in eight (more
once ``chalice local`` stopped refusing connections beyond five). This serves moto's own WSGI
application with DynamoDB requests taken one at a time, which is what makes conditions hold;
moto answers each in milliseconds. Everything else (S3 uploads) stays concurrent.

moto 5.2's ``TransactWriteItems`` backs up the whole table (items, indexes and stream records)
with ``copy.deepcopy`` once *per action*: the API's create is one item and nine filter entries,
so each create copied the table ten times and creates grew slower with every item stored (under
a second with an empty table, past botocore's 1.5 s read timeout after about a hundred items on a
loaded machine, which made the API's retried transaction fail). ``copy_each_table_once`` keeps
moto's rollback but copies each table once per transaction.

``python -m localdev.moto_server -H HOST -p PORT`` (run through ``localdev.guard``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# X-Amz-Target of DynamoDB's JSON protocol (and of its streams): DynamoDB_20120810.UpdateItem
SERIALIZED_TARGETS = ("DynamoDB_", "DynamoDBStreams_")


def serialize_dynamodb(app: WsgiApp) -> WsgiApp:
    """``app`` with DynamoDB requests handled one at a time, each answered in full."""
    lock = threading.Lock()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(SERIALIZED_TARGETS):
            with lock:
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
