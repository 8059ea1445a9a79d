"""Fixtures of the integration tests (the harness itself is ``tests/integration/harness.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.harness import LiveApi, live_api


@pytest.fixture(scope="session")
def live() -> Iterator[LiveApi]:
    """``chalice local`` + the moto server, shared by every integration test of the session."""
    api = live_api()
    yield api
    api.stop()
