"""moto's server, with DynamoDB's atomicity: ``python -m localdev.moto_server -H host -p port``.

moto serves requests on threads and its DynamoDB backend takes no lock, so two conditional
writes of one item can both pass their condition when they arrive together (seen: two
``PATCH`` with the same ``If-Match`` both answered 200). DynamoDB applies every write of an item
atomically. This runs moto's own WSGI application with one lock around every DynamoDB and
DynamoDB Streams request (the table and its stream change together), and leaves every other
service concurrent, as moto serves them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

# The X-Amz-Target prefixes of DynamoDB's and DynamoDB Streams' JSON protocol.
_SERIALIZED_TARGETS = ("DynamoDB_20120810.", "DynamoDBStreams_20120810.")


def serialized_dynamodb(application: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """``application`` with DynamoDB requests handled one at a time (others untouched)."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(_SERIALIZED_TARGETS):
            with lock:
                return list(application(environ, start_response))
        return list(application(environ, start_response))

    return serve


def main(argv: list[str]) -> int:
    """What ``python -m moto.server -H host -p port`` does, with the lock in front."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog="python -m localdev.moto_server", description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    arguments = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(arguments.port))  # moto builds its URLs from it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    application = DomainDispatcherApplication(create_backend_app)
    run_simple(
        arguments.host,
        arguments.port,
        serialized_dynamodb(application),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
