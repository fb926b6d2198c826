"""Remember me: SHA-256 only, 90 days, last_used_at, one-time use rotated on every use, reuse = theft."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from medianest.extensions import db
from medianest.models import Notification, Session, SessionToken
from medianest.services import remember
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_user
from tests.test_sessions import PASSWORD, sign_in

COOKIE = "medianest_remember"


@pytest.fixture
def member(app, admin):
    return make_user(app, email="member@example.com", name="Member", password=PASSWORD)


def remember_cookie(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def restarted(app, token: str):
    """A browser after a restart: the session cookie is gone, the remember-me cookie is still there."""
    client = app.test_client()
    client.set_cookie(COOKIE, token)
    return client


def tokens(app, user_id):
    with app.app_context():
        return db.session.scalars(db.select(SessionToken).where(SessionToken.user_id == user_id)
                                  .order_by(SessionToken.created_at)).all()


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_remember_me_sets_a_long_lived_cookie_and_stores_only_a_hash(app, member):
    client = app.test_client()
    resp = client.post("/auth/login", data={"email": "member@example.com", "password": PASSWORD, "remember": "y"})
    header = next(v for k, v in resp.headers.items() if k == "Set-Cookie" and v.startswith(COOKIE + "="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Max-Age=7776000" in header
    token = remember_cookie(client)
    (row,) = tokens(app, member.id)
    assert row.token_hash == sha(token) and token not in row.token_hash
    assert timedelta(days=89) < row.expires_at - utcnow() <= timedelta(days=90)
    assert row.last_used_at is None
    with app.app_context():
        session = db.session.scalar(db.select(Session).where(Session.user_id == member.id))
        assert session.remember_token_id == row.id


def test_without_remember_me_no_token_is_issued(app, member):
    client = sign_in(app, "member@example.com")
    assert remember_cookie(client) is None and tokens(app, member.id) == []


def test_a_remembered_browser_is_signed_in_again_and_the_token_rotates(app, member):
    first = remember_cookie(sign_in(app, "member@example.com", remember=True))
    browser = restarted(app, first)
    assert browser.get("/").status_code == 200
    second = remember_cookie(browser)
    assert second and second != first
    old, new = tokens(app, member.id)
    assert old.token_hash == sha(first) and old.last_used_at is not None
    assert new.token_hash == sha(second) and new.last_used_at is None
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Session.id)).where(Session.user_id == member.id)) == 2
    # The new token works once more, and rotates again.
    again = restarted(app, second)
    assert again.get("/").status_code == 200 and remember_cookie(again) not in (first, second)


def test_htmx_requests_are_signed_in_by_the_remember_cookie_too(app, member):
    token = remember_cookie(sign_in(app, "member@example.com", remember=True))
    browser = restarted(app, token)
    resp = browser.get("/account/sessions", headers=HX)
    assert resp.status_code == 200 and b'id="sessions"' in resp.data


def test_a_reused_old_token_revokes_everything_and_tells_the_user(app, member):
    stolen = remember_cookie(sign_in(app, "member@example.com", remember=True))
    owner = restarted(app, stolen)
    assert owner.get("/").status_code == 200  # the owner uses it: rotated
    other_browser = sign_in(app, "member@example.com")
    with app.app_context():  # later than the grace period for browsers that send requests in parallel
        db.session.execute(db.update(SessionToken).where(SessionToken.token_hash == sha(stolen))
                           .values(last_used_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    thief = restarted(app, stolen)
    resp = thief.get("/")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/auth/login")
    assert remember_cookie(thief) is None  # the cookie is dropped
    assert tokens(app, member.id) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Session.id)).where(Session.user_id == member.id)) == 0
        note = db.session.scalar(db.select(Notification).where(Notification.user_id == member.id))
        assert note.title == remember.THEFT_TITLE and note.type == "warning"
    assert owner.get("/").status_code == 303 and other_browser.get("/").status_code == 303


def test_parallel_requests_with_the_same_token_are_not_theft(app, member):
    token = remember_cookie(sign_in(app, "member@example.com", remember=True))
    first, second = restarted(app, token), restarted(app, token)
    assert first.get("/").status_code == 200
    resp = second.get("/")  # within the grace period: signed in, no second rotation
    assert resp.status_code == 200
    assert not [v for k, v in resp.headers.items() if k == "Set-Cookie" and v.startswith(COOKIE + "=")]
    assert len(tokens(app, member.id)) == 2


@pytest.mark.parametrize("value", ["nope", "x" * 500, "", "é-unicode-🙂"])
def test_unknown_tokens_sign_nobody_in(app, member, value):
    browser = restarted(app, value)
    assert browser.get("/").status_code == 303


def test_an_expired_token_signs_nobody_in_and_is_dropped(app, member):
    token = remember_cookie(sign_in(app, "member@example.com", remember=True))
    with app.app_context():
        db.session.execute(db.update(SessionToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    browser = restarted(app, token)
    assert browser.get("/").status_code == 303 and remember_cookie(browser) is None


def test_a_suspended_users_token_signs_nobody_in(app, member):
    token = remember_cookie(sign_in(app, "member@example.com", remember=True))
    with app.app_context():
        db.session.execute(db.update(SessionToken).values(last_used_at=None))
        from medianest.models import User
        db.session.get(User, member.id).status = "suspended"
        db.session.commit()
    assert restarted(app, token).get("/").status_code == 303


def test_sign_out_forgets_the_token(app, member):
    browser = sign_in(app, "member@example.com", remember=True)
    token = remember_cookie(browser)
    browser.post("/auth/logout")
    assert remember_cookie(browser) is None and tokens(app, member.id) == []
    assert restarted(app, token).get("/").status_code == 303


def test_signing_out_a_remembered_browser_from_elsewhere_ends_its_token(app, member):
    laptop = sign_in(app, "member@example.com")
    phone = sign_in(app, "member@example.com", remember=True, ip="192.0.2.5")
    token = remember_cookie(phone)
    with app.app_context():
        phone_session = db.session.scalar(db.select(Session).where(Session.ip_address == "192.0.2.5"))
    laptop.post(f"/account/sessions/{phone_session.id}/revoke")
    assert restarted(app, token).get("/").status_code == 303
    assert tokens(app, member.id) == []


def test_cleanup_removes_expired_tokens(app, member, runner):
    sign_in(app, "member@example.com", remember=True)
    with app.app_context():
        db.session.add(SessionToken(user_id=member.id, token_hash="e" * 64, expires_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0 and "session_tokens: 1 deleted" in result.output
    assert len(tokens(app, member.id)) == 1


def test_a_restore_keeps_the_csrf_token_of_open_pages(app, member):
    browser = sign_in(app, "member@example.com", remember=True)
    with browser.session_transaction() as sess:
        sess["csrf_token"] = "token-of-an-open-page"
    with app.app_context():  # the session ran out, the remember-me cookie did not
        db.session.execute(db.update(Session).values(expires=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    assert browser.get("/").status_code == 200
    with browser.session_transaction() as sess:
        assert sess["csrf_token"] == "token-of-an-open-page" and sess["sid"]
