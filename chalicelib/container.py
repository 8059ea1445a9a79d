"""The composition root: builds the services from settings and lazily created clients.

Everything here is built on first use, each piece only when a request needs it: a ``GET`` or
``POST`` of an item creates the DynamoDB client and the item service, never the S3 client, the
attachment service or the validation models of a write (see docs/benchmarks.md, cold starts).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from chalicelib import telemetry
from chalicelib.aws import create_client
from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:
    from chalicelib.attachments.service import AttachmentService
    from chalicelib.attachments.storage import FileStorage
    from chalicelib.cursors import CursorCodec
    from chalicelib.health import DependencyHealth
    from chalicelib.items.idempotency import IdempotentCreates
    from chalicelib.items.service import ItemService


class Clients:
    """The AWS clients of this process, one per service, each created on first use."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, service_name: str) -> Any:
        client = self._clients.get(service_name)
        if client is None:
            with self._lock:
                if service_name not in self._clients:
                    telemetry.tracer()  # in Lambda: patch botocore for X-Ray before any client
                    self._clients[service_name] = create_client(service_name)
                client = self._clients[service_name]
        return client

    def created(self) -> list[str]:
        """The services whose client exists (for tests and benchmarks)."""
        return sorted(self._clients)


class Services:
    """Everything a request handler may call, each service built when first asked for."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clients = Clients()

    @functools.cached_property
    def cursors(self) -> CursorCodec:
        from chalicelib.cursors import CursorCodec

        return CursorCodec(self.settings.cursor_secret)

    @functools.cached_property
    def items(self) -> ItemService:
        from chalicelib.items.repository import ItemRepository
        from chalicelib.items.service import ItemService

        repository = ItemRepository(
            self.clients.get("dynamodb"), self.settings.items_table_name, self.cursors
        )
        return ItemService(repository)

    @functools.cached_property
    def files(self) -> FileStorage:
        from chalicelib.attachments.storage import FileStorage

        return FileStorage(self.clients.get("s3"), self.settings.assets_bucket_name)

    @functools.cached_property
    def attachments(self) -> AttachmentService:
        from chalicelib.attachments.repository import AttachmentRepository
        from chalicelib.attachments.service import AttachmentService

        return AttachmentService(
            AttachmentRepository(self.clients.get("dynamodb"), self.settings.items_table_name),
            self.files,
            self.cursors,
            allowed_content_types=self.settings.allowed_content_types,
            max_bytes=self.settings.max_attachment_bytes,
        )

    @functools.cached_property
    def idempotency(self) -> IdempotentCreates:
        from chalicelib.items.idempotency import IdempotentCreates

        return IdempotentCreates(self.clients.get("dynamodb"), self.settings.idempotency_table_name)

    @functools.cached_property
    def health(self) -> DependencyHealth:
        """The dependency checks of ``GET /health``, remembered for a few seconds."""
        from chalicelib.health import DependencyHealth

        return DependencyHealth({"dynamodb": self.items.repository.ping, "s3": self.files.ping})


def build_services(settings: Settings) -> Services:
    """The services, wired to AWS clients (region and endpoints from the environment)."""
    return Services(settings)


@functools.cache
def get_services() -> Services:
    """The services of this process, built on first use (no AWS client at import time)."""
    return build_services(get_settings())
