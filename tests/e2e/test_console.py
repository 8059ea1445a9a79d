"""The web console in a real browser (issue 7): every screen against the real API and bucket."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import FilePayload, Page, expect

from localdev.identity import LOCAL_USERS
from tests.e2e.conftest import OpenPage, assert_accessible
from tests.integration.harness import API_KEY, LiveApi

pytestmark = pytest.mark.integration

Snap = Callable[..., Path]
CONFLICT_TEXT = "changed elsewhere — reload"


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def stored(live: LiveApi, item_id: str) -> dict[str, Any]:
    response = live.request("GET", f"/items/{item_id}")
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()
    return item


def item_names(page: Page) -> list[str]:
    return page.locator("#items-body tr td:first-child").all_inner_texts()


def test_signing_in_keeps_the_tokens_in_the_tab_and_signing_out_forgets_them(
    open_page: OpenPage, live: LiveApi, snap: Snap
) -> None:
    # GIVEN a signed-out visit: the console asks to sign in and shows nothing else
    page = open_page(user=None)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#list-view")).to_be_hidden()
    snap(page, "connect")

    # WHEN the person signs in at the managed login with a wrong password, THEN it says so
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Username").fill("editor")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect username or password")

    # WHEN the right password is given THEN the list opens, signed in as the editor
    page.get_by_label("Password").fill(LOCAL_USERS["editor"][1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Items")).to_be_visible()
    expect(page.locator("#connection-status")).to_contain_text("Signed in as editor")
    # The code and state left the address bar; the tokens live in this tab's session only.
    assert "code=" not in page.url
    stored = json.loads(page.evaluate("sessionStorage.getItem('items-console.tokens')"))
    assert stored["accessToken"].count(".") == 2
    assert stored["refreshToken"]
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []

    # WHEN the person signs out THEN the tokens are gone and the sign-in screen is back
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('items-console.tokens')") is None


def test_a_token_about_to_expire_is_refreshed_before_it_is_used(
    open_page: OpenPage, live: LiveApi
) -> None:
    page = open_page()
    before = json.loads(page.evaluate("sessionStorage.getItem('items-console.tokens')"))
    # GIVEN tokens that expire within the refresh margin
    page.evaluate(
        """() => {
            const tokens = JSON.parse(sessionStorage.getItem('items-console.tokens'));
            tokens.expiresAt = Date.now() + 5000;
            sessionStorage.setItem('items-console.tokens', JSON.stringify(tokens));
        }"""
    )
    # WHEN the page loads again THEN it refreshes them first and works on
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("heading", name="Items")).to_be_visible()
    after = json.loads(page.evaluate("sessionStorage.getItem('items-console.tokens')"))
    assert after["accessToken"] != before["accessToken"]
    assert after["refreshToken"] == before["refreshToken"]
    assert after["expiresAt"] > before["expiresAt"] - 3_600_000 + 60_000


def test_a_viewer_sees_read_only_screens(open_page: OpenPage, live: LiveApi, snap: Snap) -> None:
    item = live.create_item(unique("Viewed"))
    page = open_page(user="viewer")

    expect(page.locator("#connection-status")).to_contain_text("viewer: read only")
    expect(page.locator("#new-item")).to_be_hidden()
    page.goto(page.url.split("#")[0] + f"#/items/{item['id']}")
    expect(page.get_by_role("heading", name=item["name"])).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    expect(page.locator("#save-item")).to_be_hidden()
    expect(page.locator("#delete-item")).to_be_hidden()
    expect(page.locator("#upload-form")).to_be_hidden()
    expect(page.locator("#meta-created-by")).to_have_text("editor")
    snap(page, "viewer")


def test_every_screen_has_no_axe_violation_at_360_and_1280_px(
    open_page: OpenPage, live: LiveApi
) -> None:
    """axe-core's rules, zero violations, and no sideways scrolling, on the list, an item with
    an attachment, the create form and a viewer's item, at a phone's width and a laptop's."""
    item = live.create_item(unique("Accessible"), tags=["a", "b"], attributes={"k": {"n": 1}})
    attachment = live.request(
        "POST",
        f"/items/{item['id']}/attachments",
        {"filename": "a.txt", "content_type": "text/plain", "size": 1},
    )
    assert attachment.status_code == 201, attachment.text

    page = open_page()
    expect(page.locator("#items-body tr").first).to_be_visible()
    assert_accessible(page, "list")
    page = open_page(f"#/items/{item['id']}")
    expect(page.get_by_role("heading", name=item["name"])).to_be_visible()
    expect(page.get_by_text("a.txt")).to_be_visible()
    assert_accessible(page, "item")
    page = open_page("#/new")
    expect(page.get_by_label("Name", exact=True)).to_be_visible()
    assert_accessible(page, "create")
    page = open_page(f"#/items/{item['id']}", user="viewer")
    expect(page.get_by_role("heading", name=item["name"])).to_be_visible()
    assert_accessible(page, "viewer's item")


