"""The EventBridge event S3 sends for a new object: what the stack delivers to the late-upload
sweep, built the same way by every test tier that invokes it."""

from __future__ import annotations

from typing import Any


def object_created(bucket: str, key: str, size: int = 4) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size},
            "reason": "PostObject",
        },
    }
