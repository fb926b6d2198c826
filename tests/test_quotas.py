"""Request quotas: N films and M seasons per D days, admin defaults and per-user overrides, admins exempt."""
from __future__ import annotations

from datetime import timedelta

import pytest

from medianest.services import ServiceError, quotas
from medianest.services import requests as request_service
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_request
from tests.requests_support import ovs, people  # noqa: F401  (fixtures)


def test_no_limits_until_an_admin_sets_them(ctx, ovs, people):
    alice = people[0]
    summary = quotas.summary(alice.id)
    assert summary.movies.unlimited and summary.line("movie") == "No limit on films."
    assert quotas.defaults() == quotas.Limits(0, 0, 7)


def test_film_quota_counts_what_users_expect(ctx, ovs, people, admin):
    alice = people[0]
    quotas.set_defaults(2, 5, 7)
    assert quotas.summary(alice.id).line("movie") == "2 of 2 films left this week."
    request_service.submit(alice.id, "movie", 603)
    assert quotas.summary(alice.id).line("movie") == "1 of 2 films left this week."
    declined = request_service.submit(alice.id, "movie", 604).request
    with pytest.raises(ServiceError) as err:
        request_service.submit(alice.id, "movie", 605)
    assert err.value.status == 429 and "used your 2 films this week" in err.value.message
    assert "frees up on" in err.value.message
    request_service.decline(declined.id, admin.id, "no")  # declined requests do not count
    assert quotas.summary(alice.id).line("movie") == "1 of 2 films left this week."
    request_service.submit(alice.id, "movie", 605)


def test_failed_forwards_and_old_requests_do_not_count(ctx, ovs, people):
    alice = people[0]
    quotas.set_defaults(1, 0, 7)
    make_request(ctx, alice, status="failed", forward_state="failed")
    make_request(ctx, alice, created_at=utcnow() - timedelta(days=8))
    assert quotas.summary(alice.id).movies.used == 0
    make_request(ctx, alice, media_type="tv", seasons=[1, 2])  # series count against seasons, not films
    assert quotas.summary(alice.id).movies.used == 0 and quotas.summary(alice.id).seasons.used == 2


def test_season_quota(ctx, ovs, people):
    alice = people[0]
    quotas.set_defaults(0, 3, 30)
    request_service.submit(alice.id, "tv", 1399, [1, 2])
    assert quotas.summary(alice.id).line("tv") == "1 of 3 seasons left this month."
    with pytest.raises(ServiceError, match="That is 2 seasons, but you have 1 of 3 left this month"):
        request_service.submit(alice.id, "tv", 1396, [1, 2])
    request_service.submit(alice.id, "tv", 1396, [1])
    with pytest.raises(ServiceError, match="used your 3 seasons"):
        request_service.submit(alice.id, "tv", 2316, [1])
    request_service.submit(alice.id, "movie", 603)  # films are not limited


def test_per_user_override_and_admins_are_exempt(ctx, ovs, people, admin):
    alice, bob, _carol = people
    quotas.set_defaults(1, 1, 7)
    quotas.set_override(alice.id, movies=3)
    assert quotas.limits_for(alice.id) == quotas.Limits(3, 1, 7)
    assert quotas.limits_for(bob.id) == quotas.Limits(1, 1, 7)
    for tmdb in (603, 604, 605):
        request_service.submit(alice.id, "movie", tmdb)
    quotas.set_override(alice.id)  # all blank: back to the defaults
    assert quotas.override_for(alice.id) is None
    summary = quotas.summary(admin.id)
    assert summary.exempt and summary.line("movie") == "Admins have no request limit."
    for tmdb in (27205, 194):
        request_service.submit(admin.id, "movie", tmdb)


@pytest.mark.parametrize(("values", "message"), [
    (("-1", "0", "7"), "Films must be between 0 and 10000"),
    (("a", "0", "7"), "Films must be a whole number"),
    (("1", "1", "0"), "Days must be between 1 and 365"),
    (("1", "1", "9999"), "Days must be between 1 and 365"),
    (("1", "", "7"), "Seasons must be a whole number"),
])
def test_bad_quota_values(ctx, ovs, values, message):
    with pytest.raises(ServiceError, match=message):
        quotas.set_defaults(*values)


