"""A fresh install tells people what is missing (issue 10, item 3): admins get a checklist with links until
Plex, Overseerr and Uptime Kuma are connected, users a plain line per missing service, Discover says it needs
Overseerr before anyone types, and every "Admin → Services" in a message is a link for admins."""
from __future__ import annotations

import re

from medianest.services import service_config
from tests.conftest import HX

SERVICES_LINK = re.compile(r'<a href="/admin/services">Admin → Services</a>')


def configure(app, name):
    with app.app_context():
        if name == "plex":
            service_config.configure("plex", url="http://127.0.0.1:9", secret="plex-token")
        elif name == "overseerr":
            service_config.configure("overseerr", url="http://127.0.0.1:9", secret="overseerr-key")
        else:
            service_config.configure("uptime-kuma", url="http://127.0.0.1:9", settings={"slug": "media"})


def checklist(body: str) -> dict[str, str]:
    """service -> the checklist line's text, from the admin's dashboard."""
    if 'id="setup-checklist"' not in body:
        return {}
    section = body[body.index('id="setup-checklist"'):]
    section = section[:section.index("</section>")]
    items = re.findall(r'<li class="(\w+)" data-service="([\w-]+)">(.*?)</li>', section, re.S)
    return {name: (state, " ".join(re.sub(r"<[^>]+>", " ", text).split()), text) for state, name, text in items}


def test_admins_get_a_checklist_with_links_until_everything_is_connected(app, client, auth, admin):
    auth.login_as(admin)
    items = checklist(client.get("/").data.decode())
    assert set(items) == {"plex", "overseerr", "uptime-kuma"}
    for name, (state, text, html) in items.items():
        assert state == "todo" and "Not connected" in text
        assert f'href="/admin/services#service-{name}"' in html
    configure(app, "plex")
    items = checklist(client.get("/").data.decode())
    assert items["plex"][0] == "done" and "Connected Plex Media Server" in items["plex"][1]
    assert items["overseerr"][0] == "todo"
    with app.app_context():
        service_config.set_enabled("plex", False)
    items = checklist(client.get("/").data.decode())
    assert items["plex"][0] == "todo" and "Switch on Plex Media Server" in items["plex"][1]
    with app.app_context():
        service_config.set_enabled("plex", True)
    configure(app, "overseerr")
    configure(app, "uptime-kuma")
    assert checklist(client.get("/").data.decode()) == {}


def test_users_see_a_plain_line_per_missing_service(app, client, auth, user):
    configure(app, "plex")
    auth.login_as(user)
    body = client.get("/").data.decode()
    assert "setup-checklist" not in body and "/admin/services" not in body
    assert "Overseerr is not set up yet." in body and "Uptime Kuma is not set up yet." in body
    assert "Plex Media Server is not set up yet." not in body


def test_the_polled_panel_stays_without_the_checklist(app, client, auth, admin):
    auth.login_as(admin)
    fragment = client.get("/", headers=HX).data.decode()
    assert 'id="status-panel"' in fragment and "setup-checklist" not in fragment


def test_discover_without_overseerr_says_so_before_typing(app, client, auth, admin, user):
    auth.login_as(user)
    body = client.get("/media/discover").data.decode()
    assert "Discover needs Overseerr. An admin can connect it under Admin → Services." in body
    assert not SERVICES_LINK.search(body)
    auth.login_as(admin)
    body = client.get("/media/discover").data.decode()
    assert "Discover needs Overseerr." in body and SERVICES_LINK.search(body)
    configure(app, "overseerr")
    body = client.get("/media/discover").data.decode()
    assert "Discover needs Overseerr" not in body and "Type a title to search" in body


def test_the_welcome_after_setup_links_to_the_services(app, client):
    password = "Sturdy-pass-42"
    resp = client.post("/setup", data={"email": "admin@nas.local", "password": password, "confirm": password})
    assert resp.status_code == 303
    body = client.get("/").data.decode()
    assert "Connect your services next under" in body and SERVICES_LINK.search(body)
    assert 'id="setup-checklist"' in body
