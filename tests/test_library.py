"""The Plex library pages and the image proxy, against the fake Plex Media Server over HTTP."""
from __future__ import annotations

import pytest

from tests.conftest import HX
from tests.fakes.plex import ADMIN_TOKEN
from tests.requests_support import connect_plex


@pytest.fixture
def plex(app, fake_plex):
    connect_plex(app, fake_plex)
    return fake_plex


@pytest.fixture
def viewer(auth, user):
    return auth.login_as(user)


def test_library_needs_sign_in(client, admin):
    assert client.get("/media/").status_code == 303
    resp = client.get("/media/", headers=HX)
    assert resp.status_code == 401 and "/auth/login" in resp.headers["HX-Redirect"]


def test_library_page_and_fragment(viewer, plex):
    page = viewer.get("/media/")
    assert page.status_code == 200 and b"<html" in page.data
    assert b"Recently added" in page.data and b"Spirited Away" in page.data and b"Hello, Ms. Cobel" in page.data
    assert b"Severance \xc2\xb7 Season 2" in page.data  # an episode says which show and season
    for title in (b"Movies", b"TV Shows", b"YouTube"):
        assert title in page.data
    assert b'href="/media/sections/1"' in page.data
    assert "HX-Request" in page.headers["Vary"]
    fragment = viewer.get("/media/", headers=HX)
    assert b'id="library"' in fragment.data and b"<html" not in fragment.data
    boosted = viewer.get("/media/", headers={**HX, "HX-Boosted": "true"})
    assert b"<html" in boosted.data


def test_posters_go_through_the_proxy_and_the_token_never_reaches_the_page(viewer, plex):
    page = viewer.get("/media/")
    assert b"/media/image?path=/library/metadata/101/thumb/" in page.data
    assert ADMIN_TOKEN.encode() not in page.data and b"X-Plex-Token" not in page.data
    assert plex.url.encode() not in page.data


def test_plex_answers_are_cached_briefly(viewer, plex):
    viewer.get("/media/")
    viewer.get("/media/")
    viewer.get("/media/?q=matrix")
    viewer.get("/media/?q=Matrix")
    assert len(plex.seen("/library/recentlyAdded")) == 1
    assert len(plex.seen("/library/sections")) == 1
    assert len(plex.seen("/hubs/search")) == 1


def test_plex_search(viewer, plex):
    resp = viewer.get("/media/?q=matrix", headers=HX)
    assert resp.status_code == 200 and b"The Matrix" in resp.data and b"Spirited Away" not in resp.data
    none = viewer.get("/media/?q=zzzz", headers=HX)
    assert b"Nothing in Plex matches" in none.data and b"/media/discover?q=zzzz" in none.data


@pytest.mark.parametrize("query", ["Amélie 🎬", "שלום", "a\x00b", "   ", "%", "<script>", "tmdb:603", "' OR 1=1 --"])
def test_odd_searches_never_fail(viewer, plex, query):
    resp = viewer.get("/media/", query_string={"q": query}, headers=HX)
    assert resp.status_code == 200
    assert b"<script>" not in resp.data


def test_too_long_searches_are_refused_without_asking_plex(viewer, plex):
    resp = viewer.get("/media/", query_string={"q": "x" * 500}, headers=HX)
    assert resp.status_code == 200 and b"limited to 200 characters" in resp.data
    assert plex.seen("/hubs/search") == []


def test_titles_from_plex_are_escaped(viewer, plex):
    plex.add_item(1, '<img src=x onerror="alert(1)">Evil', rating_key="666")
    resp = viewer.get("/media/")
    assert b"<img src=x onerror" not in resp.data and b"&lt;img src=x onerror=" in resp.data


def test_section_pages(viewer, plex):
    for n in range(60):
        plex.add_item(1, f"Film {n:02d}")
    first = viewer.get("/media/sections/1")
    assert first.status_code == 200 and b"62 items" in first.data and b"Page 1 of 2" in first.data
    assert b"Film 00" in first.data and b"The Matrix" not in first.data  # sorted by title
    second = viewer.get("/media/sections/1?page=2", headers=HX)
    assert b'id="section-items"' in second.data and b"<html" not in second.data and b"Page 2 of 2" in second.data
    assert b"Film 00" not in second.data and b"Film 59" in second.data and b"The Matrix" in second.data
    shows = viewer.get("/media/sections/2")
    assert b"Severance" in shows.data and b"Hello, Ms. Cobel" not in shows.data  # shows, not episodes


@pytest.mark.parametrize("page", ["-3", "0", "abc", "99999999999999999999"])
def test_section_odd_page_numbers(viewer, plex, page):
    resp = viewer.get(f"/media/sections/1?page={page}")
    assert resp.status_code == 200


def test_unknown_section_is_404(viewer, plex):
    assert viewer.get("/media/sections/99").status_code == 404


def test_image_proxy_adds_the_token_server_side_with_cache_headers(viewer, plex):
    resp = viewer.get("/media/image?path=/library/metadata/101/thumb/1714560000")
    assert resp.status_code == 200 and resp.mimetype == "image/png" and resp.data.startswith(b"\x89PNG")
    assert "private" in resp.headers["Cache-Control"] and "max-age=86400" in resp.headers["Cache-Control"]
    fetched = plex.seen("/library/metadata/101/thumb")[-1]
    assert fetched.headers.get("X-Plex-Token") == ADMIN_TOKEN and "X-Plex-Token" not in fetched.args
    resized = viewer.get("/media/image?path=/library/metadata/101/thumb/1714560000&w=280")
    assert resized.status_code == 200 and plex.seen("/photo/:/transcode")[-1].args["width"] == "300"


@pytest.mark.parametrize("path", [
    "http://169.254.169.254/latest/meta-data", "//evil.example/x.png", "/library/sections", "/library/metadata/101",
    "/library/metadata/101/thumb/../../../identity", "/:/prefs", "", "/library/metadata/abc/thumb",
])
def test_image_proxy_only_fetches_plex_image_paths(viewer, plex, path):
    assert viewer.get("/media/image", query_string={"path": path}).status_code == 404
    assert plex.seen("/library") == [] and plex.seen("/:") == [] and plex.seen("/identity") == []


def test_image_proxy_for_an_unknown_item_and_when_plex_is_away(viewer, plex):
    assert viewer.get("/media/image?path=/library/metadata/424242/thumb/1").status_code == 404
    plex.go_down()
    assert viewer.get("/media/image?path=/library/metadata/101/thumb/1").status_code == 502


def test_image_proxy_needs_sign_in(client, admin, plex):
    assert client.get("/media/image?path=/library/metadata/101/thumb/1").status_code == 303


def test_library_without_plex_or_with_plex_down(viewer, fake_plex, app):
    resp = viewer.get("/media/")
    assert resp.status_code == 200 and b"Plex is not connected yet" in resp.data
    assert viewer.get("/media/image?path=/library/metadata/101/thumb/1").status_code == 404
    connect_plex(app, fake_plex)
    fake_plex.go_down()
    resp = viewer.get("/media/")
    assert resp.status_code == 200 and b"can&#39;t be reached" in resp.data
    assert viewer.get("/media/sections/1").status_code in (404, 502)


def test_library_query_count_is_small(viewer, plex, app):
    from medianest.extensions import db
    from tests.support import count_queries

    viewer.get("/media/")  # fill the cache
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as queries:
        viewer.get("/media/", headers=HX)
    assert len(queries) <= 4  # sign-in lookups and the Plex connection settings; Plex itself is cached
