"""Context validation: mistakes in cdk.json or -c options fail synthesis with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.config import DeploymentSettings
from infrastructure.stack import log_retention
from tests.infrastructure.conftest import default_context


def _settings(**overrides: Any) -> DeploymentSettings:
    context = {**default_context(), **overrides}
    return DeploymentSettings.from_context(context.get)


def test_defaults_are_a_dev_stage_in_us_west_2_without_domains() -> None:
    settings = _settings()
    assert settings.stage == "dev"
    assert settings.region == "us-west-2"
    assert settings.api_domain is None
    assert settings.web_domain is None
    assert settings.alarm_email is None
    assert not settings.is_prod


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="stage must be dev or prod"):
        _settings(stage="staging")


def test_domain_without_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="certificate"):
        _settings(domainName="api.example.com")


def test_missing_number_is_refused() -> None:
    with pytest.raises(ValueError, match="readCapacityMax"):
        _settings(readCapacityMax="")


def test_retention_must_be_one_cloudwatch_offers() -> None:
    with pytest.raises(ValueError, match="logRetentionDays"):
        log_retention(42)
