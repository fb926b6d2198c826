"""Security review checks: secrets stay out of pages, logs, error logs and the CLI; users only reach their own
rows; admin pages are 404 for everybody else; every state-changing route needs the CSRF token; redirects stay on
this site; the image proxy only fetches Plex images from the configured server; security headers everywhere."""
from __future__ import annotations

import json
import logging
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from medianest.extensions import db
from medianest.models import ErrorLog, User
from medianest.services import service_config, users
from medianest.views.forms import safe_next
from tests.conftest import HX, TEST_KEY
from tests.factories import make_user
from tests.fakes.overseerr import API_KEY as OVERSEERR_KEY
from tests.fakes.overseerr import REQUEST
from tests.fakes.plex import ADMIN_TOKEN, MACHINE_ID
from tests.fakes.uptime_kuma import API_KEY as KUMA_KEY
from tests.requests_support import WEBHOOK_SECRET
from tests.security_support import (  # noqa: F401  (world is a fixture)
    ROUTES,
    WRITE_METHODS,
    fresh_client,
    route_params,
    url_for_route,
    world,
)

ADMIN_PASSWORD = "correct horse battery 9"
SECRET_KEY = "security-review-secret-key-5f1c9e"
ALICE_TOKEN = "alice-plex-token-Qz81"
ALICE_ACCESS_TOKEN = f"shared-13692262-{MACHINE_ID[:8]}"  # what the fake plex.tv hands out for our server
TYPED_KEY = "typed-api-key-NeverShown-77"
TYPED_HOOK = "typed-webhook-NeverShown-78"
TYPED_URL_PASSWORD = "urlPassword-NeverShown-79"
NEW_PASSWORD = "Fresh passphrase 4 reset"


# -- 1. secrets ----------------------------------------------------------------------------------------------
class Recorder:
    """A test client that keeps every response it got, for scanning afterwards."""

    def __init__(self, client, seen: list):
        self.client = client
        self.seen = seen

    def __getattr__(self, name):
        return getattr(self.client, name)

    def _keep(self, label, resp):
        self.seen.append((label, resp))
        return resp

    def get(self, url, **kw):
        return self._keep(f"GET {url}", self.client.get(url, **kw))

    def post(self, url, **kw):
        return self._keep(f"POST {url}", self.client.post(url, **kw))


def _plex_sign_in(client, fake_plextv, token):
    resp = client.post("/auth/plex", data={"plex-remember": "y"}, headers=HX)
    assert resp.status_code == 200, resp.data
    params = parse_qs(urlsplit(resp.headers["HX-Redirect"]).fragment.lstrip("?"))
    pin = fake_plextv.pin_by_code(params["code"][0])
    fake_plextv.claim(pin.id, token)
    forward = urlsplit(params["forwardUrl"][0])
    resp = client.get(f"{forward.path}?{forward.query}")
    assert resp.status_code == 303, resp.data


def _log_text(record) -> str:
    return logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)


