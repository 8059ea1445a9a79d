"""A Python client generated from the served OpenAPI document drives the live API (issue 15.6).

openapi-python-client (pinned in requirements-dev.txt) generates a package from
``GET /openapi.json`` into a temporary directory; every request below goes through that
generated code only, against ``chalice local`` on the moto server. It raises on any status the
document does not declare, so the document's responses are checked too.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.integration.harness import API_KEY, LiveApi

pytestmark = pytest.mark.integration

PACKAGE = "items_api_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


class Generated:
    """The generated package: ``module("api.items.post_items")``, ``model("ItemWrite")``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.{name}")

    def model(self, name: str) -> Any:
        return getattr(self.module("models"), name)

    def client(self, live: LiveApi, api_key: str = API_KEY) -> Any:
        """The generated client, sending the API key and an editor's bearer token, as the
        document's two security schemes say (the generated client carries one as its token, the
        other as a header)."""
        authenticated = self.module("client").AuthenticatedClient
        return authenticated(
            base_url=live.url,
            token=api_key,
            prefix="",
            auth_header_name="x-api-key",
            headers={"Authorization": f"Bearer {live.token()}"},
            raise_on_unexpected_status=True,
        )

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """``sync_detailed`` of an operation module: the response with status, headers, body."""
        return self.module(f"api.{operation}").sync_detailed(*args, **kwargs)