def test_a_refused_write_says_why(open_page: OpenPage, live: LiveApi) -> None:
    # A viewer's page that still offers a write (say, its group changed): the API refuses it
    # and the page shows the API's reason.
    item = live.create_item(unique("Guarded"))
    page = open_page(f"#/items/{item['id']}", user="viewer")
    expect(page.get_by_role("heading", name=item["name"])).to_be_visible()
    page.evaluate(
        """() => {
            const locked = document.querySelectorAll('#item-form [disabled]');
            for (const el of locked) el.disabled = false;
            document.getElementById('save-item').hidden = false;
        }"""
    )
    page.get_by_label("Name", exact=True).fill("renamed by a viewer")
    page.locator("#save-item").click()
    expect(page.locator("#item-error")).to_contain_text("Not allowed")
    expect(page.locator("#item-error")).to_contain_text("needs items/write")
    assert stored(live, item["id"])["name"] == item["name"]


def test_every_form_control_has_a_label(open_page: OpenPage) -> None:
    page = open_page("#/new")
    expect(page.get_by_role("heading", name="New item")).to_be_visible()
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
              .filter((el) => el.labels.length === 0)
              .map((el) => el.id)"""
    )
    assert unlabelled == []
    assert page.locator("input, select, textarea").count() >= 10


def test_create_an_item(open_page: OpenPage, live: LiveApi, snap: Snap) -> None:
    seeds: list[tuple[str, dict[str, Any]]] = [
        ("Blue mug", {"tags": ["kitchen"], "attributes": {"price": 12.5}}),
        ("Desk lamp", {"tags": ["office", "lighting"], "status": "archived"}),
        ("Wool blanket", {"tags": ["bedroom", "textiles"]}),
        ("Espresso cups", {"tags": ["kitchen"], "attributes": {"count": 6}}),
    ]
    for name, fields in seeds:
        live.create_item(name, **fields)
    page = open_page()
    expect(page.get_by_role("heading", name="Items")).to_be_visible()
    expect(page.locator("#items-body tr", has_text="Espresso cups")).to_be_visible()
    snap(page, "list")

    # WHEN the user fills the form (the keyboard reaches "New item") and saves
    page.get_by_role("link", name="New item").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New item")).to_be_visible()
    name = "Green teapot"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description", exact=True).fill("Holds 1.2 litres")
    page.get_by_role("combobox", name="Status").select_option("archived")
    page.get_by_label("Tags", exact=True).fill("kitchen, green")
    page.get_by_label("Attributes (JSON object)", exact=True).fill(
        '{"price": 0.1, "serial": 12345678901234567890, "size": {"h": 20}}'
    )
    snap(page, "create")
    page.get_by_role("button", name="Create item").click()

    # THEN the page shows the created item and the API stored exactly what was typed
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("Created")
    item_id = page.locator("#meta-id").inner_text()
    item = stored(live, item_id)
    assert item["name"] == name
    assert item["description"] == "Holds 1.2 litres"
    assert item["status"] == "archived"
    assert item["tags"] == ["kitchen", "green"]
    assert item["attributes"] == {"price": 0.1, "serial": 12345678901234567890, "size": {"h": 20}}
    assert item["version"] == 1
    # The big integer survives the round trip through the page's form, digit for digit.
    assert (
        "12345678901234567890"
        in page.get_by_label("Attributes (JSON object)", exact=True).input_value()
    )


def test_api_errors_are_shown_next_to_the_field_they_name(
    open_page: OpenPage, live: LiveApi, snap: Snap
) -> None:
    page = open_page("#/new")
    name_input = page.get_by_label("Name", exact=True)

    # WHEN the name is blank THEN the API's "name: ..." message sits under the name field
    name_input.fill("   ")
    page.get_by_role("button", name="Create item").click()
    expect(page.locator("#item-name-error")).to_contain_text("name:")
    expect(name_input).to_have_attribute("aria-invalid", "true")
    expect(name_input).to_be_focused()

    # WHEN a tag is repeated THEN the message moves to the tags field
    name = unique("Duplicate tags")
    name_input.fill(name)
    page.get_by_label("Tags", exact=True).fill("red, red")
    page.get_by_role("button", name="Create item").click()
    expect(page.locator("#item-tags-error")).to_contain_text("tags")
    expect(page.locator("#item-name-error")).to_be_empty()
    expect(page.get_by_label("Tags", exact=True)).to_have_attribute("aria-invalid", "true")
    snap(page, "validation")

    # and nothing was created (it would be the newest active item)
    listing = live.request("GET", "/items?status=active&limit=5").json()
    assert name not in [item["name"] for item in listing["items"]]


def test_edit_sends_a_merge_patch_with_if_match(
    open_page: OpenPage, live: LiveApi, snap: Snap
) -> None:
    item = live.create_item("Reading lamp", attributes={"keep": 1, "drop": 2, "dims": {"w": 3}})
    page = open_page(f"#/items/{item['id']}")
    expect(page.get_by_label("Name", exact=True)).to_have_value(item["name"])

    new_name = "Reading lamp (brass)"
    page.get_by_label("Name", exact=True).fill(new_name)
    page.get_by_label("Attributes (JSON object)", exact=True).fill(
        '{"keep": 1, "dims": {"w": 3, "d": 4}, "new": true}'
    )
    with page.expect_request(lambda request: request.method == "PATCH") as sent:
        page.get_by_role("button", name="Save changes").click()

    request = sent.value
    assert request.headers["if-match"] == '"1"'
    assert request.headers["content-type"] == "application/merge-patch+json"
    assert json.loads(request.post_data or "") == {
        "name": new_name,
        "attributes": {"drop": None, "dims": {"d": 4}, "new": True},
    }
    expect(page.locator("#notice")).to_contain_text("version 2")
    expect(page.locator("#meta-version")).to_have_text("2")
    snap(page, "edit")
    saved = stored(live, item["id"])
    assert saved["name"] == new_name
    assert saved["attributes"] == {"keep": 1, "dims": {"w": 3, "d": 4}, "new": True}
    assert saved["version"] == 2


def test_a_save_over_someone_elses_change_is_refused_not_overwritten(
    open_page: OpenPage, live: LiveApi, snap: Snap
) -> None:
    # GIVEN two pages open on the same item
    item = live.create_item("Wool blanket", description="original")
    first = open_page(f"#/items/{item['id']}")
    second = open_page(f"#/items/{item['id']}")
    expect(second.get_by_label("Name", exact=True)).to_have_value(item["name"])

    # WHEN the first page saves, then the second page saves its own edit
    first.get_by_label("Name", exact=True).fill("Renamed by the first page")
    first.get_by_role("button", name="Save changes").click()
    expect(first.locator("#meta-version")).to_have_text("2")
    second.get_by_label("Description", exact=True).fill("written by the second page")
    second.get_by_role("button", name="Save changes").click()

    # THEN the second page says so, keeps its edit on screen, and nothing was overwritten
    expect(second.locator("#conflict")).to_contain_text(CONFLICT_TEXT)
    expect(second.get_by_label("Description", exact=True)).to_have_value(
        "written by the second page"
    )
    snap(second, "conflict")
    after_conflict = stored(live, item["id"])
    assert after_conflict["name"] == "Renamed by the first page"
    assert after_conflict["description"] == "original"
    assert after_conflict["version"] == 2

    # WHEN the second page reloads and saves again THEN both changes are kept
    second.get_by_role("button", name="Reload").click()
    expect(second.get_by_label("Name", exact=True)).to_have_value("Renamed by the first page")
    expect(second.locator("#conflict")).to_be_hidden()
    second.get_by_label("Description", exact=True).fill("written by the second page")
    second.get_by_role("button", name="Save changes").click()
    expect(second.locator("#meta-version")).to_have_text("3")
    final = stored(live, item["id"])
    assert (final["name"], final["description"]) == (
        "Renamed by the first page",
        "written by the second page",
    )


def test_an_item_deleted_elsewhere_is_reported_not_recreated(
    open_page: OpenPage, live: LiveApi
) -> None:
    # GIVEN a page open on an item that is then deleted by someone else
    item = live.create_item("Garden hose")
    page = open_page(f"#/items/{item['id']}")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Garden hose")
    assert live.request("DELETE", f"/items/{item['id']}").status_code == 204

    # WHEN the page saves THEN it says the item is gone and nothing is written
    page.get_by_label("Description", exact=True).fill("still here?")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#conflict")).to_contain_text("no longer exists")
    assert live.request("GET", f"/items/{item['id']}").status_code == 404

    # WHEN its address is opened again THEN the page says so and offers no form to save
    page.reload()
    expect(page.get_by_role("heading", name="Item not available")).to_be_visible()
    expect(page.locator("#item-load-error")).to_contain_text("does not exist")
    expect(page.locator("#item-form")).to_be_hidden()


def test_delete_asks_for_confirmation_first(open_page: OpenPage, live: LiveApi, snap: Snap) -> None:
    item = live.create_item("Old chair")
    page = open_page(f"#/items/{item['id']}")
    expect(page.get_by_label("Name", exact=True)).to_have_value(item["name"])
    dialog = page.get_by_role("dialog")

    # WHEN the user presses Delete with the keyboard THEN a dialog asks, focused on Cancel
    page.get_by_role("button", name="Delete…").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(item["name"])
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    snap(page, "delete-confirm", full_page=False)

    # WHEN the user escapes THEN nothing is deleted
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert live.request("GET", f"/items/{item['id']}").status_code == 200

    # WHEN the user confirms THEN the item is gone and the list is shown
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name="Delete item").click()
    expect(page.get_by_role("heading", name="Items")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("Deleted")
    assert live.request("GET", f"/items/{item['id']}").status_code == 404


def test_upload_an_attachment_then_download_it(
    open_page: OpenPage, live: LiveApi, snap: Snap
) -> None:
    item = live.create_item("Concert poster", tags=["art"])
    page = open_page(f"#/items/{item['id']}")
    expect(page.get_by_text("No attachments yet.")).to_be_visible()
    data = page.screenshot()  # a real PNG file to upload
    prefix = f"attachments/{item['id']}/"

    # WHEN a file is chosen and uploaded THEN the progress bar reaches 100% and it is listed
    page.get_by_label("File", exact=True).set_input_files(
        files=FilePayload(name="poster.png", mimeType="image/png", buffer=data)
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-percent")).to_have_text("100%")
    expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
    row = page.locator("#attachments-body tr", has_text="poster.png")
    expect(row).to_contain_text("image/png")
    # "Uploaded" once the bucket's upload event is processed (the event feeder, as S3 -> Lambda
    # would): the page re-reads the attachments until then; 30 s only ends a wait that never ends.
    expect(row.locator(".upload-state time")).to_be_visible(timeout=30_000)
    expect(row).not_to_contain_text("not yet")
    expect(page.locator("#notice")).to_contain_text("stored and ready to download")
    snap(page, "attachments")
    assert len(live.bucket_keys(prefix)) == 1

    # WHEN it is downloaded THEN the browser saves the same bytes under the original name
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download poster.png").click()
    download = download_info.value
    assert download.suggested_filename == "poster.png"
    assert Path(download.path()).read_bytes() == data

    # WHEN it is deleted (after confirming) THEN the file leaves the bucket
    page.get_by_role("button", name="Delete poster.png").click()
    page.get_by_role("button", name="Delete attachment").click()
    expect(page.get_by_text("No attachments yet.")).to_be_visible()
    assert live.bucket_keys(prefix) == set()


def test_a_refused_file_type_is_named_next_to_the_file_input(
    open_page: OpenPage, live: LiveApi
) -> None:
    item = live.create_item("Installer")
    page = open_page(f"#/items/{item['id']}")
    page.get_by_label("File", exact=True).set_input_files(
        files=FilePayload(name="setup.exe", mimeType="application/x-msdownload", buffer=b"MZ")
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-file-error")).to_contain_text("content_type:")
    expect(page.locator("#upload-percent")).to_have_text("0%")
    assert live.bucket_keys(f"attachments/{item['id']}/") == set()


def test_the_list_pages_with_the_cursor_and_filters_by_status(
    open_page: OpenPage, live: LiveApi
) -> None:
    # GIVEN six archived items (newest first under a status filter) among active ones
    token = uuid.uuid4().hex[:6]
    mine = [live.create_item(f"Archived {token} {n}", status="archived")["name"] for n in range(6)]
    live.create_item(f"Active {token}")
    first_api_page = live.request("GET", "/items?status=archived&limit=5").json()
    second_api_page = live.request(
        "GET", f"/items?status=archived&limit=5&cursor={first_api_page['next_cursor']}"
    ).json()
    expected_first = [entry["name"] for entry in first_api_page["items"]]
    expected_second = [entry["name"] for entry in second_api_page["items"]]
    assert set(mine) <= set(expected_first + expected_second)

    page = open_page()
    page.get_by_label("Per page", exact=True).select_option("5")
    status_filter = page.get_by_role("combobox", name="Status")
    status_filter.select_option("archived")
    expect(page.locator("#items-body tr")).to_have_count(5)
    expect(page.locator("#items-body tr").first).to_contain_text(expected_first[0])
    assert item_names(page) == expected_first
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()

    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    expect(page.locator("#items-body tr").first).to_contain_text(expected_second[0])
    assert item_names(page) == expected_second

    page.get_by_role("button", name="Previous page").click()
    expect(page.locator("#page-label")).to_have_text("Page 1")
    expect(page.locator("#items-body tr").first).to_contain_text(expected_first[0])

    status_filter.select_option("active")
    expect(page.locator("#items-body tr", has_text=f"Active {token}")).to_have_count(1)
    assert not any(token in name and "Archived" in name for name in item_names(page))


@pytest.mark.parametrize(
    ("source", "target", "patch"),
    [
        ({"a": 1}, {"a": 1}, None),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1, "y": 3}}, {"a": {"y": 3}}),
        ({"a": [1, 2]}, {"a": [1]}, {"a": [1]}),
        ({"a": {"x": 1}}, {"a": 5}, {"a": 5}),
        ({}, {"__proto__": {"x": 1}}, {"__proto__": {"x": 1}}),
    ],
)
def test_the_merge_patch_the_page_sends(
    open_page: OpenPage, source: Any, target: Any, patch: Any
) -> None:
    page = open_page(user=None)
    # JSON text in, JSON text out: JSON.parse keeps "__proto__" an ordinary key.
    result = page.evaluate(
        """async ([source, target]) => {
            const { mergePatch } = await import("./js/json.js");
            const patch = mergePatch(JSON.parse(source), JSON.parse(target));
            return patch === undefined ? null : JSON.stringify(patch);
        }""",
        [json.dumps(source), json.dumps(target)],
    )
    assert (None if result is None else json.loads(result)) == patch


def test_the_console_server_sends_the_csp_and_a_generated_config(
    console_url: str, live: LiveApi
) -> None:
    page = requests.get(console_url, timeout=10)
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert live.url in csp
    assert live.environment["AWS_ENDPOINT_URL_S3"] in csp

    assert live.stand_in is not None
    assert live.identity is not None
    assert live.stand_in.url in csp  # the token endpoint, for sign-in and refresh
    config = requests.get(console_url + "config.json", timeout=10)
    assert config.json() == {
        "apiUrl": live.url,
        "apiKey": API_KEY,
        "auth": {"domain": live.stand_in.url, "clientId": live.identity.console_client_id},
    }
    # Generated in memory: no config.json (with a key in it) ever lands in web/.
    assert not (Path(__file__).parents[2] / "web" / "config.json").exists()


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("name: String should have at least 1 character", "name"),
        ("tags must be unique", "tags"),
        ("attributes.a.b: nested too deeply", "attributes"),
        ("tags.3: String should have at most 50 characters", "tags"),
        ("content_type: must be one of image/png, text/plain", "content_type"),
        ("If-Match: expected a quoted integer", "If-Match"),
        ("", None),
        (": nothing named", None),
    ],
)
def test_the_field_an_error_message_names(
    open_page: OpenPage, message: str, field: str | None
) -> None:
    page = open_page(user=None)
    named = page.evaluate(
        """async (message) => (await import("./js/json.js")).fieldOf(message)""", message
    )
    assert named == field


def test_numbers_keep_their_exact_text_through_the_page(open_page: OpenPage) -> None:
    page = open_page(user=None)
    text = '{"big":12345678901234567890,"small":0.1,"exp":1e400,"n":-7,"nested":{"x":1.50}}'
    round_trip = page.evaluate(
        """async (text) => JSON.stringify((await import("./js/json.js")).parseExact(text))""",
        text,
    )
    assert round_trip == text
