"""Fixtures of the unit tests (the harness itself is ``tests/unit/harness.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.harness import InProcessApi, in_process_api


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InProcessApi]:
    """A fresh app, tables and bucket for one test."""
    yield from in_process_api(monkeypatch, tmp_path)
