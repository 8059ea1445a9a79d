"""moto's server, as `make run` and the tests run it, with DynamoDB's atomic writes.

DynamoDB applies a conditional write atomically: of two concurrent ``UpdateItem`` calls whose
condition names the same version, one writes and the other fails its condition. moto's
threaded server checks the condition and writes without a lock, so both can win: eight
concurrent ``PATCH``es with one ``If-Match`` had two winners in about one burst in eight (more
once ``chalice local`` stopped refusing connections beyond five). This serves moto's own WSGI
application with DynamoDB requests taken one at a time, which is what makes conditions hold;
moto answers each in milliseconds. Everything else (S3 uploads) stays concurrent.

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
    run_simple(
        args.host,
        args.port,
        serialize_dynamodb(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
