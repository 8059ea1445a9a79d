"""Context validation: mistakes in cdk.json or -c options fail synthesis with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.config import DeploymentSettings
from infrastructure.powertools import POWERTOOLS_SSM_REGIONS
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


def test_a_region_without_the_powertools_layer_parameter_is_refused_naming_the_supported_ones() -> (
    None
):
    """Synth fails in a region where /aws/service/powertools/... does not exist.

    The stack resolves the layer ARN from Powertools' public SSM parameter at deploy time, and
    CloudFormation fails a stack whose SSM parameter type names a missing parameter; Powertools
    publishes the parameters only in the regions of its installation guide's layer tables (and
    no longer in me-central-1 and me-south-1).
    """
    for region in ("me-central-1", "cn-north-1", "us-gov-west-1", "eu-west-9", "US-EAST-1"):
        with pytest.raises(ValueError, match="not supported") as refused:
            _settings(region=region)
        assert "us-east-1" in str(refused.value)
        assert "eu-west-1" in str(refused.value)
    for region in POWERTOOLS_SSM_REGIONS:
        assert _settings(region=region).region == region


def test_billing_mode_defaults_to_on_demand_for_dev_and_provisioned_for_prod() -> None:
    assert _settings().billing_mode == "PAY_PER_REQUEST"
    assert not _settings().is_provisioned
    assert _settings(stage="prod").billing_mode == "PROVISIONED"
    assert _settings(stage="prod", billingMode="PAY_PER_REQUEST").billing_mode == "PAY_PER_REQUEST"
    assert _settings(billingMode="PROVISIONED").is_provisioned
    with pytest.raises(ValueError, match="billingMode"):
        _settings(billingMode="ON_DEMAND")


def test_provisioned_maxima_must_reach_the_stage_throttle() -> None:
    """With provisioned capacity, each auto-scaling maximum must cover the admitted rate.

    Every request costs at least one read or one write capacity unit (DynamoDB Developer Guide,
    "Read/write capacity mode"), so maxima below the stage's rate throttle forever.
    """
    with pytest.raises(ValueError, match="writeCapacityMax"):
        _settings(stage="prod", writeCapacityMax=40, throttleRateLimit=50)
    with pytest.raises(ValueError, match="readCapacityMax"):
        _settings(billingMode="PROVISIONED", readCapacityMax=10)
    # On-demand tables have no maxima to reach.
    assert _settings(writeCapacityMax=1).write_capacity_max == 1
    assert _settings(stage="prod").read_capacity_max >= _settings().throttle_rate_limit
