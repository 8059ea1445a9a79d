"""Context validation: mistakes in cdk.json or -c options fail synthesis with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.config import (
    SNAP_START_UNSUPPORTED_REGIONS,
    DeploymentSettings,
    check_snap_start,
)
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


# -- releases: deployment preference and cold-start options (issue 15)


def test_the_deployment_preference_defaults_per_stage_and_context_selects_it() -> None:
    assert _settings().deployment_type == "AllAtOnce"
    assert _settings(stage="prod").deployment_type == "Canary10Percent5Minutes"
    assert _settings(deploymentPreference="Linear10PercentEvery1Minute").deployment_type == (
        "Linear10PercentEvery1Minute"
    )


def test_an_unknown_deployment_preference_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="deploymentPreference must be one of AllAtOnce"):
        _settings(deploymentPreference="Canary50Percent")


def test_cold_start_options_are_off_by_default() -> None:
    settings = _settings()
    assert settings.snap_start is False
    assert settings.provisioned_concurrency is None


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_provisioned_concurrency_must_be_a_whole_number(value: str) -> None:
    with pytest.raises(ValueError, match="provisionedConcurrency must be a whole number"):
        _settings(provisionedConcurrency=value)


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_snap_start_must_be_a_boolean(value: str) -> None:
    with pytest.raises(ValueError, match="snapStart must be true or false"):
        _settings(snapStart=value)


@pytest.mark.parametrize("snap", [True, "true"])
def test_snap_start_and_provisioned_concurrency_exclude_each_other(snap: Any) -> None:
    """Lambda: "SnapStart does not support provisioned concurrency"; refused at synth."""
    with pytest.raises(ValueError, match="snapStart and provisionedConcurrency exclude each other"):
        _settings(snapStart=snap, provisionedConcurrency=3)
    assert _settings(snapStart=snap).snap_start is True
    assert _settings(provisionedConcurrency="3").provisioned_concurrency == 3


@pytest.mark.parametrize("runtime", ["python3.9", "python3.11", "nodejs20.x"])
def test_snap_start_is_refused_on_a_runtime_without_it(
    runtime: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SnapStart supports Python from 3.12: any older runtime the stack might pin is refused."""
    from infrastructure import config

    monkeypatch.setattr(config, "LAMBDA_RUNTIME", runtime)
    with pytest.raises(ValueError, match=f"snapStart needs python3.12 or later, not {runtime}"):
        _settings(snapStart=True)
    assert _settings().snap_start is False  # the default does not care about the runtime


@pytest.mark.parametrize("region", sorted(SNAP_START_UNSUPPORTED_REGIONS))
def test_snap_start_is_refused_where_lambda_does_not_offer_it(region: str) -> None:
    with pytest.raises(ValueError, match=f"no SnapStart in {region}"):
        check_snap_start("python3.13", region)
