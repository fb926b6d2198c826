"""Requesting over HTTP and "My requests": own rows only, filters, sort, pages, self-refreshing rows, cancel."""
from __future__ import annotations

from datetime import timedelta

import pytest

from medianest.extensions import db
from medianest.models import MediaRequest, Notification
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_request
from tests.fakes.overseerr import APPROVED, M_AVAILABLE, M_PROCESSING
from tests.requests_support import WEBHOOK_SECRET, count_queries, ovs, people  # noqa: F401  (fixtures)


@pytest.fixture
def alice_client(auth, people):
    return auth.login_as(people[0])


def _rows(app):
    with app.app_context():
        return list(db.session.scalars(db.select(MediaRequest).order_by(MediaRequest.created_at)))


# -- asking ---------------------------------------------------------------------------------------------
def test_request_a_film_with_htmx(app, alice_client, ovs):
    resp = alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603", "title": "x"}, headers=HX)
    assert resp.status_code == 200 and b'id="request-panel"' in resp.data and b"<html" not in resp.data
    assert b"The Matrix is requested" in resp.data and b"See your request" in resp.data
    assert "requests-changed" in resp.headers["HX-Trigger"]
    oob = resp.data.split(b'id="title-state" hx-swap-oob="true"', 1)[1]  # the badge at the top of the page too
    assert b"Requested by you" in oob
    [row] = _rows(app)
    assert row.title == "The Matrix" and row.overseerr_id  # the title comes from Overseerr, not the form
    assert ovs.requests_made[0]["api_user"] == "2"


def test_request_without_htmx_redirects_to_the_request(app, alice_client, ovs):
    resp = alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"})
    [row] = _rows(app)
    assert resp.status_code == 303 and resp.headers["Location"] == f"/requests/{row.id}"
    page = alice_client.get(resp.headers["Location"])
    assert b"The Matrix is requested" in page.data  # flashed


def test_request_seasons_of_a_series(app, alice_client, ovs):
    resp = alice_client.post("/requests/", data={"media_type": "tv", "tmdb_id": "1399", "seasons": ["3", "1"]},
                             headers=HX)
    assert resp.status_code == 200
    [row] = _rows(app)
    assert row.seasons == [1, 3] and ovs.requests_made[0]["body"]["seasons"] == [1, 3]
    everything = alice_client.post("/requests/", data={"media_type": "tv", "tmdb_id": "1396", "all_seasons": "1",
                                                       "seasons": ["2"]}, headers=HX)
    assert everything.status_code == 200 and _rows(app)[-1].seasons == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"media_type": "tv", "tmdb_id": "1399", "seasons": ["42"]}, 422, b"Season 42 of Game of Thrones does not exist"),
    ({"media_type": "tv", "tmdb_id": "1399"}, 422, b"Choose at least one season"),
    ({"media_type": "movie", "tmdb_id": "999999"}, 503, b"can&#39;t be reached"),  # Overseerr's 500: unavailable
    ({"media_type": "movie", "tmdb_id": "-1"}, 422, b"not a TMDB id"),
    ({"media_type": "movie", "tmdb_id": ""}, 422, b"not a TMDB id"),
    ({"media_type": "<script>", "tmdb_id": "603"}, 422, b"Only films and series"),
    ({"media_type": "tv", "tmdb_id": "1399", "seasons": ["1; DROP TABLE"]}, 422, b"whole numbers"),
])
def test_bad_requests_rerender_the_panel_with_the_error(app, alice_client, ovs, data, status, message):
    resp = alice_client.post("/requests/", data=data, headers=HX)
    assert resp.status_code == status and message in resp.data
    assert b'id="request-panel"' in resp.data and b"<html" not in resp.data and b"<script>" not in resp.data
    full = alice_client.post("/requests/", data=data)
    assert full.status_code == status and b"<html" in full.data
    assert _rows(app) == []


