"""Discover: active search of Overseerr, title details with seasons, posters, and each result's state for this user."""
from __future__ import annotations

import pytest

from medianest.services import requests as request_service
from tests.conftest import HX
from tests.fakes.overseerr import API_KEY, XSS_TITLE
from tests.requests_support import ovs, people  # noqa: F401  (fixtures)


@pytest.fixture
def alice_client(app, auth, people):
    return auth.login_as(people[0])


def _searches(fake) -> int:
    return len(fake.seen("/api/v1/search"))


def test_discover_page_is_an_active_search(alice_client, ovs):
    page = alice_client.get("/media/discover")
    assert page.status_code == 200 and b"<html" in page.data
    assert b'hx-trigger="input changed delay:300ms, search"' in page.data
    assert b'hx-target="#discover-results"' in page.data and b'hx-push-url="true"' in page.data
    assert b"Type a title" in page.data and _searches(ovs) == 0
    assert "HX-Request" in page.headers["Vary"]


def test_search_results_page_and_fragment(alice_client, ovs):
    fragment = alice_client.get("/media/discover?q=matrix", headers={**HX, "HX-Target": "discover-results"})
    assert fragment.status_code == 200 and b"<html" not in fragment.data
    assert b'id="discover-results"' in fragment.data
    for title in (b"The Matrix", b"The Matrix Reloaded", b"The Matrix Revolutions"):
        assert title in fragment.data
    assert b"1999" in fragment.data and b"Film" in fragment.data
    assert b'href="/media/movie/603"' in fragment.data
    assert b'src="/media/poster/w342/poster603.jpg"' in fragment.data  # posters come through MediaNest
    assert b"image.tmdb.org" not in fragment.data
    page = alice_client.get("/media/discover?q=matrix")
    assert b"<html" in page.data and b"The Matrix Reloaded" in page.data and b'value="matrix"' in page.data


def test_people_are_left_out_and_series_are_marked(alice_client, ovs):
    resp = alice_client.get("/media/discover?q=keanu", headers=HX)
    assert b"Keanu" not in resp.data and b"No films or series match" in resp.data
    series = alice_client.get("/media/discover?q=arcane", headers=HX)
    assert b"Arcane" in series.data and b"Series" in series.data and b'href="/media/tv/94605"' in series.data


def test_results_are_cached_five_minutes_per_query(alice_client, ovs):
    alice_client.get("/media/discover?q=matrix", headers=HX)
    alice_client.get("/media/discover?q=Matrix", headers=HX)
    alice_client.get("/media/discover?q=%20matrix%20", headers=HX)
    assert _searches(ovs) == 1
    alice_client.get("/media/discover?q=matrix&page=2", headers=HX)
    assert _searches(ovs) == 2


def test_search_pages(alice_client, ovs):
    ovs.search_page_size = 2
    first = alice_client.get("/media/discover?q=matrix", headers=HX)
    assert b"Page 1 of 2" in first.data and b"page=2" in first.data
    second = alice_client.get("/media/discover?q=matrix&page=2", headers=HX)
    assert b"The Matrix Revolutions" in second.data and b"Page 2 of 2" in second.data


@pytest.mark.parametrize("page", ["-1", "0", "abc", "999999", "1e9"])
def test_odd_page_numbers(alice_client, ovs, page):
    assert alice_client.get(f"/media/discover?q=matrix&page={page}", headers=HX).status_code == 200


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01"])
def test_empty_searches_do_not_ask_overseerr(alice_client, ovs, query):
    resp = alice_client.get("/media/discover", query_string={"q": query}, headers=HX)
    assert resp.status_code == 200 and b"Type a title" in resp.data and _searches(ovs) == 0


def test_500_character_search_is_refused_clearly(alice_client, ovs):
    resp = alice_client.get("/media/discover", query_string={"q": "a" * 500}, headers=HX)
    assert resp.status_code == 200 and b"limited to 200 characters" in resp.data and _searches(ovs) == 0


@pytest.mark.parametrize(("query", "expected"), [
    ("Amélie", "Amélie"), ("amelie", None), ("Tom & Jerry", "Tom &amp; Jerry"), ("#Alive", "#Alive"), ("+1", "+1"),
    ("Schindler's", "Schindler&#39;s"), ('Say "Cheese"', "Say &#34;Cheese&#34;"), ("tmdb:603", "The Matrix"),
    ("Mission: Impossible", "Mission: Impossible"), ("🎬🍿", None), ("مرحبا", None), ("100%", None),
])
def test_odd_unicode_and_reserved_characters(alice_client, ovs, query, expected):
    resp = alice_client.get("/media/discover", query_string={"q": query}, headers=HX)
    assert resp.status_code == 200 and b"Overseerr could not" not in resp.data
    if expected:
        assert expected.encode() in resp.data


def test_html_in_titles_from_overseerr_is_escaped_everywhere(alice_client, ovs):
    resp = alice_client.get("/media/discover?q=Night", headers=HX)
    assert XSS_TITLE.encode() not in resp.data and b"<img src=x" not in resp.data
    assert b"&lt;script&gt;alert(1)&lt;/script&gt; Night" in resp.data
    detail = alice_client.get("/media/movie/900666")
    assert detail.status_code == 200 and b"<script>alert(1)" not in detail.data and b"<img src=x" not in detail.data
    assert b"&lt;script&gt;" in detail.data


