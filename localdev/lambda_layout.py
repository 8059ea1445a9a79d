"""The Lambda layout off AWS: what the deployed function runs on, rebuilt on this machine.

Shared by the import proof (``tests/package``) and the cold-start benchmarks (``bench/cold``):

- ``chalice package`` of a copy of the project, its ``deployment.zip`` unpacked into a directory
  that plays ``/var/task``;
- a clean virtualenv on the runtime's Python holding only what Lambda provides at run time: the
  runtime's boto3/botocore and the pinned contents of the Powertools layer the stack attaches
  (``requirements-layer.txt``), or, for a benchmark's peer, what that peer would bundle;
- the environment Lambda itself sets for a function.

Which runtime, which interpreter stands in for it here, and which SDK it ships are defined once,
in ``RUNTIMES``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
LAYER_REQUIREMENTS = PROJECT_DIR / "requirements-layer.txt"
# What `chalice package` bundles from the project (requirements.txt is empty on purpose).
PACKAGED = ("app.py", "chalicelib", "requirements.txt", ".chalice/config.json")
# Clean runtimes are cached here (git-ignored), keyed by interpreter and pins.
CACHE = PROJECT_DIR / ".lambda-runtime"


@dataclass(frozen=True)
class LambdaRuntime:
    """A Lambda Python runtime: its identifier, its Python, and the SDK it ships.

    ``sdk`` is what AWS's "Runtime-included SDK versions" lists for the runtime. Lambda updates
    it from time to time (and it may differ by Region); these are the versions the proof and the
    benchmarks hold the code to.
    """

    name: str
    version: tuple[int, int]
    sdk: tuple[str, ...]

    def interpreter(self) -> str:
        """This machine's interpreter for the runtime's Python (pyenv's, else on PATH)."""
        major, minor = self.version
        if sys.version_info[:2] == self.version:
            # The interpreter behind the running virtualenv (a venv must not nest in a venv).
            return str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())
        pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
        pattern = f"{pyenv}/versions/{major}.{minor}.*/bin/python{major}.{minor}"
        candidates = sorted(glob.glob(pattern))
        found = candidates[-1] if candidates else shutil.which(f"python{major}.{minor}")
        if not found:
            raise RuntimeError(f"no Python {major}.{minor} on this machine for {self.name}")
        return found


RUNTIMES = {
    runtime.name: runtime
    for runtime in (
        LambdaRuntime("python3.11", (3, 11), ("boto3==1.34.145", "botocore==1.34.145")),
        LambdaRuntime("python3.13", (3, 13), ("boto3==1.34.145", "botocore==1.34.145")),
    )
}
# The runtime the cold-start figures reproduce (the stack's runtime, once it moves to 3.13).
BENCH_RUNTIME = RUNTIMES["python3.13"]


