"""Run ``chalice package`` (inside the Chalice construct) with the stage's environment in effect.

Chalice imports the app to package it, and ``app.py`` reads ``CORS_ALLOW_ORIGIN`` at import time
because Chalice bakes the CORS preflight answers into the generated API definition. Chalice
imports the module named ``app`` once per process and updates ``os.environ`` with the stage's
variables, so without care a second stack in the same process (or a test session that already
imported ``app``) would silently get the first stack's origin. This context manager gives every
packaging a fresh import under the stage's environment and restores the process afterwards.

Fresh means ``chalicelib`` too: the origin is read where the routes are declared
(``chalicelib.routes.common``), and Chalice consumes a blueprint's registrations when an app
registers it (it pops their options), so a second app built from cached route modules would
register every route as GET.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def stage_environment(
    source_dir: Path, environment: Mapping[str, str], region: str
) -> Iterator[None]:
    """Import ``source_dir/app.py`` afresh under ``environment``; undo everything on exit."""
    saved_environ = dict(os.environ)
    saved_modules = {name: sys.modules.pop(name) for name in _app_modules()}
    saved_path = list(sys.path)
    try:
        os.environ.update(environment)
        # Chalice asks botocore for the region to render service principals; no credentials
        # are needed for that.
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
        sys.path.insert(0, str(source_dir))
        module = importlib.import_module("app")
        expected = (source_dir / "app.py").resolve()
        if Path(module.__file__ or "").resolve() != expected:
            raise RuntimeError(f"imported {module.__file__} as the Chalice app, not {expected}")
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path
        for name in _app_modules():
            del sys.modules[name]
        sys.modules.update(saved_modules)


def _app_modules() -> list[str]:
    """The imported modules of the Chalice app: ``app`` and ``chalicelib``'s."""
    return [
        name
        for name in sys.modules
        if name in ("app", "chalicelib") or name.startswith("chalicelib.")
    ]
