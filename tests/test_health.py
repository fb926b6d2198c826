"""Health rounds against the fake Plex, Overseerr and Uptime Kuma over real HTTP: statuses, metrics, uptime,
incidents, admin notifications, the status cache, hard timeouts and bad answers."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from medianest import cache, tasks
from medianest.extensions import db
from medianest.models import Notification, ServiceIncident, ServiceMetric, ServiceStatus
from medianest.services import health, service_config
from tests.fakes.overseerr import API_KEY as OVERSEERR_KEY
from tests.fakes.plex import ADMIN_TOKEN as PLEX_TOKEN
from tests.fakes.uptime_kuma import SPA_HTML


def connect(app, plex=None, overseerr=None, kuma=None, *, youtube=True):
    """Point the stored service configs at the fakes (what an admin does on the services page)."""
    with app.app_context():
        if plex is not None:
            service_config.configure("plex", url=plex.url, secret=PLEX_TOKEN)
        if overseerr is not None:
            service_config.configure("overseerr", url=overseerr.url, secret=OVERSEERR_KEY)
        if kuma is not None:
            service_config.configure("uptime-kuma", url=kuma.url, settings={"slug": "media"})
        if not youtube:
            service_config.set_enabled("youtube", False)


def statuses(app) -> dict[str, ServiceStatus]:
    with app.app_context():
        rows = {r.service_name: r for r in db.session.scalars(db.select(ServiceStatus))}
        for row in rows.values():
            db.session.expunge(row)
        return rows


def round_now(app, **kw):
    with app.app_context():
        return {r.service: r for r in health.run_round(**kw)}


@pytest.fixture
def fakes(fake_plex, fake_overseerr, fake_uptime_kuma):
    return fake_plex, fake_overseerr, fake_uptime_kuma


def test_a_round_writes_status_metrics_uptime_and_the_cache(app, admin, fakes):
    plex, overseerr, kuma = fakes
    connect(app, plex, overseerr, kuma)
    results = round_now(app)
    assert {name: r.status for name, r in results.items()} == {
        "plex": "online", "overseerr": "online", "uptime-kuma": "online", "youtube": "online"}
    assert results["plex"].version == "1.41.6.9685-d301f511a" and results["overseerr"].version == "1.34.0"
    assert results["youtube"].version  # yt-dlp's version
    assert [m["name"] for m in results["uptime-kuma"].monitors] == ["Plex", "Overseerr", "NAS"]
    rows = statuses(app)
    assert set(rows) == {"plex", "overseerr", "uptime-kuma", "youtube"}
    for row in rows.values():
        assert row.status == "online" and row.last_check_at is not None
        assert row.response_time_ms is not None and row.uptime_percentage == Decimal("100.00")
    with app.app_context():
        names = db.session.execute(db.select(ServiceMetric.service_name, ServiceMetric.metric_name)).all()
        assert sorted(names) == sorted([(s, m) for s in rows for m in ("response_time_ms", "up")])
        assert cache.get("status:plex")["status"] == "online"
        assert cache.get("status:index")["services"] == ["plex", "overseerr", "uptime-kuma", "youtube"]
    # Plex was asked for /identity and the token-checked /; the token never travels in a URL.
    assert [r.path for r in plex.seen()] == ["/identity", "/"]
    assert all(PLEX_TOKEN not in str(r.args) for r in plex.seen())
    assert [r.path for r in overseerr.seen()] == ["/api/v1/status", "/api/v1/auth/me"]


def test_outage_opens_one_incident_recovery_resolves_it_and_admins_hear_both(app, admin, fakes):
    plex, overseerr, kuma = fakes
    connect(app, plex, overseerr, kuma)
    round_now(app)
    plex.go_down()
    first = round_now(app)
    assert first["plex"].status == "offline" and "Cannot connect to Plex Media Server" in first["plex"].reason
    assert first["overseerr"].status == "online"
    second = round_now(app)
    assert second["plex"].status == "offline"
    with app.app_context():
        open_rows = db.session.scalars(db.select(ServiceIncident)).all()
        assert len(open_rows) == 1  # still one incident after a second failing check
        incident = open_rows[0]
        assert (incident.service_name, incident.incident_type, incident.status) == ("plex", "outage", "open")
        assert incident.severity == "high"
        notes = db.session.scalars(db.select(Notification).where(Notification.user_id == admin.id)).all()
        assert [n.title for n in notes] == ["Plex Media Server is offline"]
        assert notes[0].type == "error" and notes[0].meta["incident_id"] == str(incident.id)
        assert cache.get("status:index")["incidents"][0]["id"] == str(incident.id)

    plex.come_back()
    third = round_now(app)
    assert third["plex"].status == "online"
    with app.app_context():
        incident = db.session.scalars(db.select(ServiceIncident)).one()
        assert incident.status == "resolved" and incident.resolved_at is not None
        assert incident.meta["resolution"] == "auto" and incident.meta["duration_seconds"] >= 0
        assert incident.duration is not None
        titles = db.session.scalars(db.select(Notification.title).where(Notification.user_id == admin.id)
                                    .order_by(Notification.created_at)).all()
        assert titles == ["Plex Media Server is offline", "Plex Media Server is back"]
        assert cache.get("status:index")["incidents"] == []
    rows = statuses(app)
    assert rows["plex"].uptime_percentage == Decimal("50.00")  # 2 of 4 checks answered
    assert rows["overseerr"].uptime_percentage == Decimal("100.00")
    with app.app_context():
        ups = db.session.scalars(db.select(ServiceMetric.metric_value).where(
            ServiceMetric.service_name == "plex", ServiceMetric.metric_name == "up")
            .order_by(ServiceMetric.timestamp)).all()
        assert ups == [1.0, 0.0, 0.0, 1.0]


def test_a_hanging_service_is_cut_at_the_timeout_and_the_others_finish_in_the_same_round(make_app, admin, fakes):
    plex, overseerr, kuma = fakes
    app = make_app(MEDIANEST_HEALTH_TIMEOUT=1.0)
    connect(app, plex, overseerr, kuma)
    plex.hang()
    started = time.monotonic()
    results = round_now(app)
    elapsed = time.monotonic() - started
    assert results["plex"].status == "offline"
    assert "within 1 second" in results["plex"].reason
    assert {results[n].status for n in ("overseerr", "uptime-kuma", "youtube")} == {"online"}
    assert elapsed < 8, "the round waited for the hanging service instead of cutting it"
    rows = statuses(app)
    assert len({row.last_check_at for row in rows.values()}) == 1  # one round wrote them all


def test_slow_answers_are_degraded_with_a_degradation_incident(make_app, admin, fakes):
    plex, overseerr, kuma = fakes
    app = make_app(MEDIANEST_HEALTH_DEGRADED_MS=150)
    connect(app, overseerr=overseerr)
    overseerr.slow(0.2)
    results = round_now(app)
    assert results["overseerr"].status == "degraded"
    assert results["overseerr"].reason.startswith("Slow: answered in") and "more than 150 ms" in results["overseerr"].reason
    with app.app_context():
        incident = db.session.scalars(db.select(ServiceIncident)).one()
        assert (incident.incident_type, incident.severity) == ("degradation", "low")
        assert db.session.scalars(db.select(Notification.type)).all() == ["warning"]


def test_uptime_kuma_with_monitors_down_is_degraded(app, admin, fake_uptime_kuma):
    connect(app, kuma=fake_uptime_kuma)
    fake_uptime_kuma.set_monitor_status("NAS", 0)
    result = round_now(app)["uptime-kuma"]
    assert result.status == "degraded" and result.reason == "1 of 3 monitors down: NAS."
    assert {m["name"]: m["status"] for m in result.monitors} == {"Plex": "up", "Overseerr": "up", "NAS": "down"}


def test_unknown_monitor_status_values_do_not_break_the_check(app, admin, fake_uptime_kuma):
    connect(app, kuma=fake_uptime_kuma)
    fake_uptime_kuma.set_monitor_status("NAS", 7)
    result = round_now(app)["uptime-kuma"]
    assert result.status == "online"
    assert {m["name"]: m["status"] for m in result.monitors}["NAS"] == "unknown"


def test_refused_credentials_are_a_configuration_problem(app, admin, fake_plex, fake_overseerr):
    connect(app, plex=fake_plex, overseerr=fake_overseerr)
    fake_overseerr.api_key = "rotated-on-the-server"
    result = round_now(app)["overseerr"]
    assert result.status == "degraded" and result.kind == "configuration"
    assert "refused the API key (HTTP 403)" in result.reason
    with app.app_context():
        assert db.session.scalars(db.select(ServiceIncident.incident_type)).all() == ["configuration"]


@pytest.mark.parametrize("case", ["html", "huge", "tls", "unreachable", "json-garbage"])
def test_bad_answers_mark_the_service_offline_with_a_reason(app, admin, fake_overseerr, fake_plex, case):
    connect(app, plex=fake_plex, overseerr=fake_overseerr)
    expected = {
        "html": "answered with HTML or another format instead of the JSON",
        "huge": "sent an answer larger than 5 MB",
        "tls": "TLS error talking to Overseerr",
        "unreachable": "Cannot connect to Overseerr",
        "json-garbage": "answered with HTML or another format",
    }[case]
    if case == "html":
        fake_overseerr.override("/api/v1/status", SPA_HTML, content_type="text/html")
    elif case == "huge":
        fake_overseerr.override("/api/v1/status", lambda: (b"x" * 65536 for _ in range(100)),
                                content_type="application/json")
    elif case == "json-garbage":
        fake_overseerr.override("/api/v1/status", b'{"version": ', content_type="application/json")
    elif case == "tls":
        with app.app_context():
            service_config.configure("overseerr", url=fake_overseerr.url.replace("http://", "https://"))
    else:
        fake_overseerr.go_down()
    results = round_now(app)
    assert results["overseerr"].status == "offline"
    assert expected in results["overseerr"].reason
    assert OVERSEERR_KEY not in results["overseerr"].reason
    assert results["plex"].status == "online"  # one broken service never spoils the round
    with app.app_context():
        row = db.session.scalar(db.select(ServiceStatus).where(ServiceStatus.service_name == "overseerr"))
        assert row.details["reason"] == results["overseerr"].reason


def test_an_unconfigured_or_undecryptable_service_is_offline_with_a_reason(app, admin, fake_uptime_kuma):
    connect(app, kuma=fake_uptime_kuma)
    with app.app_context():
        cfg = service_config.get("uptime-kuma")
        cfg.config_data = {k: v for k, v in cfg.config_data.items() if k != "slug"}
        db.session.commit()
    result = round_now(app)["uptime-kuma"]
    assert result.status == "offline" and result.kind == "configuration"
    assert "status page slug is not set" in result.reason


def test_disabled_services_are_not_checked_and_their_incidents_close(app, admin, fake_plex):
    connect(app, plex=fake_plex, youtube=False)
    fake_plex.go_down()
    assert set(round_now(app)) == {"plex"}
    with app.app_context():
        service_config.set_enabled("plex", False)
    assert round_now(app) == {}
    with app.app_context():
        incident = db.session.scalars(db.select(ServiceIncident)).one()
        assert incident.status == "closed"


def test_the_worker_task_runs_a_round_and_the_schedule_follows_the_interval(make_app, admin, fake_plex):
    app = make_app(MEDIANEST_HEALTH_INTERVAL=60)
    connect(app, plex=fake_plex)
    with app.app_context():
        assert health.round_offsets() == [0]  # never checked
        tasks.health_schedule()  # immediate mode: the round runs now
        assert db.session.scalar(db.select(db.func.count()).select_from(ServiceStatus)) == 2
        assert health.round_offsets() == []  # just ran
        tasks.health_round()
        assert db.session.scalar(db.select(db.func.count()).select_from(ServiceMetric).where(
            ServiceMetric.metric_name == "up", ServiceMetric.service_name == "plex")) == 2
    fast = make_app(MEDIANEST_HEALTH_INTERVAL=20)
    with fast.app_context():
        assert health.round_offsets() == [0, 20, 40]


def test_no_secret_reaches_the_logs(app, admin, fakes, caplog):
    plex, overseerr, kuma = fakes
    caplog.set_level("DEBUG")
    connect(app, plex, overseerr, kuma)
    with app.app_context():
        service_config.configure("uptime-kuma", secret="uk1_fakeMetricsSecret9d2")
    overseerr.api_key = "something-else"
    round_now(app)
    plex.go_down()
    round_now(app)
    for secret in (PLEX_TOKEN, OVERSEERR_KEY, "uk1_fakeMetricsSecret9d2"):
        assert secret not in caplog.text
