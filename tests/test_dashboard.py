"""The dashboard: cards per service from the status cache (or the database when cold), never an outside call."""
from __future__ import annotations

import re

from medianest import cache
from medianest.extensions import db
from medianest.services import health, incidents, service_config
from tests.conftest import HX
from tests.test_health import connect, round_now
from tests.support import count_queries


def fragment(client):
    resp = client.get("/", headers=HX)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def card(html: str, service: str) -> str:
    match = re.search(rf'<article class="card service-card" id="service-{service}".*?</article>', html, re.S)
    assert match, f"no card for {service}"
    return match.group(0)


def test_page_and_fragment_from_a_warm_cache(app, client, auth, admin, fake_plex, fake_overseerr, fake_uptime_kuma):
    connect(app, fake_plex, fake_overseerr, fake_uptime_kuma)
    round_now(app)
    auth.login_as(admin)
    page = client.get("/")
    assert page.status_code == 200 and b"<html" in page.data and "HX-Request" in page.headers["Vary"]
    html = page.get_data(as_text=True)
    assert f"Hello, {admin.display_name}" in html and 'id="status-panel"' in html
    assert 'hx-trigger="every 15s"' in html
    frag = fragment(client)
    assert "<html" not in frag and frag.lstrip().startswith('<section id="status-panel"')
    plex = card(frag, "plex")
    assert 'data-status="online"' in plex and "Online" in plex and "100.00%" in plex
    # One round is one point: no line yet (a lone point drew a stray dot), the checks show as ticks.
    assert "Too little history for a line yet." in plex and '<div class="ticks"' in plex
    assert 'class="up"' in plex
    assert 'id="kuma-monitors"' in frag and "NAS" in frag
    assert "style=" not in frag  # CSP: classes and SVG attributes only
    assert re.search(r"<main.*", html, re.S).group(0).count("style=") == 0


def test_no_outside_call_and_no_wait_while_a_service_hangs(app, client, auth, admin, fake_plex, fake_overseerr):
    connect(app, plex=fake_plex, overseerr=fake_overseerr)
    round_now(app)
    auth.login_as(admin)
    fake_plex.hang()
    fake_overseerr.hang()
    seen_plex, seen_overseerr = len(fake_plex.seen()), len(fake_overseerr.seen())
    assert 'data-status="online"' in card(fragment(client), "plex")  # warm cache
    with app.app_context():
        cache.backend().clear()
    cold = fragment(client)  # cold cache: the same cards from the database
    assert 'data-status="online"' in card(cold, "plex")
    if not app.config["REDIS_URL"]:  # with Redis the web serves the status rows alone until the worker refreshes
        assert "Too little history for a line yet." in card(cold, "plex")
    assert client.get("/").status_code == 200
    assert len(fake_plex.seen()) == seen_plex and len(fake_overseerr.seen()) == seen_overseerr


def test_the_dashboard_follows_a_service_going_down(app, client, auth, admin, fake_plex):
    connect(app, plex=fake_plex)
    round_now(app)
    auth.login_as(admin)
    assert 'data-status="online"' in card(fragment(client), "plex")
    fake_plex.go_down()
    round_now(app)
    frag = fragment(client)
    plex = card(frag, "plex")
    assert 'data-status="offline"' in plex and "Cannot connect to Plex Media Server" in plex
    assert 'class="incident-banner' in frag and "1 open incident" in frag
    assert 'class="down"' in plex


def test_users_see_status_but_not_the_technical_reasons(app, client, auth, user, fake_plex):
    connect(app, plex=fake_plex)
    fake_plex.go_down()
    round_now(app)
    auth.login_as(user)
    frag = fragment(client)
    assert 'data-status="offline"' in card(frag, "plex")
    assert "Cannot connect" not in frag and "127.0.0.1" not in frag
    assert "open incident" in frag and "/admin/incidents/" not in frag


