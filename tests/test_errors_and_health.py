"""Correlation ids, the error log, CSRF, and the health endpoints."""
import re

from medianest.extensions import db
from medianest.models import ErrorLog
from tests.conftest import HX
from tests.factories import make_error_log


def _boom_app(make_app, **config):
    app = make_app(**config)

    def boom():
        raise RuntimeError("kaboom with details")

    app.add_url_rule("/boom", "boom", boom)
    return app


def test_forced_500_writes_one_error_log_with_the_correlation_id_shown(make_app, auth, admin):
    app = _boom_app(make_app)
    client = app.test_client()
    auth.app = app
    auth.login_as(admin, client)
    resp = client.get("/boom")
    assert resp.status_code == 500
    cid = resp.headers["X-Request-ID"]
    html = resp.get_data(as_text=True)
    assert cid in html and "kaboom" not in html and "Traceback" not in html
    with app.app_context():
        rows = db.session.scalars(db.select(ErrorLog)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.correlation_id == cid and row.status_code == 500 and row.error_code == "RuntimeError"
        assert "kaboom with details" in row.stack_trace and row.request_path == "/boom"
        assert row.user_id == str(admin.id)


def test_htmx_500_gets_an_out_of_band_flash_and_json_callers_get_json(make_app, auth, admin):
    app = _boom_app(make_app)
    client = app.test_client()
    auth.app = app
    auth.login_as(admin, client)
    resp = client.get("/boom", headers=HX)
    assert resp.status_code == 500 and resp.headers["HX-Reswap"] == "none"
    assert b'hx-swap-oob="true"' in resp.data and resp.headers["X-Request-ID"].encode() in resp.data
    resp = client.get("/boom", headers={"Accept": "application/json"})
    assert resp.status_code == 500 and resp.json["correlation_id"] == resp.headers["X-Request-ID"]


def test_valid_incoming_request_id_is_kept_and_bad_one_replaced(client, admin):
    assert client.get("/health", headers={"X-Request-ID": "abc-123-def-456"}).headers["X-Request-ID"] == "abc-123-def-456"
    replaced = client.get("/health", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert client.get("/health").headers["X-Request-ID"] != client.get("/health").headers["X-Request-ID"]


def test_missing_csrf_token_is_400_and_logged(make_app, admin):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    resp = client.post("/auth/login", data={"email": "admin@example.com", "password": "correct horse battery 9"})
    assert resp.status_code == 400 and b"form expired" in resp.data
    with app.app_context():
        assert db.session.scalar(db.select(ErrorLog.error_code)) == "csrf_failed"


def test_csrf_token_in_htmx_header_is_accepted(make_app, admin):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    resp = client.post("/auth/login", data={"email": "admin@example.com", "password": "correct horse battery 9"},
                       headers=HX | {"X-CSRFToken": token})
    assert resp.status_code == 200 and resp.headers["HX-Redirect"] == "/"


def test_health_and_ready(client):
    assert client.get("/health").json == {"status": "ok"}
    resp = client.get("/ready")
    assert resp.status_code == 200 and resp.json["checks"]["database"]["ok"] is True


def test_ready_reports_a_stopped_redis(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    resp = app.test_client().get("/ready")
    assert resp.status_code == 503
    assert resp.json["checks"]["redis"] == {"ok": False, "error": "redis unreachable"}
    assert "127.0.0.1:1" not in resp.get_data(as_text=True)


def test_unknown_url_is_a_friendly_404(client, auth, admin):
    auth.login_as(admin)
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and b"There is nothing here" in resp.data


def test_admin_error_log_filters_and_detail(app, client, auth, admin):
    make_error_log(app, status_code=500, error_code="ValueError", correlation_id="cid-aaaa-1111")
    make_error_log(app, status_code=422, error_code="validation", correlation_id="cid-bbbb-2222")
    auth.login_as(admin)
    html = client.get("/admin/errors?status=500").get_data(as_text=True)
    assert "cid-aaaa-1111" in html and "cid-bbbb-2222" not in html
    frag = client.get("/admin/errors?correlation=cid-bbbb-2222", headers=HX)
    assert b"<html" not in frag.data and b"cid-bbbb-2222" in frag.data and b"cid-aaaa-1111" not in frag.data
    with app.app_context():
        row_id = db.session.scalar(db.select(ErrorLog.id).where(ErrorLog.correlation_id == "cid-aaaa-1111"))
    assert b"cid-aaaa-1111" in client.get(f"/admin/errors/{row_id}").data


def test_error_log_pagination(app, client, auth, admin):
    for i in range(55):
        make_error_log(app, correlation_id=f"cid-page-{i:04d}")
    auth.login_as(admin)
    first = client.get("/admin/errors").get_data(as_text=True)
    assert "Page 1 of 2" in first
    second = client.get("/admin/errors?page=2").get_data(as_text=True)
    assert second.count("cid-page-") == 5
    assert client.get("/admin/errors?page=-5").status_code == 200
