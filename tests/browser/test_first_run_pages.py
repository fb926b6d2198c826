"""The admin's first run in a real browser (issue 10, items 1-3 and 20): setup, the checklist, saving and testing
a service, with the console free of Content Security Policy reports after every htmx swap."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.fakes.overseerr import API_KEY as OVERSEERR_KEY

PASSWORD = "Tr0ubadour-horse"


def watch_console(page) -> list[str]:
    messages = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    return messages


def csp_reports(messages) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m or "Refused to apply" in m]


def test_setup_checklist_and_services_page_swap_without_csp_reports(live_server, fake_overseerr, desktop):
    page = desktop
    messages = watch_console(page)
    page.goto(live_server.url + "/setup")
    page.fill("#email", "admin@nas.local")
    page.fill("#password", "weak")
    page.fill("#confirm", "weak")
    page.click("text=Create admin account")
    expect(page.locator("#setup-form small.error").first).to_be_visible()
    expect(page.locator("#email")).to_be_focused()  # htmx has settled the swapped form
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("text=Create admin account")
    expect(page.locator("#setup-checklist")).to_be_visible()
    assert not csp_reports(messages), messages

    # The welcome and the checklist link to the services page.
    page.locator("#flash").get_by_role("link", name="Admin → Services").click()
    expect(page.locator("h1")).to_have_text("Services")
    card = page.locator("#service-overseerr")
    expect(card.locator(".badge")).to_have_text("Not connected")
    page.fill("#overseerr-url", fake_overseerr.url)
    page.fill("#overseerr-secret", OVERSEERR_KEY)
    expect(page.locator("#overseerr-enabled")).to_be_checked()
    # Testing what is typed, before saving.
    card.get_by_role("button", name="Test connection").click()
    expect(page.locator("#service-test-overseerr")).to_contain_text("Connection works")
    card.get_by_role("button", name="Save Overseerr").click()
    expect(card.locator(".badge")).to_have_text("Enabled")
    expect(card).to_contain_text("Saved.")
    expect(card.get_by_role("button", name="Test connection")).to_be_enabled()
    card.get_by_role("button", name="Test connection").click()
    expect(page.locator("#service-test-overseerr")).to_contain_text("Connection works")
    page.goto(live_server.url + "/")
    expect(page.locator('#setup-checklist li[data-service="overseerr"]')).to_contain_text("Connected")
    assert not csp_reports(messages), messages


RECTS = """sel => Array.from(document.querySelectorAll(sel)).map(e => {
  const r = e.getBoundingClientRect(); return {text: e.textContent.trim(), left: r.left, right: r.right, top: r.top,
  bottom: r.bottom, weight: getComputedStyle(e).fontWeight}; })"""


def overlap(a, b) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_inputs_bell_charts_and_tables_read_well(make_app, live_server_for, fake_plex, desktop, phone):
    from medianest.services import health, notifications, service_config
    from tests.factories import make_user
    from tests.fakes.plex import ADMIN_TOKEN as PLEX_TOKEN

    app = make_app()
    make_user(app, email="admin@example.com", role="ADMIN", password=PASSWORD, name="Ada Lovelace")
    with app.app_context():
        service_config.configure("plex", url=fake_plex.url, secret=PLEX_TOKEN)
        for _ in range(3):
            health.run_round()
        for i in range(12):
            notifications.broadcast(f"News {i}", "Plex restarts at 22:00.")
    server = live_server_for(app)
    for page in (desktop, phone):
        page.goto(server.url + "/auth/login")
        page.fill("#email", "admin@example.com")
        page.fill("#password", PASSWORD)
        page.click("text=Sign in with password")
        expect(page.locator("h1")).to_have_text("Hello, Ada Lovelace")

    # Desktop: the unread count stays clear of the name; typed text in filter and quota fields is not bold.
    count, name = desktop.evaluate(RECTS, "#bell-count, .usermenu .who")
    assert name["left"] - count["right"] >= 4, (count, name)  # touching before: the count hid the name's first letter
    desktop.goto(server.url + "/admin/requests")
    for field in desktop.evaluate(RECTS, ".filters input, #request-quotas input, form input[type=number]"):
        assert field["weight"] == "400", field

    # Phone: chart labels keep a readable size and never collide; the users table scrolls to its last column.
    phone.goto(server.url + "/admin/metrics")
    labels = phone.evaluate(RECTS, "#metrics-plex svg.metrics-chart text")
    assert len(labels) >= 6
    for i, a in enumerate(labels):
        assert a["bottom"] - a["top"] >= 8, a  # about 6 px before
        for b in labels[i + 1:]:
            assert not overlap(a, b), (a, b)
    phone.goto(server.url + "/admin/users")
    wrap = phone.locator("#users-table .table-wrap")
    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    last = phone.locator("#users-table th").last
    expect(last).to_be_in_viewport()
