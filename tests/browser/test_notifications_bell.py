"""The bell in an open page follows notifications without a reload."""
from playwright.sync_api import expect

from medianest.services import notifications
from tests.factories import make_user

PASSWORD = "Tr0ubadour-horse"


def test_bell_count_changes_after_a_broadcast_and_clears_when_read(make_app, live_server_for, desktop):
    app = make_app(MEDIANEST_BELL_POLL_SECONDS=1)
    server = live_server_for(app)
    make_user(app, email="admin@example.com", role="ADMIN", password=PASSWORD)
    make_user(app, email="viewer@example.com", password=PASSWORD, name="Vera")
    page = desktop
    page.goto(server.url + "/auth/login")
    page.fill("#email", "viewer@example.com")
    page.fill("#password", PASSWORD)
    page.click("text=Sign in with password")
    expect(page.locator("h1")).to_have_text("Hello, Vera")
    expect(page.locator("#bell-count")).to_have_count(0)

    with app.app_context():
        notifications.broadcast("Maintenance tonight", "Plex restarts at 22:00.")
    expect(page.locator("#bell-count")).to_have_text("1", timeout=5000)

    page.click("#bell")
    expect(page.locator("#notification-list")).to_contain_text("Maintenance tonight")
    page.click("text=Mark as read")
    expect(page.locator("#bell-count")).to_have_count(0, timeout=5000)