def test_no_secret_reaches_a_page_a_log_an_error_log_or_the_cli(make_app, fake_plextv, fake_plex, fake_overseerr,
                                                                 fake_uptime_kuma, caplog):
    app = make_app(MEDIANEST_PLEX_TV_URL=fake_plextv.url, MEDIANEST_PLEX_APP_URL=fake_plextv.url + "/auth",
                   MEDIANEST_TMDB_IMAGE_URL=fake_overseerr.url, SECRET_KEY=SECRET_KEY)
    admin = make_user(app, email="admin@example.com", role="ADMIN", password=ADMIN_PASSWORD)
    viewer = make_user(app, email="viewer@example.com", password="viewer Password 1")
    with app.app_context():
        service_config.save("plex", url=fake_plex.url, secret_value=ADMIN_TOKEN,
                            settings={"machine_identifier": MACHINE_ID})
        service_config.save("overseerr", url=fake_overseerr.url, secret_value=OVERSEERR_KEY,
                            extra_secrets={"webhook_secret": WEBHOOK_SECRET})
        service_config.configure("uptime-kuma", url=fake_uptime_kuma.url, secret=KUMA_KEY, settings={"slug": "media"})
    fake_plextv.add_user(token=ALICE_TOKEN, id=13692262, username="alice", email="alice@example.com",
                         servers=[(MACHINE_ID, False, "HomeServer")])
    fake_overseerr.add_user(2, 13692262, "alice@plex.example", "alice", permissions=REQUEST)
    caplog.set_level(logging.DEBUG)
    seen: list = []
    secrets = {"plex token": ADMIN_TOKEN, "overseerr key": OVERSEERR_KEY, "webhook secret": WEBHOOK_SECRET,
               "kuma key": KUMA_KEY, "alice plex token": ALICE_TOKEN, "alice server token": ALICE_ACCESS_TOKEN,
               "typed key": TYPED_KEY, "typed hook": TYPED_HOOK, "url password": TYPED_URL_PASSWORD,
               "admin password": ADMIN_PASSWORD, "new password": NEW_PASSWORD, "secret key": SECRET_KEY,
               "encryption key": TEST_KEY}

    # An admin signs in with a password (remember me), looks around, tests and saves the services.
    boss = Recorder(app.test_client(), seen)
    resp = boss.post("/auth/login", data={"email": "admin@example.com", "password": ADMIN_PASSWORD, "remember": "y"})
    assert resp.status_code == 303
    secrets["admin remember token"] = boss.get_cookie("medianest_remember").value
    with boss.session_transaction() as cookie:
        secrets["admin session token"] = cookie["sid"]
    for url in ("/", "/admin/", "/admin/services", "/admin/users", "/admin/requests", "/admin/metrics",
                "/admin/incidents", "/admin/downloads", "/account/sessions"):
        assert boss.get(url).status_code == 200, url
        assert boss.get(url, headers=HX).status_code == 200, url
    for name in ("plex", "overseerr", "uptime-kuma", "youtube"):
        assert boss.post(f"/admin/services/{name}/test", headers=HX).status_code == 200
    refused = boss.post("/admin/services/overseerr", headers=HX, data={
        "overseerr-url": f"http://admin:{TYPED_URL_PASSWORD}@overseerr.local:5055", "overseerr-secret": TYPED_KEY,
        "overseerr-webhook_secret": TYPED_HOOK, "overseerr-enabled": "y"})
    assert refused.status_code == 422
    saved = boss.post("/admin/services/overseerr", headers=HX, data={"overseerr-url": fake_overseerr.url,
                                                                     "overseerr-enabled": "y"})
    assert saved.status_code == 200
    link = boss.post(f"/admin/users/{viewer.id}/reset-link", headers=HX)
    reset_token = re.search(r"/auth/reset/([A-Za-z0-9_-]+)", link.get_data(as_text=True)).group(1)
    secrets["reset token"] = reset_token

    # Alice signs in with Plex and uses the library, Discover, requests and her inbox.
    alice = Recorder(app.test_client(), seen)
    _plex_sign_in(alice, fake_plextv, ALICE_TOKEN)
    secrets["alice remember token"] = alice.get_cookie("medianest_remember").value
    library = alice.get("/media/").get_data(as_text=True)
    image = re.search(r'src="(/media/image\?[^"]+)"', library).group(1).replace("&amp;", "&")
    assert alice.get(image).status_code == 200
    assert alice.get("/media/sections/1").status_code == 200
    assert alice.get("/media/?q=matrix").status_code == 200
    assert alice.get("/media/discover?q=matrix").status_code == 200
    assert alice.get("/media/movie/603").status_code == 200
    assert alice.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX).status_code == 200
    for url in ("/requests/", "/notifications/", "/notifications/bell", "/account/", "/youtube/"):
        assert alice.get(url).status_code == 200, url

    # Overseerr calls the webhook (right secret, Bearer form, wrong secret).
    hook = Recorder(app.test_client(), seen)
    payload = fake_overseerr.webhook_payload("MEDIA_APPROVED", 1)
    assert hook.post("/webhooks/overseerr", json=payload, headers={"Authorization": WEBHOOK_SECRET}).status_code == 200
    assert hook.post("/webhooks/overseerr", json=payload,
                     headers={"Authorization": f"Bearer {WEBHOOK_SECRET}"}).status_code == 200
    assert hook.post("/webhooks/overseerr", json=payload, headers={"Authorization": "guess"}).status_code == 403

    # The viewer opens the reset link (a wrong method first), sets a password and is signed in.
    stranger = Recorder(app.test_client(), seen)
    assert stranger.client.put(f"/auth/reset/{reset_token}").status_code in (303, 405)  # signed out: to sign-in
    assert stranger.get(f"/auth/reset/{reset_token}").status_code == 200
    done = stranger.post(f"/auth/reset/{reset_token}", data={"new_password": NEW_PASSWORD,
                                                            "confirm_password": NEW_PASSWORD})
    assert done.status_code == 303

    # The admin's remember-me cookie signs a new browser in (rotated), then the stolen copy is replayed.
    returning = Recorder(app.test_client(), seen)
    returning.set_cookie("medianest_remember", secrets["admin remember token"])
    assert returning.get("/").status_code == 200
    secrets["rotated remember token"] = returning.get_cookie("medianest_remember").value
    thief = Recorder(app.test_client(), seen)
    thief.set_cookie("medianest_remember", secrets["admin remember token"])
    thief.get("/", headers={"X-Forwarded-For": "203.0.113.9"})

    # A stored secret that no longer opens: the 500 path writes an error log with a stack trace.
    with app.app_context():
        cfg = service_config.get("plex")
        cfg.api_key = cfg.api_key[:-6] + "AAAAAA"
        db.session.commit()
    assert alice.get("/media/?q=other").status_code == 500

    runner = app.test_cli_runner()
    outputs = [runner.invoke(args=args).output for args in (
        ["services", "show"], ["services", "test", "overseerr"], ["services", "test", "uptime-kuma"],
        ["services", "check"], ["keys", "rotate"], ["users", "list"], ["requests", "list"])]

    problems = []
    for record in caplog.records:
        text = _log_text(record)
        problems += [f"log {record.name}: {name}" for name, value in secrets.items() if value in text]
    for label, resp in seen:
        headers = "\n".join(f"{k}: {v}" for k, v in resp.headers.items() if k.lower() != "set-cookie")
        text = resp.get_data().decode("utf-8", "replace") + "\n" + headers
        allowed = {"reset token"} if "/reset" in label else set()
        problems += [f"{label}: {name}" for name, value in secrets.items() if value in text and name not in allowed]
        assert "X-Plex-Token" not in text, label
    with app.app_context():
        for row in db.session.scalars(db.select(ErrorLog)):
            text = json.dumps([row.error_code, row.error_message, row.stack_trace, row.request_path, row.meta],
                              default=str)
            problems += [f"error log {row.error_code}: {name}" for name, value in secrets.items() if value in text]
        assert db.session.scalar(db.select(db.func.count(ErrorLog.id)).where(ErrorLog.status_code == 500)) >= 1
    for output in outputs:
        problems += [f"cli: {name}" for name, value in secrets.items() if value in output]
    assert not problems, problems
    # The journeys really ran: the reset link was logged (redacted) and the 405 on it recorded.
    assert any("/auth/reset/[redacted]" in _log_text(r) for r in caplog.records)
    assert admin.id is not None


