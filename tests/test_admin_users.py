"""Admin user management: search and filters, roles, suspension, forced password change, one-time reset links,
deletion with the user's download folder, and the last-admin and self protections."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from medianest.extensions import db
from medianest.models import MediaRequest, Notification, Session, SessionToken, User, VerificationToken, YoutubeDownload
from medianest.services import ServiceError, users
from medianest.services.passwords import verify_password
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_user
from tests.test_sessions import PASSWORD, sign_in
from tests.support import count_queries


@pytest.fixture
def admin_client(app, admin, auth):
    return auth.login_as(admin, app.test_client())


@pytest.fixture
def member(app, admin):
    return make_user(app, email="member@example.com", name="Member", password=PASSWORD)


def fetch(app, user_id) -> User | None:
    with app.app_context():
        user = db.session.get(User, user_id)
        if user is not None:
            db.session.expunge(user)
        return user


@pytest.mark.parametrize("url", ["/admin/users", "/admin/users/rate-limits"])
def test_user_management_is_admin_only(app, client, auth, member, url):
    assert client.get(url).status_code == 303  # signed out: to the sign-in page
    auth.login_as(member)
    assert client.get(url).status_code == 404
    assert client.post(f"/admin/users/{member.id}/role", data={"role": "ADMIN"}).status_code == 404
    assert fetch(app, member.id).role == "USER"


def test_list_page_and_fragment_with_search_and_filters(app, admin_client, member):
    make_user(app, email="plexfan@example.com", plex_username="CouchPotato", status="suspended")
    make_user(app, email="zed@example.com", name="Zed 100%_off")
    page = admin_client.get("/admin/users")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "HX-Request" in page.headers["Vary"]
    assert all(e in html for e in ("admin@example.com", "member@example.com", "plexfan@example.com"))
    frag = admin_client.get("/admin/users?q=couch", headers=HX)
    text = frag.get_data(as_text=True)
    assert "<html" not in text and 'id="users-table"' in text
    assert "plexfan@example.com" in text and "member@example.com" not in text
    assert "zed@example.com" in admin_client.get("/admin/users?q=100%25_", headers=HX).get_data(as_text=True)
    assert "member@example.com" not in admin_client.get("/admin/users?q=100%25_", headers=HX).get_data(as_text=True)
    suspended = admin_client.get("/admin/users?status=suspended", headers=HX).get_data(as_text=True)
    assert "plexfan@example.com" in suspended and "member@example.com" not in suspended
    admins = admin_client.get("/admin/users?role=ADMIN", headers=HX).get_data(as_text=True)
    assert "admin@example.com" in admins and "member@example.com" not in admins
    assert admin_client.get("/admin/users?role=ROOT&status=x&sort=nope&page=99999").status_code == 200
    by_email = admin_client.get("/admin/users?sort=email", headers=HX).get_data(as_text=True)
    assert by_email.index("admin@example.com") < by_email.index("member@example.com") < by_email.index("zed@")
    assert admin_client.get("/admin/users?sort=last_login", headers=HX).status_code == 200


def test_list_shows_activity_counts(app, admin_client, member):
    with app.app_context():
        db.session.add_all([MediaRequest(user_id=member.id, title="Alien", media_type="movie"),
                            MediaRequest(user_id=member.id, title="Heat", media_type="movie"),
                            YoutubeDownload(user_id=member.id, playlist_url="https://youtu.be/x")])
        db.session.commit()
    html = admin_client.get("/admin/users?q=member", headers=HX).get_data(as_text=True)
    row = html[html.index(f'id="user-{member.id}"'):]
    assert "<td>2</td>\n  <td>1</td>" in row


def test_list_query_count_is_constant(app, admin_client):
    admin_client.get("/admin/users")
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as few:
        admin_client.get("/admin/users", headers=HX)
    for n in range(20):
        make_user(app, email=f"bulk{n}@example.com")
    admin_client.get("/admin/users", headers=HX)  # new users change the users' version: the session is read once
    with count_queries(engine) as many:
        resp = admin_client.get("/admin/users", headers=HX)
    assert resp.get_data(as_text=True).count('<tr id="user-') == 21
    assert len(many) == len(few) <= 6, many


def test_detail_page_and_fragment(admin_client, member):
    page = admin_client.get(f"/admin/users/{member.id}")
    assert page.status_code == 200 and b"<html" in page.data and b"member@example.com" in page.data
    frag = admin_client.get(f"/admin/users/{member.id}", headers=HX)
    assert b"<html" not in frag.data and b'id="user-detail"' in frag.data
    assert admin_client.get("/admin/users/00000000-0000-4000-8000-000000000000").status_code == 404


def test_change_role_both_ways(app, admin_client, member):
    resp = admin_client.post(f"/admin/users/{member.id}/role", data={"role": "ADMIN"}, headers=HX)
    assert resp.status_code == 200 and b'id="user-detail"' in resp.data and b"Role changed" in resp.data
    assert fetch(app, member.id).role == "ADMIN"
    resp = admin_client.post(f"/admin/users/{member.id}/role", data={"role": "USER"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/admin/users/{member.id}"
    assert fetch(app, member.id).role == "USER"
    bad = admin_client.post(f"/admin/users/{member.id}/role", data={"role": "ROOT"}, headers=HX)
    assert bad.status_code == 409 and fetch(app, member.id).role == "USER"


def test_suspend_and_reactivate(app, admin_client, member):
    browser = sign_in(app, "member@example.com", remember=True)
    resp = admin_client.post(f"/admin/users/{member.id}/suspend", headers=HX)
    assert resp.status_code == 200 and b"Reactivate" in resp.data
    assert fetch(app, member.id).status == "suspended"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Session.id)).where(Session.user_id == member.id)) == 0
        assert db.session.scalar(db.select(db.func.count(SessionToken.id)).where(SessionToken.user_id == member.id)) == 0
    assert browser.get("/").status_code == 303
    assert admin_client.post(f"/admin/users/{member.id}/reactivate", headers=HX).status_code == 200
    assert fetch(app, member.id).status == "active"
    assert sign_in(app, "member@example.com").get("/").status_code == 200


def test_nobody_changes_themselves_by_accident(app, admin, admin_client):
    for action, data in (("role", {"role": "USER"}), ("suspend", {}), ("delete", {})):
        resp = admin_client.post(f"/admin/users/{admin.id}/{action}", data=data, headers=HX)
        assert resp.status_code == 409 and b"your own account" in resp.data, action
    user = fetch(app, admin.id)
    assert (user.role, user.status) == ("ADMIN", "active")
    assert b"This is you" in admin_client.get(f"/admin/users/{admin.id}").data


def test_the_last_active_admin_is_protected(app, admin, member):
    with app.app_context():
        for call in (lambda: users.set_role(admin.id, "USER"), lambda: users.suspend(admin.id),
                     lambda: users.delete_user(admin.id)):
            with pytest.raises(ServiceError, match="last active admin"):
                call()
        second = users.set_role(member.id, "ADMIN")
        users.suspend(second.id)  # a suspended admin does not count
        with pytest.raises(ServiceError, match="last active admin"):
            users.set_role(admin.id, "USER")
        users.reactivate(second.id)
        users.set_role(admin.id, "USER")  # now there is another active admin
        assert db.session.get(User, admin.id).role == "USER"


def test_force_a_password_change(app, admin_client, member):
    browser = sign_in(app, "member@example.com")
    resp = admin_client.post(f"/admin/users/{member.id}/require-password-change", headers=HX)
    assert resp.status_code == 200 and fetch(app, member.id).requires_password_change
    page = browser.get("/")
    assert page.status_code == 303 and page.headers["Location"] == "/auth/password"
    plex_only = make_user(app, email="plexonly@example.com", plex_id="55")
    refused = admin_client.post(f"/admin/users/{plex_only.id}/require-password-change", headers=HX)
    assert refused.status_code == 409 and b"signs in with Plex" in refused.data


def _reset_link(admin_client, user_id) -> str:
    resp = admin_client.post(f"/admin/users/{user_id}/reset-link", headers=HX)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    start = html.index("/auth/reset/")
    return html[start:html.index("<", start)]


def test_reset_link_sets_a_new_password_once(app, admin_client, member):
    other_browser = sign_in(app, "member@example.com", remember=True)
    link = _reset_link(admin_client, member.id)
    with app.app_context():
        stored = db.session.scalar(db.select(VerificationToken.token))
    assert link.rsplit("/", 1)[1] not in stored  # only the hash is stored
    visitor = app.test_client()
    form = visitor.get(link)
    assert form.status_code == 200 and b"member@example.com" in form.data and b'id="reset-form"' in form.data
    assert visitor.get(link, headers=HX).data.lstrip().startswith(b"<form")
    bad = visitor.post(link, data={"new_password": "short", "confirm_password": "short"}, headers=HX)
    assert bad.status_code == 422 and b'id="reset-form"' in bad.data
    resp = visitor.post(link, data={"new_password": "Brand-new-pass-7", "confirm_password": "Brand-new-pass-7"})
    assert resp.status_code == 303 and visitor.get("/").status_code == 200
    assert other_browser.get("/").status_code == 303  # every other sign-in ended
    login = app.test_client().post("/auth/login", data={"email": "member@example.com", "password": "Brand-new-pass-7"})
    assert login.status_code == 303
    again = app.test_client().get(link)
    assert again.status_code == 404 and b"not valid any more" in again.data


def test_a_new_reset_link_replaces_the_old_one(app, admin_client, member):
    first = _reset_link(admin_client, member.id)
    second = _reset_link(admin_client, member.id)
    assert app.test_client().get(first).status_code == 404
    assert app.test_client().get(second).status_code == 200


def test_reset_tokens_are_bound_to_their_user(app, admin, admin_client, member):
    """A link made for one account changes that account only, whoever opens it."""
    victim = make_user(app, email="victim@example.com", password=PASSWORD)
    link = _reset_link(admin_client, member.id)
    other_browser = sign_in(app, "victim@example.com")
    resp = other_browser.post(link, data={"new_password": "Brand-new-pass-7", "confirm_password": "Brand-new-pass-7"})
    assert resp.status_code == 303
    assert verify_password(fetch(app, victim.id).password_hash, PASSWORD)
    assert verify_password(fetch(app, member.id).password_hash, "Brand-new-pass-7")
    assert b"member@example.com" in other_browser.get("/account/").data  # this browser now belongs to the link's user


@pytest.mark.parametrize("token", ["nope", "a" * 43, "x" * 300, "%00"])
def test_forged_reset_tokens_do_nothing(app, admin, token):
    client = app.test_client()
    assert client.get(f"/auth/reset/{token}").status_code == 404
    assert client.post(f"/auth/reset/{token}", data={"new_password": "Brand-new-pass-7",
                                                      "confirm_password": "Brand-new-pass-7"}).status_code == 404


def test_expired_and_foreign_tokens_do_nothing(app, admin, member):
    with app.app_context():
        token = users.issue_reset_token(member.id)
        db.session.execute(db.update(VerificationToken).values(expires=utcnow() - timedelta(seconds=1)))
        db.session.add(VerificationToken(identifier="plex-pin:42", token=users._token_hash("pin-nonce"),
                                         expires=utcnow() + timedelta(minutes=5)))
        db.session.commit()
    assert app.test_client().get(f"/auth/reset/{token}").status_code == 404
    assert app.test_client().get("/auth/reset/pin-nonce").status_code == 404  # a Plex PIN binding is no reset token


def test_reset_links_only_for_active_accounts(app, admin_client):
    gone = make_user(app, email="gone@example.com", status="suspended")
    resp = admin_client.post(f"/admin/users/{gone.id}/reset-link", headers=HX)
    assert resp.status_code == 409 and b"not active" in resp.data


def test_sign_out_everywhere(app, admin_client, member):
    browser = sign_in(app, "member@example.com")
    assert admin_client.post(f"/admin/users/{member.id}/sign-out", headers=HX).status_code == 200
    assert browser.get("/").status_code == 303


def test_delete_cascades_and_removes_the_download_folder(app, admin, admin_client, member, tmp_path):
    keeper = make_user(app, email="keeper@example.com")
    root = Path(app.config["MEDIANEST_DOWNLOAD_DIR"])
    mine, theirs = root / str(member.id), root / str(keeper.id)
    (mine / "Playlist").mkdir(parents=True)
    (mine / "Playlist" / "a.mp4").write_bytes(b"x")
    theirs.mkdir(parents=True)
    (theirs / "b.mp4").write_bytes(b"y")
    sign_in(app, "member@example.com", remember=True)
    with app.app_context():
        db.session.add_all([MediaRequest(user_id=member.id, title="Alien", media_type="movie"),
                            YoutubeDownload(user_id=member.id, playlist_url="https://youtu.be/x"),
                            Notification(user_id=member.id, type="info", title="Hi", message="Hello")])
        db.session.commit()
    resp = admin_client.post(f"/admin/users/{member.id}/delete", headers=HX)
    assert resp.status_code == 200 and resp.headers["HX-Redirect"] == "/admin/users"
    assert fetch(app, member.id) is None
    assert not mine.exists() and (theirs / "b.mp4").exists()
    with app.app_context():
        for model in (MediaRequest, YoutubeDownload, Notification, Session, SessionToken):
            assert db.session.scalar(db.select(db.func.count()).select_from(model).where(model.user_id == member.id)) == 0
    assert b"is deleted" in admin_client.get("/admin/users").data


def test_delete_never_follows_a_symlinked_folder(app, admin, member, tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    root = Path(app.config["MEDIANEST_DOWNLOAD_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, root / str(member.id))
    with app.app_context():
        users.delete_user(member.id)
    assert (outside / "keep.txt").read_text() == "keep"


def test_delete_without_htmx_goes_back_to_the_list(app, admin_client, member):
    resp = admin_client.post(f"/admin/users/{member.id}/delete")
    assert resp.status_code == 303 and resp.headers["Location"] == "/admin/users"


def test_rate_limit_breaches_page(app, admin_client):
    from medianest.services import rate_limits

    with app.app_context():
        rate_limits.record_breach("203.0.113.5", "auth.login", limit_amount=10, window_seconds=60)
        rate_limits.record_breach("203.0.113.5", "auth.login", limit_amount=10, window_seconds=60)
    page = admin_client.get("/admin/users/rate-limits")
    assert page.status_code == 200 and b"203.0.113.5" in page.data and b"<td>12</td>" in page.data
    frag = admin_client.get("/admin/users/rate-limits", headers=HX)
    assert b"<html" not in frag.data and b'id="rate-limits-table"' in frag.data


def test_admin_hub_links_to_users(admin_client):
    assert b'href="/admin/users"' in admin_client.get("/admin/").data
