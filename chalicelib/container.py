"""The composition root: builds the services from settings and lazily created clients."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from chalicelib import telemetry
from chalicelib.attachments.repository import AttachmentRepository
from chalicelib.attachments.service import AttachmentService
from chalicelib.attachments.storage import FileStorage
from chalicelib.aws import create_client
from chalicelib.cursors import CursorCodec
from chalicelib.items.idempotency import IdempotentCreates
from chalicelib.items.repository import ItemRepository
from chalicelib.items.service import ItemService
from chalicelib.settings import Settings, get_settings


@dataclass(frozen=True)
class Services:
    """Everything a request handler may call."""

    items: ItemService
    attachments: AttachmentService
    files: FileStorage
    idempotency: IdempotentCreates


def build_services(settings: Settings) -> Services:
    """Wire the services to real AWS clients (region and endpoints from the environment)."""
    telemetry.tracer()  # in Lambda: patch botocore for X-Ray before any client exists
    dynamodb = create_client("dynamodb")
    cursors = CursorCodec(settings.cursor_secret)
    files = FileStorage(create_client("s3"), settings.assets_bucket_name)
    attachments = AttachmentService(
        AttachmentRepository(dynamodb, settings.items_table_name),
        files,
        cursors,
        allowed_content_types=settings.allowed_content_types,
        max_bytes=settings.max_attachment_bytes,
    )
    items = ItemService(ItemRepository(dynamodb, settings.items_table_name, cursors))
    return Services(
        items=items,
        attachments=attachments,
        files=files,
        idempotency=IdempotentCreates(dynamodb, settings.idempotency_table_name),
    )


@functools.cache
def get_services() -> Services:
    """The services of this process, built on first use (no AWS client at import time)."""
    return build_services(get_settings())
