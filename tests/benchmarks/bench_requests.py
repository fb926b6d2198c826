"""My requests and the admin request list with 200 000 request rows in PostgreSQL, against a bare Flask endpoint.

Seeds 2 000 users and 200 000 media_requests rows (one heavy user owns 20 000 of them) in the database of
MEDIANEST_BENCH_DATABASE_URL (default: `medianest_bench` on 127.0.0.1, created when missing, rebuilt every run),
then times signed-in GETs through Flask's test client. Figures are per request and as ratios to a bare
Flask endpoint measured in the same run; the number of SQL statements per page is reported too.
"""
from __future__ import annotations

import os
import time

from flask import Flask

ROWS = 200_000
USERS = 2_000
REQUESTS = 100
BARE_REQUESTS = 1_000
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/medianest_bench"

SEED_USERS = """
INSERT INTO users (email, name, role)
SELECT 'bench' || g || '@example.com', 'Bench user ' || g, 'USER' FROM generate_series(1, :users) AS g
"""
# Every tenth row belongs to bench1 (the heavy user); the rest are spread over the others. A third are series.
SEED_REQUESTS = """
WITH numbered AS (SELECT id, row_number() OVER (ORDER BY email) AS rn FROM users WHERE role = 'USER')
INSERT INTO media_requests (user_id, title, media_type, tmdb_id, status, overseerr_id, forward_state, created_at,
                            seasons, year)
SELECT n.id, 'Title ' || g, CASE WHEN g % 3 = 0 THEN 'tv' ELSE 'movie' END, (g % 50000)::text,
       (ARRAY['pending', 'approved', 'downloading', 'completed', 'denied', 'failed'])[1 + g % 6], g::text, 'sent',
       timezone('utc', now()) - make_interval(mins => g),
       CASE WHEN g % 3 = 0 THEN '[1, 2]'::jsonb END, 1950 + g % 75
FROM generate_series(1, :rows) AS g
JOIN numbered AS n ON n.rn = CASE WHEN g % 10 = 0 THEN 1 ELSE 2 + g % (:users - 1) END
"""


def _database(url: str) -> str | None:
    """Create the bench database when missing; None when the server is unreachable."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))
    except psycopg.OperationalError:
        return None
    return url


def _per_request(client, url, n, headers=None) -> float:
    client.get(url, headers=headers)  # warm-up
    started = time.perf_counter()
    for _ in range(n):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, (url, resp.status_code)
    return (time.perf_counter() - started) / n


def _statements(app, client, url, headers=None) -> int:
    from medianest.extensions import db
    from tests.support import count_queries

    with app.app_context():
        engine = db.engine
    with count_queries(engine) as queries:
        client.get(url, headers=headers)
    return len(queries)


def run(report):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from medianest import create_app
    from medianest.config import database_url
    from medianest.extensions import db
    from medianest.models import User
    from tests.conftest import HX, Auth, base_config

    url = _database(os.environ.get("MEDIANEST_BENCH_DATABASE_URL") or DEFAULT_URL)
    if url is None:
        report("skipped: PostgreSQL unreachable", 0, "", "set MEDIANEST_BENCH_DATABASE_URL")
        return {}

    bare = Flask("bare")
    bare.add_url_rule("/bare", "bare", lambda: "ok")
    baseline = _per_request(bare.test_client(), "/bare", BARE_REQUESTS)
    report("bare Flask endpoint", baseline * 1e6, "µs/req")

    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=database_url(url, None), REDIS_URL=None,
                                 RATELIMIT_STORAGE_URI="memory://",
                                 SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_size": 5}))
    started = time.perf_counter()
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(text(SEED_USERS), {"users": USERS})
            conn.execute(text("INSERT INTO users (email, name, role) VALUES ('admin@bench.example', 'Admin', 'ADMIN')"))
            conn.execute(text(SEED_REQUESTS), {"rows": ROWS, "users": USERS})
            conn.execute(text("ANALYZE"))
        heavy = db.session.scalar(db.select(User).where(User.email == "bench1@example.com"))
        typical = db.session.scalar(db.select(User).where(User.email == "bench500@example.com"))
        admin = db.session.scalar(db.select(User).where(User.role == "ADMIN"))
        total = db.session.scalar(text("SELECT count(*) FROM media_requests"))
        db.session.expunge_all()
    report("seeded media_requests rows", total, "rows", f"in {time.perf_counter() - started:.1f} s")

    ratios = {}
    pages = [
        ("my_requests_heavy", heavy, "/requests/", None, "My requests, user with 20 000 rows"),
        ("my_requests_heavy_fragment", heavy, "/requests/?status=completed&sort=title", HX,
         "My requests, filtered + sorted fragment"),
        ("my_requests_typical", typical, "/requests/", None, "My requests, user with ~90 rows"),
        ("my_requests_last_page", heavy, "/requests/?page=1000", HX, "My requests, page 1000 (fragment)"),
        ("admin_list", admin, "/admin/requests", None, "Admin list, all 200 000"),
        ("admin_list_fragment", admin, "/admin/requests?status=pending&type=tv", HX, "Admin list, filtered fragment"),
        ("admin_list_user", admin, "/admin/requests?user=bench1%40", HX, "Admin list, by user (fragment)"),
    ]
    for key, who, page_url, headers, label in pages:
        client = app.test_client()
        Auth(app, client).login_as(who)
        cost = _per_request(client, page_url, REQUESTS, headers)
        statements = _statements(app, client, page_url, headers)
        ratios[key] = cost / baseline
        report(label, cost * 1e3, "ms/req", f"{ratios[key]:.0f}x bare Flask, {statements} SQL statements")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return ratios
