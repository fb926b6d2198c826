"""Service configuration: validation, sealed secrets, the admin pages, and "Test connection" against the fakes."""
from __future__ import annotations

import pytest

from medianest.extensions import db
from medianest.models import ServiceConfig
from medianest.services import ServiceError, service_config
from tests.conftest import HX
from tests.fakes.overseerr import API_KEY as OVERSEERR_KEY
from tests.fakes.plex import ADMIN_TOKEN as PLEX_TOKEN
from tests.fakes.plex import MACHINE_ID
from tests.fakes.uptime_kuma import API_KEY as KUMA_KEY
from tests.test_health import connect

SECRET = "Sup3r-Secret-Token-xyz"


# -- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"url": "ftp://plex.local:32400", "secret": SECRET}, "url", "must start with http:// or https://"),
    ({"url": "javascript:alert(1)", "secret": SECRET}, "url", "must start with http:// or https://"),
    ({"url": "http://admin:hunter2@plex.local:32400", "secret": SECRET}, "url", "must not contain a user name"),
    ({"url": "http://plex.local:32400/?X-Plex-Token=abc", "secret": SECRET}, "url", "query string"),
    ({"url": "", "secret": SECRET}, "url", "A URL is required"),
    ({"url": "http://" + "a" * 2100, "secret": SECRET}, "url", "longer than 2000"),
    ({"url": "http://plex.local:32400"}, "secret", "Plex token is required"),
    ({"url": "http://plex.local:32400", "secret": "has space"}, "secret", "contains spaces"),
    ({"url": "http://plex.local:32400", "secret": SECRET, "settings": {"library_section": "Movies"}},
     "library_section", "the number Plex shows"),
    ({"url": "http://plex.local:32400", "secret": SECRET, "settings": {"path_map": "downloads"}},
     "path_map", "Path map must look like"),
])
def test_plex_fields_are_validated(ctx, kwargs, field, message):
    with pytest.raises(service_config.ConfigInvalid) as err:
        service_config.configure("plex", **kwargs)
    assert message in err.value.errors[field]
    assert "hunter2" not in str(err.value.errors) and SECRET not in str(err.value.errors)
    assert service_config.get("plex") is None  # nothing half-saved


def test_all_field_errors_are_reported_at_once(ctx):
    with pytest.raises(service_config.ConfigInvalid) as err:
        service_config.configure("youtube", settings={"allowed_hosts": "youtube.com, http://evil/x",
                                                      "max_concurrent": "0", "per_hour": "many",
                                                      "quota_gb": "nan", "max_playlist_entries": "99999"})
    assert set(err.value.errors) == {"allowed_hosts", "max_concurrent", "per_hour", "quota_gb",
                                     "max_playlist_entries"}
    assert "is not a host name" in err.value.errors["allowed_hosts"]
    assert "between 1 and 20" in err.value.errors["max_concurrent"]
    assert "must be a whole number" in err.value.errors["per_hour"]


def test_unknown_service_names_are_refused(ctx):
    with pytest.raises(ServiceError, match="Unknown service 'jellyfin'"):
        service_config.configure("jellyfin", url="http://x.local")


def test_uptime_kuma_needs_a_slug_and_youtube_settings_round_trip(ctx):
    with pytest.raises(service_config.ConfigInvalid) as err:
        service_config.configure("uptime-kuma", url="http://kuma.local:3001")
    assert "slug is required" in err.value.errors["slug"]
    with pytest.raises(service_config.ConfigInvalid) as err:
        service_config.configure("uptime-kuma", url="http://kuma.local:3001", settings={"slug": "Media Page!"})
    assert "letters, digits and dashes" in err.value.errors["slug"]
    service_config.configure("uptime-kuma", url="http://kuma.local:3001", settings={"slug": "Media"})
    assert service_config.data(service_config.get("uptime-kuma"))["slug"] == "media"
    service_config.configure("youtube", settings={"allowed_hosts": "YouTube.com youtu.be, youtube.com",
                                                  "max_concurrent": "3", "per_hour": "12", "quota_gb": "2.5",
                                                  "max_playlist_entries": "50"})
    yt = service_config.youtube_settings()
    assert (yt.allowed_hosts, yt.max_concurrent, yt.per_hour, yt.quota_gb, yt.max_playlist_entries) == (
        ["youtube.com", "youtu.be"], 3, 12, 2.5, 50)
    service_config.configure("youtube", settings={"allowed_hosts": "", "quota_gb": ""})
    yt = service_config.youtube_settings()
    assert yt.allowed_hosts == list(service_config.DEFAULT_ALLOWED_HOSTS) and yt.quota_gb == 10.0
    assert yt.per_hour == 12


