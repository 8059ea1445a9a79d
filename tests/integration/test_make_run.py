"""`make run`'s processes (issue 10, defect 13): every child dies with its parent, whatever
kills it, the next run meets no stale server, and every port can be chosen, so two runs work
side by side. Real processes on free ports; the process tree is read from Linux's ``/proc``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
import requests

from localdev import guard
from localdev.chalice_local import SourceTree, source_watcher
from localdev.emulator import PROJECT_DIR
from tests.integration.harness import burst
from tests.integration.processes import (
    EXIT_TIMEOUT_SECONDS,
    descendants,
    entry_point,
    running,
    started,
    wait_until_free,
    wait_until_gone,
)

pytestmark = pytest.mark.integration
BURST = 64
KINDS = ("localdev.moto_server", "localdev.events", "localdev.chalice_local")
# moto, the event feeder, chalice local's reloader and the worker it serves from
EVERY_SERVER = {"localdev.moto_server": 1, "localdev.events": 1, "localdev.chalice_local": 2}


def what_runs(tree: dict[int, str]) -> Counter[str]:
    """How many of each server runs in ``tree``."""
    kinds: Counter[str] = Counter()
    for line in tree.values():
        for kind in KINDS:
            if kind in line:
                kinds[kind] += 1
    return kinds


def test_sigkill_of_make_runs_entry_point_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGKILL gives ``localdev.run`` no chance to clean up: its children must go by
    themselves (moto, the event feeder, chalice local's reloader and the worker it serves
    from)."""
    with started(entry_point(), tmp_path / "run.log") as run:
        tree = descendants(run.process.pid)
        assert what_runs(tree) == EVERY_SERVER, tree

        run.process.send_signal(signal.SIGKILL)
        run.process.wait()

        assert wait_until_gone(set(tree)) == set(), tree
        assert wait_until_free(run.ports) == []

    # The next run on the same ports meets no stale server: it starts and serves, on its own.
    with started(entry_point(), tmp_path / "again.log", run.ports) as again:
        assert again.request("GET", "/health").json()["status"] == "ok"
        tree = descendants(again.process.pid)
        again.process.terminate()  # a plain SIGTERM stops everything too
        again.process.wait(EXIT_TIMEOUT_SECONDS)

        assert wait_until_gone(set(tree)) == set(), tree
        assert wait_until_free(again.ports) == []


def test_sigkill_of_make_run_leaves_nothing_behind(tmp_path: Path) -> None:
    """``make`` does not pass signals on: killing it orphans `localdev.run`, which must then
    stop, and take its children with it."""
    # -o: never rebuild the virtualenv from inside a test
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "run"]
    with started(command, tmp_path / "make-run.log") as run:
        tree = descendants(run.process.pid)
        assert any("localdev.run" in line for line in tree.values()), tree
        assert what_runs(tree) == EVERY_SERVER, tree

        run.process.send_signal(signal.SIGKILL)
        run.process.wait()

        assert wait_until_gone(set(tree)) == set(), tree
        assert wait_until_free(run.ports) == []


def test_two_runs_on_their_own_ports_work_side_by_side(tmp_path: Path) -> None:
    with (
        started(entry_point(), tmp_path / "first.log") as first,
        started(entry_point(), tmp_path / "second.log") as second,
    ):
        assert not set(first.ports) & set(second.ports)
        created = first.request("POST", "/items", json={"name": "only in the first"})
        assert created.status_code == 201, created.text

        # Each run has its own emulator: the second's table does not hold the first's item.
        item_id = created.json()["id"]
        assert first.request("GET", f"/items/{item_id}").status_code == 200
        assert second.request("GET", f"/items/{item_id}").status_code == 404
        # Each console is configured with its own API.
        for run in (first, second):
            config = requests.get(f"http://127.0.0.1:{run.console_port}/config.json", timeout=30)
            assert config.json()["apiUrl"] == run.api_url


def test_make_runs_api_takes_a_burst_of_64_clients(tmp_path: Path) -> None:
    """With chalice local's listen backlog of 5, about half of such a burst met resets. The
    POSTs carry no token: the authorizer's 401 takes no AWS call, so it is known under any
    load."""
    with started(entry_point(), tmp_path / "run.log") as run:
        outcomes = burst(f"{run.api_url}/items", BURST, method="POST", body=b'{"name": "x"}')

    assert outcomes == {"401": BURST}