@pytest.fixture(scope="module")
def generated(live: LiveApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("generated-client")
    document = live.request("GET", "/openapi.json", api_key=None)
    assert document.status_code == 200
    (root / "openapi.json").write_bytes(document.content)
    (root / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: not needed here
    options = ["--meta", "none", "--output-path", PACKAGE, "--config", "config.yaml"]
    finished = subprocess.run(
        [str(GENERATOR), "generate", "--path", "openapi.json", *options],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Warning" not in finished.stdout + finished.stderr, finished.stdout + finished.stderr
    sys.path.insert(0, str(root))
    try:
        yield Generated(root)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def create(generated: Generated, client: Any, name: str, **fields: Any) -> Any:
    body = generated.model("ItemWrite")(name=name, **fields)
    response = generated.call("items.post_items", client=client, body=body)
    assert response.status_code == 201, response.content
    return response


def test_create_and_read(generated: Generated, live: LiveApi) -> None:
    client = generated.client(live)
    attributes = generated.model("ItemWriteAttributesType0").from_dict({"price": 12.5})
    created = create(generated, client, "Blue mug", tags=["kitchen"], attributes=attributes)
    item = created.parsed
    assert isinstance(item, generated.model("ItemPublic"))
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"].endswith(f"/items/{item.id}")
    assert isinstance(item.created_at, datetime)  # format: date-time, parsed by the client
    assert item.created_at.utcoffset() is not None

    read = generated.call("items.get_items_item_id", item.id, client=client)
    assert read.status_code == 200
    assert read.headers["ETag"] == '"1"'
    assert read.parsed.to_dict() == item.to_dict()
    assert read.parsed.attributes.to_dict() == {"price": 12.5}
    assert read.parsed.tags == ["kitchen"]


def test_patch_with_if_match_then_a_stale_one_is_a_412(generated: Generated, live: LiveApi) -> None:
    client = generated.client(live)
    attributes = generated.model("ItemWriteAttributesType0").from_dict({"color": "blue", "n": 1})
    item = create(generated, client, "Mug", attributes=attributes).parsed
    patch = generated.model("ItemPatch")
    # RFC 7396 through generated models: set the name, remove one attributes key with null.
    removal = generated.model("ItemPatchAttributesType0").from_dict({"color": None})
    patched = generated.call(
        "items.patch_items_item_id",
        item.id,
        client=client,
        body=patch(name="Red mug", attributes=removal),
        if_match='"1"',
    )
    assert patched.status_code == 200, patched.content
    assert patched.headers["ETag"] == '"2"'
    assert patched.parsed.name == "Red mug"
    assert patched.parsed.version == 2
    assert patched.parsed.attributes.to_dict() == {"n": 1}

    stale = generated.call(
        "items.patch_items_item_id",
        item.id,
        client=client,
        body=patch(name="stale write"),
        if_match='"1"',
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, generated.model("Error"))
    assert stale.parsed.code == "PreconditionFailedError"
    unchanged = generated.call("items.get_items_item_id", item.id, client=client).parsed
    assert (unchanged.name, unchanged.version) == ("Red mug", 2)


def test_paging_visits_every_item_once(generated: Generated, live: LiveApi) -> None:
    client = generated.client(live)
    archived = generated.model("ItemWriteStatusType0")("archived")
    ours = {create(generated, client, f"page {i}", status=archived).parsed.id for i in range(5)}
    status = generated.model("GetItemsStatus")("archived")
    seen: list[str] = []
    cursor: Any = generated.module("types").UNSET
    for _ in range(1000):  # a bound, far above what the session creates
        page = generated.call(
            "items.get_items", client=client, limit=2, status=status, cursor=cursor
        )
        assert page.status_code == 200, page.content
        assert len(page.parsed.items) <= 2
        seen += [item.id for item in page.parsed.items]
        if page.parsed.next_cursor is None:
            break
        cursor = page.parsed.next_cursor
    else:
        pytest.fail("next_cursor never became null")
    assert len(seen) == len(set(seen))  # no item twice
    assert ours <= set(seen)  # every one of ours
    assert len(seen) > 2  # more than one page was walked


def test_delete_with_if_match(generated: Generated, live: LiveApi) -> None:
    client = generated.client(live)
    item = create(generated, client, "doomed").parsed
    stale = generated.call("items.delete_items_item_id", item.id, client=client, if_match='"7"')
    assert stale.status_code == 412
    deleted = generated.call("items.delete_items_item_id", item.id, client=client, if_match='"1"')
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = generated.call("items.get_items_item_id", item.id, client=client)
    assert gone.status_code == 404
    assert gone.parsed.code == "NotFoundError"


def test_an_idempotent_create_replays(generated: Generated, live: LiveApi) -> None:
    client = generated.client(live)
    key = f"generated-{uuid.uuid4()}"
    body = generated.model("ItemWrite")(name="once")
    first = generated.call("items.post_items", client=client, body=body, idempotency_key=key)
    again = generated.call("items.post_items", client=client, body=body, idempotency_key=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.parsed.id == first.parsed.id


def test_a_wrong_api_key_is_api_gateways_403(generated: Generated, live: LiveApi) -> None:
    refused = generated.call("items.get_items", client=generated.client(live, api_key="nope"))
    assert refused.status_code == 403
    assert isinstance(refused.parsed, generated.model("GatewayError"))
    assert refused.parsed.message == "Forbidden"


def test_health_needs_no_key(generated: Generated, live: LiveApi) -> None:
    plain = generated.module("client").Client(base_url=live.url, raise_on_unexpected_status=True)
    health = generated.call("service.get_health", client=plain)
    assert health.status_code == 200
    assert health.parsed.status == "ok"


def test_exact_numbers_through_the_generated_client(generated: Generated, live: LiveApi) -> None:
    """The README's advice: the generated models hold floats, the raw body holds the exact
    numbers, and a decimal-preserving parse of it gets them back."""
    client = generated.client(live)
    numbers = {"big": 12345678901234567890123, "tenth": 0.1}
    attributes = generated.model("ItemWriteAttributesType0").from_dict(numbers)
    item = create(generated, client, "exact", attributes=attributes).parsed
    read = generated.call("items.get_items_item_id", item.id, client=client)
    exact = json.loads(read.content, parse_float=Decimal)["attributes"]
    assert exact == {"big": 12345678901234567890123, "tenth": Decimal("0.1")}
