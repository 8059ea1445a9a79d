"""The S3 assets bucket: the only code that talks to S3."""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translated_aws_errors
from chalicelib.schema import ATTACHMENTS_PREFIX

FILE_STORAGE = "file storage"


class FileStorage:
    """Objects of one bucket, below the attachments prefix."""

    def __init__(self, client: Any, bucket_name: str) -> None:
        self._client = client
        self._bucket = bucket_name

    def ping(self) -> None:
        """Raise ``DependencyUnavailableError`` when S3 cannot be reached.

        A ``HEAD`` of a key that never exists: any S3 answer (404, or 403 without list
        permission) proves the bucket's endpoint is reachable, with no extra IAM permission.
        """
        from botocore.exceptions import ClientError

        try:
            with translated_aws_errors(FILE_STORAGE):
                self._client.head_object(Bucket=self._bucket, Key=f"{ATTACHMENTS_PREFIX}.health")
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status not in (403, 404):
                raise
