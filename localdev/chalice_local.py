"""`chalice local` as `make run` and the integration harness start it, with three adaptations:

1. **It dies with its parent** (``localdev.guard``), and so does the worker process chalice's
   autoreloader serves from: the reloader restarts its worker by running ``sys.argv`` again,
   which here is this module, so the worker is guarded against the reloader in turn.
2. **A listen backlog of 128** instead of ``socketserver``'s 5: with 5, a burst of more than five
   clients connecting at once (racing tests, the console in several tabs) meets connection
   resets while the accept loop is busy.
3. **Autoreload watches the staged project** (``localdev.project``: the sources as symlinks
   beside a generated ``.chalice/config.json``): chalice's file watcher does not follow
   symlinks, this one does, and skips bytecode caches, so editing ``chalicelib/`` restarts the
   server and importing it does not.

``python -m localdev.chalice_local ARGS...`` takes chalice's own arguments
(``--project-dir DIR local --port N ...``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

from chalice.cli.filewatch import WorkerProcess
from chalice.cli.filewatch.stat import StatFileWatcher, StatWorkerProcess
from chalice.utils import OSUtils

from localdev import guard

LISTEN_BACKLOG = 128


def command(project_dir: Path, port: int, *, autoreload: bool) -> list[str]:
    """The command serving the staged ``project_dir``'s ``local`` stage on 127.0.0.1:``port``."""
    return [
        sys.executable,
        "-m",
        "localdev.chalice_local",
        "--project-dir",
        str(project_dir),
        "local",
        "--autoreload" if autoreload else "--no-autoreload",
        "--stage",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


class SourceTree(OSUtils):
    """chalice's file helpers, walking into symlinked directories and past bytecode caches."""

    def walk(
        self, path: str, followlinks: bool = False
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        for root, directories, files in os.walk(path, followlinks=True):
            directories[:] = [d for d in directories if d != "__pycache__"]
            yield root, directories, files


def source_watcher() -> StatFileWatcher:
    """chalice's polling file watcher, over the staged project's sources."""
    return StatFileWatcher(osutils=SourceTree())


class SourceWatchingWorker(StatWorkerProcess):
    """chalice's worker process (the one serving requests), watching with ``source_watcher``."""

    def _start_file_watcher(self, project_dir: str) -> None:
        source_watcher().watch_for_file_changes(project_dir, self._on_file_change)


def adapt_chalice() -> None:
    """Apply adaptations 2 and 3 to chalice, in this process."""
    from chalice import local
    from chalice.cli import reloader

    local.ThreadedHTTPServer.request_queue_size = LISTEN_BACKLOG
    run_with_reloader: Callable[..., int] = reloader.run_with_reloader

    def run_watching_sources(
        server_factory: Callable[..., Any],
        env: MutableMapping[Any, Any],
        root_dir: str,
        worker_process_cls: type[WorkerProcess] | None = None,
    ) -> int:
        # chalice picks its worker itself (watchdog's if installed, else stat polling).
        return run_with_reloader(server_factory, env, root_dir, SourceWatchingWorker)

    reloader.run_with_reloader = run_watching_sources


def main(argv: list[str]) -> int:
    guard.protect()
    adapt_chalice()
    # The reloader starts its worker as `sys.argv` (with CHALICE_WORKER set): this module again.
    sys.argv = [sys.executable, "-m", "localdev.chalice_local", *argv]
    from chalice.cli import cli

    result: int = cli(args=argv, obj={}, prog_name="chalice")
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
