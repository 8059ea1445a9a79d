"""The EventBridge event S3 sends for a new object: what the stack delivers to
``confirm_upload``, built the same way by every test tier that invokes it directly."""

from __future__ import annotations

from typing import Any


def object_created(
    bucket: str, key: str, size: int = 4, time: str = "2026-11-22T23:45:00Z"
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size},
            "reason": "PostObject",
        },
    }
