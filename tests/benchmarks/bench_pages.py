"""Page cost: MediaNest's dashboard and health endpoint against a bare Flask endpoint, same process."""
from __future__ import annotations

import resource
import time

from flask import Flask

REQUESTS = 300


def _per_request(client, url, n=REQUESTS) -> float:
    client.get(url)  # warm-up
    started = time.perf_counter()
    for _ in range(n):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
    return (time.perf_counter() - started) / n


def run(report):
    from medianest import create_app
    from medianest.extensions import db
    from tests.conftest import base_config
    from tests.factories import make_user

    bare = Flask("bare")
    bare.add_url_rule("/bare", "bare", lambda: "ok")
    baseline = _per_request(bare.test_client(), "/bare")
    report("bare Flask endpoint", baseline * 1e6, "µs/req")

    from flask_migrate import upgrade

    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=base_config()["SQLALCHEMY_DATABASE_URI"].replace("test.sqlite3", "bench.sqlite3")))
    with app.app_context():
        upgrade()
    admin = make_user(app, email="bench@example.com", role="ADMIN")
    client = app.test_client()
    from tests.conftest import Auth

    Auth(app, client).login_as(admin)
    for url, label in (("/health", "GET /health"), ("/", "GET / (dashboard, signed in)"),
                       ("/notifications/bell", "GET /notifications/bell (poll)")):
        cost = _per_request(client, url)
        report(label, cost * 1e6, "µs/req", f"{cost / baseline:.1f}x bare Flask")
    report("peak RSS of the bench process", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB")
    with app.app_context():
        db.engine.dispose()
