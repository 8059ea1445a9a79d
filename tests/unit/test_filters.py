"""The listing filters ``tag=`` and ``name_prefix=`` (issue 16): what they list, how they
combine with ``status``, what their pages and the writes that feed them cost."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.items.filters import NAME_PREFIX_INDEXED, fold, listings_of
from chalicelib.schema import FILTER_INDEX, LISTING_SHARDS
from tests.unit.harness import InProcessApi, Requests, records_of


def ids(api: InProcessApi, query: str) -> list[str]:
    listed, _ = api.list_all(query)
    return [item["id"] for item in listed]


def entries_of(item_id: str) -> set[str]:
    return {
        record["sk"]["S"].removeprefix("item#entry#")
        for record in records_of(item_id)
        if record["sk"]["S"].startswith("item#entry#")
    }


def test_a_tag_lists_the_items_carrying_it_newest_first(api: InProcessApi) -> None:
    older = api.create_item("mug", tags=["kitchen", "blue"])
    api.create_item("plate", tags=["dining"])
    newer = api.create_item("kettle", tags=["kitchen"], status="archived")

    assert ids(api, "tag=kitchen") == [newer["id"], older["id"]]
    assert ids(api, "tag=kitchen&status=active") == [older["id"]]
    assert ids(api, "tag=kitchen&status=archived") == [newer["id"]]
    assert ids(api, "tag=nothing") == []
    assert ids(api, "tag=Kitchen") == []  # tags compare exactly


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("Blue mug", "blue"),
        ("BLUE MUG", "Blue M"),
        ("Straße sign", "strasse"),  # case folding
        ("\uff42\uff4c\uff55\uff45 \uff4d\uff55\uff47", "blue"),  # NFKC: fullwidth letters
        ("ﬁne print", "fi"),  # NFKC: the ligature
        ("Ǆemal", "dž"),  # a titlecase digraph
    ],
)
def test_a_name_prefix_matches_case_insensitively_after_nfkc_folding(
    api: InProcessApi, name: str, prefix: str
) -> None:
    item = api.create_item(name)
    api.create_item("something else")

    assert ids(api, f"name_prefix={prefix}") == [item["id"]]


def test_a_long_name_prefix_reads_the_listing_of_its_first_characters(api: InProcessApi) -> None:
    wanted = api.create_item("Blueberry jam, homemade")
    api.create_item("Blueberry pancakes")  # shares the first 8 characters, not the prefix

    assert ids(api, "name_prefix=blueberry%20jam") == [wanted["id"]]
    assert ids(api, "name_prefix=blueberr") == ids(api, "name_prefix=blueberry")


def test_a_long_prefix_page_reads_on_until_it_is_full(api: InProcessApi) -> None:
    """Newer items that share only the indexed first characters do not leave the page short
    (an empty first page with a cursor reads as "no matches" to a person): the listing is read
    on, a round of about a page at a time, at most ``FILL_ROUNDS`` rounds."""
    from chalicelib.items.repository import FILL_ROUNDS

    wanted = [api.create_item(f"abcdefgh-1 {n}")["id"] for n in range(3)]
    for n in range(6):  # newer, same first 8 characters, not the prefix
        api.create_item(f"abcdefgh-2 {n}")

    first = api.request("GET", "/items?name_prefix=abcdefgh-1&limit=3").json
    assert [item["id"] for item in first["items"]] == wanted[::-1]
    assert FILL_ROUNDS >= 3  # two rounds of non-matches, then the matches


def test_a_page_still_short_after_its_rounds_carries_its_cursor(api: InProcessApi) -> None:
    from chalicelib.items.repository import FILL_ROUNDS

    wanted = api.create_item("abcdefgh-1 old")["id"]
    for n in range(FILL_ROUNDS + 1):
        api.create_item(f"abcdefgh-2 {n}")

    page = api.request("GET", "/items?name_prefix=abcdefgh-1&limit=1").json
    assert page["items"] == []
    assert page["next_cursor"]
    assert ids(api, "name_prefix=abcdefgh-1&limit=1") == [wanted]


def test_an_item_is_listed_under_each_tag_and_each_short_prefix_of_its_name() -> None:
    item: dict[str, Any] = {"name": "  Blue Mug, large ", "tags": ["kitchen", "sale"]}

    assert listings_of(item) == {
        "tag:kitchen",
        "tag:sale",
        *(f"name:{fold(item['name'])[:n]}" for n in range(1, NAME_PREFIX_INDEXED + 1)),
    }
    assert fold(item["name"]) == "blue mug, large"


def test_a_write_moves_the_item_between_listings(api: InProcessApi) -> None:
    item = api.create_item("Mug", tags=["kitchen"])
    path = f"/items/{item['id']}"

    assert api.request("PATCH", path, {"tags": ["garden"], "name": "Pot"}).status == 200
    assert ids(api, "tag=kitchen") == []
    assert ids(api, "tag=garden") == [item["id"]]
    assert ids(api, "name_prefix=mug") == []
    assert ids(api, "name_prefix=pot") == [item["id"]]
    assert entries_of(item["id"]) == {"tag:garden", "name:p", "name:po", "name:pot"}

    assert api.request("PATCH", path, {"status": "archived"}).status == 200
    assert ids(api, "tag=garden&status=active") == []
    assert ids(api, "tag=garden&status=archived") == [item["id"]]
    assert ids(api, "name_prefix=po&status=archived") == [item["id"]]


def test_a_deleted_item_leaves_every_listing_and_its_entries_go(api: InProcessApi) -> None:
    item = api.create_item("Lamp", tags=["light"])
    assert api.request("DELETE", f"/items/{item['id']}").status == 204

    assert ids(api, "tag=light") == []  # its entries may still be indexed: left out
    api.deliver_events()
    assert records_of(item["id"]) == []


def test_paging_a_filter_visits_every_item_once(api: InProcessApi) -> None:
    made = [api.create_item(f"Chair {n}", tags=["seat"]) for n in range(9)]
    api.create_item("Table", tags=["seat"], status="archived")

    listed, pages = api.list_all("tag=seat&status=active&limit=2")

    assert [item["id"] for item in listed] == [item["id"] for item in reversed(made)]
    assert pages == 5


def test_a_cursor_is_only_valid_for_the_filters_it_was_issued_with(api: InProcessApi) -> None:
    for n in range(3):
        api.create_item(f"Cup {n}", tags=["cup", "mug"])
    cursor = api.request("GET", "/items?tag=cup&limit=1").json["next_cursor"]
    assert cursor

    for query in ("tag=mug", "tag=cup&status=active", "name_prefix=cup", ""):
        reply = api.request("GET", f"/items?{query}&cursor={cursor}")
        assert reply.status == 400, query
        assert reply.json["Message"].startswith("cursor:")
    assert api.request("GET", f"/items?tag=cup&limit=1&cursor={cursor}").status == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tag=", "tag"),
        ("tag=" + "x" * 51, "tag"),
        ("tag=a%00b", "tag"),
        ("tag=a%E2%80%AEb", "tag"),
        ("name_prefix=", "name_prefix"),
        ("name_prefix=" + "x" * 201, "name_prefix"),
        ("name_prefix=%20%20", "name_prefix"),
        ("name_prefix=a%0Ab", "name_prefix"),
        ("tag=a&name_prefix=b", "tag"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(
    api: InProcessApi, query: str, field: str
) -> None:
    reply = api.request("GET", f"/items?{query}")

    assert reply.status == 400
    assert reply.json["Message"].startswith(f"{field}:"), reply.json


@pytest.mark.parametrize(("query", "streams"), [("tag=t", 2), ("tag=t&status=active", 1)])
def test_a_filtered_page_queries_the_filters_shards_then_reads_its_items_once(
    api: InProcessApi, ddb: Requests, query: str, streams: int
) -> None:
    for n in range(3):
        api.create_item(f"n{n}", tags=["t"])

    sent = ddb.during(lambda: api.request("GET", f"/items?{query}&limit=2"))

    queries = [params for name, params in sent if name == "Query"]
    assert [name for name, _ in sent] == ["Query"] * (streams * LISTING_SHARDS) + ["BatchGetItem"]
    assert {q["IndexName"] for q in queries} == {FILTER_INDEX.name}
    assert all(q["ScanIndexForward"] is False for q in queries)


def test_a_create_is_one_transaction_with_its_entries(api: InProcessApi, ddb: Requests) -> None:
    sent = ddb.during(lambda: api.create_item("Vase", tags=["home", "glass"]))

    ((name, params),) = sent
    assert name == "TransactWriteItems"
    puts = [action["Put"] for action in params["TransactItems"]]
    assert "attribute_not_exists" in puts[0]["ConditionExpression"]
    assert {p["Item"]["sk"]["S"] for p in puts[1:]} == {
        "item#entry#tag:home",
        "item#entry#tag:glass",
        *(f"item#entry#name:{'vase'[:n]}" for n in range(1, 5)),
    }


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"description": "d", "attributes": None}, ["UpdateItem"]),
        ({"tags": ["new"]}, ["GetItem", "TransactWriteItems"]),
        ({"name": "Renamed"}, ["GetItem", "TransactWriteItems"]),
        ({"status": "archived"}, ["GetItem", "TransactWriteItems"]),
    ],
)
def test_only_writes_that_move_an_item_between_listings_read_it_first(
    api: InProcessApi, ddb: Requests, patch: dict[str, Any], expected: list[str]
) -> None:
    item = api.create_item("Bowl", tags=["old"])

    sent = ddb.during(lambda: api.request("PATCH", f"/items/{item['id']}", patch))

    assert [name for name, _ in sent] == expected


def test_a_write_racing_between_its_read_and_its_transaction_is_tried_again(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import container

    item = api.create_item("Jug", tags=["a"])
    repository = container.get_services().items.repository
    real_get = repository.get
    raced: list[bool] = []

    def get_then_someone_writes(item_id: str) -> dict[str, Any]:
        stored = real_get(item_id)
        if not raced:
            raced.append(True)
            assert api.request("PATCH", f"/items/{item_id}", {"description": "x"}).status == 200
        return stored

    monkeypatch.setattr(repository, "get", get_then_someone_writes)

    without = api.request("PATCH", f"/items/{item['id']}", {"tags": ["b"]})
    assert without.status == 200
    assert without.json["version"] == 3
    assert without.json["description"] == "x"  # the concurrent write was not overwritten
    assert entries_of(item["id"]) >= {"tag:b"}

    raced.clear()
    stale = api.request("PATCH", f"/items/{item['id']}", {"tags": ["c"]}, {"If-Match": '"3"'})
    assert stale.status == 412  # with If-Match, the race is the client's to resolve
    assert ids(api, "tag=c") == []
