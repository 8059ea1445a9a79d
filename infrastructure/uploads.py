"""S3's upload events to the upload confirmation: new attachment files, through EventBridge."""

from __future__ import annotations

from aws_cdk import Annotations, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.schema import uploads_event_pattern
from infrastructure.functions import ALIAS_REFERENCE
from infrastructure.nag import acknowledge


class UploadEvents(Construct):
    """Send every new object below the attachments prefix to the upload confirmation.

    It marks the attachment's record uploaded with the file's real size, or removes a file no
    record claims (a presigned POST stays valid for 15 minutes, so a file can land after its
    item was deleted). Events that cannot be delivered go to the same dead-letter queue as the
    function's own failures.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        confirmer_arn: str,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        pattern = uploads_event_pattern(bucket.bucket_name)  # the one definition, also local
        self.rule = events.Rule(
            self,
            "NewAttachmentFiles",
            description="New objects below attachments/ of the assets bucket",
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern["detail-type"],
                detail=pattern["detail"],
            ),
        )
        # Rule and function are in this stack; the warning is about an account unknown at synth.
        Annotations.of(self.rule).acknowledge_warning(
            "@aws-cdk/aws-events:ruleUnresolvedEnvironment",
            "the rule and its target function are in the same stack",
        )
        acknowledge(self.rule, ALIAS_REFERENCE)  # the target and its invoke permission
        function = lambda_.Function.from_function_attributes(
            self,
            "ConfirmerFunction",
            # The live alias: the published version with its configuration (the target and
            # EventBridge's invoke permission both name it).
            function_arn=confirmer_arn,
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
