"""Sign in with Plex in a real browser: MediaNest -> the fake Plex sign-in app -> back, signed in."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from medianest.services import service_config
from tests.browser.conftest import no_horizontal_scroll
from tests.factories import make_user
from tests.fakes.plex import ADMIN_TOKEN, MACHINE_ID


@pytest.fixture
def plex_server(make_app, fake_plextv, fake_plex, live_server_for):
    app = make_app(MEDIANEST_PLEX_TV_URL=fake_plextv.url, MEDIANEST_PLEX_APP_URL=fake_plextv.url + "/auth")
    make_user(app, email="admin@example.com", role="ADMIN", password="correct horse battery 9", name="Ada")
    with app.app_context():
        service_config.save("plex", url=fake_plex.url, secret_value=ADMIN_TOKEN,
                            settings={"machine_identifier": MACHINE_ID})
    fake_plextv.add_user(token="owner-token", id=1001, username="owner", title="Server Owner",
                         servers=[(MACHINE_ID, True, "HomeServer")])
    fake_plextv.add_user(token="alice-token", id=13692262, username="alice", title="Alice Example",
                         servers=[(MACHINE_ID, False, "HomeServer")])
    fake_plextv.add_user(token="stranger-token", id=4242, username="stranger",
                         servers=[("0123456789abcdef0123456789abcdef01234567", True)])
    return live_server_for(app)


def csp_errors(page) -> list[str]:
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return errors


def test_a_shared_user_signs_in_through_plex(plex_server, fake_plextv, desktop):
    page = desktop
    errors = csp_errors(page)
    page.goto(plex_server.url + "/auth/login")
    page.click("#plex-signin-button")
    page.wait_for_url(re.compile(re.escape(fake_plextv.url) + r"/auth#\?clientID="))
    expect(page.locator("#auth-product")).to_contain_text("MediaNest")
    page.click("#claim-alice")
    page.wait_for_url(plex_server.url + "/")
    expect(page.locator(".usermenu .who")).to_have_text("Alice Example")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Admin")
    page.goto(plex_server.url + "/account/sessions")
    expect(page.locator(".session.current .browser")).to_contain_text("on Linux")
    assert errors == []


def test_an_account_without_access_is_told_why(plex_server, desktop):
    page = desktop
    page.goto(plex_server.url + "/auth/login")
    page.click("#plex-signin-button")
    page.click("#claim-stranger")
    expect(page.locator("#plex-message")).to_contain_text("This Plex account has no access to this server")
    page.goto(plex_server.url + "/")
    expect(page).to_have_url(re.compile(re.escape(plex_server.url) + "/auth/login"))


def test_the_server_owner_becomes_admin(plex_server, desktop):
    page = desktop
    page.goto(plex_server.url + "/auth/login")
    page.click("#plex-signin-button")
    page.click("#claim-owner")
    page.wait_for_url(plex_server.url + "/")
    expect(page.locator("nav.mainnav")).to_contain_text("Admin")
    page.goto(plex_server.url + "/admin/users")
    expect(page.locator("#users-table")).to_contain_text("owner")


def test_on_a_phone_waiting_for_plex_polls_until_the_sign_in_arrives(plex_server, fake_plextv, phone):
    page = phone
    page.goto(plex_server.url + "/auth/login")
    assert no_horizontal_scroll(page)
    page.click("#plex-signin-button")
    page.click("#deny")  # back without signing in: MediaNest waits for Plex
    expect(page.locator("#plex-status")).to_contain_text("Waiting for Plex")
    assert no_horizontal_scroll(page)
    pin_id = max(fake_plextv.pins)
    fake_plextv.claim(pin_id, "alice-token")  # Plex confirms a moment later
    page.wait_for_url(plex_server.url + "/", timeout=10000)
    expect(page.locator(".usermenu .who")).to_have_text("Alice Example")


def test_without_javascript_the_button_still_leads_to_plex(plex_server, fake_plextv, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(plex_server.url + "/auth/login")
    page.click("#plex-signin-button")
    page.wait_for_url(re.compile(re.escape(fake_plextv.url) + r"/auth#\?clientID="))
    context.close()