def test_secrets_are_sealed_kept_replaced_and_cleared(ctx, admin):
    service_config.configure("overseerr", url="http://ovs.local:5055", secret=SECRET,
                             extra_secrets={"webhook_secret": "hook-secret-1"}, updated_by=admin.id)
    cfg = service_config.get("overseerr")
    assert SECRET not in cfg.api_key and "hook-secret-1" not in str(cfg.config_data)
    assert service_config.secret(cfg) == SECRET and cfg.updated_by == admin.id
    service_config.configure("overseerr", url="http://ovs2.local:5055")  # secrets unchanged
    cfg = service_config.get("overseerr")
    assert service_config.secret(cfg) == SECRET
    assert service_config.extra_secret(cfg, "webhook_secret") == "hook-secret-1"
    service_config.configure("overseerr", extra_secrets={"webhook_secret": ""})
    assert service_config.extra_secret(service_config.get("overseerr"), "webhook_secret") is None
    with pytest.raises(service_config.ConfigInvalid, match="API key is required"):
        service_config.configure("overseerr", secret="")
    described = service_config.describe_all()
    assert SECRET not in str(described)
    overseerr = next(d for d in described if d["name"] == "overseerr")
    assert overseerr["secret_set"] and overseerr["extra_secrets_set"] == {"webhook_secret": False}


def test_redact_url_drops_credentials():
    assert service_config.redact_url("http://u:p@host:8080/x") == "http://host:8080/x"
    assert service_config.redact_url("http://host/x") == "http://host/x"
    assert service_config.redact_url("") == ""


# -- connection tests ---------------------------------------------------------------------------------
def test_connection_tests_succeed_against_the_fakes(app, admin, fake_plex, fake_overseerr, fake_uptime_kuma):
    connect(app, fake_plex, fake_overseerr, fake_uptime_kuma)
    with app.app_context():
        service_config.configure("uptime-kuma", secret=KUMA_KEY)
        updated_at = service_config.get("plex").updated_at
        plex = service_config.test_connection("plex")
        assert plex.ok and plex.message == "Connected to HomeServer (Plex 1.41.6.9685-d301f511a)."
        assert plex.version == "1.41.6.9685-d301f511a" and plex.latency_ms is not None
        assert any("YouTube (3)" in d for d in plex.details)
        cfg = service_config.get("plex")
        assert service_config.plex_machine_identifier() == MACHINE_ID
        assert cfg.updated_at == updated_at  # testing is not editing
        overseerr = service_config.test_connection("overseerr")
        assert overseerr.ok and overseerr.version == "1.34.0" and "acts as serverowner" in overseerr.details[0]
        kuma = service_config.test_connection("uptime-kuma")
        assert kuma.ok and kuma.message == "Status page “Media Services” found."
        assert "Metrics API key accepted" in kuma.details[-1]
        youtube = service_config.test_connection("youtube")
        assert youtube.ok and youtube.version
    assert [r.path for r in fake_plex.seen()][:2] == ["/identity", "/"]


@pytest.mark.parametrize("case", ["unreachable", "bad-key", "wrong-url", "tls", "html", "kuma-slug", "kuma-key",
                                  "plex-token", "plex-section", "not-configured", "kuma-hangs"])