# -- the guard: what makes a child die with its parent ----------------------------------------

_PARENT = """
import json, os, subprocess, sys
extra = json.loads(sys.argv[2])
for name, value in extra.items():
    extra[name] = str(os.getpid()) if value == "<parent pid>" else value
child = subprocess.Popen(json.loads(sys.argv[1]), env={**os.environ, **extra})
print(child.pid, flush=True)
child.wait()
"""


def _orphaned(command: list[str], environment: dict[str, str] | None = None) -> int:
    """Start a parent that starts ``command``; SIGKILL the parent; the orphan's pid.

    ``"<parent pid>"`` in ``environment`` stands for the parent's pid."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, json.dumps(command), json.dumps(environment or {})],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert running(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    return child


def test_the_watchdog_alone_kills_an_orphan() -> None:
    """Where there is no prctl (macOS), the watchdog thread is what ends an orphan."""
    code = (
        "import os, signal, time\n"
        "from localdev.guard import start_watchdog\n"
        "start_watchdog(int(os.environ['PARENT']), signal.SIGKILL, interval=0.1)\n"
        "time.sleep(120)\n"
    )
    child = _orphaned([sys.executable, "-c", code], {"PARENT": "<parent pid>"})

    assert wait_until_gone({child}) == set()


def test_without_the_guard_an_orphan_keeps_running() -> None:
    """The control: the same orphan, unguarded, outlives its parent (and is killed here)."""
    child = _orphaned([sys.executable, "-c", "import time\ntime.sleep(120)\n"])
    try:
        assert running(child)
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_guarded_module_dies_with_its_parent() -> None:
    """``python -m localdev.guard MODULE ARGS``, as moto runs."""
    command = guard.module_command("http.server", "--bind", "127.0.0.1", "0")
    child = _orphaned(command, {guard.PARENT_PID: "<parent pid>"})

    assert wait_until_gone({child}) == set()


def test_a_child_whose_named_parent_is_already_gone_exits_at_once() -> None:
    """The parent may die between starting the child and the child asking the kernel to be
    told: the child then finds another parent than the one named, and ends itself."""
    code = "from localdev import guard\nguard.protect()\nimport time\ntime.sleep(120)\n"
    environment = {**os.environ, guard.PARENT_PID: "1"}  # not this child's parent

    finished = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=environment, timeout=60, check=False
    )

    assert finished.returncode == -signal.SIGKILL


# -- autoreload through the staged project's symlinks ----------------------------------------


def _staged(tmp_path: Path) -> tuple[Path, Path]:
    """A source folder, and a staged project holding it as a symlink (as localdev.project)."""
    sources = tmp_path / "sources"
    (sources / "__pycache__").mkdir(parents=True)
    (sources / "module.py").write_text("x = 1\n")
    (sources / "__pycache__" / "module.cpython-311.pyc").write_bytes(b"")
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "chalicelib").symlink_to(sources)
    return sources, staged


def test_the_watcher_walks_into_symlinked_sources_and_past_bytecode(tmp_path: Path) -> None:
    _, staged = _staged(tmp_path)

    files = {
        str(Path(root, name).relative_to(staged))
        for root, _, names in SourceTree().walk(str(staged))
        for name in names
    }

    assert files == {"chalicelib/module.py"}


def test_editing_a_symlinked_source_restarts_the_server(tmp_path: Path) -> None:
    sources, staged = _staged(tmp_path)
    changed = threading.Event()
    watcher = source_watcher()
    watcher.watch_for_file_changes(str(staged), changed.set)
    try:
        # The watcher notes every file in its first pass, in its own thread: touch the file
        # (later each time) until a pass after that first one sees it change.
        module = sources / "module.py"
        for step in range(1, 31):
            later = module.stat().st_mtime + 10 * step
            os.utime(module, (later, later))
            if changed.wait(timeout=1):
                break
        assert changed.is_set()
    finally:
        watcher._shutdown_event.set()  # chalice's watcher has no public stop
