"""The listing filters ``tag=`` and ``name_prefix=``: what an item is listed under, and how a
filtered page is read.

A filter cannot be a key of the item record itself (an item has up to 20 tags, and a prefix is
not a value), so an item has one small *entry* record per listing it belongs to, beside its own
record: ``item#entry#tag:<tag>`` for each tag, ``item#entry#name:<prefix>`` for each prefix of
its folded name up to ``NAME_PREFIX_INDEXED`` characters. An entry carries the keys of the
filter index: ``<listing>#<status>#<shard>`` (status in the key, so a filter combined with a
status is one set of shards) and ``created_key``, newest first. The entries are written in the
same transaction as the item (see ``ItemRepository``), so a filtered listing never misses an
item because of a crash between two writes; a page still checks every item it reads against
its filter, because an index trails the table by a moment.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.items.listing import created_key, shard_of
from chalicelib.schema import ENTRY_RECORD_PREFIX, FILTER_INDEX

# Prefixes up to this many characters are listings of their own; a longer prefix reads the
# listing of its first NAME_PREFIX_INDEXED characters and keeps the items that match it all
# (at that length a prefix is selective: docs/scale.md).
NAME_PREFIX_INDEXED = 8
STATUSES = ("active", "archived")

FilterKind = Literal["tag", "name"]


def fold(text: str) -> str:
    """Text as ``name_prefix`` compares it: NFKC, case-folded, NFKC again (so that the
    folding of a composed character stays composed), surrounding whitespace dropped."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).strip()


@dataclass(frozen=True)
class Filter:
    """One listing filter: a tag, or a name prefix (already folded)."""

    kind: FilterKind
    value: str

    @property
    def listing(self) -> str:
        """The listing whose entries this filter reads."""
        if self.kind == "name":
            return f"name:{self.value[:NAME_PREFIX_INDEXED]}"
        return f"tag:{self.value}"

    def scope(self) -> str:
        """What a cursor of this filter is bound to."""
        return f"{self.kind}={self.value}"

    def matches(self, item: dict[str, Any]) -> bool:
        """Whether ``item`` belongs in this filter's listing (its entries may be stale)."""
        if self.kind == "tag":
            return self.value in item.get("tags", [])
        return fold(item.get("name", "")).startswith(self.value)


def listings_of(item: dict[str, Any]) -> set[str]:
    """Every filtered listing an item belongs to (the entries it must have)."""
    folded = fold(item["name"])
    prefixes = {
        f"name:{folded[:length]}" for length in range(1, min(len(folded), NAME_PREFIX_INDEXED) + 1)
    }
    return {f"tag:{tag}" for tag in item.get("tags", [])} | prefixes


def entry_sort_key(listing: str) -> str:
    return f"{ENTRY_RECORD_PREFIX}{listing}"


def filter_partition(listing: str, status: str, shard: int) -> str:
    return f"{listing}#{status}#{shard}"


def entry_attributes(item_id: str, listing: str, status: str, created_at: str) -> dict[str, str]:
    """The non-key attributes of an entry: the filter index's keys."""
    return {
        FILTER_INDEX.partition_key.name: filter_partition(listing, status, shard_of(item_id)),
        "created_key": created_key(created_at, item_id),
    }
