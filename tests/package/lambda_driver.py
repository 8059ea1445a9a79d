"""Runs inside the clean "Lambda" virtualenv: imports the packaged app and serves events.

Started by ``test_lambda_import.py`` with ``python -I`` (no project, no PYTHONPATH on the path)
and the unpacked deployment zip as its only code, exactly like ``/var/task`` in Lambda. It reads
one JSON event per line on stdin and writes one JSON line per response on the original stdout;
everything the app prints (logs, EMF metrics) goes to stderr.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import re
import sys
import uuid
from typing import Any, TextIO


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


def describe(app_module: Any) -> dict[str, Any]:
    """Where everything was imported from, and what the Lambda-only code paths did."""
    import chalice

    from chalicelib import telemetry

    tracer_module = importlib.import_module("aws_xray_sdk.core")
    return {
        "python": list(sys.version_info[:2]),
        "app_file": app_module.__file__,
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
            [path, method] for path, methods in app_module.app.routes.items() for method in methods
        ),
        "modules_not_in_task": sorted(
            name
            for name in ("moto", "pytest", "chalice.cli", "click", "requests", "hypothesis")
            if name in sys.modules
        ),
    }


def main() -> int:
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.insert(0, task_root)
    # Responses go to a private copy of stdout; fd 1 (print, loggers) now goes to stderr.
    responses: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    app_module = importlib.import_module(os.environ["_HANDLER"].rsplit(".", 1)[0])
    handler = getattr(app_module, os.environ["_HANDLER"].rsplit(".", 1)[1])
    responses.write(json.dumps({"ready": describe(app_module)}) + "\n")
    for line in sys.stdin:
        event = json.loads(line)
        request_id = event.get("requestContext", {}).get("requestId") or str(uuid.uuid4())
        response = handler(event, LambdaContext(request_id))
        responses.write(json.dumps({"response": response}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
