"""Where the smoke suite points: ``SMOKE_BASE_URL``, ``SMOKE_API_KEY``, ``SMOKE_TOKEN`` and
``SMOKE_VIEWER_TOKEN`` (``make smoke``), or, without them (``make test``), the integration
harness's ``chalice local`` on the emulator, with tokens of its local editor and viewer.

Only the second imports anything beyond ``requests``: checking a deployment needs no emulator,
no AWS SDK and no AWS credentials.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.smoke.target import SmokeClient, Target


def _target() -> Target:
    configured = Target.from_environment()
    if configured is not None:
        return configured
    from tests.integration.harness import API_KEY, live_api

    live = live_api()
    return Target(
        base_url=live.url,
        api_key=API_KEY,
        token=live.token("editor"),
        viewer_token=live.token("viewer"),
    )


@pytest.fixture(scope="module")
def smoke() -> Iterator[SmokeClient]:
    """A client of the target; the items it created are deleted when the checks are done
    (module scope: before any session fixture may stop the local server)."""
    client = SmokeClient(_target())
    yield client
    left = client.clean_up()
    assert left == [], f"could not delete the smoke run's items {left} (tag {client.tag})"
