"""Start moto's server and create the tables and bucket the `local` stage expects.

Shared by `make run` and the integration tests so both meet the same emulator, built from the
same table definitions as the CDK stack (``chalicelib.schema``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib import settings
from chalicelib.schema import (
    IDEMPOTENCY_TABLE,
    ITEMS_TABLE,
    TableDefinition,
    uploads_event_pattern,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = PROJECT_DIR / ".chalice" / "config.json"
FAKE_CREDENTIALS = {
    # moto accepts any credentials; these keep boto3 from looking for real ones.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def local_stage_environment() -> dict[str, str]:
    """The ``environment_variables`` of the ``local`` stage in `.chalice/config.json`."""
    config = json.loads(CHALICE_CONFIG.read_text())
    return dict(config["stages"]["local"]["environment_variables"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_http(
    url: str, timeout: float = 30.0, process: subprocess.Popen[Any] | None = None
) -> None:
    """Wait until ``url`` answers at all (any HTTP status), or fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def start_moto_server(port: int, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """moto in server mode on 127.0.0.1:``port``, ready when this returns; it dies with this
    process (``localdev.guard``)."""
    from localdev import guard

    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        guard.module_command("localdev.moto_server", "-H", "127.0.0.1", "-p", str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=PROJECT_DIR,  # where `-m localdev.guard` is found
        env=guard.child_environment(dict(os.environ)),
    )
    wait_for_http(f"http://127.0.0.1:{port}/moto-api/", process=process)
    return process


def start_event_feeder(
    environment: dict[str, str], log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """``localdev.events`` in its own process, with the local stage's ``environment``; it dies
    with this process (``localdev.guard``)."""
    from localdev import guard

    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        guard.module_command("localdev.events"),
        cwd=PROJECT_DIR,
        env=guard.child_environment(process_environment(environment)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _create_table(client: Any, name: str, definition: TableDefinition) -> None:
    try:
        client.create_table(**definition.create_table_kwargs(name))
    except client.exceptions.ResourceInUseException:
        return
    if definition.ttl_attribute:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
        )


def bootstrap(environment: dict[str, str]) -> None:
    """Create the tables, bucket, queues and rule named in ``environment`` if missing."""
    from localdev.events import emulator_clients

    create_resources(environment, emulator_clients(environment))


def create_resources(environment: dict[str, str], client: Callable[[str], Any]) -> None:
    """The local stack: the tables (with their stream and TTL), the bucket (answering CORS like
    the stack's, its events sent to EventBridge), the uploads rule and the feeder's queues.
    ``client(service)`` gives a client of the emulator (or of moto's in-process mock)."""
    from localdev.events import (
        CLEANUP_DEAD_LETTERS,
        UPLOADS_DEAD_LETTERS,
        UPLOADS_QUEUE,
        UPLOADS_RULE,
    )

    dynamodb = client("dynamodb")
    _create_table(dynamodb, environment[settings.ITEMS_TABLE_NAME], ITEMS_TABLE)
    _create_table(dynamodb, environment[settings.IDEMPOTENCY_TABLE_NAME], IDEMPOTENCY_TABLE)
    s3 = client("s3")
    bucket = environment[settings.ASSETS_BUCKET_NAME]
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    # Browsers upload attachments straight to the bucket, so it answers CORS like the stack's.
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["GET", "POST"],
                    "AllowedOrigins": [environment.get(settings.CORS_ALLOW_ORIGIN, "*")],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )
    # New attachment files: S3 -> EventBridge -> the stack's rule -> (here) a queue the local
    # event feeder reads, where the stack targets the confirm_upload function.
    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName=UPLOADS_QUEUE)["QueueUrl"]
    for name in (UPLOADS_DEAD_LETTERS, CLEANUP_DEAD_LETTERS):
        sqs.create_queue(QueueName=name)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = client("events")
    events.put_rule(Name=UPLOADS_RULE, EventPattern=json.dumps(uploads_event_pattern(bucket)))
    events.put_targets(Rule=UPLOADS_RULE, Targets=[{"Id": "feeder", "Arn": queue_arn}])
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )


def with_emulator_port(environment: dict[str, str], port: int) -> dict[str, str]:
    """``environment`` with every emulator endpoint (each ``AWS_ENDPOINT_URL*``, whichever
    services the stage names) moved to ``port``."""
    endpoint = f"http://127.0.0.1:{port}"
    moved = {name: endpoint for name in environment if name.startswith("AWS_ENDPOINT_URL")}
    return {**environment, **moved}


def emulator_port(environment: dict[str, str]) -> int:
    """The port of the emulator endpoint configured in ``environment``."""
    return int(environment["AWS_ENDPOINT_URL_DYNAMODB"].rsplit(":", 1)[1].rstrip("/"))


def process_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment plus fake credentials and ``extra``."""
    return {**os.environ, **FAKE_CREDENTIALS, **extra}
