"""Browser tests: Debian's Chromium driven by Playwright, against the app served on 127.0.0.1."""
from __future__ import annotations

import os
import threading

import pytest
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from tests.fakes.base import free_port

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_app(make_app):
    """The app the live server runs; tests may build it with overrides via `live_server_for`."""
    return make_app()


@pytest.fixture
def live_server_for():
    servers = []

    def start(app):
        server = LiveServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(live_app, live_server_for):
    return live_server_for(live_app)


def _alive(browser) -> bool:
    """A crashed Chromium may still look connected until the driver hears of it: ask it for a context."""
    if not browser.is_connected():
        return False
    try:
        browser.new_context().close()
    except PlaywrightError:
        return False
    return True


def close_everything(browser):
    """Close every page and context a test left open, so nothing piles up over a long run."""
    for context in list(browser.contexts):
        for page in list(context.pages):
            try:
                page.close()
            except PlaywrightError:
                pass
        try:
            context.close()
        except PlaywrightError:
            pass


@pytest.fixture(scope="session")
def _chromium(launch_browser):
    """The run's Chromium, shared by the tests; `browser` relaunches it when it died. (Asking for
    launch_browser keeps Playwright running until this closes the browser.)"""
    holder = {}
    yield holder
    if holder.get("browser") is not None and holder["browser"].is_connected():
        holder["browser"].close()


@pytest.fixture
def browser(_chromium, launch_browser):
    """Overrides pytest-playwright's session browser: a crash costs one test, not every later one."""
    current = _chromium.get("browser")
    if current is None or not _alive(current):
        current = _chromium["browser"] = launch_browser()
    yield current
    if current.is_connected():
        close_everything(current)


def _closing(context):
    try:
        context.close()
    except PlaywrightError:  # the browser died during the test; the next one gets a fresh one
        pass


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    yield context.new_page()
    _closing(context)


@pytest.fixture
def desktop(browser):
    context = browser.new_context(**DESKTOP)
    yield context.new_page()
    _closing(context)


def no_horizontal_scroll(page) -> bool:
    """Nothing wider than the screen, and the page not laid out wider and zoomed out either."""
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1 && window.innerWidth <= screen.width + 1"
    )
