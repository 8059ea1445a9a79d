"""Fixtures of the unit tests (the harness itself is ``tests/unit/harness.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.harness import InProcessApi, Requests, in_process_api


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InProcessApi]:
    """A fresh app, tables and bucket for one test."""
    yield from in_process_api(monkeypatch, tmp_path)


@pytest.fixture
def ddb(api: InProcessApi) -> Requests:
    """The DynamoDB requests the app sends, recorded while a test runs."""
    return Requests(api.app_client("dynamodb"))
