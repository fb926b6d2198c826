"""A suspended user is told so (issue 10, item 13), on the next page they open and at password sign-in."""
from __future__ import annotations

from medianest.services import users
from tests.conftest import HX
from tests.factories import make_user

PASSWORD = "Member-pass-12345"


def _password_sign_in(client, email, password=PASSWORD):
    return client.post("/auth/login", data={"email": email, "password": password})


def test_a_suspended_user_is_told_the_account_is_suspended(app, admin):
    member = make_user(app, email="member@example.com", password=PASSWORD)
    client = app.test_client()
    assert _password_sign_in(client, member.email).status_code == 303
    assert client.get("/").status_code == 200
    with app.app_context():
        users.suspend(member.id, actor_id=admin.id)
    resp = client.get("/account/sessions")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/auth/login")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "This account is suspended" in page and "Sign in again to continue" not in page


def test_an_htmx_request_of_a_suspended_user_leads_to_the_same_message(app, admin):
    member = make_user(app, email="member2@example.com", password=PASSWORD)
    client = app.test_client()
    _password_sign_in(client, member.email)
    with app.app_context():
        users.suspend(member.id, actor_id=admin.id)
    resp = client.get("/account/sessions", headers=HX)
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].startswith("/auth/login")
    assert "This account is suspended" in client.get(resp.headers["HX-Redirect"]).get_data(as_text=True)


def test_password_sign_in_of_a_suspended_account_says_suspended_only_with_the_right_password(app, admin):
    member = make_user(app, email="member3@example.com", password=PASSWORD, status="suspended")
    right = _password_sign_in(app.test_client(), member.email).get_data(as_text=True)
    assert "This account is suspended" in right
    wrong = _password_sign_in(app.test_client(), member.email, "Wrong-pass-12345").get_data(as_text=True)
    assert "This account is suspended" not in wrong and "Email or password is wrong" in wrong
