"""Plays the Lambda Python runtime inside the clean virtualenv of ``lambda_layout``.

Started with ``python -I -B`` (no project, no PYTHONPATH on the path; no bytecode written, as
``/var/task`` is read-only in Lambda and ``-I`` ignores ``PYTHONDONTWRITEBYTECODE``) and the
unpacked deployment zip as its only code (``LAMBDA_TASK_ROOT``), exactly like ``/var/task``.
It imports the handler named by ``_HANDLER`` and, like the runtime, sets ``_X_AMZN_TRACE_ID``
before each invocation. Standard library only: nothing of the project is importable here.

- ``serve`` (the import proof): one JSON event per line on stdin, one JSON line per response
  on the original stdout; everything the function prints (logs, EMF metrics) goes to stderr.
- ``cold EVENT_FILE [WARM]`` (the benchmarks): import, answer one event, print the phases'
  times as one JSON line, and leave with ``os._exit`` as Lambda never tears a process down.
  With ``WARM`` > 0 it then times that many more invocations, each beside the bare DynamoDB
  ``GetItem`` named in ``BARE_GET_ITEM`` (JSON), interleaved.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before any other import: the phases below start here

# As few imports as the runtime's own bootstrap: whatever is imported here, the function does
# not pay for (the rest are imported where they are used, after the timed phases).
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any, TextIO  # noqa: E402


class LambdaContext:
    """The attributes of the context object the Lambda Python runtime passes to a handler."""

    def __init__(self, request_id: str) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{self.function_name}"
        )
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "proof"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def new_trace_header() -> str:
    """An X-Ray trace header as Lambda hands one to each sampled invocation."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=1"


def load_handler() -> Callable[[dict[str, Any], Any], Any]:
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    handler: Callable[[dict[str, Any], Any], Any] = getattr(
        importlib.import_module(module_name), function_name
    )
    return handler


def invoke(handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]) -> Any:
    request_id = event.get("requestContext", {}).get("requestId") or os.urandom(16).hex()
    os.environ["_X_AMZN_TRACE_ID"] = new_trace_header()
    return handler(event, LambdaContext(request_id))


def describe() -> dict[str, Any]:
    """Where everything was imported from, and what the Lambda-only code paths did."""
    import importlib.metadata
    import re

    import chalice

    from chalicelib import telemetry

    # A handler outside app.py (the token authorizer's module) runs without importing app.
    app_module = sys.modules.get("app")
    tracer_module = importlib.import_module("aws_xray_sdk.core")
    return {
        "python": list(sys.version_info[:2]),
        "app_file": app_module.__file__ if app_module else None,
        "chalice_file": chalice.__file__,
        "chalicelib_file": importlib.import_module("chalicelib").__file__,
        "botocore": importlib.metadata.version("botocore"),
        "boto3": importlib.metadata.version("boto3"),
        "distributions": sorted(
            # Normalized as PEP 503 names ("aws_lambda_powertools" is "aws-lambda-powertools").
            re.sub(r"[-_.]+", "-", d.metadata["Name"] or "").lower()
            for d in importlib.metadata.distributions()
        ),
        "in_lambda": telemetry.in_lambda(),
        "tracer": type(telemetry.tracer()).__name__,
        "xray_sdk": tracer_module.__name__,
        "routes": sorted(
            [path, method]
            for path, methods in (app_module.app.routes.items() if app_module else ())
            for method in methods
        ),
        "stale_or_missing_bytecode": _without_usable_bytecode(),
        "modules_not_in_task": sorted(
            name
            for name in ("moto", "pytest", "chalice.cli", "click", "requests", "hypothesis")
            if name in sys.modules
        ),
    }


def _without_usable_bytecode() -> list[str]:
    """Modules imported from the task root whose shipped ``.pyc`` this interpreter would not
    use (missing, another magic number, or not matching its source's hash)."""
    import importlib.util

    task_root = os.environ["LAMBDA_TASK_ROOT"]
    stale = []
    for name, module in sorted(sys.modules.items()):
        source = getattr(module, "__file__", None) or ""
        if not source.startswith(task_root + "/") or not source.endswith(".py"):
            continue
        try:
            with open(importlib.util.cache_from_source(source), "rb") as cached:
                header = cached.read(16)
        except OSError:
            stale.append(name)
            continue
        with open(source, "rb") as code:
            expected = importlib.util.source_hash(code.read())
        # PEP 552: magic, flags (0b11: checked hash), then the source's hash.
        checked_hash = int.from_bytes(header[4:8], "little") == 0b11
        if header[:4] != importlib.util.MAGIC_NUMBER or not checked_hash or header[8:] != expected:
            stale.append(name)
    return stale


def serve() -> int:
    # Responses go to a private copy of stdout; fd 1 (print, loggers) now goes to stderr.
    responses: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    handler = load_handler()
    responses.write(json.dumps({"ready": describe()}) + "\n")
    for line in sys.stdin:
        response = invoke(handler, json.loads(line))
        responses.write(json.dumps({"response": response}) + "\n")
    return 0


def cold(event_file: str, warm: int) -> None:
    """Import and answer one event, report the phases, then ``os._exit`` (never returns)."""
    with open(event_file) as source:
        event = json.load(source)
    results: TextIO = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the function's logs and metrics are written, into a sink

    started_import = time.perf_counter()
    handler = load_handler()
    imported = time.perf_counter()
    response = invoke(handler, event)
    answered = time.perf_counter()
    report: dict[str, Any] = {
        "runtime_s": started_import - STARTED,
        "import_s": imported - started_import,
        "first_request_s": answered - imported,
        "status": response.get("statusCode"),
        "body": response.get("body"),
        "modules": len(sys.modules),
        "peak_rss_bytes": _peak_rss_bytes(),
    }
    if warm:
        report["warm"] = _warm(handler, event, warm)
    results.write(json.dumps(report) + "\n")
    results.flush()
    os._exit(0)


def _peak_rss_bytes() -> int:
    """This process's peak RSS since its ``exec`` (``VmHWM``; ``ru_maxrss`` would include the
    parent's pages the process had before ``exec``, as Linux keeps it across ``execve``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _warm(
    handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], repetitions: int
) -> dict[str, float]:
    """Median CPU seconds of the handler and of the bare GetItem, interleaved after a warm-up
    (CPU time of this process: the emulator's own time and the other sessions' load stay out)."""
    import statistics

    import boto3

    request = json.loads(os.environ["BARE_GET_ITEM"])
    client = boto3.client("dynamodb")

    def bare() -> None:
        client.get_item(**request)

    def through_the_handler() -> None:
        assert invoke(handler, event)["statusCode"] == 200

    for _ in range(repetitions // 10 + 5):
        through_the_handler()
        bare()
    ours, baseline = [], []
    for _ in range(repetitions):
        started = time.process_time()
        through_the_handler()
        middle = time.process_time()
        bare()
        ours.append(middle - started)
        baseline.append(time.process_time() - middle)
    return {"handler_s": statistics.median(ours), "bare_s": statistics.median(baseline)}


def main(argv: list[str]) -> int:
    # Bytecode compiled on one start must not speed up the next: Lambda cannot keep it.
    assert sys.flags.dont_write_bytecode, "start the driver with python -I -B"
    if argv[:1] == ["cold"]:
        cold(argv[1], int(argv[2]) if len(argv) > 2 else 0)
    return serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
