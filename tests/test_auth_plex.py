"""Sign in with Plex against the fake plex.tv and the fake Plex Media Server, over real HTTP.

The journey: POST /auth/plex creates a strong PIN and sends the browser to the (fake) Plex app; the test
claims the PIN as a Plex user (what signing in at app.plex.tv does); the browser comes back to the
forwardUrl, MediaNest checks the PIN once per request and admits only people who can use our server.
"""
from __future__ import annotations

import hashlib
import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from medianest.extensions import db
from medianest.models import Account, Notification, Session, User, VerificationToken
from medianest.services import keys, plex_auth, service_config
from tests.conftest import HX
from tests.factories import make_user
from tests.fakes.plex import ADMIN_TOKEN, MACHINE_ID

OWNER_TOKEN = "owner-token-4b1d"
ALICE_TOKEN = "alice-token-7c2e"
STRANGER_TOKEN = "stranger-token-9a0f"
OTHER_SERVER = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def plex_app(make_app, fake_plextv, fake_plex):
    app = make_app(MEDIANEST_PLEX_TV_URL=fake_plextv.url, MEDIANEST_PLEX_APP_URL=fake_plextv.url + "/auth",
                   MEDIANEST_PLEX_TV_TIMEOUT=(1, 1.5))
    make_user(app, email="admin@example.com", role="ADMIN", password="correct horse battery 9")
    with app.app_context():
        service_config.save("plex", url=fake_plex.url, secret_value=ADMIN_TOKEN,
                            settings={"machine_identifier": MACHINE_ID})
    fake_plextv.add_user(token=OWNER_TOKEN, id=1001, username="owner", email="owner@example.com",
                         servers=[(MACHINE_ID, True, "HomeServer")])
    fake_plextv.add_user(token=ALICE_TOKEN, id=13692262, username="alice", email="alice@example.com",
                         title="Alice Example", servers=[(MACHINE_ID, False, "HomeServer")])
    fake_plextv.add_user(token=STRANGER_TOKEN, id=4242, username="stranger", email="stranger@example.com",
                         servers=[(OTHER_SERVER, True, "ElseServer")])
    return app


@pytest.fixture
def visitor(plex_app):
    return plex_app.test_client()


def start(client, fake, *, remember=False, headers=None, next_path=None):
    """Press "Sign in with Plex": returns (the FakePin, the forwardUrl path, the auth-app URL)."""
    data = {"plex-remember": "y"} if remember else {}
    url = "/auth/plex" + (f"?next={next_path}" if next_path else "")
    resp = client.post(url, data=data, headers=headers or {})
    assert resp.status_code == 200, resp.data
    auth_url = resp.headers.get("HX-Redirect") or resp.headers["Refresh"].split("url=", 1)[1]
    base, _, fragment = auth_url.partition("#")
    assert base == fake.url + "/auth"
    params = parse_qs(fragment.lstrip("?"))
    pin = fake.pin_by_code(params["code"][0])
    assert pin is not None
    forward = urlsplit(params["forwardUrl"][0])
    return pin, f"{forward.path}?{forward.query}", auth_url


def users_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(User.id)))