def test_defaults_need_overseerr(ctx):
    with pytest.raises(ServiceError, match="Connect Overseerr first"):
        quotas.set_defaults(1, 1, 7)


def test_quota_line_is_shown_before_requesting(app, auth, ovs, people):
    alice = people[0]
    with app.app_context():
        quotas.set_defaults(5, 10, 7)
        request_service.submit(alice.id, "movie", 603)
        request_service.submit(alice.id, "movie", 604)
    client = auth.login_as(alice)
    assert b"3 of 5 films left this week." in client.get("/media/movie/605").data
    assert b"10 of 10 seasons left this week." in client.get("/media/tv/1399").data


def test_over_quota_over_http_is_a_clear_422(app, auth, ovs, people):
    alice = people[0]
    with app.app_context():
        quotas.set_defaults(1, 1, 1)
        request_service.submit(alice.id, "movie", 603)
    resp = auth.login_as(alice).post("/requests/", data={"media_type": "movie", "tmdb_id": "604"}, headers=HX)
    assert resp.status_code == 422 and b"You have used your 1 films today." in resp.data


def test_admin_sets_defaults_and_overrides_over_http(app, auth, ovs, people, admin):
    client = auth.login_as(admin)
    resp = client.post("/admin/requests/quotas", data={"movies": "4", "seasons": "8", "days": "14"}, headers=HX)
    assert resp.status_code == 200 and b'id="request-quotas"' in resp.data and b"Quota defaults saved" in resp.data
    bad = client.post("/admin/requests/quotas", data={"movies": "x", "seasons": "8", "days": "14"}, headers=HX)
    assert bad.status_code == 422 and b"Films must be a whole number" in bad.data
    resp = client.post("/admin/requests/quotas/user", data={"email": "alice@example.com", "movies": "9"}, headers=HX)
    assert resp.status_code == 200 and b"alice@example.com" in resp.data
    unknown = client.post("/admin/requests/quotas/user", data={"email": "nobody@example.com"}, headers=HX)
    assert unknown.status_code == 422 and b"no user with that email" in unknown.data
    with app.app_context():
        assert quotas.limits_for(people[0].id) == quotas.Limits(9, 8, 14)
    client.post("/admin/requests/quotas/user", data={"email": "alice@example.com", "clear": "1"}, headers=HX)
    with app.app_context():
        assert quotas.limits_for(people[0].id) == quotas.Limits(4, 8, 14)
    plain = client.post("/admin/requests/quotas", data={"movies": "1", "seasons": "1", "days": "7"})
    assert plain.status_code == 303 and plain.headers["Location"] == "/admin/requests"


def test_users_cannot_set_quotas(app, auth, ovs, people):
    client = auth.login_as(people[0])
    assert client.post("/admin/requests/quotas", data={"movies": "99", "seasons": "99", "days": "1"}).status_code == 404
    with app.app_context():
        assert quotas.defaults().movies == 0


def test_quota_cli(app, runner, ovs, people):
    result = runner.invoke(args=["requests", "quota", "--movies", "3", "--days", "7"])
    assert result.exit_code == 0 and "defaults: 3 films, no limit seasons per 7 days" in result.output
    result = runner.invoke(args=["requests", "quota", "--user", "alice@example.com", "--seasons", "2"])
    assert result.exit_code == 0 and "alice@example.com: 3 films, 2 seasons per 7 days" in result.output
    result = runner.invoke(args=["requests", "quota", "--user", "alice@example.com", "--clear"])
    assert "alice@example.com: 3 films, no limit seasons" in result.output
    assert runner.invoke(args=["requests", "quota", "--user", "x@example.com"]).exit_code == 1
    assert runner.invoke(args=["requests", "quota"]).exit_code == 0