def test_asking_twice_and_following_someone_elses(app, auth, ovs, people):
    alice, bob, _carol = people
    alice_client = auth.login_as(alice)
    alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    again = alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    assert b"You already asked for The Matrix" in again.data
    bob_client = auth.login_as(bob, auth.app.test_client())
    resp = bob_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    assert b"Someone already asked for The Matrix" in resp.data and b"you follow their request" in resp.data
    assert len(_rows(app)) == 1 and len(ovs.requests_made) == 1
    mine = bob_client.get("/requests/")
    assert b"Also following" in mine.data and b"The Matrix" in mine.data
    redirect = bob_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"})
    assert redirect.status_code == 303 and redirect.headers["Location"] == "/media/movie/603"


def test_waiting_for_overseerr_is_shown(app, alice_client, ovs):
    alice_client.get("/media/movie/603")  # details cached while Overseerr was up
    ovs.go_down()
    resp = alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    assert resp.status_code == 200 and b"can&#39;t be reached right now" in resp.data
    assert b"Waiting for Overseerr" in resp.data
    [row] = _rows(app)
    listing = alice_client.get("/requests/")
    assert b"Waiting for Overseerr" in listing.data
    detail = alice_client.get(f"/requests/{row.id}")
    assert b"MediaNest keeps trying" in detail.data


def test_creating_requests_is_rate_limited(make_app, auth, people, ovs):
    limited = make_app(RATELIMIT_ENABLED=True)
    client = auth.login_as(people[0], limited.test_client())
    from tests.requests_support import connect_overseerr

    connect_overseerr(limited, ovs)
    codes = [client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX).status_code
             for _ in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429


# -- My requests ------------------------------------------------------------------------------------------
def test_my_requests_shows_only_my_rows(app, auth, people):
    alice, bob, _carol = people
    make_request(app, alice, title="Alice Film")
    make_request(app, bob, title="Bob Film")
    client = auth.login_as(alice)
    page = client.get("/requests/")
    assert page.status_code == 200 and b"<html" in page.data and b"Alice Film" in page.data
    assert b"Bob Film" not in page.data
    fragment = client.get("/requests/", headers=HX)
    assert b'id="request-list"' in fragment.data and b"<html" not in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


def test_my_requests_empty(alice_client):
    assert b"You have not requested anything yet" in alice_client.get("/requests/").data


def test_filters_and_sort(app, alice_client, people):
    alice = people[0]
    now = utcnow()
    make_request(app, alice, title="Bravo", status="completed", created_at=now - timedelta(days=3))
    make_request(app, alice, title="Alpha", media_type="tv", seasons=[1], status="pending", created_at=now - timedelta(days=1))
    make_request(app, alice, title="Charlie", status="denied", decline_reason="Not <i>here</i>", created_at=now)

    def titles(query):
        data = alice_client.get(f"/requests/?{query}", headers=HX).data.decode()
        return [t for t in ("Alpha", "Bravo", "Charlie") if f">{t}<" in data], data

    assert titles("")[0] == ["Alpha", "Bravo", "Charlie"]
    assert titles("status=completed")[0] == ["Bravo"]
    assert titles("status=active")[0] == ["Alpha"]
    assert titles("type=tv")[0] == ["Alpha"]
    assert titles("status=approved")[0] == [] and "No requests match these filters" in titles("status=approved")[1]
    data = alice_client.get("/requests/?sort=title", headers=HX).data.decode()
    assert data.index(">Alpha<") < data.index(">Bravo<") < data.index(">Charlie<")
    data = alice_client.get("/requests/?sort=oldest", headers=HX).data.decode()
    assert data.index(">Bravo<") < data.index(">Alpha<") < data.index(">Charlie<")
    data = alice_client.get("/requests/?sort=newest", headers=HX).data.decode()
    assert data.index(">Charlie<") < data.index(">Alpha<") < data.index(">Bravo<")
    assert "Declined: Not &lt;i&gt;here&lt;/i&gt;" in data
    assert alice_client.get("/requests/?status=<x>&type=book&sort=drop", headers=HX).status_code == 200


