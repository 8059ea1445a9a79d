"""Monitoring: an alarm topic, alarms on the API, function and tables, and a dashboard."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infrastructure.config import API_STAGE, METRICS_NAMESPACE, SERVICE_NAME
from infrastructure.nag import acknowledge

PERIOD = Duration.minutes(5)
# The alarms that stop a release of the API handler (CodeDeploy moves the alias back): the API's
# 5XX rate and p99 latency, and the function's errors.
RELEASE_ALARM_IDS = ("Api5xxRate", "ApiLatencyP99", "LambdaErrors")
_TABLE_OPERATIONS = [
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.SCAN,
]


class Monitoring(Construct):
    """Alarms that notify an SNS topic, and one dashboard for the API, function and tables."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_name: str,
        function_name: str,
        function_timeout: Duration,
        confirmer_name: str,
        upload_dead_letters: sqs.IQueue,
        cleanup_name: str,
        cleanup_dead_letters: sqs.IQueue,
        tables: dict[str, dynamodb.ITable],
        alarm_email: str | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # A customer-managed key, because CloudWatch cannot publish to a topic encrypted with the
        # AWS-managed SNS key. CloudWatch may use it for this account's alarms only (the key
        # policy cannot name this stack's alarms: they depend on the topic, which needs the key).
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            description="Encrypts the Items API alarm topic",
            removal_policy=removal_policy,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                        )
                    },
                },
            )
        )
        # enforce_ssl writes a topic policy, which replaces SNS's default one: the publishing
        # grant for this stack's alarms is added below, once they exist.
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if alarm_email:
            subscription = self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
            acknowledge(
                subscription,
                {
                    "Serverless-SNSRedrivePolicy": "an email endpoint: SNS retries delivery, and "
                    "failures show in the topic's NumberOfNotificationsFailed metric",
                },
            )
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        def fn_metric(name: str, statistic: str, function: str = function_name) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/Lambda",
                metric_name=name,
                dimensions_map={"FunctionName": function},
                statistic=statistic,
                period=PERIOD,
            )

        def api_metric(name: str, statistic: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map={"ApiName": api_name, "Stage": API_STAGE},
                statistic=statistic,
                period=PERIOD,
            )

        def app_metric(name: str) -> cw.Metric:
            return cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": SERVICE_NAME},
                statistic="Sum",
                period=PERIOD,
            )

        errors, invocations = fn_metric("Errors", "Sum"), fn_metric("Invocations", "Sum")
        duration_p99 = fn_metric("Duration", "p99")
        self._alarm("LambdaErrors", errors, 1, "the function raised errors")
        self._alarm(
            "LambdaErrorRate",
            cw.MathExpression(
                # No guard against zero invocations: metric math drops a data point that divides
                # by zero, and missing data does not breach. (MAX([invocations, 1]) would be
                # refused: an array given to MAX may hold time series only.)
                expression="100 * errors / invocations",
                using_metrics={"errors": errors, "invocations": invocations},
                label="Error rate (%)",
                period=PERIOD,
            ),
            1,
            "more than 1% of invocations failed",
        )
        self._alarm("LambdaThrottles", fn_metric("Throttles", "Sum"), 1, "invocations throttled")
        self._alarm(
            "LambdaDurationP99",
            duration_p99,
            function_timeout.to_milliseconds() * 0.8,
            "p99 duration is above 80% of the timeout",
        )
        self._alarm(
            "Api5xxRate", api_metric("5XXError", "Average"), 0.01, "more than 1% of answers are 5XX"
        )
        self._alarm(
            "Api4xxRate", api_metric("4XXError", "Average"), 0.2, "more than 20% of answers are 4XX"
        )
        self._alarm(
            "ApiLatencyP99", api_metric("Latency", "p99"), 3000, "API p99 latency above 3 s"
        )
        for label, table in tables.items():
            self._alarm(
                f"{label}ReadThrottles",
                table.metric("ReadThrottleEvents", statistic="Sum", period=PERIOD),
                1,
                f"reads of the {label} table throttled",
            )
            self._alarm(
                f"{label}WriteThrottles",
                table.metric("WriteThrottleEvents", statistic="Sum", period=PERIOD),
                1,
                f"writes to the {label} table throttled",
            )
            self._alarm(
                f"{label}SystemErrors",
                table.metric_system_errors_for_operations(
                    operations=_TABLE_OPERATIONS, period=PERIOD
                ),
                1,
                f"DynamoDB system errors on the {label} table",
            )
        # Business metrics the app emits with Powertools (EMF): write conflicts (412) and requests
        # refused because DynamoDB throttled (429/503).
        self._alarm(
            "ItemConflicts", app_metric("ItemConflicts"), 50, "many concurrent-edit conflicts"
        )
        self._alarm("ItemThrottles", app_metric("ItemThrottles"), 1, "clients were throttled")
        # What a removed record leaves behind is removed from the stream; a record whose
        # leftovers could not be removed is retried, then dead-lettered.
        self._alarm(
            "RecordCleanupFailures",
            app_metric("RecordCleanupFailures"),
            1,
            "what a removed item or attachment record left behind could not be removed (yet)",
        )
        confirmer_errors = fn_metric("Errors", "Sum", confirmer_name)
        upload_dead_letters_visible = (
            upload_dead_letters.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=PERIOD
            )
        )
        self._alarm(
            "UploadConfirmationErrors",
            confirmer_errors,
            1,
            "confirming an upload failed (Lambda retries it, then dead-letters the event)",
        )
        self._alarm(
            "UploadDeadLetters",
            upload_dead_letters_visible,
            1,
            "upload events were not handled: they wait in the dead-letter queue",
        )
        cleanup_errors = fn_metric("Errors", "Sum", cleanup_name)
        # How far behind the stream the cleanup is: its records expire after 24 hours.
        iterator_age = fn_metric("IteratorAge", "Maximum", cleanup_name)
        cleanup_dead_letters_visible = (
            cleanup_dead_letters.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=PERIOD
            )
        )
        self._alarm("RecordCleanupErrors", cleanup_errors, 1, "the record cleanup failed")
        self._alarm(
            "RecordCleanupIteratorAge",
            iterator_age,
            Duration.hours(1).to_milliseconds(),
            "the record cleanup is an hour or more behind the items table's stream",
        )
        self._alarm(
            "CleanupDeadLetters",
            cleanup_dead_letters_visible,
            1,
            "stream batches were given up on: their positions wait in the dead-letter queue",
        )

        self._let_alarms_publish()

        self.dashboard = cw.Dashboard(self, "Dashboard", period_override=cw.PeriodOverride.AUTO)
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="API requests and errors",
                left=[api_metric("Count", "Sum")],
                right=[api_metric("4XXError", "Average"), api_metric("5XXError", "Average")],
            ),
            cw.GraphWidget(
                title="API latency",
                left=[api_metric("Latency", "p50"), api_metric("Latency", "p99")],
            ),
            cw.GraphWidget(
                title="Lambda",
                left=[invocations, errors, fn_metric("Throttles", "Sum")],
                right=[duration_p99],
            ),
        )
        self.dashboard.add_widgets(
            *(
                cw.GraphWidget(
                    title=f"DynamoDB {label}",
                    left=[
                        table.metric_consumed_read_capacity_units(period=PERIOD),
                        table.metric_consumed_write_capacity_units(period=PERIOD),
                    ],
                    right=[
                        table.metric("ReadThrottleEvents", statistic="Sum", period=PERIOD),
                        table.metric("WriteThrottleEvents", statistic="Sum", period=PERIOD),
                    ],
                )
                for label, table in tables.items()
            ),
            cw.GraphWidget(
                title="Items API business metrics",
                left=[app_metric("ItemConflicts"), app_metric("ItemThrottles")],
            ),
            cw.GraphWidget(
                title="Upload confirmation",
                left=[
                    fn_metric("Invocations", "Sum", confirmer_name),
                    confirmer_errors,
                    app_metric("LateUploadsRemoved"),
                ],
                right=[upload_dead_letters_visible],
            ),
            cw.GraphWidget(
                title="Record cleanup (items table stream)",
                left=[
                    fn_metric("Invocations", "Sum", cleanup_name),
                    cleanup_errors,
                    app_metric("RecordCleanupFailures"),
                ],
                right=[iterator_age, cleanup_dead_letters_visible],
            ),
        )

    @property
    def release_alarms(self) -> list[cw.IAlarm]:
        """The alarms a canary release of the API handler is watched by."""
        found = [self.node.find_child(alarm_id) for alarm_id in RELEASE_ALARM_IDS]
        return [alarm for alarm in found if isinstance(alarm, cw.Alarm)]

    def _let_alarms_publish(self) -> None:
        """CloudWatch may publish to the topic on behalf of exactly this stack's alarms."""
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisStack",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": [alarm.alarm_arn for alarm in self.alarms]},
                },
            )
        )

    def _alarm(
        self, construct_id: str, metric: cw.IMetric, threshold: float, description: str
    ) -> None:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Items API: {description}",
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
