"""Monitoring: alarm topic, alarms (missing data not breaching), dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infrastructure.functions import CLEANUP_ID, FUNCTION_ID, UPLOADS_ID
from tests.infrastructure.conftest import Synthesized
from tests.infrastructure.metric_math import (
    SERIES,
    MetricMathError,
    alarm_expression_type,
    infer,
)


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
        ("ItemsApi", "RecordCleanupFailures"),
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
    assert sorted(_function_of(a)["Ref"] for a in errors) == sorted(
        [FUNCTION_ID, UPLOADS_ID, CLEANUP_ID]
    )


def test_every_dead_letter_queue_raises_an_alarm(dev: Synthesized) -> None:
    queues = set(dev.resources("AWS::SQS::Queue"))
    assert len(queues) == 2  # upload events, stream batches
    alarms = _by_metric(dev, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    watched = set()
    for alarm in alarms:
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "QueueName"
        watched.add(dimension["Value"]["Fn::GetAtt"][0])
        assert alarm["Threshold"] == 1
    assert watched == queues


def test_the_cleanup_falling_behind_its_stream_raises_an_alarm(dev: Synthesized) -> None:
    """IteratorAge: the age of the last record the mapping read; stream records expire after
    24 hours (Lambda Developer Guide, "Using Lambda with DynamoDB", IteratorAge)."""
    (alarm,) = _by_metric(dev, "AWS/Lambda", "IteratorAge")
    assert _function_of(alarm) == {"Ref": CLEANUP_ID}
    assert alarm["Statistic"] == "Maximum"
    assert 0 < alarm["Threshold"] < 24 * 3600 * 1000


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
    for name in ("ItemConflicts", "ItemThrottles", "RecordCleanupFailures"):
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


# -- what CloudWatch checks when it creates the alarms, and what delivery needs -------------------


def test_metric_math_checker_refuses_what_cloudwatch_refuses() -> None:
    """The checker itself: MAX over an array holding a scalar is CloudWatch's documented refusal."""
    variables = {"errors": SERIES, "invocations": SERIES}
    with pytest.raises(MetricMathError, match="array may hold time series only"):
        infer("100 * errors / MAX([invocations, 1])", variables)
    assert infer("100 * errors / invocations", variables) == SERIES
    assert infer("IF(invocations > 0, 100 * errors / invocations, 0)", variables) == SERIES
    assert infer("MAX([errors, invocations])", variables) == SERIES
    assert infer("MAX(errors)", variables) == "S"


def test_every_metric_math_function_gets_arguments_of_the_types_aws_documents(
    stage: Synthesized,
) -> None:
    """Every alarm expression type-checks and returns one time series.

    CloudWatch validates an alarm's metric math at PutMetricAlarm: a function given arguments of
    the wrong type ("Unsupported operand type(s) for MAX") fails the create and rolls the stack
    back, and "any expression used in a PutMetricAlarm operation must return a single time
    series" (CloudWatch User Guide, "Metric math syntax and functions"; API reference,
    MetricDataQuery). A data point dividing by zero is dropped, so no guard is needed.
    """
    math_alarms = [a for a in _alarms(stage) if "Metrics" in a]
    assert math_alarms
    for alarm in math_alarms:
        assert alarm_expression_type(alarm["Metrics"]) == SERIES, alarm["AlarmDescription"]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_alarm_topic_lets_cloudwatch_publish_for_that_alarm_only(stage: Synthesized) -> None:
    """Each alarm's topic policy allows cloudwatch.amazonaws.com sns:Publish, scoped to this alarm.

    A topic policy replaces SNS's default policy: enforce_ssl alone leaves only a Deny, and
    CloudWatch's publishes are then refused, so no alarm reaches anyone (SNS Developer Guide,
    "Amazon SNS access policy use cases"). aws:SourceAccount and aws:SourceArn keep another
    account's alarms from using the topic (IAM User Guide, "The confused deputy problem").
    """
    alarms = stage.resources("AWS::CloudWatch::Alarm")
    policies = stage.resources("AWS::SNS::TopicPolicy").values()
    for alarm_id, alarm in alarms.items():
        for action in alarm["Properties"]["AlarmActions"] + alarm["Properties"]["OKActions"]:
            (policy,) = [p for p in policies if action in p["Properties"]["Topics"]]
            allows = [
                s
                for s in _statements(policy["Properties"]["PolicyDocument"])
                if s["Effect"] == "Allow"
                and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
                and "sns:Publish" in _listed(s["Action"])
            ]
            assert len(allows) == 1, alarm_id
            (allow,) = allows
            assert allow["Resource"] == action
            condition = allow["Condition"]
            assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
            assert {"Fn::GetAtt": [alarm_id, "Arn"]} in _listed(
                condition["ArnEquals"]["aws:SourceArn"]
            )
            # The only Deny is the one for requests without TLS (CloudWatch publishes over TLS).
            for statement in _statements(policy["Properties"]["PolicyDocument"]):
                if statement["Effect"] == "Deny":
                    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_alarm_topic_key_lets_cloudwatch_encrypt_for_this_accounts_alarms(
    stage: Synthesized,
) -> None:
    """CloudWatch may use the topic's key only with aws:SourceAccount and aws:SourceArn set.

    Publishing to an encrypted topic needs kms:GenerateDataKey* and kms:Decrypt for the publishing
    service in the key policy (SNS Developer Guide, "Enable compatibility between event sources
    from AWS services and encrypted topics"); the conditions are the confused-deputy guard.
    """
    topic = stage.only("AWS::SNS::Topic")["Properties"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_policy = stage.json["Resources"][key_id]["Properties"]["KeyPolicy"]
    grants = [
        s
        for s in _statements(key_policy)
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(grants) == 1
    (grant,) = grants
    assert set(_listed(grant["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = json.dumps(grant["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":cloudwatch:" in source_arn
    assert ":alarm:*" in source_arn
    assert "AWS::AccountId" in source_arn
