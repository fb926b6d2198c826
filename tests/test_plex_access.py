"""Removing someone's Plex share signs them out (issue 10, item 9): server access is checked again hourly and
when a remember-me cookie is used; on lost access the sessions and remember-me tokens are revoked, the
account is marked, and the sign-in page says why. The fake plex.tv loses the share like the real one."""
from __future__ import annotations

from datetime import timedelta

from medianest.extensions import db
from medianest.models import Session, SessionToken, User
from medianest.services import plex_auth
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_user
from tests.test_auth_plex import ALICE_TOKEN, plex_app, start, visitor  # noqa: F401  (fixtures)

LOST = "Your access to this Plex server was removed"


def sign_in_alice(client, fake, *, remember=False):
    pin, forward, _ = start(client, fake, remember=remember)
    fake.claim(pin.id, ALICE_TOKEN)
    assert client.get(forward).status_code == 303
    assert client.get("/").status_code == 200


def remove_share(fake):
    fake.users[ALICE_TOKEN].servers = []


def alice(app) -> User:
    with app.app_context():
        return db.session.scalar(db.select(User).where(User.plex_id == "13692262"))


def live_sign_ins(app, user_id) -> tuple[int, int]:
    with app.app_context():
        sessions = db.session.scalar(db.select(db.func.count(Session.id)).where(Session.user_id == user_id))
        tokens = db.session.scalar(db.select(db.func.count(SessionToken.id)).where(
            SessionToken.user_id == user_id, SessionToken.expires_at > utcnow()))
    return sessions, tokens


def test_the_hourly_check_signs_out_a_friend_whose_share_was_removed_and_says_why(plex_app, visitor, fake_plextv):
    from medianest import tasks
    from medianest.worker import huey

    sign_in_alice(visitor, fake_plextv, remember=True)
    with plex_app.app_context():
        assert tasks.plex_access_check.call_local() == {"ok": 0, "lost": 0, "unknown": 0}  # checked at sign-in
    remove_share(fake_plextv)
    with plex_app.app_context():
        db.session.execute(db.update(User).values(plex_access_checked_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
        assert tasks.plex_access_check.call_local() == {"ok": 0, "lost": 1, "unknown": 0}
    assert any(t.name.endswith("plex_access_check") for t in huey._registry.periodic_tasks)
    user = alice(plex_app)
    assert user.plex_access_lost_at is not None and live_sign_ins(plex_app, user.id) == (0, 0)

    resp = visitor.get("/")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/auth/login")
    page = visitor.get(resp.headers["Location"]).get_data(as_text=True)
    assert LOST in page and "You were signed out. Sign in again" not in page
    poll = visitor.get("/", headers=HX)
    assert poll.status_code in (200, 401)  # already signed out: nothing more to say


def test_a_remember_me_sign_in_rechecks_access(plex_app, visitor, fake_plextv):
    sign_in_alice(visitor, fake_plextv, remember=True)
    user = alice(plex_app)
    with plex_app.app_context():  # the last check was a while ago
        db.session.execute(db.update(User).values(plex_access_checked_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
    visitor.delete_cookie("session")  # the browser was closed: only the remember-me cookie is left
    assert visitor.get("/").status_code == 200  # still shared: signed in again
    visitor.delete_cookie("session")
    remove_share(fake_plextv)
    with plex_app.app_context():
        db.session.execute(db.update(User).values(plex_access_checked_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
    resp = visitor.get("/")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/auth/login")
    assert LOST in visitor.get(resp.headers["Location"]).get_data(as_text=True)
    assert alice(plex_app).plex_access_lost_at is not None and live_sign_ins(plex_app, user.id) == (0, 0)


def test_a_remembered_browser_is_told_after_the_hourly_check_revoked_it(plex_app, visitor, fake_plextv):
    sign_in_alice(visitor, fake_plextv, remember=True)
    remove_share(fake_plextv)
    with plex_app.app_context():
        assert plex_auth.check_access(alice(plex_app).id) == "lost"
    visitor.delete_cookie("session")
    resp = visitor.get("/")
    assert resp.status_code == 303
    assert LOST in visitor.get(resp.headers["Location"]).get_data(as_text=True)


def test_the_admin_sees_the_mark_and_a_restored_share_lets_the_friend_back_in(plex_app, visitor, fake_plextv, auth):
    sign_in_alice(visitor, fake_plextv)
    remove_share(fake_plextv)
    user = alice(plex_app)
    with plex_app.app_context():
        assert plex_auth.check_access(user.id) == "lost"
        admin = db.session.scalar(db.select(User).where(User.email == "admin@example.com"))
    auth.app = plex_app
    admin_client = auth.login_as(admin, plex_app.test_client())
    assert b'id="plex-access-lost"' in admin_client.get(f"/admin/users/{user.id}").data
    # Without the share, signing in with Plex is refused; with it back, the mark goes.
    pin, forward, _ = start(visitor, fake_plextv)
    fake_plextv.claim(pin.id, ALICE_TOKEN)
    assert b"no access to this server" in visitor.get(forward).data
    fake_plextv.users[ALICE_TOKEN].servers = [(_machine_id(), False, "HomeServer")]
    sign_in_alice(visitor, fake_plextv)
    assert alice(plex_app).plex_access_lost_at is None


def test_an_unreachable_plex_tv_changes_nothing(plex_app, visitor, fake_plextv):
    sign_in_alice(visitor, fake_plextv)
    fake_plextv.override("/api/v2/resources", "oops", status=503, content_type="text/plain")
    with plex_app.app_context():
        assert plex_auth.check_access(alice(plex_app).id) == "unknown"
    assert visitor.get("/").status_code == 200


def test_local_accounts_without_plex_are_not_checked(plex_app):
    make_user(plex_app, email="local@example.com")
    with plex_app.app_context():
        assert plex_auth.check_all_access() == {"ok": 0, "lost": 0, "unknown": 0}


def _machine_id():
    from tests.fakes.plex import MACHINE_ID

    return MACHINE_ID
