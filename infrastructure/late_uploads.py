"""The late-upload sweep's trigger: new attachment files, from S3 through EventBridge."""

from __future__ import annotations

from aws_cdk import Annotations, CfnResource, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.schema import ATTACHMENTS_PREFIX


class LateUploadSweep(Construct):
    """Send every new object below the attachments prefix to the sweep function.

    A presigned POST stays valid for 15 minutes, so a file can land after its item was deleted;
    the sweep removes any file no attachment record claims. Events that cannot be delivered go
    to the same dead-letter queue as the sweep's own failures.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        sweeper: CfnResource,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "NewAttachmentFiles",
            description="New objects below attachments/ of the assets bucket",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": ATTACHMENTS_PREFIX}]},
                },
            ),
        )
        # Rule and function are in this stack; the warning is about an account unknown at synth.
        Annotations.of(self.rule).acknowledge_warning(
            "@aws-cdk/aws-events:ruleUnresolvedEnvironment",
            "the rule and its target function are in the same stack",
        )
        function = lambda_.Function.from_function_attributes(
            self,
            "SweeperFunction",
            function_arn=sweeper.get_att("Arn").to_string(),
            same_environment=True,  # lets the target grant EventBridge the invoke permission
        )
        self.rule.add_target(
            targets.LambdaFunction(
                function,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
                dead_letter_queue=dead_letters,
            )
        )