def test_login_page_offers_plex_only_when_the_server_is_connected(make_app, plex_app, fake_plextv):
    page = plex_app.test_client().get("/auth/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Sign in with Plex" in html and 'id="plex-remember"' in html
    assert 'id="remember"' in html  # the password form has its own remember-me box
    with plex_app.app_context():
        service_config.save("plex", enabled=False)
    html = plex_app.test_client().get("/auth/login").get_data(as_text=True)
    assert "Sign in with Plex" not in html and "only the local admin can sign in" in html
    resp = plex_app.test_client().post("/auth/plex")
    assert resp.status_code == 503 and b"Plex sign-in is not set up yet" in resp.data
    assert not fake_plextv.seen("/api/v2/pins")


def test_pin_uses_one_stored_client_identifier_and_the_auth_app_contract(plex_app, visitor, fake_plextv):
    pin, forward, auth_url = start(visitor, fake_plextv, headers=HX)
    start(plex_app.test_client(), fake_plextv)
    created = fake_plextv.seen("/api/v2/pins")
    assert len(created) == 2 and all(r.method == "POST" and r.args == {"strong": "true"} for r in created)
    idents = {r.headers["X-Plex-Client-Identifier"] for r in created}
    assert len(idents) == 1 and {r.headers["X-Plex-Product"] for r in created} == {"MediaNest"}
    params = parse_qs(urlsplit(auth_url).fragment.lstrip("?"))
    assert params["clientID"] == [idents.pop()] and params["context[device][product]"] == ["MediaNest"]
    assert params["code"] == [pin.code] and len(pin.code) > 4 and pin.strong
    assert forward == f"/auth/plex/callback?pin={pin.id}"
    with plex_app.app_context():
        binding = db.session.scalar(db.select(VerificationToken).where(VerificationToken.identifier == f"plex-pin:{pin.id}"))
        assert binding is not None and len(binding.token) == 64  # only a hash of the visitor's nonce


def test_start_without_htmx_is_a_page_that_moves_on_to_plex(visitor, fake_plextv):
    resp = visitor.post("/auth/plex")
    assert resp.status_code == 200 and b"Continue to plex.tv" in resp.data
    assert resp.headers["Refresh"].startswith("0; url=" + fake_plextv.url + "/auth#?clientID=")


def test_a_shared_user_signs_in_and_is_stored(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv, next_path="/account/sessions")
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    resp = visitor.get(forward, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/account/sessions"
    assert visitor.get("/account/sessions").status_code == 200
    with plex_app.app_context():
        user = db.session.scalar(db.select(User).where(User.plex_id == "13692262"))
        assert (user.email, user.plex_username, user.name, user.role) == ("alice@example.com", "alice", "Alice Example", "USER")
        assert user.image.startswith("https://plex.tv/users/13692262/avatar")
        assert user.last_login_at is not None and not user.plex_token_invalid and user.password_hash is None
        assert ALICE_TOKEN not in user.plex_token and keys.open_(user, "plex_token") == ALICE_TOKEN
        account = db.session.scalar(db.select(Account).where(Account.user_id == user.id))
        assert (account.provider, account.provider_account_id, account.scope) == ("plex", "13692262", MACHINE_ID)
        assert keys.open_(account, "access_token") == f"shared-13692262-{MACHINE_ID[:8]}"
        session = db.session.scalar(db.select(Session).where(Session.user_id == user.id))
        assert session.ip_address == "127.0.0.1" and "Firefox" in session.user_agent
        assert db.session.scalar(db.select(VerificationToken)) is None  # the binding is used up


def test_the_server_owner_becomes_admin(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, OWNER_TOKEN)
    assert visitor.get(forward).status_code == 303
    with plex_app.app_context():
        assert db.session.scalar(db.select(User.role).where(User.plex_id == "1001")) == "ADMIN"
    assert visitor.get("/admin/").status_code == 200


def test_an_account_without_access_is_refused_and_nothing_is_stored(plex_app, visitor, fake_plextv):
    before = users_count(plex_app)
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, STRANGER_TOKEN)
    resp = visitor.get(forward)
    assert resp.status_code == 403 and b"no access to this server" in resp.data and b"<html" in resp.data
    assert users_count(plex_app) == before
    with plex_app.app_context():
        assert db.session.scalar(db.select(db.func.count(Account.id))) == 0
        assert db.session.scalar(db.select(VerificationToken)) is None
    assert visitor.get("/").status_code == 303  # not signed in
    again = visitor.get(forward)  # the PIN cannot be tried again
    assert again.status_code == 400


def test_waiting_polls_a_few_times_then_offers_a_retry(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv)
    page = visitor.get(forward)
    assert page.status_code == 200 and b"Waiting for Plex" in page.data and b"<html" in page.data
    assert b'hx-trigger="load delay:1s"' in page.data and "HX-Request" in page.headers["Vary"]
    attempt = 1
    while True:
        frag = visitor.get(f"{forward}&attempt={attempt}", headers=HX)
        assert frag.status_code == 200 and b"<html" not in frag.data and b'id="plex-status"' in frag.data
        if b"hx-trigger" not in frag.data:
            break
        attempt += 1
        assert attempt < 20
    assert b"Plex has not confirmed the sign-in yet" in frag.data and b"Check again" in frag.data
    assert attempt == 5  # a few polls, then the retry
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    done = visitor.get(forward, headers=HX)
    assert done.status_code == 200 and done.headers["HX-Redirect"] == "/"
    assert visitor.get("/").status_code == 200


def test_each_request_asks_plex_tv_about_the_pin_once(visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv)
    visitor.get(forward, headers=HX)
    assert len(fake_plextv.seen(f"/api/v2/pins/{pin.id}")) == 1


def test_waiting_poll_is_cheap(plex_app, visitor, fake_plextv):
    from tests.support import count_queries

    _, forward, _ = start(visitor, fake_plextv)
    visitor.get(forward, headers=HX)  # the client identifier row exists by now
    with plex_app.app_context():
        engine = db.engine
    with count_queries(engine) as queries:
        assert visitor.get(forward + "&attempt=2", headers=HX).status_code == 200
    assert len(queries) <= 3, queries


@pytest.mark.parametrize("query", ["pin=1", "pin=abc", "pin=", "", "pin=-5"])
def test_tampered_pin_ids_are_refused(visitor, fake_plextv, query):
    start(visitor, fake_plextv)
    resp = visitor.get(f"/auth/plex/callback?{query}")
    assert resp.status_code == 400 and b"not started in this browser" in resp.data


def test_a_pin_cannot_be_finished_from_another_browser(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    other = plex_app.test_client()
    start(other, fake_plextv)  # another visitor with its own PIN
    assert other.get(forward).status_code == 400
    assert visitor.get(forward).status_code == 303  # the visitor that started it still can


def test_a_copied_cookie_cannot_replay_a_finished_pin(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv)
    copy = plex_app.test_client()
    copy.set_cookie("session", visitor.get_cookie("session").value)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    assert visitor.get(forward).status_code == 303
    resp = copy.get(forward)
    assert resp.status_code == 400
    with plex_app.app_context():
        assert db.session.scalar(db.select(db.func.count(Session.id)).where(Session.user_id.is_not(None))) == 1


def test_an_expired_pin_says_so(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.expire_pin(pin.id)
    resp = visitor.get(forward)
    assert resp.status_code == 410 and b"expired" in resp.data and b"Start over" in resp.data
    with plex_app.app_context():
        assert db.session.scalar(db.select(VerificationToken)) is None


def test_plex_tv_down_at_start_gives_a_clear_message(visitor, fake_plextv):
    fake_plextv.go_down()
    resp = visitor.post("/auth/plex")
    assert resp.status_code == 503 and b"plex.tv is not answering" in resp.data and b"<html" in resp.data
    frag = visitor.post("/auth/plex", headers=HX)
    assert frag.status_code == 503 and b'id="plex-signin"' in frag.data and b"<html" not in frag.data


def test_plex_tv_slow_times_out_quickly_and_the_sign_in_can_be_retried(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    fake_plextv.hang()
    resp = visitor.get(forward)
    assert resp.status_code == 503 and b"plex.tv is not answering" in resp.data and b"Check again" in resp.data
    assert users_count(plex_app) == 1
    fake_plextv.reset_faults()
    assert visitor.get(forward).status_code == 303


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/api/v2/user", "{not json", "application/json"),
        ("/api/v2/user", '{"username": "no id"}', "application/json"),
        ("/api/v2/resources", "<html>maintenance</html>", "text/html"),
        ("/api/v2/resources", '{"not": "a list"}', "application/json"),
    ],
)
def test_malformed_plex_tv_answers_leave_no_user(plex_app, visitor, fake_plextv, path, body, content_type):
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    fake_plextv.override(path, body, content_type=content_type)
    resp = visitor.get(forward)
    assert resp.status_code == 502 and b"does not understand" in resp.data
    assert users_count(plex_app) == 1


def test_a_token_plex_tv_refuses_ends_the_attempt(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    del fake_plextv.users[ALICE_TOKEN]
    resp = visitor.get(forward)
    assert resp.status_code == 403 and b"Plex did not accept" in resp.data
    assert users_count(plex_app) == 1


def test_huge_and_odd_profile_fields_are_made_safe(plex_app, visitor, fake_plextv):
    fake_plextv.add_user(token="odd-token", id=777, username="x" * 5000, email="not an email",
                         title="Bad\x00\x07<script>alert(1)</script>", servers=[(MACHINE_ID, False)])
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, "odd-token")
    assert visitor.get(forward).status_code == 303
    with plex_app.app_context():
        user = db.session.scalar(db.select(User).where(User.plex_id == "777"))
        assert user.email == "plex-777@plex.invalid" and len(user.plex_username) == 255
        assert "\x00" not in user.name and "\x07" not in user.name
    html = visitor.get("/account/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_a_local_account_with_the_same_email_is_linked_not_duplicated(plex_app, visitor, fake_plextv):
    local = make_user(plex_app, email="alice@example.com", name="Alice Local", password="Sturdy-pass-42")
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    assert visitor.get(forward).status_code == 303
    with plex_app.app_context():
        rows = db.session.scalars(db.select(User).where(User.email == "alice@example.com")).all()
        assert [u.id for u in rows] == [local.id]
        assert rows[0].plex_id == "13692262" and rows[0].password_hash and rows[0].name == "Alice Local"


def test_an_email_owned_by_another_plex_user_is_a_clear_conflict(plex_app, visitor, fake_plextv):
    make_user(plex_app, email="alice@example.com", plex_id="999999")
    before = users_count(plex_app)
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    resp = visitor.get(forward)
    assert resp.status_code == 409 and b"already uses the email" in resp.data
    assert users_count(plex_app) == before


def test_a_changed_plex_email_updates_the_user_unless_taken(plex_app, visitor, fake_plextv):
    make_user(plex_app, email="old@example.com", plex_id="13692262")
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    assert visitor.get(forward).status_code == 303
    with plex_app.app_context():
        assert db.session.scalar(db.select(User.email).where(User.plex_id == "13692262")) == "alice@example.com"


def test_a_suspended_user_cannot_sign_in_with_plex(plex_app, visitor, fake_plextv):
    make_user(plex_app, email="alice@example.com", plex_id="13692262", status="suspended")
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    resp = visitor.get(forward)
    assert resp.status_code == 403 and b"suspended" in resp.data
    assert visitor.get("/").status_code == 303


def test_the_server_is_identified_by_plex_itself_when_its_id_is_not_stored(plex_app, visitor, fake_plextv, fake_plex):
    with plex_app.app_context():
        service_config.save("plex", settings={"machine_identifier": ""})
        assert service_config.plex_machine_identifier() == ""
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    assert visitor.get(forward).status_code == 303
    assert fake_plex.seen("/identity")


def test_remember_me_on_plex_sign_in_sets_the_cookie(plex_app, visitor, fake_plextv):
    pin, forward, _ = start(visitor, fake_plextv, remember=True)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    resp = visitor.get(forward)
    cookie = next(v for k, v in resp.headers.items() if k == "Set-Cookie" and v.startswith("medianest_remember="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_tokens_never_reach_logs_or_pages(plex_app, visitor, fake_plextv, caplog):
    caplog.set_level(logging.DEBUG)
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    pages = [visitor.get(forward, follow_redirects=True), visitor.get("/account/")]
    for text in [caplog.text] + [p.get_data(as_text=True) for p in pages]:
        assert ALICE_TOKEN not in text and "shared-13692262" not in text


def test_signed_in_browsers_skip_the_plex_flow(plex_app, visitor, fake_plextv, auth):
    with plex_app.app_context():
        admin = db.session.scalar(db.select(User).where(User.email == "admin@example.com"))
    auth.app = plex_app
    auth.login_as(admin, visitor)
    assert visitor.post("/auth/plex").status_code == 303
    assert not fake_plextv.seen("/api/v2/pins")


# -- Plex token health ------------------------------------------------------------------------------
def _signed_in_alice(plex_app, visitor, fake_plextv) -> User:
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    visitor.get(forward)
    with plex_app.app_context():
        return db.session.scalar(db.select(User).where(User.plex_id == "13692262"))


def test_a_token_plex_tv_calls_invalid_is_flagged_the_user_asked_and_the_admin_shown(plex_app, visitor, fake_plextv, auth):
    alice = _signed_in_alice(plex_app, visitor, fake_plextv)
    with plex_app.app_context():
        assert plex_auth.check_token(alice.id) == "valid"
    fake_plextv.fail(503)  # an outage is not a sign-out
    with plex_app.app_context():
        assert plex_auth.check_token(alice.id) == "unknown"
        assert not db.session.get(User, alice.id).plex_token_invalid
    fake_plextv.reset_faults()
    del fake_plextv.users[ALICE_TOKEN]  # e.g. signed out of all devices at plex.tv
    with plex_app.app_context():
        assert plex_auth.check_all_tokens() == {"valid": 0, "invalid": 1, "unknown": 0}
        assert db.session.get(User, alice.id).plex_token_invalid
        notes = db.session.scalars(db.select(Notification).where(Notification.user_id == alice.id)).all()
        assert [n.title for n in notes] == ["Sign in with Plex again"]
        assert plex_auth.mark_token_invalid(alice.id) is False  # asked once, not again
    first, second = visitor.get("/").get_data(as_text=True), visitor.get("/").get_data(as_text=True)
    assert "Plex no longer accepts the sign-in MediaNest saved for you" in first  # asked once per browser session
    assert "Plex no longer accepts the sign-in MediaNest saved for you" not in second
    assert b"Plex no longer accepts your saved sign-in" in visitor.get("/account/").data
    with plex_app.app_context():
        admin = db.session.scalar(db.select(User).where(User.email == "admin@example.com"))
    admin_client = plex_app.test_client()
    auth.app = plex_app
    auth.login_as(admin, admin_client)
    assert b"Plex sign-in expired" in admin_client.get("/admin/users").data
    # Signing in with Plex again clears it.
    fake_plextv.add_user(token=ALICE_TOKEN, id=13692262, username="alice", email="alice@example.com",
                         servers=[(MACHINE_ID, False)])
    other = plex_app.test_client()
    pin, forward, _ = start(other, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    assert other.get(forward).status_code == 303
    with plex_app.app_context():
        assert not db.session.get(User, alice.id).plex_token_invalid


def test_the_token_check_runs_as_a_periodic_task(plex_app):
    from medianest import tasks
    from medianest.worker import huey

    assert any(t.name.endswith("plex_token_check") for t in huey._registry.periodic_tasks)
    with plex_app.app_context():
        assert tasks.plex_token_check.call_local() == {"valid": 0, "invalid": 0, "unknown": 0}


def test_the_binding_stores_only_a_hash(plex_app, visitor, fake_plextv):
    start(visitor, fake_plextv)
    with visitor.session_transaction() as sess:
        nonce = sess["plex_pin"]["nonce"]
    with plex_app.app_context():
        stored = db.session.scalar(db.select(VerificationToken.token))
    assert stored == hashlib.sha256(nonce.encode()).hexdigest() and nonce not in stored


def test_the_plex_button_is_csrf_protected(make_app, plex_app, fake_plextv):
    app = make_app(MEDIANEST_PLEX_TV_URL=fake_plextv.url, MEDIANEST_PLEX_APP_URL=fake_plextv.url + "/auth",
                   WTF_CSRF_ENABLED=True)
    client = app.test_client()
    assert client.post("/auth/plex").status_code == 400
    assert not fake_plextv.seen("/api/v2/pins")
    html = client.get("/auth/login").get_data(as_text=True)
    token = html.split('name="plex-csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    assert client.post("/auth/plex", data={"plex-csrf_token": token}).status_code == 200
    assert len(fake_plextv.seen("/api/v2/pins")) == 1


@pytest.mark.parametrize(("suffix", "prefix"), [("/auth", "/auth#?"), ("/auth#?", "/auth#?"), ("/auth/#!", "/auth/#!?")])
def test_both_auth_app_url_styles(make_app, plex_app, fake_plextv, suffix, prefix):
    app = make_app(MEDIANEST_PLEX_TV_URL=fake_plextv.url, MEDIANEST_PLEX_APP_URL=fake_plextv.url + suffix)
    resp = app.test_client().post("/auth/plex", headers=HX)
    assert resp.headers["HX-Redirect"].startswith(fake_plextv.url + prefix + "clientID=")
