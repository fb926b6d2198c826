"""The live dashboard in a real browser: a service going down shows up in the open page without a reload,
and the phone layout has no horizontal scroll. The health round runs from the test thread while the page polls."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from medianest.services import health, incidents, service_config
from tests.browser.conftest import no_horizontal_scroll
from tests.factories import make_user
from tests.fakes.overseerr import API_KEY as OVERSEERR_KEY
from tests.fakes.plex import ADMIN_TOKEN as PLEX_TOKEN

PASSWORD = "Tr0ubadour-horse"


@pytest.fixture
def dashboard_app(make_app, fake_plex, fake_overseerr, fake_uptime_kuma):
    app = make_app(MEDIANEST_DASHBOARD_POLL_SECONDS=1, MEDIANEST_HEALTH_TIMEOUT=2)
    make_user(app, email="admin@example.com", role="ADMIN", password=PASSWORD, name="Ada")
    with app.app_context():
        service_config.configure("plex", url=fake_plex.url, secret=PLEX_TOKEN)
        service_config.configure("overseerr", url=fake_overseerr.url, secret=OVERSEERR_KEY)
        service_config.configure("uptime-kuma", url=fake_uptime_kuma.url, settings={"slug": "media"})
        health.run_round()
    return app


def sign_in(page, url):
    page.goto(url + "/auth/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", PASSWORD)
    page.click("text=Sign in with password")
    expect(page.locator("h1")).to_have_text("Hello, Ada")


def test_a_service_going_down_appears_without_a_reload(dashboard_app, live_server_for, fake_plex, desktop):
    server = live_server_for(dashboard_app)
    page = desktop
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, server.url)
    plex = page.locator("#service-plex")
    expect(plex).to_have_attribute("data-status", "online")
    expect(page.locator("#kuma-monitors")).to_contain_text("NAS")
    page.evaluate("window.__sameDocument = true")

    fake_plex.go_down()
    with dashboard_app.app_context():
        health.run_round()
    expect(plex).to_have_attribute("data-status", "offline", timeout=15000)
    expect(plex.locator(".badge")).to_have_text("Offline")
    expect(page.locator(".incident-banner")).to_contain_text("Plex Media Server")
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    fake_plex.come_back()
    with dashboard_app.app_context():
        health.run_round()
    expect(plex).to_have_attribute("data-status", "online", timeout=15000)
    expect(page.locator(".incident-banner")).to_have_count(0)
    assert page.evaluate("window.__sameDocument === true")
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_phone_layout_of_a_busy_dashboard(dashboard_app, live_server_for, fake_uptime_kuma, phone):
    with dashboard_app.app_context():
        incidents.on_check("overseerr", "degraded", previous="online",
                           reason="Slow: answered in 1500 ms (more than 1000 ms). " + "x" * 120)
        health.refresh_cache()
    fake_uptime_kuma.add_monitor("A monitor with a really quite remarkably long name for a phone screen", status=0)
    server = live_server_for(dashboard_app)
    page = phone
    sign_in(page, server.url)
    expect(page.locator("#service-plex")).to_be_visible()
    assert no_horizontal_scroll(page)
    with dashboard_app.app_context():
        health.run_round()
    expect(page.locator("#kuma-monitors")).to_contain_text("remarkably long name", timeout=15000)
    assert no_horizontal_scroll(page)
    page.goto(server.url + "/admin/services")
    expect(page.locator("#service-form-plex")).to_be_visible()
    assert no_horizontal_scroll(page)
    page.locator("#service-plex").get_by_role("button", name="Test connection").click()
    expect(page.locator("#service-test-plex")).to_contain_text("Connection works", timeout=15000)
    page.goto(server.url + "/admin/metrics")
    expect(page.locator("#metrics-plex svg")).to_be_visible()
    assert no_horizontal_scroll(page)
    page.goto(server.url + "/admin/incidents")
    assert no_horizontal_scroll(page)