def test_csrf_refusal_on_a_reset_link_keeps_the_token_out_of_the_error_log(make_app, admin, user, caplog):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        token = users.issue_reset_token(user.id)
    caplog.set_level(logging.DEBUG)
    resp = app.test_client().post(f"/auth/reset/{token}?token={token}",
                                  data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert resp.status_code == 400
    with app.app_context():
        row = db.session.scalar(db.select(ErrorLog))
        assert row.error_code == "csrf_failed" and row.request_path == "/auth/reset/[redacted]"
        assert token not in json.dumps(row.meta) and row.meta["args"]["token"] == "[redacted]"
    assert not [r for r in caplog.records if token in _log_text(r)]


def test_clients_built_from_the_settings_keep_their_secrets_out_of_reprs(world):
    with world.app.app_context():
        service_config.configure("uptime-kuma", url="http://kuma.local:3001", secret=KUMA_KEY,
                                 settings={"slug": "media"})
        clients = [service_config.plex_client(), service_config.overseerr_client(), service_config.uptime_kuma_client()]
        described = repr(service_config.describe_all())
    for client in clients:
        text = f"{client!r} {client!s} {vars(client).keys()}"
        assert not any(secret in text for secret in (ADMIN_TOKEN, OVERSEERR_KEY, KUMA_KEY)), text
    assert not any(secret in described for secret in (ADMIN_TOKEN, OVERSEERR_KEY, KUMA_KEY, WEBHOOK_SECRET))


def test_the_plex_pin_nonce_stays_out_of_reprs():
    from medianest.services.plex_auth import Start

    assert "n0nce-secret" not in repr(Start(pin_id=1, nonce="n0nce-secret", auth_url="https://app.plex.tv/auth"))


def test_request_log_lines_cannot_be_forged_with_newlines_in_the_path(client, admin, caplog):
    caplog.set_level(logging.INFO, logger="medianest.requests")
    client.get("/health%0a2026-01-01 INFO medianest.requests: GET /admin 200")
    lines = [r.getMessage() for r in caplog.records if r.name == "medianest.requests"]
    assert lines and all("\n" not in line for line in lines) and "\\x0a" in lines[-1]


# -- 2. user isolation ---------------------------------------------------------------------------------------
OWNED = [r for r in ROUTES if r.owned_args and not r.admin_only]
ADMIN = [r for r in ROUTES if r.admin_only]
OTHER = [r for r in ROUTES if not r.owned_args and not r.admin_only
         and r.endpoint not in ("static", "health.liveness", "health.readiness_check", "webhooks.overseerr")]


def test_the_route_lists_cover_the_user_owned_kinds():
    owned = {arg for r in OWNED for arg in r.owned_args}
    assert owned == {"request_id", "notification_id", "session_id", "download_id"}
    assert any(r.endpoint == "notifications.broadcast" for r in ADMIN) and len(ADMIN) > 20


@pytest.mark.parametrize(("route", "method"), route_params(OWNED))
def test_another_users_row_is_404(world, auth, route, method):
    """A plain user naming Bob's request, notification, session or download (or an unknown id) gets 404,
    and Bob's rows are as they were."""
    before = world.bob_rows()
    for ids in (world.ids, {}):
        for headers in ({}, HX):
            client = fresh_client(world.app, auth, world.viewer)
            resp = client.open(url_for_route(world.app, route, ids), method=method, headers=headers)
            assert resp.status_code == 404, (resp.status_code, resp.data[:300])
            assert not world.leaks(resp.data)
    assert world.bob_rows() == before


@pytest.mark.parametrize(("route", "method"), route_params(ADMIN))
def test_admin_routes_are_404_for_plain_users(world, auth, route, method):
    before = world.bob_rows()
    for ids in (world.ids, {}):
        for headers in ({}, HX):
            client = fresh_client(world.app, auth, world.viewer)
            resp = client.open(url_for_route(world.app, route, ids), method=method, headers=headers,
                               data={"role": "ADMIN"})
            assert resp.status_code == 404, (resp.status_code, resp.data[:300])
            assert not world.leaks(resp.data)
    assert world.bob_rows() == before
    with world.app.app_context():
        assert db.session.get(User, world.viewer.id).role == "USER"


@pytest.mark.parametrize(("route", "method"), route_params(OTHER))
def test_other_routes_never_fail_or_show_another_users_data(world, auth, route, method):
    before = world.bob_rows()
    for headers in ({}, HX):
        client = fresh_client(world.app, auth, world.viewer)
        resp = client.open(url_for_route(world.app, route, world.ids), method=method, headers=headers)
        assert resp.status_code < 500, (resp.status_code, resp.data[:300])
        assert not world.leaks(resp.data), world.leaks(resp.data)
    assert world.bob_rows() == before


# -- 3. CSRF -------------------------------------------------------------------------------------------------
def test_only_the_overseerr_webhook_is_exempt_from_csrf(app):
    csrf = app.extensions["csrf"]
    assert csrf._exempt_views == {"medianest.views.webhooks.overseerr"}
    assert not csrf._exempt_blueprints


@pytest.mark.parametrize(("route", "method"),
                         route_params([r for r in ROUTES if r.endpoint != "webhooks.overseerr"], methods=WRITE_METHODS))
def test_state_changing_routes_need_the_csrf_token(make_app, admin, route, method):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    from tests.conftest import Auth

    Auth(app, client).login_as(admin)
    url = url_for_route(app, route)
    for headers in ({}, HX, {"X-CSRFToken": "forged"}):
        resp = client.open(url, method=method, headers=headers, data={"anything": "1"})
        assert resp.status_code == 400, (resp.status_code, resp.data[:300])
    with app.app_context():
        assert db.session.get(User, admin.id).status == "active"


def test_a_valid_csrf_token_is_accepted(make_app, admin):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    from tests.conftest import Auth

    Auth(app, client).login_as(admin)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    assert client.post("/notifications/read-all", headers={**HX, "X-CSRFToken": token}).status_code == 200
    assert client.post("/notifications/read-all", data={"csrf_token": token}).status_code == 303


# -- 4. redirects, header injection, the image proxy ---------------------------------------------------------
@pytest.mark.parametrize("target", [
    "https://evil.example", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\r\n/evil.example", " //evil.example", "javascript:alert(1)", "http:/evil.example",
    "//evil.example@medianest.local", "/auth/logout", "http://[evil", "//[::1", "evil.example/x", "",
])
def test_unsafe_next_targets_are_dropped(target):
    assert safe_next(target) is None


@pytest.mark.parametrize(("target", "expected"), [
    ("/requests/?status=pending", "/requests/?status=pending"), ("/media/discover?q=a%20b", "/media/discover?q=a%20b"),
])
def test_same_site_next_targets_are_kept(target, expected):
    assert safe_next(target) == expected


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https://evil.example/x", "http://[x",
                                    "/%0d%0aSet-Cookie:x=1", "/\u2603?q=\u00e9"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_sign_in_redirects_stay_on_this_site(client, admin, target, headers):
    resp = client.post("/auth/login", query_string={"next": target}, headers=headers,
                       data={"email": "admin@example.com", "password": ADMIN_PASSWORD})
    location = resp.headers.get("HX-Redirect") or resp.headers["Location"]
    assert resp.status_code in (200, 303)
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert location.isascii() and "\r" not in location and "\n" not in location
    assert "Set-Cookie: x" not in str(resp.headers)


@pytest.mark.parametrize("current", ["https://evil.example/requests/", "http://[::1", "//evil.example/x",
                                     "/\\evil.example", "not a url at all \u2603"])
def test_expired_htmx_requests_redirect_to_this_sites_sign_in(client, admin, current):
    resp = client.get("/requests/", headers={**HX, "HX-Current-URL": current})
    assert resp.status_code == 401
    target = resp.headers["HX-Redirect"]
    assert target.startswith("/auth/login") and "evil" not in target and target.isascii()


def test_the_login_page_survives_a_malformed_next(client, admin):
    for target in ("http://[x", "//[::1]x", "/ok"):
        assert client.get("/auth/login", query_string={"next": target}).status_code == 200


@pytest.fixture
def proxy(world, auth, fake_plex):
    return fresh_client(world.app, auth, world.viewer), fake_plex


@pytest.mark.parametrize("path", [
    "http://127.0.0.1:1/library/metadata/101/thumb", "//127.0.0.1:1/x", "/library/metadata/101/thumb/../../../:/prefs",
    "/library/metadata/101/thumb?X-Plex-Token=x", "/library/metadata/101/thumb%2F..%2F..%2Fidentity",
    "/photo/:/transcode?url=http://127.0.0.1:1/x", "/photo/:/transcode?url=/:/prefs",
    "/library/metadata/101/thumb\n/x", "/library/sections", "/:/prefs", "/identity", "file:///etc/passwd", "",
    "/library/metadata/abc/thumb", "/library/metadata/101/file",
    "/photo/:/transcode?url=/library/metadata/101/thumb%0A",
])
def test_the_image_proxy_fetches_only_plex_image_paths(proxy, path):
    client, plex = proxy
    before = len(plex.seen())
    resp = client.get("/media/image", query_string={"path": path, "w": "300"})
    assert resp.status_code == 404
    assert len(plex.seen()) == before  # nothing was asked of Plex


def test_the_image_proxy_serves_a_real_poster_from_the_configured_server(proxy):
    client, plex = proxy
    resp = client.get("/media/image?path=/library/metadata/101/thumb/1714560000&w=300")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert plex.seen()[-1].headers.get("X-Plex-Token") == ADMIN_TOKEN


def test_the_image_proxy_refuses_svg_and_other_non_bitmap_answers(proxy):
    client, plex = proxy
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    plex.override("/library/metadata/101/thumb/1", svg, content_type="image/svg+xml")
    resp = client.get("/media/image?path=/library/metadata/101/thumb/1")
    assert resp.status_code == 502 and b"<svg" not in resp.data


@pytest.mark.parametrize(("size", "filename"), [("w92", "..%2F..%2Fetc%2Fpasswd"), ("original", "abc.jpg"),
                                                ("w92", "abc.svg"), ("w92", "a b.jpg")])
def test_the_poster_proxy_takes_only_tmdb_file_names(proxy, size, filename):
    client, _ = proxy
    assert client.get(f"/media/poster/{size}/{filename}").status_code == 404


# -- 5. headers and cookies on every kind of response --------------------------------------------------------
BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def _check_headers(resp, label):
    for name, value in BASE_HEADERS.items():
        assert resp.headers.get(name) == value, (label, name)
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, label
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, label
    assert resp.headers.get("X-Request-ID"), label
    if resp.mimetype == "text/html":  # never stored, or (with an ETag) kept by this browser only and revalidated
        assert resp.headers.get("Cache-Control") == "no-store" or (
            resp.headers.get("Cache-Control") == "private, no-cache" and resp.headers.get("ETag")), label


def test_security_headers_on_every_kind_of_response(world, auth, client):
    viewer = fresh_client(world.app, auth, world.viewer)
    boss = fresh_client(world.app, auth, world.admin)
    responses = {
        "anonymous redirect": client.get("/requests/"),
        "anonymous htmx 401": client.get("/requests/", headers=HX),
        "login page": client.get("/auth/login"),
        "page": viewer.get("/requests/"),
        "fragment": viewer.get("/requests/", headers=HX),
        "json": client.get("/health"),
        "json error": client.post("/webhooks/overseerr", json={}),
        "404 page": viewer.get("/nowhere"),
        "404 fragment": viewer.get(f"/requests/{uuid.uuid4()}", headers=HX),
        "405": viewer.put("/requests/"),
        "nul query": viewer.get("/requests/?q=%00"),
        "static": client.get("/static/css/medianest.css"),
        "image proxy": viewer.get("/media/image?path=/library/metadata/101/thumb/1714560000"),
        "admin page": boss.get("/admin/"),
        "hx redirect": viewer.post("/notifications/read-all", headers={**HX, "HX-Request": "true"}),
    }
    for label, resp in responses.items():
        _check_headers(resp, label)
    assert responses["image proxy"].headers["Cache-Control"].startswith("private")
    assert responses["page"].headers["Vary"] and "HX-Request" in responses["page"].headers["Vary"]


def test_500_responses_carry_the_headers_too(world, auth):
    with world.app.app_context():
        cfg = service_config.get("plex")
        cfg.api_key = cfg.api_key[:-6] + "AAAAAA"
        db.session.commit()
    viewer = fresh_client(world.app, auth, world.viewer)
    for headers in ({}, HX, {"Accept": "application/json"}):
        resp = viewer.get("/media/?q=x", headers=headers)
        assert resp.status_code == 500
        _check_headers(resp, f"500 {headers}")
        assert b"Traceback" not in resp.data and b"cannot decrypt" not in resp.data


def _cookie_attrs(resp, name) -> str:
    return next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(name + "="))


