"""The composition root: builds the services from settings and lazily created clients."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.aws import create_client
from chalicelib.cursors import CursorCodec
from chalicelib.repository import ItemRepository
from chalicelib.service import ItemService
from chalicelib.settings import Settings
from chalicelib.storage import FileStorage


@dataclass(frozen=True)
class Services:
    """Everything a request handler may call."""

    items: ItemService
    files: FileStorage


def build_services(settings: Settings) -> Services:
    """Wire the services to real AWS clients (region and endpoints from the environment)."""
    dynamodb = create_client("dynamodb")
    s3 = create_client("s3")
    repository = ItemRepository(
        dynamodb, settings.items_table_name, CursorCodec(settings.cursor_secret)
    )
    return Services(
        items=ItemService(repository), files=FileStorage(s3, settings.assets_bucket_name)
    )
