"""``test_suite_seconds``: wall time of ``make test``, recorded to keep the loop fast."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.figures import Figure

PROJECT_DIR = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 600


def measure() -> Figure:
    """Run ``make test`` once (its output goes to a log outside the tree)."""
    log = Path(tempfile.gettempdir()) / "items-api-bench-make-test.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    started = time.perf_counter()
    with log.open("wb") as output:
        finished = subprocess.run(
            ["make", "test"],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=output,
            stderr=output,
            check=False,  # a failure is reported below, with the log's path
        )
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"make test failed (exit {finished.returncode}); see {log}")
    return Figure(
        round(seconds, 1),
        None,
        f"<= {TARGET_SECONDS}",
        "s",
        note="lint, then every test tier, with the virtualenv and tools already installed",
    )