def test_pagination(app, alice_client, people):
    for n in range(25):
        make_request(app, people[0], title=f"Film {n:02d}", created_at=utcnow() - timedelta(minutes=n))
    first = alice_client.get("/requests/").data
    assert b"Page 1 of 2" in first and b"Film 00" in first and b"Film 24" not in first
    second = alice_client.get("/requests/?page=2").data
    assert b"Film 24" in second and b"Film 00" not in second
    for page in ("-5", "0", "abc"):
        assert b"Film 00" in alice_client.get(f"/requests/?page={page}").data
    huge = alice_client.get("/requests/?page=99999999999")
    assert huge.status_code == 200 and b"There is no page" in huge.data


def test_active_rows_refresh_themselves_and_final_rows_do_not(app, alice_client, people):
    alice = people[0]
    moving = make_request(app, alice, status="approved")
    finished = utcnow()
    done = make_request(app, alice, status="completed", completed_at=finished,
                        created_at=finished - timedelta(days=2, hours=3))
    page = alice_client.get("/requests/").data.decode()
    moving_row = page.split(f'id="request-{moving.id}"', 1)[1].split("</li>", 1)[0]
    done_row = page.split(f'id="request-{done.id}"', 1)[1].split("</li>", 1)[0]
    assert f'hx-get="/requests/{moving.id}/row"' in moving_row and 'hx-trigger="every 4s"' in moving_row
    assert "hx-trigger" not in done_row and "Ready after 2 days 3 hours" in done_row
    poll = alice_client.get(f"/requests/{moving.id}/row", headers=HX)
    assert poll.status_code == 200 and poll.data.decode().strip().startswith(f'<li id="request-{moving.id}"')
    final = alice_client.get(f"/requests/{done.id}/row", headers=HX)
    assert b"hx-trigger" not in final.data


def test_request_detail_page_and_fragment(app, alice_client, people):
    row = make_request(app, people[0], title="Dune", media_type="tv", seasons=[2, 1], requested_as_admin=True,
                       forwarded_at=utcnow())
    page = alice_client.get(f"/requests/{row.id}")
    assert page.status_code == 200 and b"Dune" in page.data and b"Seasons 1, 2" in page.data
    assert b"Sent under the admin" in page.data and b"Cancel request" in page.data and b"hx-confirm" in page.data
    fragment = alice_client.get(f"/requests/{row.id}", headers=HX)
    assert b'id="request-detail"' in fragment.data and b"<html" not in fragment.data
    assert f'hx-get="/requests/{row.id}"'.encode() in fragment.data


def test_other_users_request_is_404_everywhere(app, auth, people, admin):
    alice, bob, _carol = people
    row = make_request(app, alice, status="pending")
    for who in (bob, admin):
        client = auth.login_as(who, auth.app.test_client())
        assert client.get(f"/requests/{row.id}").status_code == 404
        assert client.get(f"/requests/{row.id}", headers=HX).status_code == 404
        assert client.get(f"/requests/{row.id}/row", headers=HX).status_code == 404
        assert client.post(f"/requests/{row.id}/cancel", headers=HX).status_code == 404
        assert client.post(f"/requests/{row.id}/cancel").status_code == 404
    assert len(_rows(app)) == 1
    assert auth.login_as(alice, auth.app.test_client()).get("/requests/not-a-uuid").status_code == 404


def test_cancel_my_pending_request(app, alice_client, ovs):
    alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    [row] = _rows(app)
    resp = alice_client.post(f"/requests/{row.id}/cancel", headers=HX)
    assert resp.status_code == 200 and resp.headers["HX-Redirect"] == "/requests/"
    assert _rows(app) == [] and ovs.request_rows == {}
    assert b"is cancelled" in alice_client.get("/requests/").data


def test_cancel_refusals_keep_the_request(app, alice_client, people, ovs):
    row = make_request(app, people[0], status="approved")
    resp = alice_client.post(f"/requests/{row.id}/cancel", headers=HX)
    assert resp.status_code == 409 and resp.headers["HX-Reswap"] == "none"
    assert b'hx-swap-oob="true"' in resp.data and b"Only requests still waiting" in resp.data
    plain = alice_client.post(f"/requests/{row.id}/cancel")
    assert plain.status_code == 303 and len(_rows(app)) == 1


