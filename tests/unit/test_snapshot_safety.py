"""The init phase is safe to snapshot (Lambda SnapStart, issue 15).

With SnapStart, Lambda runs the init phase (importing ``app``) once when it publishes a version
and resumes every later execution environment from that snapshot. Whatever init creates is then
shared by all of them: an open connection would be stale after a restore, and a value meant to be
unique (a random seed, an id, credentials, a timestamp) would be the same everywhere (Lambda
Developer Guide, "Handling uniqueness with Lambda SnapStart"). So importing the app, exactly as
Lambda's runtime does, must open no socket and create no AWS client or session, and must not
even import the modules that hold such state; no runtime hook is needed while this holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from localdev.emulator import PROJECT_DIR
from tests.unit.harness import ENVIRONMENT, UNSET

_INIT = textwrap.dedent(
    """
    import json, os, sys

    before = set(sys.modules)
    import app  # what Lambda's init phase runs: the handler module, app.app

    from chalicelib import aws, container

    def sockets():
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:"):
                found.append(target)
        return found

    print(json.dumps({
        "imported": sorted(set(sys.modules) - before),
        "sockets": sockets(),
        "session": aws._session is not None,
        "services": container.get_services.cache_info().currsize,
    }))
    """
)

# Modules whose presence after init would mean state a snapshot must not share: network and TLS,
# AWS SDKs (their sessions cache credentials and connections), random number generators seeded
# once at import, and id generators.
_STATEFUL_MODULES = ("socket", "ssl", "botocore", "boto3", "urllib3", "random", "uuid", "secrets")


def test_importing_the_app_opens_nothing_and_makes_nothing_unique() -> None:
    environment = {
        key: value for key, value in os.environ.items() if key not in UNSET and key != "PYTHONPATH"
    }
    # The function's environment as Lambda sets it (region, table and bucket names, ...).
    environment.update(ENVIRONMENT, PYTHONPATH=str(PROJECT_DIR), AWS_LAMBDA_FUNCTION_NAME="api")
    finished = subprocess.run(
        [sys.executable, "-B", "-c", _INIT],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert "chalicelib.routes.items" in result["imported"]  # the app really was imported
    assert result["sockets"] == []
    assert result["session"] is False
    assert result["services"] == 0
    imported = set(result["imported"])
    for module in _STATEFUL_MODULES:
        assert module not in imported, module
