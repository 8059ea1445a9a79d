"""`make run`: the emulator, its tables, bucket and user pool, `chalice local` (autoreloading),
the web console and the sign-in stand-in, on ports ``API_PORT`` (8000), ``CONSOLE_PORT``
(8001), ``IDENTITY_PORT`` (8002) and ``EMULATOR_PORT`` (the local stage's endpoint in
`.chalice/config.json`, 5055), so two clones can run side by side.

Ctrl-C, SIGTERM or SIGHUP stops everything this started. Nothing outlives it even when it is
killed without a chance to clean up (SIGKILL, of it or of `make`): every child dies with its
parent (``localdev.guard``), and this process dies with its own parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from localdev import chalice_local, guard
from localdev.console import start_console
from localdev.emulator import (
    PROJECT_DIR,
    bootstrap,
    emulator_port,
    local_stage_environment,
    port_in_use,
    process_environment,
    start_event_feeder,
    start_moto_server,
    with_emulator_port,
)
from localdev.identity import (
    LOCAL_USERS,
    IdentityStandIn,
    bootstrap_identity,
    trusted_issuers,
)
from localdev.project import stage_project

DEFAULT_API_PORT = 8000
DEFAULT_CONSOLE_PORT = 8001
DEFAULT_IDENTITY_PORT = 8002
DEFAULT_LOCAL_API_KEY = "local-dev-key"
STOP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Ports:
    api: int
    console: int
    identity: int
    emulator: int

    @classmethod
    def from_environment(cls, default_emulator: int) -> Ports:
        return cls(
            api=_port("API_PORT", DEFAULT_API_PORT),
            console=_port("CONSOLE_PORT", DEFAULT_CONSOLE_PORT),
            identity=_port("IDENTITY_PORT", DEFAULT_IDENTITY_PORT),
            emulator=_port("EMULATOR_PORT", default_emulator),
        )


def _port(variable: str, default: int) -> int:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SystemExit(f"{variable}={text!r}: expected a TCP port number (1-65535)")
    return int(text)


def _stop(child: subprocess.Popen[Any]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> int:
    # `make` (or the shell) is this process's parent: when it dies, so does this, cleaning up.
    guard.die_with_parent(os.getppid(), signal.SIGTERM)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: sys.exit(0))
    stage = local_stage_environment()
    ports = Ports.from_environment(default_emulator=emulator_port(stage))
    for port, what, variable in (
        (ports.emulator, "the emulator", "EMULATOR_PORT"),
        (ports.api, "the API", "API_PORT"),
        (ports.console, "the console", "CONSOLE_PORT"),
        (ports.identity, "the sign-in stand-in", "IDENTITY_PORT"),
    ):
        if port_in_use(port):
            print(
                f"port {port} (for {what}) is already in use: is another `make run` running? "
                f"Choose another with {variable}=..."
            )
            return 1
    environment = with_emulator_port(stage, ports.emulator)
    api_key = os.environ.get("LOCAL_API_KEY") or DEFAULT_LOCAL_API_KEY
    # Outside the project: a file written inside it would make chalice's autoreload restart
    # the server forever. One directory per API port, so side-by-side runs keep apart.
    run_dir = Path(tempfile.gettempdir()) / "items-api" / f"run-{ports.api}"
    run_dir.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen[Any]] = []
    servers: list[ThreadingHTTPServer] = []
    try:
        print(f"starting the AWS emulator (moto) on http://127.0.0.1:{ports.emulator}")
        children.append(start_moto_server(ports.emulator, run_dir / "moto.log"))
        bootstrap(environment)
        print(f"tables and bucket ready (emulator log: {run_dir / 'moto.log'})")
        # The stack's event sources, played locally: the items table's stream, S3's upload
        # events, DynamoDB's time to live (see localdev/events.py).
        children.append(start_event_feeder(environment, run_dir / "events.log"))
        print(f"event feeder running (log: {run_dir / 'events.log'})")
        project = stage_project(run_dir / "project", environment)
        api_url = f"http://127.0.0.1:{ports.api}"
        console_url = f"http://127.0.0.1:{ports.console}/"
        identity_url = f"http://127.0.0.1:{ports.identity}"
        identity = bootstrap_identity(
            environment["AWS_DEFAULT_REGION"],
            environment["AWS_ENDPOINT_URL_S3"],
            callback_urls=[console_url],
        )
        servers.append(IdentityStandIn(identity, identity_url).serve(ports.identity))
        # The console's config.json is served from memory: writing it into web/ would make
        # chalice's autoreload restart the API, and could be committed with the key inside.
        servers.append(
            start_console(
                ports.console,
                api_url=api_url,
                api_key=api_key,
                bucket_url=environment["AWS_ENDPOINT_URL_S3"],
                auth={"domain": identity_url, "clientId": identity.console_client_id},
            )
        )
        print(f"API:     {api_url}")
        print(f"API key: {api_key}   (send it as the x-api-key header)")
        print(f"Console: {console_url}   (sign in as one of the users below)")
        print(f"Sign-in: {identity_url}   (the local stand-in for Cognito's managed login)")
        for username, (group, password) in LOCAL_USERS.items():
            print(f"  user {username:<8} password {password}   ({group})")
        for machine in identity.machine_clients.values():
            print(
                f"  machine client {machine.name}: id {machine.client_id}, "
                f"scopes {' '.join(machine.scopes)}"
            )
        print("Tokens:  make token USER=editor   (or USER=viewer, or CLIENT=<machine client>)")
        print("         prints only the token, issued by the local emulator: send it as")
        print("         Authorization: Bearer <token>")
        api = subprocess.Popen(
            chalice_local.command(project, ports.api, autoreload=True),
            cwd=project,
            env=guard.child_environment(
                process_environment(
                    {
                        "LOCAL_API_KEY": api_key,
                        "AUTH_TRUSTED_ISSUERS": trusted_issuers(identity, identity_url),
                        "PYTHONPATH": str(PROJECT_DIR),  # localdev, for the launcher
                        # A bytecode cache written while the watcher starts would restart it.
                        "PYTHONDONTWRITEBYTECODE": "1",
                    }
                )
            ),
        )
        children.append(api)
        return api.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for child in reversed(children):
            _stop(child)


if __name__ == "__main__":
    sys.exit(main())
