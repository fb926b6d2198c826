"""Requesting in a real browser: search as you type, ask for seasons on a phone, watch the row turn approved
when Overseerr's webhook reaches the live server (no reload)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import no_horizontal_scroll
from tests.fakes.overseerr import APPROVED, M_PROCESSING, REQUEST
from tests.factories import make_user
from tests.requests_support import ALICE_PLEX_ID, WEBHOOK_SECRET, connect_overseerr

PASSWORD = "Tr0ubadour-horse"


@pytest.fixture
def journey(live_app, live_server, fake_overseerr, admin):
    connect_overseerr(live_app, fake_overseerr)
    live_app.config["MEDIANEST_TMDB_IMAGE_URL"] = fake_overseerr.url  # the fake also serves the posters
    fake_overseerr.add_user(2, ALICE_PLEX_ID, "alice@plex.example", "alice", permissions=REQUEST)
    make_user(live_app, email="alice@example.com", name="Alice", plex_id=str(ALICE_PLEX_ID), password=PASSWORD)
    return live_server, fake_overseerr


def _sign_in(page, base):
    page.goto(base + "/auth/login")
    page.fill("#email", "alice@example.com")
    page.fill("#password", PASSWORD)
    page.click("text=Sign in with password")
    expect(page.locator("h1")).to_have_text("Hello, Alice")


def _csp_errors(page) -> list:
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_search_as_you_type(journey, desktop):
    server, fake = journey
    page = desktop
    errors = _csp_errors(page)
    _sign_in(page, server.url)
    page.click("nav.mainnav >> text=Discover")
    expect(page.locator("#discover-results")).to_contain_text("Type a title")
    page.locator("#discover-q").press_sequentially("matr", delay=40)
    results = page.locator("#discover-results")
    expect(results).to_contain_text("The Matrix Reloaded")  # no Enter, no button: the debounced search ran
    expect(page).to_have_url(server.url + "/media/discover?q=matr")
    expect(results.locator("img").first).to_have_js_property("complete", True)
    assert results.locator("img").first.evaluate("img => img.naturalWidth") > 0  # the poster came through MediaNest
    page.locator("#discover-q").fill("thrones")
    expect(results).to_contain_text("Game of Thrones")
    expect(results).not_to_contain_text("The Matrix")
    assert len(fake.seen("/api/v1/search")) <= 3  # debounced: not one search per key
    page.locator("#discover-q").fill("x" * 200 + "y")  # the box stops at 200 characters
    assert len(page.locator("#discover-q").input_value()) == 200
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_request_seasons_on_a_phone_then_watch_it_get_approved(journey, phone):
    server, fake = journey
    page = phone
    errors = _csp_errors(page)
    _sign_in(page, server.url)
    page.goto(server.url + "/media/discover?q=thrones")
    page.click("#discover-results >> text=Game of Thrones")
    expect(page.locator("h1")).to_contain_text("Game of Thrones")
    assert no_horizontal_scroll(page)
    page.check("input[name=seasons][value='1']")
    page.check("input[name=seasons][value='2']")
    page.click("text=Request seasons")
    panel = page.locator("#request-panel")
    expect(panel).to_contain_text("Game of Thrones is requested")
    expect(panel).to_contain_text("Seasons 1, 2")
    assert no_horizontal_scroll(page)
    assert fake.requests_made[0]["body"]["seasons"] == [1, 2] and fake.requests_made[0]["api_user"] == "2"

    page.click("#request-panel >> text=See your request")
    page.click(".crumbs >> text=My requests")
    row = page.locator(".request-row").first
    expect(row).to_contain_text("Pending")
    assert no_horizontal_scroll(page)

    overseerr_id = fake.requests_made[0]["id"]
    fake.set_request_status(overseerr_id, APPROVED, M_PROCESSING)
    sent = fake.send_webhook(server.url + "/webhooks/overseerr", "MEDIA_APPROVED", overseerr_id, secret=WEBHOOK_SECRET)
    assert sent.status_code == 200 and sent.json()["matched"] == 1
    expect(row).to_contain_text("Approved", timeout=15000)  # the row polled itself; nobody reloaded
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_wrong_secret_from_the_fake_is_refused(journey):
    server, fake = journey
    refused = fake.send_webhook(server.url + "/webhooks/overseerr", "TEST_NOTIFICATION", secret="guess")
    assert refused.status_code == 403
    missing = fake.send_webhook(server.url + "/webhooks/overseerr", "TEST_NOTIFICATION")
    assert missing.status_code == 401
