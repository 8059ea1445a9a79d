"""The live-server harness of the integration tests: one moto server and one
``chalice local --no-autoreload`` per test session, both real processes on free ports, started
as `make run` starts them (``localdev``: they die with the test session, whatever ends it, and
the server takes a burst of 64 clients). ``chalice local`` sets the stage's environment over its
own, so it runs on a staged project (``localdev.project``) whose local stage points at this
session's emulator. The emulator also holds the local user pool, and the sign-in stand-in
(``localdev.identity``) serves what moto lacks, as under ``make run``; requests carry an editor's
access token from that pool unless told otherwise. The ``live`` fixture is in
``tests/integration/conftest.py``.
"""

from __future__ import annotations

import atexit
import functools
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests

from localdev import chalice_local, guard
from localdev.emulator import (
    FAKE_CREDENTIALS,
    PROJECT_DIR,
    bootstrap,
    free_port,
    local_stage_environment,
    process_environment,
    start_event_feeder,
    start_moto_server,
    wait_for_http,
    with_emulator_port,
)
from localdev.identity import (
    IdentityStandIn,
    LocalIdentity,
    bootstrap_identity,
    local_user_token,
    trusted_issuers,
)
from localdev.project import stage_project

API_KEY = "integration-test-key"
# Where the browser tests' console returns after signing in (start_console binds this port).
CONSOLE_PORT = free_port()
CONSOLE_CALLBACK = f"http://127.0.0.1:{CONSOLE_PORT}/"
EDITOR = object()  # the default caller of LiveApi.request: the local editor user


