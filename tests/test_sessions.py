"""Server-side sessions: what "Your sessions" shows, signing out one or all others, and browsers that are
signed out on their next request (revoked row, suspended or inactive account), HTMX requests included."""
from __future__ import annotations

from datetime import timedelta

import pytest

from medianest.extensions import db
from medianest.models import Session, SessionToken, User
from medianest.services import auth_sessions
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_user
from tests.support import count_queries

PASSWORD = "Sturdy-pass-42"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.4 Mobile/15E148 Safari/604.1")




def sign_in(app, email=None, *, user_agent=FIREFOX, ip="127.0.0.1", remember=False):
    """A browser signed in through the real password form."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": ip, "HTTP_USER_AGENT": user_agent})
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    resp = client.post("/auth/login", data=data)
    assert resp.status_code == 303, resp.data
    return client


@pytest.fixture
def member(app, admin):
    return make_user(app, email="member@example.com", name="Member", password=PASSWORD)


def session_rows(app, user_id):
    with app.app_context():
        return db.session.scalars(db.select(Session).where(Session.user_id == user_id).order_by(Session.created_at)).all()


def test_sign_in_records_browser_ip_and_times(app, member):
    sign_in(app, "member@example.com", ip="198.51.100.7")
    (row,) = session_rows(app, member.id)
    assert row.ip_address == "198.51.100.7" and row.user_agent == FIREFOX
    assert abs(row.created_at - utcnow()) < timedelta(seconds=5) and row.last_seen_at is not None
    assert row.session_token != "" and len(row.session_token) == 64  # SHA-256 only


def test_sessions_page_and_fragment(app, member):
    laptop = sign_in(app, "member@example.com", ip="198.51.100.7")
    sign_in(app, "member@example.com", user_agent=SAFARI_IPHONE, ip="203.0.113.9")
    page = laptop.get("/account/sessions")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "HX-Request" in page.headers["Vary"]
    assert "Firefox on Windows" in html and "Safari on iPhone" in html
    assert "198.51.100.7" in html and "203.0.113.9" in html and "This browser" in html
    assert html.count('class="session card') == 2 and "Sign out all other sessions" in html
    frag = laptop.get("/account/sessions", headers=HX)
    assert b"<html" not in frag.data and b'id="sessions"' in frag.data
    boosted = laptop.get("/account/sessions", headers=HX | {"HX-Boosted": "true"})
    assert b"<html" in boosted.data
    account = laptop.get("/account/")
    assert account.status_code == 200 and b"Your sessions" in account.data and b"member@example.com" in account.data


def test_sessions_list_query_count_does_not_grow(app, member):
    browser = sign_in(app, "member@example.com")
    browser.get("/account/sessions")  # settles last_seen
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as one:
        browser.get("/account/sessions", headers=HX)
    for n in range(5):
        sign_in(app, "member@example.com", ip=f"192.0.2.{n + 1}")
    browser.get("/account/sessions", headers=HX)  # new sign-ins change the sessions' version: read it once
    with count_queries(engine) as six:
        resp = browser.get("/account/sessions", headers=HX)
    assert resp.get_data(as_text=True).count('class="session card') == 6
    assert len(six) == len(one) <= 4, six


def test_revoke_one_session_signs_that_browser_out(app, member):
    laptop = sign_in(app, "member@example.com")
    phone = sign_in(app, "member@example.com", user_agent=SAFARI_IPHONE)
    phone_row = next(r for r in session_rows(app, member.id) if "iPhone" in r.user_agent)
    resp = laptop.post(f"/account/sessions/{phone_row.id}/revoke", headers=HX)
    assert resp.status_code == 200 and b'id="sessions"' in resp.data and b'id="flash"' in resp.data
    assert b"iPhone" not in resp.data and b"That browser is signed out" in resp.data
    page = phone.get("/")
    assert page.status_code == 303 and page.headers["Location"].startswith("/auth/login")
    assert b"You were signed out" in phone.get(page.headers["Location"]).data
    assert laptop.get("/").status_code == 200


def test_revoke_without_htmx_redirects_back(app, member):
    laptop = sign_in(app, "member@example.com")
    sign_in(app, "member@example.com", user_agent=SAFARI_IPHONE)
    other = next(r for r in session_rows(app, member.id) if "iPhone" in r.user_agent)
    resp = laptop.post(f"/account/sessions/{other.id}/revoke")
    assert resp.status_code == 303 and resp.headers["Location"] == "/account/sessions"


def test_revoking_this_browser_signs_out_here(app, member):
    laptop = sign_in(app, "member@example.com")
    (row,) = session_rows(app, member.id)
    resp = laptop.post(f"/account/sessions/{row.id}/revoke", headers=HX)
    assert resp.headers["HX-Redirect"] == "/auth/login"
    assert session_rows(app, member.id) == []


def test_revoke_all_others_keeps_this_browser(app, member):
    laptop = sign_in(app, "member@example.com", remember=True)
    others = [sign_in(app, "member@example.com", ip=f"192.0.2.{n}", remember=True) for n in (1, 2, 3)]
    resp = laptop.post("/account/sessions/revoke-others", headers=HX)
    assert b"Signed out 3 other browsers" in resp.data
    assert len(session_rows(app, member.id)) == 1 and laptop.get("/").status_code == 200
    for browser in others:
        browser.delete_cookie("session")  # even their remember-me cookies no longer work
        assert browser.get("/").status_code == 303
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(SessionToken.id))) == 1


def test_another_users_session_id_is_404_and_does_nothing(app, member):
    intruder_user = make_user(app, email="intruder@example.com", password=PASSWORD)
    victim = sign_in(app, "member@example.com")
    intruder = sign_in(app, "intruder@example.com")
    (victim_row,) = session_rows(app, member.id)
    assert intruder.post(f"/account/sessions/{victim_row.id}/revoke").status_code == 404
    assert intruder.post(f"/account/sessions/{victim_row.id}/revoke", headers=HX).status_code == 404
    assert victim.get("/").status_code == 200
    intruder.post("/account/sessions/revoke-others")
    assert victim.get("/").status_code == 200
    assert str(victim_row.id) not in intruder.get("/account/sessions").get_data(as_text=True)
    assert len(session_rows(app, intruder_user.id)) == 1


@pytest.mark.parametrize("status", ["suspended", "inactive"])
def test_an_account_leaving_active_is_signed_out_mid_use(app, member, status):
    page_browser = sign_in(app, "member@example.com")
    htmx_browser = sign_in(app, "member@example.com")
    assert page_browser.get("/").status_code == 200
    with app.app_context():  # straight in the database: the check does not rely on sessions being deleted
        db.session.get(User, member.id).status = status
        db.session.commit()
    resp = page_browser.get("/account/sessions")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/auth/login")
    expected = b"This account is suspended" if status == "suspended" else b"not active any more"  # issue 10 item 13
    assert expected in page_browser.get(resp.headers["Location"]).data
    poll = htmx_browser.get("/", headers=HX | {"HX-Current-URL": "http://localhost/account/sessions"})
    assert poll.status_code == 401 and poll.headers["HX-Redirect"] == "/auth/login?next=/account/sessions"


def test_suspension_by_an_admin_ends_sessions_at_once(app, admin, member, auth):
    browser = sign_in(app, "member@example.com", remember=True)
    admin_client = app.test_client()
    auth.login_as(admin, admin_client)
    assert admin_client.post(f"/admin/users/{member.id}/suspend", headers=HX).status_code == 200
    assert session_rows(app, member.id) == []
    with app.app_context():
        assert db.session.scalar(db.select(SessionToken).where(SessionToken.user_id == member.id)) is None
    poll = browser.get("/", headers=HX)
    assert poll.status_code == 401 and poll.headers["HX-Redirect"].startswith("/auth/login")


def test_an_expired_session_is_signed_out(app, member):
    browser = sign_in(app, "member@example.com")
    with app.app_context():
        db.session.execute(db.update(Session).values(expires=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    assert browser.get("/").status_code == 303


def test_last_seen_is_written_at_most_once_a_minute(app, member):
    browser = sign_in(app, "member@example.com")
    (row,) = session_rows(app, member.id)
    first_seen = row.last_seen_at
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as queries:
        browser.get("/account/sessions")
    assert not [q for q in queries if q.lstrip().upper().startswith("UPDATE SESSIONS")]
    assert session_rows(app, member.id)[0].last_seen_at == first_seen
    with app.app_context():
        db.session.execute(db.update(Session).values(last_seen_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    browser.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    browser.get("/account/sessions")
    row = session_rows(app, member.id)[0]
    assert utcnow() - row.last_seen_at < timedelta(seconds=5) and row.ip_address == "192.0.2.44"


def test_sign_out_deletes_the_row(app, member):
    browser = sign_in(app, "member@example.com")
    assert browser.post("/auth/logout").status_code == 303
    assert session_rows(app, member.id) == []
    assert browser.get("/").status_code == 303


def test_spoofed_forwarded_for_is_not_the_session_ip(app, member):
    client = app.test_client()
    client.post("/auth/login", data={"email": "member@example.com", "password": PASSWORD},
                headers={"X-Forwarded-For": "6.6.6.6"})
    assert session_rows(app, member.id)[0].ip_address == "127.0.0.1"


def test_behind_a_trusted_proxy_the_forwarded_ip_is_used(make_app, member):
    proxied = make_app(MEDIANEST_TRUSTED_PROXIES=1)
    client = proxied.test_client()
    client.post("/auth/login", data={"email": "member@example.com", "password": PASSWORD},
                headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.20"})
    assert session_rows(proxied, member.id)[0].ip_address == "198.51.100.20"


def test_sessions_page_needs_a_sign_in(client, admin):
    assert client.get("/account/sessions").status_code == 303
    assert client.get("/account/sessions", headers=HX).status_code == 401


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (FIREFOX, "Firefox on Windows"),
        (SAFARI_IPHONE, "Safari on iPhone"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", "Chrome on macOS"),
        ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/126.0 Safari/537.36 Edg/126.0", "Edge on Windows"),
        ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36", "Chrome on Android"),
        ("curl/8.5.0", "curl"),
        ("", "Unknown browser"),
        (None, "Unknown browser"),
    ],
)
def test_browser_names(agent, label):
    assert auth_sessions.describe_user_agent(agent) == label


def test_changing_the_password_ends_the_other_sign_ins(app, auth, admin):
    from medianest.models import Session as SessionRow

    phone = app.test_client()
    laptop = app.test_client()
    auth.login_as(admin, phone)
    auth.login_as(admin, laptop)
    resp = laptop.post("/auth/password", data={"current_password": "correct horse battery 9",
                                                "new_password": "An0ther-good-one", "confirm_password": "An0ther-good-one"})
    assert resp.status_code == 303
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 303  # signed out
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(SessionRow.id))) == 1
