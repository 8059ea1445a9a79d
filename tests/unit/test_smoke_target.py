"""The smoke suite's view of its target (``tests/smoke/target.py``): only what a client has,
read from the environment, and credentials chosen by role."""

from __future__ import annotations

import pytest

from tests.smoke.target import ANONYMOUS, API_KEY, BASE_URL, READER, WRITER, Target


def test_without_a_base_url_there_is_no_configured_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL, raising=False)
    monkeypatch.setenv(API_KEY, "key")

    assert Target.from_environment() is None


def test_a_base_url_needs_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL, "https://a1b2.execute-api.eu-west-1.amazonaws.com/api")
    monkeypatch.delenv(API_KEY, raising=False)

    with pytest.raises(SystemExit, match=API_KEY):
        Target.from_environment()


def test_the_base_url_keeps_its_path_without_a_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BASE_URL, " https://a1b2.execute-api.eu-west-1.amazonaws.com/api/ ")
    monkeypatch.setenv(API_KEY, "key")

    target = Target.from_environment()

    assert target == Target("https://a1b2.execute-api.eu-west-1.amazonaws.com/api", "key")


def test_readers_and_writers_send_the_key_anonymous_requests_nothing() -> None:
    target = Target("http://127.0.0.1:8000", "key")

    assert target.credentials(WRITER) == {"x-api-key": "key"}
    assert target.credentials(READER) == {"x-api-key": "key"}
    assert target.credentials(ANONYMOUS) == {}
