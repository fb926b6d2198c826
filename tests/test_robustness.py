"""Odd input never makes a 500: every GET route with strange query strings, every POST route with missing,
huge, Unicode, NUL or JSON bodies, odd headers, and odd webhook payloads. Signed in as an admin, so every
route is reachable; Plex and Overseerr are the fakes. On PostgreSQL this also covers what SQLite lets pass
(NUL characters, integers too large for a column)."""
from __future__ import annotations

import uuid

import pytest

from medianest.extensions import db
from medianest.models import User
from tests.conftest import HX
from tests.requests_support import WEBHOOK_SECRET
from tests.security_support import ROUTES, fresh_client, route_params, url_for_route, world  # noqa: F401

HUGE = "9" * 30
LONG = "x" * 10_000
UNICODE = "日本語 🎬 ünï\u202ecode \u0301"
ODD_QUERIES = {
    "negative": {"page": "-1", "status": "-1", "w": "-300", "attempt": "-5", "pin": "-1"},
    "huge": {"page": HUGE, "status": HUGE, "w": HUGE, "attempt": HUGE, "pin": HUGE, "window": HUGE},
    "not numbers": {"page": "abc", "status": "1e5", "w": "0x10", "pin": "NaN", "show": "[]"},
    "long": {"q": LONG, "user": LONG, "code": LONG, "correlation": LONG, "status": LONG, "type": LONG, "sort": LONG,
             "path": LONG, "next": "/" + LONG, "service": LONG, "window": LONG},
    "unicode": {"q": UNICODE, "user": UNICODE, "status": UNICODE, "sort": UNICODE, "path": UNICODE, "next": UNICODE},
    "dates": {"from": "9999-12-31", "to": "9999-12-31"},
    "bad dates": {"from": "0000-00-00", "to": "2024-02-30", "since": "yesterday"},
    "nul": {"q": "a\x00b", "user": "\x00", "code": "\x00", "page": "1\x00"},
    "repeated": {"page": ["1", "2"], "q": ["a", "b"], "status": ["pending", "bogus"]},
}
GET_ROUTES = [r for r in ROUTES if "GET" in r.methods and r.endpoint != "static"]
POST_ROUTES = [r for r in ROUTES if "POST" in r.methods and r.endpoint != "webhooks.overseerr"]
FIELDS = ("email", "password", "remember", "name", "confirm", "current_password", "new_password", "confirm_password",
          "title", "message", "type", "role", "media_type", "tmdb_id", "seasons", "all_seasons", "reason", "movies",
          "days", "clear", "url", "quality", "container", "next", "status", "service", "incident_type", "severity",
          "description", "note", "plex-remember", "plex-url", "plex-secret", "plex-library_section", "plex-path_map",
          "overseerr-url", "overseerr-secret", "overseerr-webhook_secret", "uptime-kuma-slug",
          "youtube-allowed_hosts", "youtube-max_concurrent", "youtube-quota_gb")


def _bodies():
    return {
        "empty": {},
        "huge numbers": {f: HUGE for f in FIELDS},
        "negative": {f: "-1" for f in FIELDS},
        "long": {f: LONG for f in FIELDS},
        "unicode": {f: UNICODE for f in FIELDS},
        "nul": {f: "a\x00" for f in FIELDS},
        "lists": {f: ["1", "2", "all"] for f in FIELDS},
    }


@pytest.mark.parametrize("route", [pytest.param(r, id=r.rule) for r in GET_ROUTES])
def test_get_routes_survive_odd_query_strings(world, auth, route):
    client = fresh_client(world.app, auth, world.admin)
    for label, query in ODD_QUERIES.items():
        url = url_for_route(world.app, route, world.ids)
        for headers in ({}, HX):
            resp = client.get(url, query_string=query, headers=headers)
            assert resp.status_code < 500, (label, headers, resp.status_code, resp.data[:300])


@pytest.mark.parametrize(("route", "method"), route_params(POST_ROUTES, methods=("POST",)))
def test_post_routes_survive_odd_bodies(world, auth, route, method):
    url = url_for_route(world.app, route, world.ids)
    for label, body in _bodies().items():
        for headers in ({}, HX):
            client = fresh_client(world.app, auth, world.admin)
            resp = client.post(url, data=body, headers=headers)
            assert resp.status_code < 500, (label, headers, resp.status_code, resp.data[:300])
            if label == "nul":
                assert resp.status_code == 400
    client = fresh_client(world.app, auth, world.admin)
    for payload in ({"role": "ADMIN", "title": "x"}, [1, 2], "text", None):
        resp = client.post(url, json=payload, headers=HX)
        assert resp.status_code < 500, (payload, resp.status_code, resp.data[:300])
    resp = client.post(url, data=b"\xff\xfe not utf-8 =&&==", content_type="application/x-www-form-urlencoded")
    assert resp.status_code < 500, resp.data[:300]


@pytest.mark.parametrize("headers", [
    {"HX-Request": "true", "HX-Current-URL": "http://[::1"},
    {"HX-Request": "true", "HX-Current-URL": "\u2603://\u2603"},
    {"HX-Request": "true", "HX-Target": LONG, "HX-Trigger": "\u2603"},
    {"HX-Request": "yes", "HX-Boosted": "maybe", "HX-History-Restore-Request": "1"},
    {"X-Request-ID": "<script>alert(1)</script>"},
    {"X-Request-ID": "a" * 5000},
    {"Accept": "application/json;q=x, text/html;q=-1, */*"},
    {"Accept-Language": "\u2603" * 100},
    {"User-Agent": "\x01\x7f" + LONG},
    {"Cookie": "session=garbage; medianest_remember=" + "z" * 500},
    {"Cookie": "medianest_remember=\u2603"},
    {"X-Forwarded-For": "999.1.1.1, <x>", "X-Forwarded-Proto": "gopher"},
    {"Content-Type": "multipart/form-data; boundary="},
], ids=lambda h: ",".join(h))
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_odd_headers_never_make_a_500(world, auth, headers, signed_in):
    client = fresh_client(world.app, auth, world.viewer) if signed_in else world.app.test_client()
    for url in ("/", "/requests/", "/auth/login", "/notifications/bell", "/media/image?path=/x", "/nowhere"):
        resp = client.get(url, headers=headers)
        assert resp.status_code < 500, (url, resp.status_code, resp.data[:300])
    resp = client.post("/notifications/read-all", headers=headers)
    assert resp.status_code < 500


