"""Metrics with a million service_metrics rows: chart series, uptime, recent checks, the cold dashboard and the
admin metrics page, on PostgreSQL (MEDIANEST_BENCH_DATABASE_URL, default `medianest_bench` on 127.0.0.1,
rebuilt every run) and on the embedded SQLite.

Rows: four services checked about once a minute for 90 days (the metrics retention), two rows per check (up,
response_time_ms): about 1 000 000 in all, 345 000 of them in the 30-day window. Figures are per call, and as ratios to the 24-hour series (the cheapest chart) measured in the same run,
so a query that stops using idx_service_metrics_series shows up as a jump in its ratio.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

ROWS_TARGET = 1_000_000
SERVICES = ("plex", "overseerr", "uptime-kuma", "youtube")
REPEAT = 5
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/medianest_bench"
CHECK_SECONDS = round(90 * 86400 * len(SERVICES) * 2 / ROWS_TARGET)  # ~62 s

SEED_POSTGRESQL = """
INSERT INTO service_metrics (service_name, metric_name, metric_value, timestamp, metadata)
SELECT s.name, m.name,
       CASE WHEN m.name = 'up' THEN (CASE WHEN g % 97 = 0 THEN 0 ELSE 1 END)
            ELSE 40 + (g * 7919) % 400 END,
       timezone('utc', now()) - make_interval(secs => g * :step),
       CASE WHEN m.name = 'up' AND g % 97 = 0 THEN '{"status": "offline", "reason": "bench"}'::jsonb END
FROM generate_series(1, :checks) AS g
CROSS JOIN (VALUES ('plex'), ('overseerr'), ('uptime-kuma'), ('youtube')) AS s(name)
CROSS JOIN (VALUES ('up'), ('response_time_ms')) AS m(name)
"""
SEED_SQLITE = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :checks)
INSERT INTO service_metrics (service_name, metric_name, metric_value, timestamp, metadata)
SELECT s.name, m.name,
       CASE WHEN m.name = 'up' THEN (CASE WHEN n % 97 = 0 THEN 0 ELSE 1 END) ELSE 40 + (n * 7919) % 400 END,
       strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (n * :step) || ' seconds'),
       CASE WHEN m.name = 'up' AND n % 97 = 0 THEN '{"status": "offline", "reason": "bench"}' END
FROM g
CROSS JOIN (SELECT 'plex' AS name UNION ALL SELECT 'overseerr' UNION ALL SELECT 'uptime-kuma'
            UNION ALL SELECT 'youtube') AS s
CROSS JOIN (SELECT 'up' AS name UNION ALL SELECT 'response_time_ms') AS m
"""


def _postgresql_url() -> str | None:
    from tests.benchmarks.bench_requests import _database

    return _database(os.environ.get("MEDIANEST_BENCH_DATABASE_URL") or DEFAULT_URL)


def _timed(fn) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(REPEAT):
        fn()
    return (time.perf_counter() - started) / REPEAT


def _bench(report, label: str, uri: str, seed: str, *, postgresql: bool):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from medianest import create_app
    from medianest.extensions import db
    from medianest.models import User
    from medianest.services import health, metrics
    from tests.conftest import HX, Auth, base_config

    options = {"pool_pre_ping": True, "pool_size": 5} if postgresql else {"connect_args": {"timeout": 15}}
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=uri, REDIS_URL=None, RATELIMIT_STORAGE_URI="memory://",
                                 SQLALCHEMY_ENGINE_OPTIONS=options))
    checks = ROWS_TARGET // (len(SERVICES) * 2)
    started = time.perf_counter()
    with app.app_context():
        if postgresql:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(text(seed), {"checks": checks, "step": CHECK_SECONDS})
            conn.execute(text("ANALYZE"))
            conn.execute(text("INSERT INTO users (email, name, role) VALUES ('admin@bench.example', 'Admin', 'ADMIN')"))
        total = db.session.scalar(text("SELECT count(*) FROM service_metrics"))
        admin = db.session.scalar(db.select(User))
        db.session.expunge_all()
    report(f"{label}: seeded service_metrics rows", total, "rows", f"in {time.perf_counter() - started:.1f} s")

    names = list(SERVICES)
    with app.app_context():
        base = _timed(lambda: metrics.series_for(names, "24h"))  # uncached: every call runs the query
        report(f"{label}: series 24 h, 4 services (96 buckets)", base * 1e3, "ms", "baseline")
        figures = [
            ("series 7 d, 4 services (168 buckets)", lambda: metrics.series_for(names, "7d")),
            ("series 30 d, 4 services (180 buckets)", lambda: metrics.series_for(names, "30d")),
            ("uptime 30 d, 4 services", lambda: metrics.uptime(names)),
            ("recent checks, last 20 per service", lambda: metrics.recent_checks(names)),
            ("sparklines 24 h (48 buckets)", lambda: metrics.sparklines(names)),
            ("cold dashboard snapshot (5 queries)", lambda: health.snapshot(names)),
        ]
        ratios = {}
        for text_label, fn in figures:
            cost = _timed(fn)
            ratios[text_label] = cost / base
            report(f"{label}: {text_label}", cost * 1e3, "ms", f"{cost / base:.1f}x the 24 h series")
    client = app.test_client()
    Auth(app, client).login_as(admin)
    from medianest import cache

    started = time.perf_counter()
    for _ in range(REPEAT):
        with app.app_context():
            cache.backend().clear()
        assert client.get("/admin/metrics?window=30d", headers=HX).status_code == 200
    cost = (time.perf_counter() - started) / REPEAT
    report(f"{label}: GET /admin/metrics?window=30d, cold cache", cost * 1e3, "ms/req",
           f"{cost / base:.1f}x the 24 h series")
    for url in ("/admin/metrics?window=30d", "/"):  # warm: the page reuses the window's aggregate
        client.get(url, headers=HX)
        started = time.perf_counter()
        for _ in range(REPEAT):
            assert client.get(url, headers=HX).status_code == 200
        cost = (time.perf_counter() - started) / REPEAT
        report(f"{label}: GET {url} (fragment)", cost * 1e3, "ms/req", f"{cost / base:.1f}x the 24 h series")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return ratios


def run(report):
    from medianest.config import database_url

    results = {}
    url = _postgresql_url()
    if url is None:
        report("postgresql skipped: unreachable", 0, "", "set MEDIANEST_BENCH_DATABASE_URL")
    else:
        results["postgresql"] = _bench(report, "postgresql", database_url(url, None), SEED_POSTGRESQL,
                                       postgresql=True)
    folder = Path(tempfile.mkdtemp(prefix="medianest-bench-metrics-"))
    results["sqlite"] = _bench(report, "sqlite", f"sqlite:///{folder / 'metrics.sqlite3'}", SEED_SQLITE,
                               postgresql=False)
    return results