def test_connection_errors_are_precise(make_app, admin, fake_plex, fake_overseerr, fake_uptime_kuma, case):
    app = make_app(MEDIANEST_SERVICE_TEST_TIMEOUT=1)
    connect(app, fake_plex, fake_overseerr, fake_uptime_kuma)
    service, expected = {
        "unreachable": ("overseerr", "Cannot connect to Overseerr at 127.0.0.1:"),
        "bad-key": ("overseerr", "answered but refused the API key (HTTP 403)"),
        "wrong-url": ("overseerr", "has no Overseerr API at this address (HTTP 404)"),
        "tls": ("overseerr", "TLS error talking to Overseerr"),
        "html": ("overseerr", "answered with HTML or another format instead of the JSON"),
        "kuma-slug": ("uptime-kuma", "has no status page with this slug (HTTP 404)"),
        "kuma-key": ("uptime-kuma", "refused the metrics API key (HTTP 401)"),
        "plex-token": ("plex", "answered but refused the Plex token (HTTP 401)"),
        "plex-section": ("plex", "library section 9 does not exist"),
        "not-configured": ("overseerr", "Overseerr is not configured yet."),
        "kuma-hangs": ("uptime-kuma", "never answers for an unknown status page slug"),
    }[case]
    with app.app_context():
        if case == "unreachable":
            fake_overseerr.go_down()
        elif case == "bad-key":
            service_config.configure("overseerr", secret="not-the-key")
        elif case == "wrong-url":
            service_config.configure("overseerr", url=fake_plex.url + "/somewhere")
            fake_plex.override("/somewhere/api/v1/status", b"<h1>nope</h1>", status=404, content_type="text/html")
        elif case == "tls":
            service_config.configure("overseerr", url=fake_overseerr.url.replace("http://", "https://"))
        elif case == "html":
            service_config.configure("overseerr", url=fake_uptime_kuma.url)  # its web app answers every path
        elif case == "kuma-slug":
            service_config.configure("uptime-kuma", settings={"slug": "nope"})
        elif case == "kuma-key":
            service_config.configure("uptime-kuma", secret="uk1_wrong")
        elif case == "plex-token":
            service_config.configure("plex", secret="expired-token")
        elif case == "plex-section":
            service_config.configure("plex", settings={"library_section": "9"})
        elif case == "not-configured":
            db.session.delete(service_config.get("overseerr"))
            db.session.commit()
        elif case == "kuma-hangs":
            fake_uptime_kuma.version = 1
            service_config.configure("uptime-kuma", settings={"slug": "nope"})
        result = service_config.test_connection(service)
    assert not result.ok
    assert expected in result.message, result.message
    for secret in ("not-the-key", OVERSEERR_KEY, PLEX_TOKEN, "expired-token", "uk1_wrong", KUMA_KEY):
        assert secret not in result.message and secret not in str(result.details)


# -- admin pages ---------------------------------------------------------------------------------------
def test_services_page_and_fragment(app, client, auth, admin):
    auth.login_as(admin)
    page = client.get("/admin/services")
    assert page.status_code == 200 and b"<html" in page.data and "HX-Request" in page.headers["Vary"]
    for name in ("plex", "overseerr", "uptime-kuma", "youtube"):
        assert f'id="service-form-{name}"'.encode() in page.data
    frag = client.get("/admin/services", headers=HX)
    assert b"<html" not in frag.data and b'id="services-list"' in frag.data
    assert b"style=" not in frag.data


def test_saving_shows_set_never_the_secret(app, client, auth, admin, caplog):
    caplog.set_level("DEBUG")
    auth.login_as(admin)
    resp = client.post("/admin/services/overseerr", headers=HX, data={
        "overseerr-url": "http://ovs.local:5055", "overseerr-secret": SECRET,
        "overseerr-webhook_secret": "hook-" + SECRET, "overseerr-enabled": "y"})
    assert resp.status_code == 200, resp.data
    assert b"Saved." in resp.data and b'id="service-form-overseerr"' in resp.data and b"<html" not in resp.data
    assert "services-changed" in resp.headers["HX-Trigger"]
    assert b"Set. Leave empty to keep it" in resp.data
    assert f"by {admin.display_name}".encode() in resp.data
    for body in (resp.data, client.get("/admin/services").data, client.get("/").data):
        assert SECRET.encode() not in body
    assert SECRET not in caplog.text
    with app.app_context():
        cfg = service_config.get("overseerr")
        assert service_config.secret(cfg) == SECRET and cfg.updated_by == admin.id
    # Saving again with empty secret fields keeps them.
    client.post("/admin/services/overseerr", headers=HX, data={"overseerr-url": "http://ovs.local:5056",
                                                               "overseerr-enabled": "y"})
    with app.app_context():
        cfg = service_config.get("overseerr")
        assert service_config.secret(cfg) == SECRET and cfg.service_url == "http://ovs.local:5056"
        assert service_config.extra_secret(cfg, "webhook_secret") == "hook-" + SECRET


