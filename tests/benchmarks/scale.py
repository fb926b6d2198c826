"""Flat at scale: each admin and user page's latency with 2,000 requests and 2,000 metric rows, then with
200,000 requests (50 users) and 1,000,000 metric rows, through the same gunicorn; printed as ratios.

Rows are seeded with generate_series in the bench database; metric rollups are brought up to date as the
worker's periodic task does. Latency is the median of sequential requests on one keep-alive connection; the
metrics charts are read from a cold cache (their cache key deleted before every request)."""
from __future__ import annotations

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
SELECT 'bench' || g || '@example.com', 'Bench user ' || g, 'USER', :digest FROM generate_series(1, :users) AS g
"""
# Row g belongs to bench(1 + g % 50), created g minutes ago; a third are series; statuses cycle.
SEED_REQUESTS = """
INSERT INTO media_requests (user_id, title, media_type, tmdb_id, status, overseerr_id, forward_state, created_at,
                            seasons, year)
SELECT u.id, 'Title ' || g, CASE WHEN g % 3 = 0 THEN 'tv' ELSE 'movie' END, (1000000 + g)::text,
       (ARRAY['pending', 'approved', 'downloading', 'completed', 'denied', 'failed'])[1 + g % 6], g::text, 'sent',
       timezone('utc', now()) - make_interval(mins => g), CASE WHEN g % 3 = 0 THEN '[1, 2]'::jsonb END, 1950 + g % 75
FROM generate_series(:first, :last) AS g
JOIN users AS u ON u.email = 'bench' || (1 + g % :users) || '@example.com'
"""
SEED_METRICS = """
INSERT INTO service_metrics (service_name, metric_name, metric_value, timestamp, metadata)
SELECT s.name, m.name,
       CASE WHEN m.name = 'up' THEN (CASE WHEN g % 97 = 0 THEN 0 ELSE 1 END) ELSE 40 + (g * 7919) % 400 END,
       timezone('utc', now()) - make_interval(secs => g * :step),
       CASE WHEN m.name = 'up' AND g % 97 = 0 THEN '{"status": "offline", "reason": "bench"}'::jsonb END
FROM generate_series(1, :checks) AS g
CROSS JOIN (VALUES ('plex'), ('overseerr'), ('uptime-kuma'), ('youtube')) AS s(name)
CROSS JOIN (VALUES ('up'), ('response_time_ms')) AS m(name)
"""


def pages(last_page: int) -> list[tuple[str, str, str, bool]]:
    """(label, who, path, cold metrics cache)."""
    return [
        ("Dashboard", "user", "/", False),
        ("My requests", "user", "/requests/", False),
        (f"My requests, last page ({last_page})", "user", f"/requests/?page={last_page}", False),
        ("My requests, completed by title", "user", "/requests/?status=completed&sort=title", False),
        ("Admin requests", "admin", "/admin/requests", False),
        ("Admin requests, page 40", "admin", "/admin/requests?page=40", False),
        ("Admin requests, pending series", "admin", "/admin/requests?status=pending&type=tv", False),
        ("Admin requests, by user", "admin", "/admin/requests?user=bench7%40", False),
        ("Admin users", "admin", "/admin/users", False),
        ("Metrics 7 d, cold cache", "admin", "/admin/metrics?window=7d", True),
        ("Metrics 30 d, cold cache", "admin", "/admin/metrics?window=30d", True),
    ]


def _seed_metrics(stack, rows: int, days: int) -> float:
    from medianest.extensions import db
    from medianest.services import metric_rollups

    checks = rows // (len(SERVICES) * 2)
    started = time.perf_counter()
    with stack.app().app_context():
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE service_metrics, service_metrics_hourly, service_metrics_daily"))
            conn.execute(text(SEED_METRICS), {"checks": checks, "step": days * 86400 / checks})
        metric_rollups.rollup()  # what the worker's periodic task keeps doing
        db.session.remove()
    return time.perf_counter() - started


def _seed_requests(stack, first: int, last: int) -> None:
    from medianest.extensions import db

    with stack.app().app_context():
        with db.engine.begin() as conn:
            conn.execute(text(SEED_REQUESTS), {"first": first, "last": last, "users": USERS})
        db.session.remove()


def _vacuum(stack) -> None:
    from medianest.extensions import db

    with stack.app().app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        db.session.remove()


def _latency(session: requests.Session, url: str, n: int, cold: redis.Redis | None) -> float:
    times = []
    for i in range(n + 3):
        if cold is not None:
            for key in cold.scan_iter("medianest:cache:metrics:series:*"):
                cold.delete(key)
        started = time.perf_counter()
        resp = session.get(url, timeout=60, allow_redirects=False)
        elapsed = time.perf_counter() - started
        if resp.status_code != 200:
            raise SystemExit(f"{url}: {resp.status_code}")
        if i >= 3:  # warm-up
            times.append(elapsed * 1000)
    return statistics.median(times)


def _measure(base: str, cookies: dict[str, str], last_page: int, n: int, cache: redis.Redis) -> dict[str, float]:
    sessions = {}
    for who, cookie in cookies.items():
        sessions[who] = requests.Session()
        sessions[who].headers["Cookie"] = cookie
    return {label: _latency(sessions[who], base + path, n, cache if cold else None)
            for label, who, path, cold in pages(last_page)}


def run(stack, base: str, *, quick: bool) -> None:
    from medianest.extensions import db
    from tests.factories import password_hash

    from tests.benchmarks.stack import PASSWORD

    n = 7 if quick else 21
    large = {k: v // 10 if quick and k != "metric_days" else v for k, v in LARGE.items()}
    with stack.app().app_context():
        with db.engine.begin() as conn:
            conn.execute(text(SEED_USERS), {"users": USERS, "digest": password_hash(PASSWORD)})
        db.session.remove()
    _seed_requests(stack, 1, SMALL["requests"])
    _seed_metrics(stack, SMALL["metrics"], SMALL["metric_days"])
    _vacuum(stack)
    cookies = {"user": stack.sign_in(base, "bench1@example.com"), "admin": stack.sign_in(base, "admin@bench.example")}
    cache = redis.Redis.from_url(stack.redis_url)
    per_user = SMALL["requests"] // USERS
    small = _measure(base, cookies, math.ceil(per_user / 20), n, cache)

    started = time.perf_counter()
    _seed_requests(stack, SMALL["requests"] + 1, large["requests"])
    seconds = _seed_metrics(stack, large["metrics"], large["metric_days"])
    _vacuum(stack)
    print(f"  seeded {large['requests']:,} requests and {large['metrics']:,} metric rows in "
          f"{time.perf_counter() - started:.0f} s (metrics with rollups {seconds:.1f} s)", flush=True)
    big = _measure(base, cookies, math.ceil(large["requests"] // USERS / 20), n, cache)
    print(f"  {'page (median of ' + str(n) + ' sequential GETs)':<44} {SMALL['requests']:>7,} rows  "
          f"{large['requests']:>9,} rows  ratio", flush=True)
    small_labels = list(small)
    for (label, value), small_label in zip(big.items(), small_labels, strict=True):
        print(f"  {label:<44} {small[small_label]:8.1f} ms  {value:9.1f} ms  {value / small[small_label]:5.2f}x",
              flush=True)
