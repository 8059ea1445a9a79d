"""`make run`: the emulator, its tables and bucket, `chalice local` on port 8000 and the web
console on port 8001.

Ctrl-C (or SIGTERM) stops everything this started, so a second `make run` starts cleanly.
"""

from __future__ import annotations

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
    start_moto_server,
)

API_PORT = int(os.environ.get("API_PORT", "8000"))
CONSOLE_PORT = int(os.environ.get("CONSOLE_PORT", "8001"))
DEFAULT_LOCAL_API_KEY = "local-dev-key"


def main() -> int:
    environment = local_stage_environment()
    moto_port = emulator_port(environment)
    ports = ((moto_port, "the emulator"), (API_PORT, "the API"), (CONSOLE_PORT, "the console"))
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

    def stop(*_: object) -> None:
        for server in servers:
            server.shutdown()
            server.server_close()
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(f"starting the AWS emulator (moto) on http://127.0.0.1:{moto_port}")
        children.append(start_moto_server(moto_port, log_dir / "moto.log"))
        bootstrap(environment)
        print(f"tables and bucket ready (emulator log: {log_dir / 'moto.log'})")
        api_url = f"http://127.0.0.1:{API_PORT}"
        # The console's config.json is served from memory: writing it into web/ would make
        # chalice's autoreload restart the API, and could be committed with the key inside.
        servers.append(
            start_console(
                CONSOLE_PORT,
                api_url=api_url,
                api_key=api_key,
                bucket_url=environment["AWS_ENDPOINT_URL_S3"],
            )
        )
        print(f"API:     {api_url}")
        print(f"API key: {api_key}   (send it as the x-api-key header)")
        print(f"Console: http://127.0.0.1:{CONSOLE_PORT}/   (API URL and key prefilled)")
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
            env=process_environment({"LOCAL_API_KEY": api_key}),
        )
        children.append(api)
        return api.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
