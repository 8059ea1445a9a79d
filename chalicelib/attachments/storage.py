"""The S3 assets bucket: the only code that talks to S3.

Everything lives below ``attachments/<item id>/``; the Lambda role may touch nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.aws import translated_aws_errors
from chalicelib.errors import DependencyUnavailableError
from chalicelib.schema import ATTACHMENTS_PREFIX
from chalicelib.timestamps import rfc3339

FILE_STORAGE = "file storage"


@dataclass(frozen=True)
class StoredFile:
    """What S3 says of a stored object."""

    size: int
    uploaded_at: str


class FileStorage:
    """Objects of one bucket, below the attachments prefix."""

    def __init__(self, client: Any, bucket_name: str) -> None:
        self._client = client
        self._bucket = bucket_name

    def _status(self, exc: Exception) -> int:
        return int(
            getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        )

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
            if self._status(exc) not in (403, 404):
                raise

    def head(self, key: str) -> StoredFile | None:
        """The object at ``key``, or ``None`` when there is none.

        S3 answers a ``HEAD`` of a missing key with 404 only to a caller that may list the
        bucket, and with 403 to one that may not; the functions may read their own keys but
        not list, so both mean "not there". A 403 cannot mean anything else for our own keys:
        the role allows ``s3:GetObject`` on every key below the attachments prefix.
        """
        from botocore.exceptions import ClientError

        try:
            with translated_aws_errors(FILE_STORAGE):
                response = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if self._status(exc) in (403, 404):
                return None
            raise
        return StoredFile(
            size=int(response["ContentLength"]), uploaded_at=rfc3339(response["LastModified"])
        )

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> dict[str, Any]:
        """A browser-usable POST whose policy admits only this type and at most this size."""
        with translated_aws_errors(FILE_STORAGE):
            post: dict[str, Any] = self._client.generate_presigned_post(
                Bucket=self._bucket,
                Key=key,
                Fields={"Content-Type": content_type},
                Conditions=[
                    {"Content-Type": content_type},
                    ["content-length-range", 1, max_bytes],
                ],
                ExpiresIn=expires_in,
            )
        return {"url": post["url"], "fields": post["fields"]}

    def presign_download(
        self, key: str, *, content_type: str, content_disposition: str, expires_in: int
    ) -> str:
        """A short-lived GET URL that names the file as its original filename."""
        with translated_aws_errors(FILE_STORAGE):
            url: str = self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "ResponseContentType": content_type,
                    "ResponseContentDisposition": content_disposition,
                },
                ExpiresIn=expires_in,
            )
        return url

    def _keys(self, prefix: str) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        with translated_aws_errors(FILE_STORAGE):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for entry in page.get("Contents", []):
                    found[entry["Key"]] = entry["LastModified"]
        return found

    def delete(self, key: str) -> None:
        with translated_aws_errors(FILE_STORAGE):
            self._client.delete_object(Bucket=self._bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object below ``prefix``; returns how many there were."""
        keys = list(self._keys(prefix))
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            with translated_aws_errors(FILE_STORAGE):
                response = self._client.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            if response.get("Errors"):
                # A partial failure is still a failure: the caller must not report success.
                raise DependencyUnavailableError(f"{FILE_STORAGE} is unavailable, retry later")
        return len(keys)
