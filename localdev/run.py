"""`make run`: the emulator, its tables, bucket and user pool, the sign-in stand-in on port
8002, `chalice local` on port 8000 and the web console on port 8001.

Ctrl-C (or SIGTERM) stops everything this started, so a second `make run` starts cleanly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

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
)
from localdev.identity import (
    LOCAL_USERS,
    IdentityStandIn,
    bootstrap_identity,
    trusted_issuers,
)

API_PORT = int(os.environ.get("API_PORT", "8000"))
CONSOLE_PORT = int(os.environ.get("CONSOLE_PORT", "8001"))
IDENTITY_PORT = int(os.environ.get("IDENTITY_PORT", "8002"))
DEFAULT_LOCAL_API_KEY = "local-dev-key"


def _signal_child(child: subprocess.Popen[Any], signum: int, *, group: bool) -> None:
    """Signal ``child``, or with ``group`` the process group it leads (its own session).

    The group is signalled even when its leader has exited: what it spawned may still run.
    """
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(child.pid, signum)
        elif child.poll() is None:
            child.send_signal(signum)


def main() -> int:
    environment = local_stage_environment()
    moto_port = emulator_port(environment)
    ports = (
        (moto_port, "the emulator"),
        (API_PORT, "the API"),
        (CONSOLE_PORT, "the console"),
        (IDENTITY_PORT, "the sign-in stand-in"),
    )
    for port, what in ports:
        if port_in_use(port):
            print(f"port {port} (for {what}) is already in use: is another `make run` running?")
            return 1
    api_key = os.environ.get("LOCAL_API_KEY") or DEFAULT_LOCAL_API_KEY
    # Logs live outside the project: a file written inside it would make chalice's autoreload
    # restart the server forever.
    log_dir = Path(tempfile.gettempdir()) / "items-api"
    log_dir.mkdir(exist_ok=True)
    children: list[subprocess.Popen[Any]] = []
    servers: list[ThreadingHTTPServer] = []
    group_leaders: set[int] = set()

    def stop(*_: object) -> None:
        for server in servers:
            server.shutdown()
            server.server_close()
        for child in reversed(children):
            _signal_child(child, signal.SIGTERM, group=child.pid in group_leaders)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_child(child, signal.SIGKILL, group=child.pid in group_leaders)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(f"starting the AWS emulator (moto) on http://127.0.0.1:{moto_port}")
        children.append(start_moto_server(moto_port, log_dir / "moto.log"))
        bootstrap(environment)
        print(f"tables and bucket ready (emulator log: {log_dir / 'moto.log'})")
        # The stack's event sources, played locally: the items table's stream, S3's upload
        # events, DynamoDB's time to live (see localdev/events.py).
        children.append(start_event_feeder(environment, log_dir / "events.log"))
        print(f"event feeder running (log: {log_dir / 'events.log'})")
        api_url = f"http://127.0.0.1:{API_PORT}"
        console_url = f"http://127.0.0.1:{CONSOLE_PORT}/"
        identity_url = f"http://127.0.0.1:{IDENTITY_PORT}"
        identity = bootstrap_identity(
            environment["AWS_DEFAULT_REGION"],
            environment["AWS_ENDPOINT_URL_S3"],
            callback_urls=[console_url],
        )
        stand_in = IdentityStandIn(identity, identity_url)
        servers.append(stand_in.serve(IDENTITY_PORT))
        # The console's config.json is served from memory: writing it into web/ would make
        # chalice's autoreload restart the API, and could be committed with the key inside.
        servers.append(
            start_console(
                CONSOLE_PORT,
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
            [
                str(Path(sys.executable).parent / "chalice"),
                "local",
                "--stage",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(API_PORT),
            ],
            cwd=PROJECT_DIR,
            env=process_environment(
                {
                    "LOCAL_API_KEY": api_key,
                    "AUTH_TRUSTED_ISSUERS": trusted_issuers(identity, identity_url),
                }
            ),
            # Its own process group: chalice's autoreloader serves from a child process, which
            # must stop with it (on SIGTERM too, not only on a terminal's Ctrl-C).
            start_new_session=True,
        )
        children.append(api)
        group_leaders.add(api.pid)
        return api.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