def test_query_count_is_bounded_warm_and_cold(app, client, auth, admin, fake_plex, fake_overseerr, fake_uptime_kuma):
    connect(app, fake_plex, fake_overseerr, fake_uptime_kuma)
    for _ in range(3):
        round_now(app)
    with app.app_context():
        incidents.on_check("youtube", "offline", previous=None)
        health.refresh_cache()
        engine = db.engine
        shared = bool(app.config["REDIS_URL"])
    auth.login_as(admin)
    fragment(client)
    with count_queries(engine) as warm:
        fragment(client)
    # Embedded: the session and its user. With Redis the session too comes from the cache: no query at all.
    assert len(warm) <= (0 if shared else 2), warm
    with app.app_context():
        cache.backend().clear()
        if shared:  # another web process has just asked the worker for a fresh snapshot
            cache.add("status:refresh-asked", 1, 30)
    with count_queries(engine) as cold:
        cold_html = fragment(client)
    assert 'data-status="online"' in card(cold_html, "plex")
    if shared:  # the web never rebuilds the snapshot: the status rows alone, no scan of the metrics
        assert len(cold) <= 3 and not any("service_metrics" in q for q in cold), cold
    else:
        assert len(cold) <= 2 + 5, cold
    for _ in range(5):
        round_now(app)
    with app.app_context():
        cache.backend().clear()
        if shared:
            cache.add("status:refresh-asked", 1, 30)
    with count_queries(engine) as cold_more_rows:
        fragment(client)
    assert len(cold_more_rows) == len(cold)


def test_a_stale_snapshot_is_served_while_the_worker_refreshes_it(app, client, auth, admin, fake_plex):
    """With Redis, a cold or stale snapshot is never rebuilt by a web request: the worker is asked, once."""
    with app.app_context():
        if not app.config["REDIS_URL"]:
            return  # the embedded cache lives in the web process; covered above
    connect(app, plex=fake_plex)
    round_now(app)
    auth.login_as(admin)
    with app.app_context():
        snap = cache.get(health.SNAPSHOT_KEY)
        snap["generated_at"] = "2020-01-01T00:00:00"
        snap["services"][0]["reason"] = "served from the stale copy"
        cache.set(health.SNAPSHOT_KEY, snap, 3600)
        cache.add("status:refresh-asked", 1, 30)  # a refresh is on its way: this view must not ask again
    assert "served from the stale copy" in card(fragment(client), "plex")
    with app.app_context():
        cache.delete("status:refresh-asked")
    fresh = card(fragment(client), "plex")  # asks the worker (immediate in tests), still serves the stale copy
    assert "served from the stale copy" in fresh
    with app.app_context():
        assert cache.get(health.SNAPSHOT_KEY)["generated_at"] != "2020-01-01T00:00:00"  # the worker refreshed it
    assert "served from the stale copy" not in card(fragment(client), "plex")


def test_polling_is_exempt_from_rate_limits(make_app, admin, auth):
    app = make_app(RATELIMIT_ENABLED=True, MEDIANEST_RATELIMIT_DEFAULT="3 per minute")
    client = app.test_client()
    auth.app = app
    auth.login_as(admin, client)
    for _ in range(10):
        assert client.get("/", headers=HX).status_code == 200


def test_expired_sign_in_during_a_poll_redirects_the_page(client):
    from tests.factories import make_user

    make_user(client.application, role="ADMIN", email="root@example.com")
    resp = client.get("/", headers=HX | {"HX-Current-URL": "http://localhost/"})
    assert resp.status_code == 401 and "/auth/login" in resp.headers["HX-Redirect"]


def test_outside_data_is_escaped(app, client, auth, admin, fake_uptime_kuma):
    fake_uptime_kuma.add_monitor("<img src=x onerror=alert(1)>", status=0)
    connect(app, kuma=fake_uptime_kuma)
    round_now(app)
    auth.login_as(admin)
    frag = fragment(client)
    assert "<img src=x" not in frag and "&lt;img src=x onerror=alert(1)&gt;" in frag


def test_nothing_to_show_yet(app, client, auth, admin, user):
    with app.app_context():
        service_config.set_enabled("youtube", False)
    auth.login_as(admin)
    frag = fragment(client)
    assert "No services are connected yet" in frag and "/admin/services" in frag
    auth.login_as(user)
    assert "/admin/services" not in fragment(client)


def test_a_service_never_checked_says_so(app, client, auth, admin):
    auth.login_as(admin)
    youtube = card(fragment(client), "youtube")
    assert "Not checked yet" in youtube and "never" in youtube
