"""Child processes that die with their parent, whatever kills it.

`make run` and the integration harness start servers (moto, `chalice local` and the worker
process chalice's autoreloader spawns) that must not outlive them: a server left behind keeps
its port and polls the tree forever, and the next `make run` meets it with no emulator behind
it. A cleanup handler cannot help when the parent is SIGKILLed, so each child watches its
parent itself:

- on Linux the kernel signals it the moment its parent dies (``prctl(PR_SET_PDEATHSIG)``);
- everywhere, a watchdog thread checks once a second that its parent is still the process that
  started it (an orphan is re-parented), for systems without ``prctl``.

A parent names itself in ``LOCALDEV_PARENT_PID`` (``child_environment``); a child that already
has another parent (the parent died before the child asked to be told) exits at once.
``PR_SET_PDEATHSIG`` fires when the parent *thread* that forked the child ends: start guarded
children from a thread that lives as long as the parent (the main thread).

``python -m localdev.guard MODULE ARGS...`` runs a module (``moto.server``) as ``python -m``
would, guarded.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
import threading
import time

PARENT_PID = "LOCALDEV_PARENT_PID"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCHDOG_INTERVAL_SECONDS = 1.0


def child_environment(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` for a guarded child of this process."""
    return {**environment, PARENT_PID: str(os.getpid())}


def module_command(module: str, *args: str) -> list[str]:
    """The command running ``python -m module args...`` guarded."""
    return [sys.executable, "-m", "localdev.guard", module, *args]


def set_parent_death_signal(signum: int) -> bool:
    """Ask the kernel to send ``signum`` when the parent dies (Linux); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)


def start_watchdog(
    parent_pid: int, signum: int, interval: float = WATCHDOG_INTERVAL_SECONDS
) -> None:
    """A daemon thread sending ``signum`` to this process once its parent is not ``parent_pid``."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signum)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def die_with_parent(parent_pid: int, signum: int = signal.SIGKILL) -> None:
    """Make this process receive ``signum`` when ``parent_pid``, its parent, dies."""
    set_parent_death_signal(signum)
    if os.getppid() != parent_pid:  # it died before the kernel was asked to tell us
        os.kill(os.getpid(), signum)
    start_watchdog(parent_pid, signum)


def protect() -> None:
    """Die with the parent named in ``LOCALDEV_PARENT_PID`` (when set), and name this process
    as the parent of the children it starts."""
    parent = os.environ.get(PARENT_PID)
    if parent:
        die_with_parent(int(parent))
    os.environ[PARENT_PID] = str(os.getpid())


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m localdev.guard MODULE [ARGS...]")
    protect()
    module, *args = argv
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
