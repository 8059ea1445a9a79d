"""Real-browser fixtures: Debian's chromium, driven by Playwright, against real servers.

The servers are the integration tier's: one moto server and one ``chalice local`` per session
(``live_api``), plus the console served exactly as ``make run`` serves it (``start_console``:
``web/`` with a generated ``config.json`` and the strict CSP). Playwright's own browser download
does not work here, so Playwright launches ``/usr/bin/chromium``, which ``make test`` installs.

Screenshots go to a temporary directory, so a test run never dirties the work tree;
``make screenshots`` sets ``E2E_SCREENSHOTS_DIR=web/screenshots`` to refresh the committed ones.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
# The widths every screen is checked at: a small phone and a laptop.
PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
# axe-core from npm (package.json pins it; `make node` installs it), injected into every page.
AXE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"

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
        # An init script runs outside the page's CSP, which allows no inline or injected script.
        context.add_init_script(path=str(axe_source()))
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


def axe_source() -> Path:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make node` installs axe-core (package.json)")
    return AXE


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every rule axe runs by default)."""
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return violations


def assert_accessible(page: Page, screen: str) -> None:
    """Zero axe violations and no sideways scrolling, at the phone's width and the laptop's."""
    original = page.viewport_size
    try:
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            violations = axe_violations(page)
            assert violations == [], f"{screen} at {size['width']} px: {violations}"
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (
                f"{screen} at {size['width']} px scrolls sideways by {overflow} px"
            )
    finally:
        if original:
            page.set_viewport_size(original)


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc), parents first."""
    tree = [pid]
    for parent in tree:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                children = (task / "children").read_text().split()
                tree.extend(int(child) for child in children)
    return tree


def moto_process(live: LiveApi) -> Any:
    """The emulator's process of this session (the harness starts it first)."""
    for process in live.processes:
        args = process.args
        parts = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        if any("moto" in str(part) for part in parts):
            return process
    raise AssertionError(f"no moto server among {[p.args for p in live.processes]}")


@contextlib.contextmanager
def storage_outage(live: LiveApi) -> Iterator[Callable[[], None]]:
    """Pause the emulator (SIGSTOP) for the block, as storage that stops answering: requests
    reach its socket and wait there. Yields ``resume`` (SIGCONT), which the block may call
    early; the emulator always resumes at the end, even when the test fails."""
    pids = _process_tree(moto_process(live).pid)
    resumed = False

    def resume() -> None:
        nonlocal resumed
        if not resumed:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            resumed = True

    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield resume
    finally:
        resume()
