"""Real-browser fixtures: Debian's chromium, driven by Playwright, against real servers.

The servers are the integration tier's: one moto server and one ``chalice local`` per session
(``live_api``), plus the console served exactly as ``make run`` serves it (``start_console``:
``web/`` with a generated ``config.json`` and the strict CSP). Playwright's own browser download
does not work here, so Playwright launches ``/usr/bin/chromium``, which ``make test`` installs.

Screenshots go to a temporary directory, so a test run never dirties the work tree;
``make screenshots`` sets ``E2E_SCREENSHOTS_DIR=web/screenshots`` to refresh the committed ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from localdev.console import start_console
from tests.integration.harness import API_KEY, CONSOLE_PORT, LiveApi, live_api

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags chromium keeps dialling Google's hosts, which this
# machine's closed network refuses; --no-sandbox because the tests may run as root.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1100, "height": 800}

OpenPage = Callable[..., Page]


@pytest.fixture(scope="session")
def live() -> Iterator[LiveApi]:
    api = live_api()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def console_url(live: LiveApi) -> Iterator[str]:
    """The console on the port its sign-in returns to, configured for this session's API,
    bucket and sign-in stand-in."""
    assert live.stand_in is not None
    assert live.identity is not None
    server = start_console(
        CONSOLE_PORT,
        api_url=live.url,
        api_key=API_KEY,
        bucket_url=live.environment["AWS_ENDPOINT_URL_S3"],
        auth={"domain": live.stand_in.url, "clientId": live.identity.console_client_id},
    )
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Browser, console_url: str) -> Iterator[OpenPage]:
    """Open the console in a fresh browser context (own sessionStorage), at ``route``.

    Fails the test afterwards on any uncaught script error or console error, a CSP violation
    included. Non-2xx answers (a 412 the page handles, say) are logged by chromium as
    "Failed to load resource" and are expected, so those are let through.
    """
    contexts = []
    problems: list[str] = []

    def open_console(
        route: str = "#/",
        *,
        user: str | None = "editor",
        with_config: bool = True,
        expected_errors: tuple[str, ...] = (),
    ) -> Page:
        """Sign in as ``user`` (through the sign-in page, as a person would; ``None``: stay
        signed out), then open ``route``. ``expected_errors``: console errors this test
        provokes on purpose (substrings)."""
        allowed = ("Failed to load resource", *expected_errors)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not any(text in message.text for text in allowed):
                problems.append(f"console error: {message.text}")

        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", on_console)
        if not with_config:
            page.route("**/config.json", lambda route: route.fulfill(status=404, body=""))
        page.goto(console_url + route)
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        if user is not None:
            sign_in(page, user)
            if route not in ("", "#/"):
                page.goto(console_url + route)
                expect(page.locator("body")).to_have_attribute("data-ready", "true")
        return page

    yield open_console
    for context in contexts:
        context.close()
    assert problems == []


def sign_in(page: Page, username: str) -> None:
    """Sign in through the managed login (the local stand-in's page), with the password."""
    from localdev.identity import LOCAL_USERS

    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(LOCAL_USERS[username][1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection-status")).to_contain_text(f"Signed in as {username}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("E2E_SCREENSHOTS_DIR")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def snap(screenshot_dir: Path) -> Callable[..., Path]:
    """Save a screenshot as ``<name>.png``: the whole page, or the viewport (for a modal)."""

    def take(page: Page, name: str, *, full_page: bool = True) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        return path

    return take