def runtime_python(
    runtime: LambdaRuntime,
    requirements: Iterable[str] = (f"-r {LAYER_REQUIREMENTS}",),
    *,
    cache: Path = CACHE,
) -> Path:
    """A cached virtualenv on ``runtime``'s Python with its SDK and ``requirements`` only.

    By default ``requirements`` is the Powertools layer's pinned contents. The virtualenv gets
    no pip of its own: pip runs from this interpreter and installs into it.
    """
    lines = [*runtime.sdk, *requirements]
    pins = "\n".join(lines) + "\n"
    # The layer's pins are read through "-r": their text keys the cache too.
    uses_layer = any(str(LAYER_REQUIREMENTS) in line for line in lines)
    layer = LAYER_REQUIREMENTS.read_text() if uses_layer else ""
    interpreter = runtime.interpreter()
    key = hashlib.sha256(f"{runtime.name}\n{interpreter}\n{pins}{layer}".encode()).hexdigest()[:16]
    target = cache / key
    python = target / "bin" / "python"
    if (target / ".complete").exists():
        return python
    cache.mkdir(parents=True, exist_ok=True)
    building = cache / f"{key}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(building)], check=True)
    requirements_file = building / "requirements.txt"
    requirements_file.write_text(pins)
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(building / "bin" / "python"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(requirements_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if installed.returncode != 0:
        raise RuntimeError(f"pip could not build {runtime.name} runtime: {installed.stderr}")
    (building / ".complete").write_text(pins + layer)
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    # The venv's scripts hard-code its build path; only bin/python is used, which is a symlink.
    return python


# Written by the runtime's own interpreter, so the magic number and cache tag are the runtime's.
_COMPILE = """
import importlib.util, py_compile, sys
from pathlib import Path
from typing import Any
vendor = Path(sys.argv[1])
for pair in sys.argv[2:]:
    source, packaged = pair.split("=", 1)  # a source file, and its path inside the zip
    target = vendor / importlib.util.cache_from_source(packaged)
    py_compile.compile(
        source,
        cfile=str(target),
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
"""


def compile_bytecode(project: Path, runtime: LambdaRuntime) -> list[str]:
    """Bytecode of everything the package holds, for ``runtime``, in ``project/vendor/``.

    ``/var/task`` is read-only, so without it every cold start compiles ``app.py``,
    ``chalicelib`` and Chalice's ``app.py`` again. ``chalice package`` adds ``vendor/``'s
    contents at the zip's root, which puts each ``.pyc`` in the ``__pycache__`` beside its
    source. They are checked-hash ``.pyc`` files (PEP 552): Python uses one only while its
    source's hash matches, whatever the zip's timestamps, and falls back to the source otherwise.
    Returns the ``.pyc`` paths inside the zip.
    """
    import chalice

    vendor = project / "vendor"
    shutil.rmtree(vendor, ignore_errors=True)
    chalice_dir = Path(chalice.__file__).parent
    pairs = [(project / "app.py", "app.py")]
    pairs += [(chalice_dir / name, f"chalice/{name}") for name in ("__init__.py", "app.py")]
    pairs += [
        (source, str(source.relative_to(project)))
        for source in sorted((project / "chalicelib").rglob("*.py"))
        if "__pycache__" not in source.parts
    ]
    subprocess.run(
        [
            runtime.interpreter(),
            "-I",
            "-c",
            _COMPILE,
            str(vendor),
            *(f"{source}={packaged}" for source, packaged in pairs),
        ],
        check=True,
    )
    return sorted(str(path.relative_to(vendor)) for path in vendor.rglob("*.pyc"))


def copy_project(destination: Path) -> Path:
    """A copy of what the deployment package is built from (nothing is written to the tree)."""
    for name in PACKAGED:
        source, copy = PROJECT_DIR / name, destination / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy)
    return destination


@dataclass(frozen=True)
class Deployment:
    """``chalice package``'s output, with its zip unpacked as ``/var/task``."""

    task_root: Path
    names: list[str]
    template_file: Path


def package(
    workdir: Path,
    runtime: LambdaRuntime,
    *,
    stage: str = "prod",
    environment: dict[str, str] | None = None,
) -> Deployment:
    """``chalice package`` a copy of the project in ``workdir``, with its bytecode for
    ``runtime`` (:func:`compile_bytecode`), and unpack its zip there."""
    project = copy_project(workdir / "project")
    compile_bytecode(project, runtime)
    deployments = PROJECT_DIR / ".chalice" / "deployments"
    before = sorted(deployments.iterdir()) if deployments.exists() else []
    out = workdir / "out"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "chalice"),
            "--project-dir",
            str(project),
            "package",
            "--stage",
            stage,
            str(out),
        ],
        check=True,
        capture_output=True,
        # chalice needs a region to name resources in the template (no credentials needed).
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", **(environment or {})},
    )
    after = sorted(deployments.iterdir()) if deployments.exists() else []
    assert after == before, "chalice package wrote into the project tree"
    task_root = workdir / "var-task"
    with zipfile.ZipFile(out / "deployment.zip") as archive:
        names = archive.namelist()
        archive.extractall(task_root)
    return Deployment(task_root=task_root, names=names, template_file=out / "sam.json")


def lambda_environment(
    runtime: LambdaRuntime,
    *,
    function_name: str,
    handler: str,
    task_root: Path,
    xray_daemon: str | None = None,
) -> dict[str, str]:
    """What Lambda itself sets in a function's environment (no credentials, no endpoints).

    ``xray_daemon`` (``host:port``) is where an actively traced function's X-Ray SDK sends its
    segments (in Lambda, the daemon beside the function; here, a UDP socket of the caller).
    """
    tracing = (
        {
            "AWS_XRAY_DAEMON_ADDRESS": xray_daemon,
            "_AWS_XRAY_DAEMON_ADDRESS": xray_daemon.rsplit(":", 1)[0],
            "_AWS_XRAY_DAEMON_PORT": xray_daemon.rsplit(":", 1)[1],
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        if xray_daemon
        else {}
    )
    return {
        **tracing,
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime.name}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        # /var/task is read-only in Lambda: nothing compiled there on one start helps the next
        # (a driver started with -I ignores this: it is started with -B as well).
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class XRaySink:
    """A UDP socket playing the X-Ray daemon: it keeps what the SDK sends, to count it."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self.documents: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while True:
            try:
                packet = self._socket.recv(65536)
            except OSError:
                return
            # Each datagram is a JSON header line, then the segment document.
            _, _, document = packet.partition(b"\n")
            with contextlib.suppress(ValueError):
                self.documents.append(json.loads(document))

    def close(self) -> None:
        self._socket.close()


def main(argv: list[str]) -> int:
    """``python -m localdev.lambda_layout bytecode``: ``vendor/`` for the stack's runtime, before
    CDK packages the project (``make synth``, ``make deploy``)."""
    from infrastructure.config import LAMBDA_RUNTIME

    if argv != ["bytecode"]:
        print("usage: python -m localdev.lambda_layout bytecode", file=sys.stderr)
        return 2
    compiled = compile_bytecode(PROJECT_DIR, RUNTIMES[LAMBDA_RUNTIME])
    print(f"vendor/: {len(compiled)} .pyc files for {LAMBDA_RUNTIME}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
