"""Conditional polls and the cached sign-in (issue 9): an unchanged fragment answers 304 from one Redis round
trip, every change a user would see gives a fresh 200, and signing out or suspending takes effect at once."""
from __future__ import annotations

import pytest

from medianest import cache
from medianest.extensions import db
from medianest.services import notifications
from medianest.services.youtube import progress_key
from tests.conftest import HX, TEST_REDIS_URL
from tests.factories import make_request, make_user
from tests.support import count_queries
from tests.test_youtube_views import make_download

needs_redis = pytest.mark.skipif(not TEST_REDIS_URL, reason="conditional polls need Redis (embedded mode renders)")


def settle(client, url):
    """Poll until the response carries an ETag (the first views make the session's versions), as htmx would."""
    for _ in range(4):
        resp = client.get(url, headers=HX)
        assert resp.status_code == 200
        if resp.headers.get("ETag"):
            return resp
    raise AssertionError(f"{url} never carried an ETag")


def revalidate(client, url, resp):
    return client.get(url, headers={**HX, "If-None-Match": resp.headers["ETag"]})


@pytest.fixture
def alice(app, admin):
    return make_user(app, email="alice@example.com", name="Alice")


@pytest.fixture
def bob(app, admin):
    return make_user(app, email="bob@example.com", name="Bob")


@pytest.fixture
def clients(app, auth, alice, bob):
    a, b = app.test_client(), app.test_client()
    auth.login_as(alice, a)
    auth.login_as(bob, b)
    return a, b


def test_embedded_polls_render_without_etags(app, clients):
    if TEST_REDIS_URL:
        pytest.skip("the embedded stack only")
    alice_client, _ = clients
    resp = alice_client.get("/notifications/bell", headers=HX)
    assert resp.status_code == 200 and "ETag" not in resp.headers and "bell" in resp.get_data(as_text=True)


@needs_redis
def test_bell_answers_304_until_something_changes_for_the_user(app, clients, alice, bob):
    alice_client, bob_client = clients
    first = settle(alice_client, "/notifications/bell")
    assert "private" in first.headers["Cache-Control"] and "no-store" not in first.headers["Cache-Control"]
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as seen:
        unchanged = revalidate(alice_client, "/notifications/bell", first)
    assert unchanged.status_code == 304 and unchanged.data == b"" and seen == []
    assert unchanged.headers["ETag"] == first.headers["ETag"]
    assert unchanged.headers["Content-Security-Policy"]  # the short path keeps the security headers

    with app.app_context():
        notifications.notify(alice.id, "Your film is ready", "Dune is in Plex.")
    changed = revalidate(alice_client, "/notifications/bell", first)
    assert changed.status_code == 200 and 'id="bell-count"' in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != first.headers["ETag"]

    bob_first = settle(bob_client, "/notifications/bell")
    assert 'id="bell-count"' not in bob_first.get_data(as_text=True)  # Alice's notification is not Bob's
    assert bob_first.headers["ETag"] != changed.headers["ETag"]
    stolen = bob_client.get("/notifications/bell", headers={**HX, "If-None-Match": changed.headers["ETag"]})
    assert stolen.status_code == 200 and 'id="bell-count"' not in stolen.get_data(as_text=True)


@needs_redis
def test_signing_out_elsewhere_ends_the_poll_at_once(app, auth, alice):
    phone, laptop = app.test_client(), app.test_client()
    auth.login_as(alice, phone)
    auth.login_as(alice, laptop)
    first = settle(phone, "/notifications/bell")
    assert revalidate(phone, "/notifications/bell", first).status_code == 304
    settle(laptop, "/notifications/bell")
    assert laptop.post("/account/sessions/revoke-others", headers=HX).status_code == 200
    gone = revalidate(phone, "/notifications/bell", first)
    assert gone.status_code == 401 and "/auth/login" in gone.headers["HX-Redirect"]
    assert revalidate(laptop, "/notifications/bell", settle(laptop, "/notifications/bell")).status_code == 304


@needs_redis
def test_suspension_and_role_changes_take_effect_on_the_next_request(app, auth, admin, alice):
    admin_client, alice_client = app.test_client(), app.test_client()
    auth.login_as(admin, admin_client)
    auth.login_as(alice, alice_client)
    first = settle(alice_client, "/notifications/bell")
    assert alice_client.get("/admin/users", headers=HX).status_code == 404
    assert admin_client.post(f"/admin/users/{alice.id}/role", data={"role": "ADMIN"}, headers=HX).status_code == 200
    assert alice_client.get("/admin/users").status_code == 200  # admin at once, no stale cached role
    assert admin_client.post(f"/admin/users/{alice.id}/suspend", headers=HX).status_code == 200
    suspended = revalidate(alice_client, "/notifications/bell", first)
    assert suspended.status_code == 401 and "HX-Redirect" in suspended.headers


