"""Monitoring: alarm topic, alarms (missing data not breaching), dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infrastructure.api import FUNCTION_ID, SWEEPER_ID
from tests.infrastructure.conftest import Synthesized


def _alarms(stage: Synthesized) -> list[dict[str, Any]]:
    return [a["Properties"] for a in stage.resources("AWS::CloudWatch::Alarm").values()]


def _by_metric(stage: Synthesized, namespace: str, name: str) -> list[dict[str, Any]]:
    return [
        a for a in _alarms(stage) if a.get("Namespace") == namespace and a.get("MetricName") == name
    ]


def test_topic_is_encrypted_and_email_subscribed_only_when_configured(
    dev: Synthesized, prod: Synthesized
) -> None:
    for stage in (dev, prod):
        topic = stage.only("AWS::SNS::Topic")["Properties"]
        assert "KmsMasterKeyId" in topic
    dev.template.resource_count_is("AWS::SNS::Subscription", 0)
    prod.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": prod.context["alarmEmail"]}
    )


def test_every_alarm_notifies_the_topic_and_ignores_missing_data(stage: Synthesized) -> None:
    topic_id = next(iter(stage.resources("AWS::SNS::Topic")))
    alarms = _alarms(stage)
    assert len(alarms) >= 15
    for alarm in alarms:
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


@pytest.mark.parametrize(
    ("namespace", "metric"),
    [
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("ItemsApi", "ItemConflicts"),
        ("ItemsApi", "ItemThrottles"),
        ("ItemsApi", "OrphanedFileCleanupFailures"),
    ],
)
def test_alarm_exists_for(dev: Synthesized, namespace: str, metric: str) -> None:
    assert len(_by_metric(dev, namespace, metric)) >= 1


def _function_of(alarm: dict[str, Any]) -> Any:
    (dimension,) = alarm["Dimensions"]
    assert dimension["Name"] == "FunctionName"
    return dimension["Value"]


def test_lambda_alarms_watch_the_chalice_function(dev: Synthesized) -> None:
    for name in ("Throttles", "Duration"):
        (alarm,) = _by_metric(dev, "AWS/Lambda", name)
        assert _function_of(alarm) == {"Ref": FUNCTION_ID}
    errors = _by_metric(dev, "AWS/Lambda", "Errors")
    assert sorted(_function_of(a)["Ref"] for a in errors) == sorted([FUNCTION_ID, SWEEPER_ID])


def test_dead_lettered_sweeps_raise_an_alarm(dev: Synthesized) -> None:
    (queue_id,) = dev.resources("AWS::SQS::Queue")
    (alarm,) = _by_metric(dev, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    assert alarm["Threshold"] == 1


def test_duration_alarm_is_p99_near_the_timeout(dev: Synthesized) -> None:
    (alarm,) = _by_metric(dev, "AWS/Lambda", "Duration")
    assert alarm["ExtendedStatistic"] == "p99"
    timeout_ms = dev.function()["Properties"]["Timeout"] * 1000
    assert 0.5 * timeout_ms <= alarm["Threshold"] < timeout_ms


def test_api_alarms_use_rates_and_p99_of_this_stage(dev: Synthesized) -> None:
    api_name = dev.only("AWS::Serverless::Api")["Properties"]["Name"]
    for name, statistic in (("5XXError", "Average"), ("4XXError", "Average")):
        (alarm,) = _by_metric(dev, "AWS/ApiGateway", name)
        assert alarm["Statistic"] == statistic
        assert alarm["Threshold"] < 1  # a fraction of requests, not a count
        assert {"Name": "ApiName", "Value": api_name} in alarm["Dimensions"]
        assert {"Name": "Stage", "Value": "api"} in alarm["Dimensions"]
    (latency,) = _by_metric(dev, "AWS/ApiGateway", "Latency")
    assert latency["ExtendedStatistic"] == "p99"


def test_lambda_error_rate_is_a_math_expression(dev: Synthesized) -> None:
    math = [
        a
        for a in _alarms(dev)
        if any("Expression" in q and "invocations" in q["Expression"] for q in a.get("Metrics", []))
    ]
    assert len(math) == 1
    names = {
        q["MetricStat"]["Metric"]["MetricName"] for q in math[0]["Metrics"] if "MetricStat" in q
    }
    assert names == {"Errors", "Invocations"}


def test_dynamodb_throttle_and_system_error_alarms_per_table(dev: Synthesized) -> None:
    tables = set(dev.resources("AWS::DynamoDB::Table"))
    for name in ("ReadThrottleEvents", "WriteThrottleEvents"):
        alarms = _by_metric(dev, "AWS/DynamoDB", name)
        assert {a["Dimensions"][0]["Value"]["Ref"] for a in alarms} == tables
    system = [a for a in _alarms(dev) if "SystemErrors" in json.dumps(a.get("Metrics", []))]
    assert len(system) == len(tables)


def test_business_metric_alarms_use_the_service_dimension(dev: Synthesized) -> None:
    for name in ("ItemConflicts", "ItemThrottles", "OrphanedFileCleanupFailures"):
        (alarm,) = _by_metric(dev, "ItemsApi", name)
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "items-api"}]
        assert alarm["Statistic"] == "Sum"


def test_dashboard_shows_api_lambda_and_dynamodb(dev: Synthesized) -> None:
    body = json.dumps(dev.only("AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    for needle in (
        "AWS/ApiGateway",
        "AWS/Lambda",
        "AWS/DynamoDB",
        "ItemConflicts",
        "LateUploadsRemoved",
        "AWS/SQS",
    ):
        assert needle in body
