"""``cold_import_ratio`` and ``package_bytes``: ours against the runtime app of Chalice's own
DynamoDB CDK template (``chalice new-project --project-type cdk-ddb``), generated at bench
time in a temporary directory and never copied into the repository."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.figures import Figure
from localdev.lambda_layout import BENCH_RUNTIME, compile_bytecode, copy_project

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHALICE = Path(sys.executable).parent / "chalice"
IMPORT_REPETITIONS = 21
MEGABYTE = 1024 * 1024


@contextmanager
def template_runtime() -> Iterator[Path]:
    """The runtime directory (app.py, requirements.txt) of a fresh cdk-ddb template."""
    with tempfile.TemporaryDirectory(prefix="bench-template-") as workdir:
        subprocess.run(
            [str(CHALICE), "new-project", "baseline", "--project-type", "cdk-ddb"],
            cwd=workdir,
            check=True,
            capture_output=True,
        )
        yield Path(workdir) / "baseline" / "runtime"


@contextmanager
def our_project() -> Iterator[Path]:
    """A copy of what our deployment package is built from, with the bytecode it ships
    (nothing is written to the tree)."""
    with tempfile.TemporaryDirectory(prefix="bench-project-") as workdir:
        project = copy_project(Path(workdir))
        compile_bytecode(project, BENCH_RUNTIME)
        yield project


# What the function's environment holds at import (the stack sets these; see settings.py).
FUNCTION_ENVIRONMENT = {
    "ITEMS_TABLE_NAME": "items",
    "ITEMS_TABLE_STREAM_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/items/stream/x",
    "IDEMPOTENCY_TABLE_NAME": "items-idempotency",
    "ASSETS_BUCKET_NAME": "items-assets",
    "CORS_ALLOW_ORIGIN": "https://items.example.com",
    "APP_TABLE_NAME": "baseline",  # the template's one setting
}


def import_seconds(project: Path) -> float:
    """Wall time of one fresh ``python -c "import app"`` in ``project``, interpreter included."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **FUNCTION_ENVIRONMENT,
    }
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=project,
        env=environment,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def package_bytes(project: Path, stage: str | None) -> int:
    """Size of the deployment zip ``chalice package`` builds for ``project``."""
    with tempfile.TemporaryDirectory(prefix="bench-package-") as out:
        command = [str(CHALICE), "--project-dir", str(project), "package"]
        if stage:
            command += ["--stage", stage]
        subprocess.run(
            [*command, out],
            check=True,
            capture_output=True,
            # The app reads its import-time settings (CORS origin, the items stream) when
            # chalice package imports it.
            env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", **FUNCTION_ENVIRONMENT},
        )
        deployment = Path(out) / "deployment.zip"
        with zipfile.ZipFile(deployment) as archive:
            assert "app.py" in archive.namelist()
        return deployment.stat().st_size


def measure() -> dict[str, Figure]:
    with template_runtime() as template, our_project() as ours:
        import_seconds(ours)  # warm the file system cache for both before timing
        import_seconds(template)
        ours_times, template_times = [], []
        for _ in range(IMPORT_REPETITIONS):  # interleaved, so drift hits both alike
            ours_times.append(import_seconds(ours))
            template_times.append(import_seconds(template))
        our_zip = package_bytes(ours, "dev")
        template_zip = package_bytes(template, None)
    return {
        "cold_import_ratio": Figure(
            statistics.median(ours_times),
            statistics.median(template_times),
            "<= 1.0",
            "s",
            target_on_ratio=True,
            note=f"median of {IMPORT_REPETITIONS} fresh `import app` each, interleaved",
        ),
        "package_bytes": Figure(
            float(our_zip),
            float(template_zip),
            f"< {MEGABYTE}",
            "bytes",
            note="deployment.zip of `chalice package`; the template bundles boto3",
        ),
    }