@needs_redis
def test_download_row_poll_follows_progress_and_status(app, clients, alice, bob):
    alice_client, bob_client = clients
    row = make_download(app, alice, status="downloading")
    url = f"/youtube/{row.id}/status"
    first = settle(alice_client, url)
    assert revalidate(alice_client, url, first).status_code == 304
    with app.app_context():
        cache.set(progress_key(row.id), {"percent": 42.0, "index": 1, "count": 2, "title": "Clip", "downloaded": 10,
                                         "total": 20, "speed": 5, "eta": 2}, 60)
    moved = revalidate(alice_client, url, first)
    assert moved.status_code == 200 and "42%" in moved.get_data(as_text=True)
    assert revalidate(alice_client, url, moved).status_code == 304
    with app.app_context():
        db.session.get(type(row), row.id).status = "completed"
        db.session.commit()
    done = revalidate(alice_client, url, moved)
    assert done.status_code == 200 and 'data-status="completed"' in done.get_data(as_text=True)
    assert "hx-trigger" not in done.get_data(as_text=True)  # the poll stops by itself
    assert bob_client.get(url, headers={**HX, "If-None-Match": done.headers["ETag"]}).status_code == 404


@needs_redis
def test_request_row_poll_follows_the_request(app, clients, alice):
    alice_client, _ = clients
    row = make_request(app, alice, status="pending")
    url = f"/requests/{row.id}/row"
    first = settle(alice_client, url)
    assert revalidate(alice_client, url, first).status_code == 304
    with app.app_context():
        db.session.get(type(row), row.id).status = "approved"
        db.session.commit()
    approved = revalidate(alice_client, url, first)
    assert approved.status_code == 200 and "approved" in approved.get_data(as_text=True).lower()


@needs_redis
def test_status_panel_poll_changes_with_the_health_round(app, client, auth, admin, fake_plex):
    from tests.test_health import connect, round_now

    connect(app, plex=fake_plex)
    round_now(app)
    auth.login_as(admin)
    first = settle(client, "/")
    assert revalidate(client, "/", first).status_code == 304
    full_page = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert full_page.status_code == 200 and b"<html" in full_page.data  # only fragments are conditional
    fake_plex.hang()
    round_now(app)
    after = revalidate(client, "/", first)
    assert after.status_code == 200 and 'data-status="offline"' in after.get_data(as_text=True)


def test_polls_write_no_log_line_but_pages_do(app, clients, caplog):
    alice_client, _ = clients
    alice_client.get("/notifications/bell", headers=HX)
    with caplog.at_level("INFO", logger="medianest.requests"):
        for _ in range(3):
            assert alice_client.get("/notifications/bell", headers=HX).status_code == 200
        assert alice_client.get("/notifications/").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "medianest.requests"]
    assert not any("/notifications/bell" in line for line in lines)
    assert any(line.startswith("GET /notifications/ 200") for line in lines)


@needs_redis
def test_pages_are_served_from_their_last_render_until_what_they_show_changes(app, auth, alice, bob):
    phone, laptop, bobs = app.test_client(), app.test_client(), app.test_client()
    for who, browser in ((alice, phone), (alice, laptop), (bob, bobs)):
        auth.login_as(who, browser)
    make_request(app, alice, title="Alice Film")
    for _ in range(3):
        first = phone.get("/requests/")
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as seen:
        again = phone.get("/requests/")
    assert seen == [] and again.data == first.data and b"Alice Film" in again.data  # the kept render
    assert again.headers["ETag"] == first.headers["ETag"]
    assert phone.get("/requests/", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304

    with count_queries(engine) as laptop_first:
        laptop.get("/requests/")
    assert any("media_requests" in q for q in laptop_first)  # each browser has its own render (its CSRF token)
    assert b"Alice Film" not in bobs.get("/requests/").data

    make_request(app, alice, title="Second Film")
    changed = phone.get("/requests/")
    assert b"Second Film" in changed.data and changed.headers["ETag"] != first.headers["ETag"]
    with count_queries(engine) as hard:
        reloaded = phone.get("/requests/", headers={"Cache-Control": "no-cache"})
    assert hard and b"Second Film" in reloaded.data  # a hard reload renders anew


@needs_redis
def test_a_page_with_a_flash_message_is_never_served_from_a_kept_render(app, auth, alice):
    browser = auth.login_as(alice, app.test_client())
    for _ in range(3):
        browser.get("/requests/")
    row = make_request(app, alice, title="To cancel", forward_state="queued", overseerr_id=None)
    cancelled = browser.post(f"/requests/{row.id}/cancel", follow_redirects=True)
    assert cancelled.status_code == 200 and b"notice-success" in cancelled.data
    assert b"notice-success" not in browser.get("/requests/").data  # shown once, then gone