@pytest.mark.parametrize("base_url", [None, "https://media.example.com"])
def test_sign_in_cookies_are_http_only_same_site_and_secure_behind_https(make_app, base_url):
    overrides = {"MEDIANEST_BASE_URL": base_url, "SESSION_COOKIE_SECURE": bool(base_url)} if base_url else {}
    app = make_app(**overrides)
    make_user(app, email="admin@example.com", role="ADMIN", password=ADMIN_PASSWORD)
    resp = app.test_client().post("/auth/login", data={"email": "admin@example.com", "password": ADMIN_PASSWORD,
                                                      "remember": "y"})
    assert resp.status_code == 303
    for name in ("session", "medianest_remember"):
        attrs = _cookie_attrs(resp, name)
        assert "HttpOnly" in attrs and "SameSite=Lax" in attrs and "Path=/" in attrs, attrs
        assert ("Secure" in attrs) == bool(base_url), attrs
    assert "Max-Age" not in _cookie_attrs(resp, "session") and "Expires" not in _cookie_attrs(resp, "session")
    assert "Max-Age=7776000" in _cookie_attrs(resp, "medianest_remember")


def test_the_session_cookie_holds_only_a_token(client, admin):
    client.post("/auth/login", data={"email": "admin@example.com", "password": ADMIN_PASSWORD})
    with client.session_transaction() as cookie:
        # the session token, and beside it the (not secret) user id the sign-in cache is read with
        assert set(cookie) <= {"sid", "uid", "_flashes", "csrf_token", "_permanent"}
        assert cookie["uid"] == str(admin.id)
        assert ADMIN_PASSWORD not in json.dumps(dict(cookie), default=str)