def test_refused_forms_are_422_and_never_echo_secrets(app, client, auth, admin):
    auth.login_as(admin)
    resp = client.post("/admin/services/plex", headers=HX, data={
        "plex-url": "http://admin:hunter2pass@plex.local:32400", "plex-secret": SECRET,
        "plex-library_section": "abc", "plex-enabled": "y"})
    assert resp.status_code == 422 and b'id="service-form-plex"' in resp.data and b"<html" not in resp.data
    assert b"must not contain a user name or password" in resp.data
    assert b"the number Plex shows" in resp.data
    assert b"hunter2pass" not in resp.data and SECRET.encode() not in resp.data
    assert b'value="http://plex.local:32400"' in resp.data
    page = client.post("/admin/services/plex", data={"plex-url": "gopher://plex.local", "plex-secret": SECRET})
    assert page.status_code == 422 and b"<html" in page.data and b"must start with http://" in page.data
    assert SECRET.encode() not in page.data
    missing = client.post("/admin/services/plex", headers=HX, data={"plex-url": "http://plex.local:32400"})
    assert missing.status_code == 422 and b"The Plex token is required." in missing.data
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ServiceConfig)) == 0


def test_clearing_a_secret(app, client, auth, admin):
    with app.app_context():
        service_config.configure("uptime-kuma", url="http://kuma.local:3001", secret=KUMA_KEY,
                                 settings={"slug": "media"})
    auth.login_as(admin)
    resp = client.post("/admin/services/uptime-kuma", headers=HX, data={
        "uptime-kuma-url": "http://kuma.local:3001", "uptime-kuma-slug": "media", "uptime-kuma-clear_secret": "y",
        "uptime-kuma-enabled": "y"})
    assert resp.status_code == 200 and b"Not set." in resp.data
    with app.app_context():
        assert service_config.get("uptime-kuma").api_key is None
    required = client.post("/admin/services/plex", headers=HX, data={
        "plex-url": "http://plex.local", "plex-secret": SECRET})
    assert required.status_code == 200
    cleared = client.post("/admin/services/plex", headers=HX, data={"plex-url": "http://plex.local",
                                                                    "plex-clear_secret": "y"})
    assert cleared.status_code == 422 and b"The Plex token is required." in cleared.data


def test_saving_without_htmx_redirects_with_a_flash(app, client, auth, admin):
    auth.login_as(admin)
    resp = client.post("/admin/services/youtube", data={"youtube-allowed_hosts": "youtube.com",
                                                        "youtube-max_concurrent": "2", "youtube-enabled": "y"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin/services")
    assert b"YouTube downloads saved." in client.get("/admin/services").data


def test_test_connection_fragment(app, client, auth, admin, fake_overseerr):
    connect(app, overseerr=fake_overseerr)
    auth.login_as(admin)
    ok = client.post("/admin/services/overseerr/test", headers=HX)
    assert ok.status_code == 200 and b'id="service-test-overseerr"' in ok.data and b"<html" not in ok.data
    assert b"Connection works" in ok.data and b"Connected to Overseerr 1.34.0." in ok.data
    fake_overseerr.api_key = "changed"
    bad = client.post("/admin/services/overseerr/test", headers=HX)
    assert b"Connection failed" in bad.data and b"refused the API key" in bad.data
    assert OVERSEERR_KEY.encode() not in bad.data
    page = client.post("/admin/services/overseerr/test")
    assert page.status_code == 200 and b"<html" in page.data and b"refused the API key" in page.data
    assert client.post("/admin/services/jellyfin/test", headers=HX).status_code == 404


def test_an_undecryptable_secret_is_explained_not_crashed(make_app, admin, auth, fake_overseerr):
    from medianest import crypto

    connect(make_app(), overseerr=fake_overseerr)
    other = make_app(MEDIANEST_ENCRYPTION_KEY=crypto.generate_key())
    client = other.test_client()
    auth.app = other
    auth.login_as(admin, client)
    resp = client.post("/admin/services/overseerr/test", headers=HX)
    assert resp.status_code == 200 and b"cannot be decrypted" in resp.data
    assert client.get("/admin/services").status_code == 200


def test_toggling_a_service(app, client, auth, admin):
    auth.login_as(admin)
    assert client.post("/admin/services/plex/enabled", headers=HX).status_code == 422  # nothing to switch yet
    resp = client.post("/admin/services/youtube/enabled", headers=HX)
    assert resp.status_code == 200
    with app.app_context():
        assert service_config.monitored() == []


@pytest.mark.parametrize(("method", "url"), [
    ("get", "/admin/services"), ("post", "/admin/services/plex"), ("post", "/admin/services/plex/test"),
    ("post", "/admin/services/plex/enabled"),
])
def test_service_pages_are_admin_only(client, auth, user, method, url):
    auth.login_as(user)
    assert getattr(client, method)(url).status_code == 404
    auth.logout()
    assert getattr(client, method)(url).status_code in (302, 303, 401)
