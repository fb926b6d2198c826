"""First run, local sign-in, password change, gates and headers."""
import re

import pytest

from medianest.extensions import db
from medianest.models import User
from tests.conftest import HX
from tests.factories import make_user

GOOD = "Tr0ubadour-horse"


def test_every_page_leads_to_setup_until_an_admin_exists(client):
    for url in ("/", "/admin/errors", "/auth/login"):
        resp = client.get(url)
        assert resp.status_code == 303
        assert resp.headers["Location"].endswith("/setup")
    resp = client.get("/", headers=HX)
    assert resp.headers["HX-Redirect"] == "/setup"


def test_setup_creates_the_admin_signs_in_and_then_disappears(app, client):
    page = client.get("/setup")
    assert page.status_code == 200 and b"Create admin account" in page.data
    resp = client.post("/setup", data={"name": "Ada", "email": "Ada@Example.com", "password": GOOD, "confirm": GOOD})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and b"Hello, Ada" in dashboard.data
    with app.app_context():
        admin = db.session.scalar(db.select(User))
        assert admin.email == "ada@example.com" and admin.role == "ADMIN"
        assert admin.password_hash and GOOD not in admin.password_hash
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data={"email": "x@example.com", "password": GOOD, "confirm": GOOD}).status_code == 404


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", GOOD, b"valid email"),
        ("a@example.com", "short", b"10 to 256"),
        ("a@example.com", "password123", b"too common"),
        ("a@example.com", "aaaaaaaaaaaa", b"different characters"),
    ],
)
def test_setup_rejects_bad_input_keeping_what_was_typed(client, email, password, message):
    resp = client.post("/setup", data={"name": "Ada", "email": email, "password": password, "confirm": password}, headers=HX)
    assert resp.status_code == 422
    assert b'id="setup-form"' in resp.data and b"<html" not in resp.data
    assert message in resp.data
    assert f'value="{email}"'.encode() in resp.data  # what was typed is kept (but never the password)
    assert password.encode() not in resp.data.replace(email.encode(), b"")


def test_setup_full_page_error_is_422_page(client):
    resp = client.post("/setup", data={"email": "bad", "password": GOOD, "confirm": GOOD})
    assert resp.status_code == 422 and b"<html" in resp.data


def test_login_logout_and_wrong_password(app, client, admin):
    resp = client.post("/auth/login", data={"email": "admin@example.com", "password": "wrong password 1"})
    assert resp.status_code == 422 and b"Email or password is wrong" in resp.data
    resp = client.post("/auth/login?next=/admin/errors", data={"email": "ADMIN@example.com", "password": "correct horse battery 9"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/admin/errors"
    assert client.get("/admin/errors").status_code == 200
    assert client.post("/auth/logout").status_code == 303
    assert client.get("/").status_code == 303


def test_login_never_follows_offsite_next(client, admin):
    resp = client.post("/auth/login?next=//evil.example/x", data={"email": "admin@example.com", "password": "correct horse battery 9"})
    assert resp.headers["Location"] == "/"


def test_suspended_local_account_cannot_sign_in(app, client, admin):
    make_user(app, email="s@example.com", status="suspended", password=GOOD)
    resp = client.post("/auth/login", data={"email": "s@example.com", "password": GOOD})
    assert resp.status_code == 422 and b"This account is suspended" in resp.data  # issue 10, item 13


def test_signed_out_htmx_request_gets_401_with_hx_redirect(client, admin):
    resp = client.get("/", headers=HX | {"HX-Current-URL": "http://localhost/admin/errors?page=2"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"] == "/auth/login?next=/admin/errors?page%3D2"


def test_requires_password_change_blocks_everything_else(app, client, auth, admin):
    flagged = make_user(app, email="f@example.com", password=GOOD, requires_password_change=True)
    auth.login_as(flagged)
    resp = client.get("/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/auth/password"
    assert client.get("/auth/password").status_code == 200
    resp = client.post("/auth/password", data={"current_password": GOOD, "new_password": "An0ther-good-one", "confirm_password": "An0ther-good-one"})
    assert resp.status_code == 303
    assert client.get("/").status_code == 200


def test_change_password_checks_current_and_confirmation(app, client, auth, admin):
    auth.login_as(admin)
    resp = client.post("/auth/password", data={"current_password": "nope nope nope", "new_password": "An0ther-good-one", "confirm_password": "An0ther-good-one"}, headers=HX)
    assert resp.status_code == 422 and b"current password is wrong" in resp.data
    resp = client.post("/auth/password", data={"current_password": "correct horse battery 9", "new_password": "An0ther-good-one", "confirm_password": "different-0ne!"}, headers=HX)
    assert resp.status_code == 422 and b"differ" in resp.data


def test_security_headers_on_every_response(client, admin):
    for resp in (client.get("/auth/login"), client.get("/health"), client.get("/nope")):
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"]


def test_no_inline_script_in_pages(client, auth, admin):
    auth.login_as(admin)
    html = client.get("/").get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert ' style="' not in html and " onclick=" not in html


def test_session_cookie_flags(make_app, admin):
    app = make_app(SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    resp = client.post("/auth/login", data={"email": "admin@example.com", "password": "correct horse battery 9"})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_page_and_fragment_representations(client, auth, admin):
    auth.login_as(admin)
    page = client.get("/")
    assert b"<html" in page.data and "HX-Request" in page.headers["Vary"]
    frag = client.get("/", headers=HX)
    assert b"<html" not in frag.data and b'id="status-panel"' in frag.data
    boosted = client.get("/", headers=HX | {"HX-Boosted": "true"})
    assert b"<html" in boosted.data


def test_navigation_follows_role(app, client, auth, admin):
    viewer = make_user(app, email="v@example.com")
    auth.login_as(viewer)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/admin/"' not in html
    assert client.get("/admin/").status_code == 404 and client.get("/admin/errors").status_code == 404
    auth.login_as(admin)
    assert 'href="/admin/"' in client.get("/").get_data(as_text=True)
    assert 'href="/admin/errors"' in client.get("/admin/").get_data(as_text=True)
