"""Abuse an operator notices (issue 10, items 11-12): token-less POSTs meet the rate limits before CSRF, client
errors are counted per address and minute instead of a row each, and no part of a secret survives into an
error text, the admin pages or the error log, even when an outside service echoes it in a long answer."""
from __future__ import annotations

import json

import pytest

from medianest.extensions import db, limiter
from medianest.models import ErrorLog, MediaRequest
from tests.conftest import HX, TEST_REDIS_URL
from tests.fakes.overseerr import API_KEY
from tests.requests_support import connect_overseerr, ovs, people  # noqa: F401  (fixtures)


@pytest.fixture
def guarded(make_app, admin):
    """An app with rate limits and CSRF on, built after every other app of the test."""

    def build(**overrides):
        overrides.setdefault("RATELIMIT_STORAGE_URI", TEST_REDIS_URL or "memory://")
        return make_app(RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=True, **overrides)

    yield build
    limiter._storage_dead = False


def client_error_rows(app):
    with app.app_context():
        return [(r.status_code, r.error_code, r.meta.get("address"), r.meta.get("count"))
                for r in db.session.scalars(db.select(ErrorLog).where(ErrorLog.status_code < 500))]


def _total(rows, status):
    return sum(count for code, _, _, count in rows if code == status)


# -- 11. limits before CSRF; client errors counted ----------------------------------------------------------
def test_token_less_sign_in_posts_are_rate_limited_and_counted_not_logged_one_by_one(guarded):
    app = guarded()
    client = app.test_client()
    codes = [client.post("/auth/login", data={"email": "admin@example.com", "password": "x"}).status_code
             for _ in range(30)]
    assert codes[:10] == [400] * 10 and set(codes[10:]) == {429}  # the per-address sign-in limit holds
    rows = client_error_rows(app)
    assert len(rows) <= 4  # one row per status and minute (a minute may turn during the test)
    assert _total(rows, 400) == 10 and _total(rows, 429) == 20
    assert {address for _, _, address, _ in rows} == {"127.0.0.1"}
    assert {code for status, code, _, _ in rows if status == 400} == {"csrf_failed"}


def test_the_default_limit_applies_to_token_less_posts_anywhere(guarded):
    app = guarded(MEDIANEST_RATELIMIT_DEFAULT="5 per minute")
    client = app.test_client()
    codes = [client.post("/notifications/read-all").status_code for _ in range(8)]
    assert codes[:5] == [400] * 5 and set(codes[5:]) == {429}


def test_oversized_bodies_are_counted_per_address(guarded):
    app = guarded()
    big = "x" * (2 * 1024 * 1024 + 10)
    for addr in ("192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2"):
        resp = app.test_client().post("/auth/login", data={"email": "a@example.com", "password": big},
                                      environ_base={"REMOTE_ADDR": addr})
        assert resp.status_code == 413
    rows = [r for r in client_error_rows(app) if r[0] == 413]
    per_address = {}
    for _, _, address, count in rows:
        per_address[address] = per_address.get(address, 0) + count
    assert per_address == {"192.0.2.1": 3, "192.0.2.2": 1}


def test_a_404_flood_is_one_counted_row(auth, admin, app):
    client = auth.login_as(admin)
    for n in range(25):
        assert client.get(f"/no/such/page/{n}").status_code == 404
    rows = client_error_rows(app)
    assert len(rows) <= 2 and _total(rows, 404) == 25


# -- 12. secrets scrubbed before any cut ---------------------------------------------------------------------
def _echo(padding: int) -> bytes:
    """An Overseerr error that echoes our request headers, the key landing across the 200-character cut."""
    return json.dumps({"message": "x" * padding + f" X-Api-Key={API_KEY} and raw {API_KEY} end"}).encode()


@pytest.mark.parametrize("padding", [170, 180, 186, 190, 195])
def test_an_echoed_api_key_never_survives_the_cut(app, ovs, padding):
    from medianest.clients.base import BadResponse
    from medianest.clients.overseerr import OverseerrClient

    ovs.override("/api/v1/request/7", _echo(padding), status=500, content_type="application/json")
    with pytest.raises(BadResponse) as caught:
        OverseerrClient(ovs.url, API_KEY).get_request(7)
    message = caught.value.message
    assert API_KEY[:4] not in message  # not even a prefix of the key is left by the cut


def test_an_echoed_key_reaches_neither_the_request_row_nor_the_admin_page(app, auth, admin, people, ovs):
    alice = auth.login_as(people[0])
    ovs.override("/api/v1/request", _echo(186), status=500, content_type="application/json")
    alice.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    with app.app_context():
        row = db.session.scalar(db.select(MediaRequest))
        assert row.forward_error and "Overseerr had a problem" in row.forward_error
        assert API_KEY[:6] not in row.forward_error
    page = auth.login_as(admin, app.test_client()).get("/admin/requests").get_data(as_text=True)
    assert API_KEY[:6] not in page


def test_a_server_errors_log_row_has_no_secret_in_message_or_trace(make_app, fake_overseerr, auth, admin):
    app = make_app()
    connect_overseerr(app, fake_overseerr)

    def boom():
        raise RuntimeError("x" * 1990 + f" X-Api-Key={API_KEY}; the raw key {API_KEY} too")

    app.add_url_rule("/boom", "boom", boom)
    client = auth.login_as(admin, app.test_client())
    assert client.get("/boom").status_code == 500
    with app.app_context():
        row = db.session.scalar(db.select(ErrorLog).where(ErrorLog.status_code == 500))
    assert API_KEY[:6] not in row.error_message and API_KEY[:6] not in row.stack_trace
    assert "[redacted]" in row.stack_trace and "Traceback" in row.stack_trace and "\n" in row.stack_trace
