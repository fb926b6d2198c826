"""The first-run journey in a real browser, on desktop and phone."""
from playwright.sync_api import expect

from tests.browser.conftest import no_horizontal_scroll
from tests.factories import make_user

PASSWORD = "Tr0ubadour-horse"


def test_setup_wizard_then_sign_in_then_dashboard(live_server, desktop):
    page = desktop
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/setup")
    page.fill("#email", "admin@example.com")
    page.fill("#password", "weak")
    page.fill("#confirm", "weak")
    page.click("text=Create admin account")
    expect(page.locator("#setup-form small.error").first).to_be_visible()
    # htmx settles the swapped form by focusing its autofocus field; typing before that would race it.
    expect(page.locator("#email")).to_be_focused()
    expect(page.locator("#email")).to_have_value("admin@example.com")
    page.fill("#name", "Ada")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("text=Create admin account")
    expect(page.locator("h1")).to_have_text("Hello, Ada")
    page.click("text=Sign out")
    expect(page).to_have_url(live_server.url + "/auth/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", PASSWORD)
    page.click("text=Sign in with password")
    expect(page.locator("h1")).to_have_text("Hello, Ada")
    expect(page.locator("nav.mainnav")).to_contain_text("Admin")
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_phone_layout_has_no_horizontal_scroll_and_a_working_menu(live_app, live_server, phone):
    make_user(live_app, email="admin@example.com", role="ADMIN", password=PASSWORD, name="Ada")
    page = phone
    page.goto(live_server.url + "/auth/login")
    assert no_horizontal_scroll(page)
    page.fill("#email", "admin@example.com")
    page.fill("#password", PASSWORD)
    page.click("text=Sign in with password")
    expect(page.locator("h1")).to_have_text("Hello, Ada")
    assert no_horizontal_scroll(page)
    expect(page.locator("nav.mainnav")).to_be_hidden()
    page.click("label.nav-toggle-label")
    expect(page.locator("nav.mainnav")).to_be_visible()
    page.click("nav.mainnav >> text=Admin")
    page.click("#admin-sections >> text=Errors")
    expect(page.locator("h1")).to_have_text("Error log")
    assert no_horizontal_scroll(page)
