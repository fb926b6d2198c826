"""Flat at scale: each admin and user page's latency with 2,000 requests and 2,000 metric rows (beside the
household, in the bench database) against 200,000 requests (50 users) and 1,000,000 metric rows (in a second
database, `<bench database>_scale`, served by a second gunicorn with the same settings); printed as ratios.

Rows are seeded with generate_series; metric rollups are brought up to date as the worker's periodic task
does. Each page is requested from the small and the large server in turn (one keep-alive connection each),
and the medians compared. Every request is a hard reload (Cache-Control: no-cache), so pages are rendered, not
served from a kept render; the metrics charts are read from a cold cache (their cache key deleted before every
request)."""
from __future__ import annotations

import logging
import math
import statistics
import time

import redis
import requests
from sqlalchemy import text

USERS = 50
SMALL = {"requests": 2_000, "metrics": 2_000, "metric_days": 30}
LARGE = {"requests": 200_000, "metrics": 1_000_000, "metric_days": 90}
SERVICES = ("plex", "overseerr", "uptime-kuma", "youtube")

SEED_USERS = """
INSERT INTO users (email, name, role, password_hash)
SELECT 'bench' || g || '@example.com', 'Bench user ' || g, 'USER', :digest
FROM generate_series(1, CAST(:users AS integer)) AS g
"""
# Row g belongs to bench(1 + g % 50), created g minutes ago; a third are series; statuses cycle.
SEED_REQUESTS = """
INSERT INTO media_requests (user_id, title, media_type, tmdb_id, status, overseerr_id, forward_state, created_at,
                            seasons, year)
SELECT u.id, 'Title ' || g, CASE WHEN g % 3 = 0 THEN 'tv' ELSE 'movie' END, (1000000 + g)::text,
       (ARRAY['pending', 'approved', 'downloading', 'completed', 'denied', 'failed'])[1 + g % 6], g::text, 'sent',
       timezone('utc', now()) - make_interval(mins => g), CASE WHEN g % 3 = 0 THEN '[1, 2]'::jsonb END, 1950 + g % 75
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g
JOIN users AS u ON u.email = 'bench' || (1 + g % CAST(:users AS integer)) || '@example.com'
"""
SEED_METRICS = """
INSERT INTO service_metrics (service_name, metric_name, metric_value, timestamp, metadata)
SELECT s.name, m.name,
       CASE WHEN m.name = 'up' THEN (CASE WHEN g % 97 = 0 THEN 0 ELSE 1 END) ELSE 40 + (g * 7919) % 400 END,
       timezone('utc', now()) - make_interval(secs => g * CAST(:step AS double precision)),
       CASE WHEN m.name = 'up' AND g % 97 = 0 THEN '{"status": "offline", "reason": "bench"}'::jsonb END
FROM generate_series(1, CAST(:checks AS integer)) AS g
CROSS JOIN (VALUES ('plex'), ('overseerr'), ('uptime-kuma'), ('youtube')) AS s(name)
CROSS JOIN (VALUES ('up'), ('response_time_ms')) AS m(name)
"""


def pages(last_page: int) -> list[tuple[str, str, str, bool]]:
    """(label, who, path, cold metrics cache)."""
    return [
        ("Dashboard", "user", "/", False),
        ("My requests", "user", "/requests/", False),
        ("My requests, last page", "user", f"/requests/?page={last_page}", False),
        ("My requests, completed by title", "user", "/requests/?status=completed&sort=title", False),
        ("Admin requests", "admin", "/admin/requests", False),
        ("Admin requests, page 40", "admin", "/admin/requests?page=40", False),
        ("Admin requests, pending series", "admin", "/admin/requests?status=pending&type=tv", False),
        ("Admin requests, by user", "admin", "/admin/requests?user=bench7%40", False),
        ("Admin users", "admin", "/admin/users", False),
        ("Metrics 7 d, cold cache", "admin", "/admin/metrics?window=7d", True),
        ("Metrics 30 d, cold cache", "admin", "/admin/metrics?window=30d", True),
    ]


def _seed_metrics(app, rows: int, days: int) -> None:
    from medianest.extensions import db
    from medianest.services import metric_rollups

    checks = rows // (len(SERVICES) * 2)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE service_metrics, service_metrics_hourly, service_metrics_daily"))
            conn.execute(text(SEED_METRICS), {"checks": checks, "step": days * 86400 / checks})
        metric_rollups.rollup()  # what the worker's periodic task keeps doing
        db.session.remove()