@pytest.mark.parametrize("payload", [
    [], "text", 42, None, {}, {"notification_type": None}, {"notification_type": "\x00", "request": None},
    {"request": {"request_id": "abc"}}, {"request": {"request_id": 10 ** 40}}, {"request": {"request_id": -1}},
    {"request": {"request_id": "1\x00"}}, {"request": []}, {"media": {"tmdbId": HUGE}}, {"x" * 1000: "y" * 100_000},
])
def test_the_webhook_survives_odd_payloads(world, payload):
    client = world.app.test_client()
    resp = client.post("/webhooks/overseerr", json=payload, headers={"Authorization": WEBHOOK_SECRET})
    assert resp.status_code in (200, 400), (resp.status_code, resp.data[:300])
    assert resp.is_json


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[" * 10_000, b'{"a": ' + b"1" * 5000 + b"}"])
def test_the_webhook_survives_broken_json(world, body):
    resp = world.app.test_client().post("/webhooks/overseerr", data=body, content_type="application/json",
                                        headers={"Authorization": WEBHOOK_SECRET})
    assert resp.status_code in (200, 400) and resp.is_json


def test_an_upload_over_the_size_limit_is_413(world, auth):
    client = fresh_client(world.app, auth, world.admin)
    resp = client.post("/notifications/broadcast", data={"title": "x", "message": "y" * (3 * 1024 * 1024)})
    assert resp.status_code == 413


# -- regressions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", [{"to": "9999-12-31"}, {"from": "9999-12-31", "to": "9999-12-31"},
                                   {"status": HUGE}, {"status": "-500"}, {"status": "404", "to": "9999-12-31"}])
@pytest.mark.parametrize("url", ["/admin/errors", "/admin/requests"])
def test_admin_filters_with_extreme_values(world, auth, url, query):
    client = fresh_client(world.app, auth, world.admin)
    assert client.get(url, query_string=query).status_code == 200
    assert client.get(url, query_string=query, headers=HX).status_code == 200


def test_an_out_of_range_status_filter_filters_nothing(world, auth):
    client = fresh_client(world.app, auth, world.admin)
    page = client.get("/admin/errors", query_string={"status": HUGE}).get_data(as_text=True)
    assert "Boom" in page  # the world's error log is still listed


@pytest.mark.parametrize(("url", "expected"), [
    ("/admin/users?q=%00", b'id="users-table"'), ("/admin/users?q=vie%00wer", b"viewer@example.com"),
    ("/admin/requests?user=%00bob", b"Bobs Private Film"),
    ("/admin/errors?code=Bo%00om&user=%00&correlation=%00", b"Boom"),
    ("/admin/downloads?q=%00&user=%00", b"Bob secret video"), ("/youtube/?q=%00", b"<html"),
    ("/media/?q=a%00b", b"<html"), ("/requests/?status=%00&page=%001", b"<html"),
])
def test_nul_characters_in_query_strings_are_dropped(world, auth, url, expected):
    """On PostgreSQL a NUL inside a query parameter used to fail the query (500)."""
    client = fresh_client(world.app, auth, world.admin)
    resp = client.get(url)
    assert resp.status_code == 200 and expected in resp.data


def test_nul_characters_in_forms_are_refused_before_any_write(world, auth):
    client = fresh_client(world.app, auth, world.admin)
    resp = client.post("/notifications/broadcast", data={"title": "Hello\x00", "message": "x", "type": "info"})
    assert resp.status_code == 400
    resp = client.post("/admin/requests/quotas/user", data={"email": "\x00"}, headers=HX)
    assert resp.status_code == 400
    assert client.get("/notifications/").status_code == 200


def test_a_404_for_an_unknown_uuid_everywhere(world, auth):
    client = fresh_client(world.app, auth, world.admin)
    for url in (f"/admin/users/{uuid.uuid4()}", f"/admin/errors/{uuid.uuid4()}", f"/admin/incidents/{uuid.uuid4()}",
                "/admin/users/not-a-uuid", "/requests/12345", f"/youtube/{uuid.uuid4()}/status"):
        assert client.get(url).status_code == 404, url
    with world.app.app_context():
        assert db.session.get(User, world.admin.id) is not None


@pytest.mark.parametrize("payload", [[1, 2], "text", {"title": "x", "message": "y", "type": "info"}])
def test_json_where_a_form_is_expected_is_415(world, auth, payload):
    client = fresh_client(world.app, auth, world.admin)
    for headers in ({}, HX, {"Accept": "application/json"}):
        resp = client.post("/notifications/broadcast", json=payload, headers=headers)
        assert resp.status_code == 415
    with world.app.app_context():
        from medianest.models import Notification

        assert db.session.scalar(db.select(Notification).where(Notification.user_id.is_(None))) is None


def test_deeply_nested_json_is_a_400_for_the_webhook(world):
    resp = world.app.test_client().post("/webhooks/overseerr", data=b"[" * 100_000, content_type="application/json",
                                        headers={"Authorization": WEBHOOK_SECRET})
    assert resp.status_code == 400 and resp.json["error"] == "bad_payload"
