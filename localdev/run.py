"""`make run`: the emulator, its tables and bucket, and `chalice local` on port 8000.

Ctrl-C (or SIGTERM) stops everything this started, so a second `make run` starts cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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
DEFAULT_LOCAL_API_KEY = "local-dev-key"


def main() -> int:
    environment = local_stage_environment()
    moto_port = emulator_port(environment)
    for port, what in ((moto_port, "the emulator"), (API_PORT, "the API")):
        if port_in_use(port):
            print(f"port {port} (for {what}) is already in use: is another `make run` running?")
            return 1
    api_key = os.environ.get("LOCAL_API_KEY") or DEFAULT_LOCAL_API_KEY
    # Logs live outside the project: a file written inside it would make chalice's autoreload
    # restart the server forever.
    log_dir = Path(tempfile.gettempdir()) / "items-api"
    log_dir.mkdir(exist_ok=True)
    children: list[subprocess.Popen[Any]] = []

    def stop(*_: object) -> None:
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
        print(f"API:     http://127.0.0.1:{API_PORT}")
        print(f"API key: {api_key}   (send it as the x-api-key header)")
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