def test_expired_sign_in_on_a_poll_redirects_htmx(app, client, people):
    row = make_request(app, people[0])
    resp = client.get(f"/requests/{row.id}/row", headers={**HX, "HX-Current-URL": "http://localhost/requests/"})
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].startswith("/auth/login")


# -- journey over HTTP --------------------------------------------------------------------------------------
def test_journey_request_webhook_approved_then_available(app, alice_client, ovs, people):
    alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "27205"}, headers=HX)
    [row] = _rows(app)
    overseerr_id = int(row.overseerr_id)
    hook = {"Authorization": WEBHOOK_SECRET}
    ovs.set_request_status(overseerr_id, APPROVED, M_PROCESSING)
    assert alice_client.post("/webhooks/overseerr", json=ovs.webhook_payload("MEDIA_APPROVED", overseerr_id),
                             headers=hook).json == {"ok": True, "matched": 1}
    assert b"Approved" in alice_client.get(f"/requests/{row.id}/row", headers=HX).data
    ovs.set_request_status(overseerr_id, APPROVED, M_AVAILABLE)
    alice_client.post("/webhooks/overseerr", json=ovs.webhook_payload("MEDIA_AVAILABLE", overseerr_id), headers=hook)
    final = alice_client.get(f"/requests/{row.id}/row", headers=HX)
    assert b"Completed" in final.data and b"hx-trigger" not in final.data
    with app.app_context():
        titles = db.session.scalars(db.select(Notification.title).where(Notification.user_id == people[0].id)
                                    .order_by(Notification.created_at)).all()
    assert titles == ["Request approved", "Ready to watch"]


# -- query counts ------------------------------------------------------------------------------------------
def _count(app, client, url, headers=None) -> int:
    client.get(url, headers=headers)  # warm: the first request of an app loads one-off settings
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as queries:  # a hard reload: rendered, not served from the kept render
        assert client.get(url, headers={**(headers or {}), "Cache-Control": "no-cache"}).status_code == 200
    return len(queries)


def test_my_requests_query_count_does_not_grow_with_rows(app, alice_client, people):
    make_request(app, people[0])
    one = _count(app, alice_client, "/requests/")
    one_fragment = _count(app, alice_client, "/requests/", HX)
    for n in range(19):
        make_request(app, people[0], media_type="tv" if n % 2 else "movie", seasons=[1, 2] if n % 2 else None)
    assert _count(app, alice_client, "/requests/") == one
    assert _count(app, alice_client, "/requests/", HX) == one_fragment <= 4


def test_row_poll_is_cheap(app, alice_client, people):
    row = make_request(app, people[0])
    assert _count(app, alice_client, f"/requests/{row.id}/row", HX) <= 2  # the sign-in session + the row
    assert _count(app, alice_client, f"/requests/{row.id}", HX) <= 2


def test_html_in_titles_is_escaped_in_my_requests_and_the_admin_list(app, auth, ovs, people, admin):
    from tests.fakes.overseerr import XSS_TITLE

    client = auth.login_as(people[0])
    resp = client.post("/requests/", data={"media_type": "movie", "tmdb_id": "900666"}, headers=HX)
    assert resp.status_code == 200 and XSS_TITLE.encode() not in resp.data
    [row] = _rows(app)
    assert row.title == XSS_TITLE  # stored as Overseerr sent it, escaped on the way out
    for url in ("/requests/", f"/requests/{row.id}", f"/requests/{row.id}/row"):
        data = client.get(url).data
        assert XSS_TITLE.encode() not in data and b"&lt;script&gt;alert(1)&lt;/script&gt; Night" in data
    admin_page = auth.login_as(admin, auth.app.test_client()).get("/admin/requests").data
    assert XSS_TITLE.encode() not in admin_page and b"&lt;script&gt;alert(1)&lt;/script&gt; Night" in admin_page