@dataclass
class LiveApi:
    """The API served by ``chalice local`` against the moto server, over real HTTP."""

    url: str
    environment: dict[str, str]  # the local stage's environment, on this session's emulator
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workdir: Path | None = None
    session: requests.Session = field(default_factory=requests.Session)
    identity: LocalIdentity | None = None
    stand_in: IdentityStandIn | None = None
    servers: list[Any] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str = "editor") -> str:
        """An access token of a local user, from the emulator's user pool (cached)."""
        assert self.identity is not None
        if username not in self._tokens:
            self._tokens[username] = local_user_token(self.identity, username)
        return self._tokens[username]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        raw: bytes | None = None,
        api_key: str | None = API_KEY,
        token: object = EDITOR,
    ) -> requests.Response:
        """``token``: the bearer token (the editor's by default, ``None`` for none)."""
        sent = {"x-api-key": api_key} if api_key else {}
        if token is EDITOR:
            sent["Authorization"] = f"Bearer {self.token()}"
        elif isinstance(token, str):
            sent["Authorization"] = f"Bearer {token}"
        if body is not None or raw is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        return self.session.request(
            method, self.url + path, data=data, headers=sent, allow_redirects=False, timeout=30
        )

    def create_item(self, name: str = "thing", **fields: Any) -> dict[str, Any]:
        response = self.request("POST", "/items", {"name": name, **fields})
        assert response.status_code == 201, response.text
        item: dict[str, Any] = response.json()
        return item

    def aws(self, service: str) -> Any:
        """A boto3 client of the emulator, for looking behind the API."""
        return boto3.session.Session(
            region_name=self.environment["AWS_DEFAULT_REGION"],
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).client(service, endpoint_url=self.environment["AWS_ENDPOINT_URL_S3"])  # type: ignore[call-overload]

    @property
    def bucket(self) -> str:
        return self.environment["ASSETS_BUCKET_NAME"]

    @property
    def items_table(self) -> str:
        return self.environment["ITEMS_TABLE_NAME"]

    def records_of(self, item_id: str) -> list[dict[str, Any]]:
        """Every record stored under an item's id, read from the emulator directly."""
        response = self.aws("dynamodb").query(
            TableName=self.items_table,
            KeyConditionExpression="id = :id",
            ExpressionAttributeValues={":id": {"S": item_id}},
            ConsistentRead=True,
        )
        items: list[dict[str, Any]] = response["Items"]
        return items

    def bucket_keys(self, prefix: str = "") -> set[str]:
        listing = self.aws("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return {entry["Key"] for entry in listing.get("Contents", [])}

    def invoke(self, function_name: str, event: dict[str, Any]) -> Any:
        """Run one of app.py's Lambda functions as Lambda would: a fresh process, the stage's
        environment (on this session's emulator), the event in, the JSON result out."""
        script = (
            "import json, sys, app\n"
            "result = getattr(app, sys.argv[1])(json.loads(sys.argv[2]), None)\n"
            "print(json.dumps(result))\n"
        )
        finished = subprocess.run(
            [sys.executable, "-c", script, function_name, json.dumps(event)],
            cwd=PROJECT_DIR,
            env=process_environment(self.environment),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
        return json.loads(finished.stdout.strip().splitlines()[-1])

    def eventually(self, check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Wait until ``check()`` holds: what the event feeder does takes a moment, as the
        stack's event sources do. Fails with ``what`` if it never holds (no time is asserted:
        the timeout only ends a wait that would never end)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                exited = [
                    f"{p.args!r} exited with {p.returncode}"
                    for p in self.processes
                    if p.poll() is not None
                ]
                raise AssertionError(f"never happened: {what} {exited}")
            time.sleep(0.1)

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self.servers.clear()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.processes.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


@functools.cache
def live_api() -> LiveApi:
    """Start the emulator and ``chalice local`` once per test session."""
    workdir = Path(tempfile.mkdtemp(prefix="items-api-integration-"))
    environment = with_emulator_port(local_stage_environment(), free_port())
    live = LiveApi(url="", environment=environment, workdir=workdir)
    atexit.register(live.stop)  # also when the session ends abnormally
    moto_port = int(environment["AWS_ENDPOINT_URL_S3"].rsplit(":", 1)[1])
    live.processes.append(start_moto_server(moto_port, workdir / "moto.log"))
    bootstrap(environment)
    # The stack's event sources (the stream, S3's upload events, TTL), fed as Lambda would.
    live.processes.append(start_event_feeder(environment, workdir / "events.log"))
    identity_url = f"http://127.0.0.1:{free_port()}"
    live.identity = bootstrap_identity(
        environment["AWS_DEFAULT_REGION"],
        environment["AWS_ENDPOINT_URL_S3"],
        # The browser tests' console runs on a port chosen later; any loopback page may return.
        callback_urls=[CONSOLE_CALLBACK],
    )
    live.stand_in = IdentityStandIn(live.identity, identity_url)
    live.servers.append(live.stand_in.serve(int(identity_url.rsplit(":", 1)[1])))
    environment = {
        **environment,
        "AUTH_TRUSTED_ISSUERS": trusted_issuers(live.identity, identity_url),
    }
    live.environment = environment

    project = stage_project(workdir / "project", environment)
    api_port = free_port()
    with (workdir / "chalice.log").open("ab") as log:
        api = subprocess.Popen(
            chalice_local.command(project, api_port, autoreload=False),
            cwd=project,
            env=guard.child_environment(
                process_environment({"LOCAL_API_KEY": API_KEY, "PYTHONPATH": str(PROJECT_DIR)})
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live.processes.append(api)
    live.url = f"http://127.0.0.1:{api_port}"
    wait_for_http(f"{live.url}/health", timeout=60, process=api)
    return live


def start_upload(
    live: LiveApi, item_id: str, filename: str, content_type: str, size: int
) -> dict[str, Any]:
    response = live.request(
        "POST",
        f"/items/{item_id}/attachments",
        {"filename": filename, "content_type": content_type, "size": size},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def upload(created: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
    """What a browser does: multipart/form-data with every field, then the file as ``file``."""
    fields = list(created["upload"]["fields"].items())
    return requests.post(
        created["upload"]["url"],
        files=[*((k, (None, v)) for k, v in fields), ("file", ("x", data, content_type))],
        timeout=30,
    )


def burst(
    url: str, clients: int, *, method: str = "GET", body: bytes | None = None
) -> Counter[str]:
    """``clients`` clients that connect at the same moment, each on its own connection, and send
    one request: the outcome of each (a status code, or the exception it met)."""
    parts = urlsplit(url)
    start = threading.Barrier(clients)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def client() -> None:
        start.wait()
        try:
            connection = http.client.HTTPConnection(parts.netloc, timeout=60)
            connection.request(method, parts.path, body=body)
            outcome = str(connection.getresponse().status)
            connection.close()
        except OSError as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
