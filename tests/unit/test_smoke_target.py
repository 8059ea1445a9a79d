"""The smoke suite's view of its target (``tests/smoke/target.py``): only what a client has,
read from the environment, and credentials chosen by role."""

from __future__ import annotations

import pytest

from tests.smoke.target import (
    ANONYMOUS,
    API_KEY,
    BASE_URL,
    KEYLESS,
    READER,
    TOKEN,
    TOKENLESS,
    VIEWER_TOKEN,
    WRITER,
    Target,
)


def test_without_a_base_url_there_is_no_configured_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL, raising=False)
    monkeypatch.setenv(API_KEY, "key")

    assert Target.from_environment() is None


@pytest.mark.parametrize("missing", [API_KEY, TOKEN, VIEWER_TOKEN])
def test_a_base_url_needs_a_key_and_both_tokens(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setenv(BASE_URL, "https://a1b2.execute-api.eu-west-1.amazonaws.com/api")
    for variable in (API_KEY, TOKEN, VIEWER_TOKEN):
        monkeypatch.setenv(variable, "value")
    monkeypatch.delenv(missing)

    with pytest.raises(SystemExit, match=missing):
        Target.from_environment()


def test_the_base_url_keeps_its_path_without_a_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BASE_URL, " https://a1b2.execute-api.eu-west-1.amazonaws.com/api/ ")
    monkeypatch.setenv(API_KEY, "key")
    monkeypatch.setenv(TOKEN, "editor-token")
    monkeypatch.setenv(VIEWER_TOKEN, "viewer-token")

    target = Target.from_environment()

    assert target == Target(
        "https://a1b2.execute-api.eu-west-1.amazonaws.com/api",
        "key",
        "editor-token",
        "viewer-token",
    )


def test_each_role_sends_its_credentials() -> None:
    target = Target("http://127.0.0.1:8000", "key", "editor-token", "viewer-token")

    assert target.credentials(WRITER) == {
        "x-api-key": "key",
        "Authorization": "Bearer editor-token",
    }
    assert target.credentials(READER) == {
        "x-api-key": "key",
        "Authorization": "Bearer viewer-token",
    }
    assert target.credentials(KEYLESS) == {"Authorization": "Bearer editor-token"}
    assert target.credentials(TOKENLESS) == {"x-api-key": "key"}
    assert target.credentials(ANONYMOUS) == {}