def _seed(app, sizes: dict, *, admin: bool) -> None:
    """Bench users (and an admin), requests and metric rows, then VACUUM ANALYZE as autovacuum would."""
    from medianest.extensions import db
    from tests.benchmarks.stack import PASSWORD
    from tests.factories import password_hash

    digest = password_hash(PASSWORD)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text(SEED_USERS), {"users": USERS, "digest": digest})
            if admin:
                conn.execute(text("INSERT INTO users (email, name, role, password_hash) "
                                  "VALUES ('admin@bench.example', 'Admin', 'ADMIN', :digest)"), {"digest": digest})
            conn.execute(text(SEED_REQUESTS), {"first": 1, "last": sizes["requests"], "users": USERS})
        db.session.remove()
    _seed_metrics(app, sizes["metrics"], sizes["metric_days"])
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        db.session.remove()
        db.engine.dispose()


def _get(session: requests.Session, url: str, cold: redis.Redis | None) -> float:
    if cold is not None:
        for key in cold.scan_iter("medianest:cache:metrics:series:*"):
            cold.delete(key)
    started = time.perf_counter()
    resp = session.get(url, timeout=60, allow_redirects=False)
    elapsed = (time.perf_counter() - started) * 1000
    if resp.status_code != 200:
        raise SystemExit(f"{url}: {resp.status_code}")
    return elapsed


class Side:
    """One server (small or large database) with signed-in sessions and its Redis for cold-cache runs."""

    def __init__(self, stack, base: str, redis_url: str, last_page: int):
        self.base, self.last_page = base, last_page
        self.redis = redis.Redis.from_url(redis_url)
        self.sessions = {}
        for who, email in (("user", "bench1@example.com"), ("admin", "admin@bench.example")):
            self.sessions[who] = requests.Session()
            self.sessions[who].headers["Cookie"] = stack.sign_in(base, email)
            # As a hard reload: rendered anew each time (a kept render of an unchanged page would hide the queries).
            self.sessions[who].headers["Cache-Control"] = "no-cache"


def run(stack, base: str, *, quick: bool) -> None:
    """Small rows in the stack's database (beside the household), large ones in a second database served by a
    second gunicorn; each page is requested from both in turn, so the machine's drift hits both alike."""
    from tests.benchmarks.stack import prepare_database

    n = 7 if quick else 21
    large = {k: v // 10 if quick and k != "metric_days" else v for k, v in LARGE.items()}
    started = time.perf_counter()
    _seed(stack.app(), SMALL, admin=False)
    database = stack.database_url.rsplit("/", 1)[0] + "/" + stack.database_url.rsplit("/", 1)[1] + "_scale"
    redis_url = stack.redis_url.rsplit("/", 1)[0] + "/" + str(int(stack.redis_url.rsplit("/", 1)[1]) - 1)
    prepare_database(database)
    redis.Redis.from_url(redis_url).flushdb()
    app = stack.other_app(database, redis_url)
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        from flask_migrate import upgrade

        from tests.benchmarks.stack import ROOT

        upgrade(directory=str(ROOT / "migrations"))
    with app.app_context():  # the same services, checked once, so both dashboards show the same panel
        from medianest.services import health

        stack.configure_services()
        health.run_round()
    _seed(app, large, admin=True)
    print(f"  seeded {large['requests']:,} requests and {large['metrics']:,} metric rows (with rollups) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    large_url, _proc = stack.start_web(log="web-scale.log", env={"DATABASE_URL": database, "REDIS_URL": redis_url})
    sides = (Side(stack, base, stack.redis_url, math.ceil(SMALL["requests"] / USERS / 20)),
             Side(stack, large_url, redis_url, math.ceil(large["requests"] / USERS / 20)))
    print(f"  {'page (median of ' + str(n) + ' GETs, alternating)':<44} {SMALL['requests']:>7,} rows  "
          f"{large['requests']:>9,} rows  ratio", flush=True)
    small_pages, large_pages = pages(sides[0].last_page), pages(sides[1].last_page)
    for (label, who, small_path, cold), (_l, _w, large_path, _c) in zip(small_pages, large_pages, strict=True):
        times: tuple[list[float], list[float]] = ([], [])
        for i in range(n + 3):
            for side, path, found in ((sides[0], small_path, times[0]), (sides[1], large_path, times[1])):
                elapsed = _get(side.sessions[who], side.base + path, side.redis if cold else None)
                if i >= 3:  # warm-up
                    found.append(elapsed)
        small_ms, large_ms = statistics.median(times[0]), statistics.median(times[1])
        print(f"  {label:<44} {small_ms:8.1f} ms  {large_ms:9.1f} ms  {large_ms / small_ms:5.2f}x", flush=True)