def test_state_of_each_result_for_this_user(app, auth, ovs, people):
    alice, bob, carol = people
    with app.app_context():
        request_service.submit(alice.id, "movie", 603)
        request_service.submit(carol.id, "movie", 604)
        request_service.submit(bob.id, "movie", 604)  # Bob follows Carol's request
    ovs.set_available(605, "movie")
    ovs.set_available(1399, "tv", [1])
    client = auth.login_as(bob, auth.app.test_client())
    resp = client.get("/media/discover?q=matrix", headers=HX).data.decode()
    cards = {title: resp.split(f">{title}<", 1)[1].split("</li>", 1)[0]
             for title in ("The Matrix", "The Matrix Reloaded", "The Matrix Revolutions")}
    assert "Requested by someone else" in cards["The Matrix"]
    assert "You follow a request" in cards["The Matrix Reloaded"]
    assert "In Plex" in cards["The Matrix Revolutions"]
    thrones = client.get("/media/discover?q=thrones", headers=HX).data
    assert b"Partly in Plex" in thrones
    other = client.get("/media/discover?q=inception", headers=HX).data
    assert b"Not requested" in other
    mine = auth.login_as(alice, auth.app.test_client()).get("/media/discover?q=matrix", headers=HX).data
    assert b"Requested by you" in mine


def test_overseerr_down_or_not_connected(alice_client, app, fake_overseerr):
    resp = alice_client.get("/media/discover?q=matrix", headers=HX)
    assert resp.status_code == 200 and b"Discover needs Overseerr" in resp.data
    from tests.requests_support import connect_overseerr

    connect_overseerr(app, fake_overseerr)
    fake_overseerr.go_down()
    resp = alice_client.get("/media/discover?q=matrix", headers=HX)
    assert resp.status_code == 200 and b"can&#39;t be reached" in resp.data
    assert API_KEY.encode() not in resp.data


# -- detail pages -----------------------------------------------------------------------------------------
def test_film_detail_with_request_form_and_quota_line(alice_client, ovs):
    resp = alice_client.get("/media/movie/603")
    assert resp.status_code == 200 and b"The Matrix" in resp.data and b"(1999)" in resp.data
    assert b'id="request-panel"' in resp.data and b'name="tmdb_id" value="603"' in resp.data
    assert b'hx-post="/requests/"' in resp.data and b"No limit on films." in resp.data
    assert b"Action, Science Fiction" in resp.data and b"120 min" in resp.data
    fragment = alice_client.get("/media/movie/603", headers=HX)
    assert b"<html" not in fragment.data and b'id="request-panel"' in fragment.data


def test_series_detail_lists_seasons_with_their_state(alice_client, ovs):
    ovs.set_available(1399, "tv", [1])
    resp = alice_client.get("/media/tv/1399")
    assert resp.status_code == 200 and b"Game of Thrones" in resp.data
    assert b"Specials" in resp.data and b"Season 8" in resp.data and b'name="all_seasons"' in resp.data
    season_one = resp.data.split(b'name="seasons" value="1"', 1)[1].split(b"</label>", 1)[0]
    assert b"disabled" in season_one and b"in Plex" in season_one
    assert b'name="seasons" value="2">' in resp.data  # not disabled


def test_detail_of_unknown_titles_is_404(alice_client, ovs):
    # Overseerr answers 500 for an unknown TMDB id and for a TMDB outage alike: unavailable, not "not found".
    assert alice_client.get("/media/movie/999999").status_code == 503
    assert alice_client.get("/media/tv/999999").status_code == 503
    assert alice_client.get("/media/book/603").status_code == 404
    assert alice_client.get("/media/movie/abc").status_code == 404
    assert alice_client.get("/media/movie/99999999999").status_code == 404


def test_detail_when_overseerr_is_down(alice_client, ovs):
    ovs.go_down()
    resp = alice_client.get("/media/movie/603")
    assert resp.status_code == 503 and b"can&#39;t be reached" in resp.data and b'name="tmdb_id"' not in resp.data


def test_details_are_cached(alice_client, ovs):
    alice_client.get("/media/movie/603")
    alice_client.get("/media/movie/603")
    assert len(ovs.seen("/api/v1/movie/603")) == 1


# -- posters --------------------------------------------------------------------------------------------
def test_poster_proxy(alice_client, app, ovs):
    app.config["MEDIANEST_TMDB_IMAGE_URL"] = ovs.url  # the fake also plays image.tmdb.org
    resp = alice_client.get("/media/poster/w342/poster603.jpg")
    assert resp.status_code == 200 and resp.mimetype == "image/png" and "max-age" in resp.headers["Cache-Control"]
    assert ovs.images_served == [("w342", "poster603.jpg")]
    assert alice_client.get("/media/poster/w342/nothing1.jpg").status_code == 404


@pytest.mark.parametrize("url", ["/media/poster/original/poster603.jpg", "/media/poster/w342/..%2Fsecret.jpg",
                                 "/media/poster/w342/poster603.exe", "/media/poster/w342/a%3Fb.jpg"])
def test_poster_proxy_refuses_anything_but_tmdb_poster_files(alice_client, app, ovs, url):
    app.config["MEDIANEST_TMDB_IMAGE_URL"] = ovs.url
    assert alice_client.get(url).status_code == 404 and ovs.images_served == []


def test_discover_query_count_is_bounded(app, alice_client, ovs):
    from medianest.extensions import db
    from tests.support import count_queries

    alice_client.get("/media/discover?q=matrix", headers=HX)
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as queries:
        alice_client.get("/media/discover?q=matrix", headers=HX)
    assert len(queries) <= 5  # sign-in (2), Overseerr settings, request states (2)
