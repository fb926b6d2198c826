"""Rate limits with Flask-Limiter: sign-in per IP, password attempts per account, a default per user, a
friendly 429 recorded in rate_limits, X-Forwarded-For trusted only for configured proxy hops, and an app
that keeps serving when Redis is down.

Flask-Limiter's Limiter is one object shared by every app built in a process, and the last app built
decides whether it is on: each test builds its rate-limited app last.
"""
from __future__ import annotations

import logging

import pytest

from medianest.extensions import db, limiter
from medianest.models import RateLimit
from tests.conftest import HX, TEST_REDIS_URL
from tests.fakes.base import free_port
from tests.factories import make_user

PASSWORD = "Sturdy-pass-42"


@pytest.fixture
def limited(make_app, admin):
    """Build an app with rate limits on (after every other app of the test)."""

    def build(**overrides):
        overrides.setdefault("RATELIMIT_STORAGE_URI", TEST_REDIS_URL or "memory://")
        return make_app(RATELIMIT_ENABLED=True, **overrides)

    yield build
    limiter._storage_dead = False  # a Redis-down test must not leave the shared Limiter on its fallback


def breaches(app):
    with app.app_context():
        return [(r.user_id, r.endpoint, r.request_count) for r in
                db.session.scalars(db.select(RateLimit).order_by(RateLimit.id))]


def wrong_login(client, email="admin@example.com", **kw):
    return client.post("/auth/login", data={"email": email, "password": "wrong password 1"}, **kw)


def test_sign_in_is_limited_per_ip_with_a_friendly_429_that_is_recorded(limited):
    app = limited()
    client = app.test_client()
    for n in range(10):
        assert wrong_login(client, email=f"nobody{n}@example.com").status_code == 422
    resp = wrong_login(client, email="someone@example.com")
    assert resp.status_code == 429
    assert b"<html" in resp.data and b"Too many requests. Wait" in resp.data
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    (row,) = breaches(app)
    assert row == ("127.0.0.1", "auth.login", 11)
    with app.app_context():
        window_start = db.session.scalar(db.select(RateLimit.window_start))
    assert window_start is not None
    frag = wrong_login(client, headers=HX)
    assert frag.status_code == 429 and frag.headers["HX-Reswap"] == "none"
    assert b'id="flash"' in frag.data and b'hx-swap-oob="true"' in frag.data and b"<html" not in frag.data
    assert breaches(app) == [("127.0.0.1", "auth.login", 12)]  # the same window: one row, counted up


def test_a_spoofed_x_forwarded_for_is_ignored_without_trusted_proxies(limited):
    app = limited()
    client = app.test_client()
    codes = [wrong_login(client, email=f"n{n}@example.com", headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
             for n in range(11)]
    assert codes == [422] * 10 + [429]
    assert breaches(app)[0][0] == "127.0.0.1"


def test_with_one_trusted_proxy_the_forwarded_address_counts(limited):
    app = limited(MEDIANEST_TRUSTED_PROXIES=1)
    client = app.test_client()
    codes = [wrong_login(client, email=f"n{n}@example.com", headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
             for n in range(11)]
    assert 429 not in codes  # eleven different clients behind the proxy
    same = [wrong_login(client, email=f"m{n}@example.com", headers={"X-Forwarded-For": "6.6.6.6, 10.9.9.9"}).status_code
            for n in range(11)]
    assert same[-1] == 429 and breaches(app)[0][0] == "10.9.9.9"


def test_password_attempts_are_limited_per_account(limited):
    # Issue 10 item 10: ten failures from ten addresses no longer lock the owner out; the account-wide limit
    # is slower (20 per hour) and tests/test_sign_in_lockout.py covers the rest.
    app = limited()
    client = app.test_client()
    for n in range(20):  # from twenty different addresses: the per-IP limit never trips
        assert wrong_login(client, environ_base={"REMOTE_ADDR": f"192.0.2.{n}"}).status_code == 422
    resp = client.post("/auth/login", data={"email": "admin@example.com", "password": "correct horse battery 9"},
                       environ_base={"REMOTE_ADDR": "192.0.2.99"})
    assert resp.status_code == 429
    assert breaches(app) == [("account:admin@example.com", "auth.login", 21)]
    other = client.post("/auth/login", data={"email": "viewer@example.com", "password": "wrong password 1"},
                        environ_base={"REMOTE_ADDR": "192.0.2.98"})
    assert other.status_code == 422  # other accounts are not affected


def test_successful_sign_ins_do_not_count_as_password_attempts(limited):
    app = limited()
    for n in range(12):
        client = app.test_client()
        resp = client.post("/auth/login", data={"email": "admin@example.com", "password": "correct horse battery 9"},
                           environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
        assert resp.status_code == 303


def test_the_default_limit_is_per_user(limited, auth, app):
    viewer = make_user(app, email="busy@example.com")
    other = make_user(app, email="calm@example.com")
    limited_app = limited(MEDIANEST_RATELIMIT_DEFAULT="3 per minute")
    auth.app = limited_app
    busy = auth.login_as(viewer, limited_app.test_client())
    calm = auth.login_as(other, limited_app.test_client())
    assert [busy.get("/account/sessions").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert calm.get("/account/sessions").status_code == 200  # same IP, another user
    # An app built with other settings does not inherit this limit.
    relaxed = limited()
    auth.app = relaxed
    other_client = auth.login_as(viewer, relaxed.test_client())
    assert all(other_client.get("/account/sessions").status_code == 200 for _ in range(5))


def test_poll_and_health_endpoints_are_exempt(limited):
    app = limited()
    client = app.test_client()
    assert "X-RateLimit-Limit" in client.get("/auth/login").headers
    health = client.get("/health")
    assert health.status_code == 200 and "X-RateLimit-Limit" not in health.headers


def test_when_redis_is_down_the_app_keeps_serving_and_says_so(limited, caplog):
    caplog.set_level(logging.INFO)
    app = limited(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    assert client.get("/auth/login").status_code == 200
    codes = [wrong_login(client, email=f"n{n}@example.com").status_code for n in range(11)]
    assert codes == [422] * 10 + [429]  # limits still apply, from memory
    assert "Rate limit storage unreachable - falling back to in-memory storage" in caplog.text
