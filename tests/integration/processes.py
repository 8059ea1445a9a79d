"""Helpers of the tests of `make run`'s processes: the process tree (Linux ``/proc``), ports,
and `make run` instances on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from localdev.emulator import PROJECT_DIR, free_port, port_in_use, wait_for_http

STARTUP_TIMEOUT_SECONDS = 120  # moto and chalice local on 2 shared cores
EXIT_TIMEOUT_SECONDS = 30


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of ``pid``, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command may contain spaces
    return int(fields[1]), fields[0]


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (dead, waiting to be reaped)."""
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def descendants(root: int) -> dict[int, str]:
    """Every live process below ``root``, with its command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] != "Z":
                parents[int(entry.name)] = stat[0]
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = command_line(pid)
                frontier.append(pid)
    return found


def wait_until_gone(pids: set[int]) -> set[int]:
    """The processes of ``pids`` still running once they had time to die (empty: all gone)."""
    deadline = time.monotonic() + EXIT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        alive = {pid for pid in pids if running(pid)}
        if not alive:
            return set()
        time.sleep(0.2)
    return {pid for pid in pids if running(pid)}


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` and it can be bound again."""
    if port_in_use(port):
        return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until_free(ports: list[int]) -> list[int]:
    """The ports of ``ports`` still taken once they had time to be released (empty: all free).

    A killed process can look gone (its main thread a zombie) while its other threads, which
    share its sockets, are still being torn down."""
    deadline = time.monotonic() + EXIT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if all(port_is_free(port) for port in ports):
            return []
        time.sleep(0.2)
    return [port for port in ports if not port_is_free(port)]


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@dataclass
class Run:
    """One `make run` (or its entry point) on its own ports."""

    process: subprocess.Popen[bytes]
    api_port: int
    console_port: int
    emulator_port: int
    identity_port: int
    log: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ports(self) -> list[int]:
        return [self.api_port, self.console_port, self.emulator_port, self.identity_port]

    def wait_until_serving(self) -> None:
        try:
            wait_for_http(
                f"{self.api_url}/health", timeout=STARTUP_TIMEOUT_SECONDS, process=self.process
            )
            wait_for_http(f"http://127.0.0.1:{self.console_port}/", process=self.process)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}\n{self.log.read_text()}") from exc
        assert requests.get(f"{self.api_url}/health", timeout=30).status_code == 200

    def token(self) -> str:
        """The local editor's access token from this run's own emulator (as `make token`)."""
        from localdev.emulator import local_stage_environment
        from localdev.identity import local_user_token
        from localdev.token import find_identity

        region = local_stage_environment()["AWS_DEFAULT_REGION"]
        identity = find_identity(region, f"http://127.0.0.1:{self.emulator_port}")
        return local_user_token(identity, "editor")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {
            "x-api-key": "local-dev-key",
            "Authorization": f"Bearer {self.token()}",
            **kwargs.pop("headers", {}),
        }
        return requests.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)


def run_environment(ports: list[int]) -> dict[str, str]:
    api, console, emulator, identity = ports
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LOCAL_API_KEY", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    return {
        **environment,
        "API_PORT": str(api),
        "CONSOLE_PORT": str(console),
        "EMULATOR_PORT": str(emulator),
        "IDENTITY_PORT": str(identity),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


@contextmanager
def started(command: list[str], log: Path, ports: list[int] | None = None) -> Iterator[Run]:
    """``command`` (`make run` or its entry point) on ``ports`` (API, console, emulator, sign-in
    stand-in; free ones by default), serving; stopped and every process it started killed
    afterwards, whatever the test did."""
    ports = ports or free_ports(4)
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=run_environment(ports),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    run = Run(process, ports[0], ports[1], ports[2], ports[3], log)
    seen: dict[int, str] = {}
    try:
        run.wait_until_serving()
        seen = descendants(process.pid)
        yield run
    finally:
        seen.update(descendants(process.pid))
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(EXIT_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in wait_until_gone(set(seen)):  # never leave a server behind, even on failure
            os.kill(pid, signal.SIGKILL)


def entry_point() -> list[str]:
    """`make run`'s command: ``python -m localdev.run``."""
    return [sys.executable, "-m", "localdev.run"]
