"""The admin's first run (issue 10, items 1, 2, 4, 5, 16): services saved as shown are on, the card follows the
save, "Test connection" tests what is typed, home-network emails work, and create-admin never lies."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from medianest.extensions import db
from medianest.models import ServiceConfig
from medianest.services import ServiceError, service_config, users
from tests.conftest import HX
from tests.fakes.overseerr import API_KEY as OVERSEERR_KEY
from tests.fakes.plex import ADMIN_TOKEN as PLEX_TOKEN
from tests.test_health import connect

PASSWORD = "Sturdy-pass-42"


class _FormFields(HTMLParser):
    """What a browser submits for one form as shown: text values, ticked boxes, hidden fields."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif self.inside and tag == "input" and a.get("name"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value") or "on"
            else:
                self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def shown_form(html: bytes, form_id: str) -> dict:
    parser = _FormFields(form_id)
    parser.feed(html.decode())
    return parser.fields


def test_a_service_saved_as_shown_is_enabled(app, client, auth, admin, fake_plex):
    auth.login_as(admin)
    fields = shown_form(client.get("/admin/services").data, "service-form-plex")
    assert fields.get("plex-enabled") == "y"  # "Watch and use this service" starts ticked
    fields.update({"plex-url": fake_plex.url, "plex-secret": PLEX_TOKEN})
    assert client.post("/admin/services/plex", headers=HX, data=fields).status_code == 200
    with app.app_context():
        assert service_config.get("plex").enabled is True
        assert "plex" in service_config.monitored()
    # Unticking it is still honoured, and a saved service shows what is stored.
    fields.pop("plex-enabled")
    client.post("/admin/services/plex", headers=HX, data=fields)
    with app.app_context():
        assert service_config.get("plex").enabled is False
    assert "plex-enabled" not in shown_form(client.get("/admin/services").data, "service-form-plex")


def test_saving_refreshes_the_whole_card(app, client, auth, admin, fake_overseerr):
    auth.login_as(admin)
    before = client.get("/admin/services", headers=HX).data.decode()
    card = before[before.index('id="service-overseerr"'):]
    assert "Not connected" in card[:card.index("</article>")]
    resp = client.post("/admin/services/overseerr", headers=HX, data={
        "overseerr-url": fake_overseerr.url, "overseerr-secret": OVERSEERR_KEY, "overseerr-enabled": "y"})
    body = resp.data.decode()
    assert resp.status_code == 200 and body.lstrip().startswith('<article class="card service-config" id="service-overseerr"')
    assert "Saved." in body and "badge-online\">Enabled" in body and "Not connected" not in body
    assert "disabled" not in body[body.index("Test connection") - 400:body.index("Test connection")]
    # The form swaps the card, and the test button sends the form along.
    assert 'hx-target="#service-overseerr"' in body and 'hx-include="#service-form-overseerr"' in body
    refused = client.post("/admin/services/overseerr", headers=HX, data={"overseerr-url": "gopher://x"})
    assert refused.status_code == 422 and refused.data.lstrip().startswith(b'<article class="card service-config"')


def test_test_connection_tries_the_typed_values_before_they_are_saved(app, client, auth, admin, fake_overseerr):
    auth.login_as(admin)
    typed = {"overseerr-url": fake_overseerr.url, "overseerr-secret": OVERSEERR_KEY, "overseerr-enabled": "y"}
    ok = client.post("/admin/services/overseerr/test", headers=HX, data=typed)
    assert b"Connection works" in ok.data and b"Connected to Overseerr" in ok.data
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ServiceConfig)) == 0  # testing is not saving
    connect(app, overseerr=fake_overseerr)
    wrong = client.post("/admin/services/overseerr/test", headers=HX, data={**typed, "overseerr-secret": "typo-key"})
    assert b"Connection failed" in wrong.data and b"refused the API key" in wrong.data and b"typo-key" not in wrong.data
    empty_secret = client.post("/admin/services/overseerr/test", headers=HX,
                               data={"overseerr-url": fake_overseerr.url, "overseerr-secret": ""})
    assert b"Connection works" in empty_secret.data  # an empty secret field means "the stored one"
    bad_url = client.post("/admin/services/overseerr/test", headers=HX, data={"overseerr-url": "ftp://x"})
    assert b"Connection failed" in bad_url.data and b"must start with http://" in bad_url.data
    with app.app_context():
        assert service_config.secret(service_config.get("overseerr")) == OVERSEERR_KEY


@pytest.mark.parametrize("email", ["admin@nas.local", "admin@localhost", "Owner@Example.test", "me@home.arpa"])
def test_local_accounts_accept_home_network_addresses(app, runner, email):
    result = runner.invoke(args=["users", "create-admin", "--email", email, "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert f"created: {email.lower()}" in result.output
    with app.app_context():
        assert users.authenticate(email, PASSWORD).email == email.lower()


@pytest.mark.parametrize("email", ["nope", "a@@nas.local", "a b@nas.local", "a@-nas.local", "@nas.local", "a@nas..local"])
def test_malformed_addresses_are_still_refused(ctx, email):
    with pytest.raises(ServiceError, match="Enter a valid email address"):
        users.normalize_email(email)


def test_the_setup_form_accepts_a_home_network_address(app, client):
    resp = client.post("/setup", headers=HX, data={"email": "admin@nas.local", "password": PASSWORD,
                                                    "confirm": PASSWORD})
    assert resp.status_code == 200 and resp.headers.get("HX-Redirect") == "/"
    with app.app_context():
        assert users.get_by_email("admin@nas.local").role == "ADMIN"


def test_create_admin_with_another_password_fails_and_points_to_reset_link(app, runner):
    first = runner.invoke(args=["users", "create-admin", "--email", "boss@nas.local", "--password", PASSWORD])
    assert first.exit_code == 0
    same = runner.invoke(args=["users", "create-admin", "--email", "boss@nas.local", "--password", PASSWORD])
    assert same.exit_code == 0 and "exists: boss@nas.local" in same.output
    other = runner.invoke(args=["users", "create-admin", "--email", "Boss@nas.local", "--password", "Another-pass-77"])
    assert other.exit_code == 1
    assert "flask users reset-link boss@nas.local" in other.output and "exists:" not in other.output
    with app.app_context():
        assert users.authenticate("boss@nas.local", PASSWORD)  # the old password still works
        with pytest.raises(ServiceError):
            users.authenticate("boss@nas.local", "Another-pass-77")


def test_services_check_exits_0_only_when_every_watched_service_answers(app, runner, fake_plex):
    runner.invoke(args=["services", "set", "plex", "--url", fake_plex.url, "--token", PLEX_TOKEN])
    up = runner.invoke(args=["services", "check"])
    assert up.exit_code == 0, up.output
    fake_plex.go_down()
    down = runner.invoke(args=["services", "check"])
    assert down.exit_code == 1 and down.output.splitlines()[-1] == "Error: offline: plex"


def test_test_connection_of_typed_plex_values_writes_nothing(app, client, auth, admin, fake_plex):
    auth.login_as(admin)
    typed = {"plex-url": fake_plex.url, "plex-secret": PLEX_TOKEN, "plex-library_section": "", "plex-enabled": "y"}
    ok = client.post("/admin/services/plex/test", headers=HX, data=typed)
    assert b"Connection works" in ok.data, ok.data
    bad = client.post("/admin/services/plex/test", headers=HX, data={**typed, "plex-secret": "not-the-token"})
    assert b"Connection failed" in bad.data and b"not-the-token" not in bad.data
    with app.app_context():
        assert service_config.get("plex") is None
