"""Derived properties of the models and the time helpers behind them (plain Python, plus one SQLite round trip)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from medianest import create_app
from medianest.extensions import db
from medianest.models import (
    DownloadStatus,
    ErrorLog,
    IncidentStatus,
    MediaRequest,
    Notification,
    RequestStatus,
    Role,
    ServiceConfig,
    ServiceIncident,
    ServiceMetric,
    ServiceStatus,
    Session,
    SessionToken,
    Severity,
    User,
    UserStatus,
    VerificationToken,
    YoutubeDownload,
)
from medianest.timeutil import human_duration, time_ago, utcnow

NOW = datetime(2025, 9, 9, 15, 30, 0)


# --- timeutil ------------------------------------------------------------------------------------------------------


def test_utcnow_is_naive_utc():
    now = utcnow()
    assert now.tzinfo is None
    assert abs(datetime.now(timezone.utc).replace(tzinfo=None) - now) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-30), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=5, seconds=40), "5 minutes ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=23, minutes=59), "23 hours ago"),
        (timedelta(days=3, hours=2), "3 days ago"),
        (timedelta(days=65), "2 months ago"),
        (timedelta(days=800), "2 years ago"),
        (timedelta(hours=-2), "in 2 hours"),
    ],
)
def test_time_ago(delta, expected):
    assert time_ago(NOW - delta, now=NOW) == expected


def test_time_ago_never_and_aware_datetimes():
    assert time_ago(None) == "never"
    aware = datetime(2025, 9, 9, 17, 25, tzinfo=timezone(timedelta(hours=2)))  # 15:25 UTC
    assert time_ago(aware, now=NOW) == "5 minutes ago"
    assert time_ago(utcnow() - timedelta(minutes=10)) == "10 minutes ago"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 seconds"),
        (-5, "0 seconds"),
        (1, "1 second"),
        (45.9, "45 seconds"),
        (61, "1 minute 1 second"),
        (300, "5 minutes"),
        (3900, "1 hour 5 minutes"),
        (3 * 3600 + 5, "3 hours"),
        (2 * 86400 + 3 * 3600 + 59, "2 days 3 hours"),
        (timedelta(days=1), "1 day"),
    ],
)
def test_human_duration(seconds, expected):
    assert human_duration(seconds) == expected


# --- users ---------------------------------------------------------------------------------------------------------


def test_user_roles_and_flask_login():
    user = User(id=uuid.uuid4(), email="u@example.com", role=Role.USER, status=UserStatus.ACTIVE)
    admin = User(email="a@example.com", role="ADMIN", status="active")
    assert not user.is_admin and admin.is_admin
    assert user.is_active and user.is_authenticated and not user.is_anonymous
    assert user.get_id() == str(user.id)
    for status in ("inactive", "suspended"):
        blocked = User(email="b@example.com", role="USER", status=status)
        assert not blocked.is_active and not blocked.is_authenticated


def test_tokens_expire():
    assert SessionToken(expires_at=utcnow() - timedelta(seconds=1)).is_expired
    assert not SessionToken(expires_at=utcnow() + timedelta(days=90)).is_expired
    assert Session(expires=utcnow() - timedelta(minutes=1)).is_expired
    assert not VerificationToken(expires=utcnow() + timedelta(hours=1)).is_expired


# --- media and downloads -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "complete", "active"),
    [
        ("pending", False, True),
        ("approved", False, True),
        ("downloading", False, True),
        ("completed", True, False),
        ("denied", False, False),
        ("failed", False, False),
    ],
)
def test_media_request_state(status, complete, active):
    request = MediaRequest(status=RequestStatus(status))
    assert (request.is_complete, request.is_active) == (complete, active)


def test_media_request_processing_time():
    request = MediaRequest(status="pending", created_at=NOW)
    assert request.processing_time is None
    request.completed_at = NOW + timedelta(days=2, hours=3, minutes=10)
    assert request.processing_time == "2 days 3 hours"


@pytest.mark.parametrize("status", list(DownloadStatus))
def test_youtube_download_is_active(status):
    assert YoutubeDownload(status=status).is_active == (status in ("queued", "downloading"))


# --- monitoring ----------------------------------------------------------------------------------------------------


def test_service_status():
    status = ServiceStatus(service_name="plex", status="online", uptime_percentage=Decimal("99.87"))
    assert status.is_healthy and not status.is_degraded
    assert ServiceStatus(status="degraded").is_degraded
    assert not ServiceStatus(status=None).is_healthy
    assert status.last_check_formatted == "never"
    status.last_check_at = utcnow() - timedelta(minutes=3)
    assert status.last_check_formatted == "3 minutes ago"


def test_service_config():
    overseerr = ServiceConfig(service_name="overseerr", service_url="http://127.0.0.1:5055")
    assert overseerr.needs_api_key and not overseerr.is_configured
    overseerr.api_key = "v1:abcd1234:sealed"
    assert overseerr.is_configured
    kuma = ServiceConfig(service_name="uptime-kuma", service_url="http://127.0.0.1:3001")
    assert not kuma.needs_api_key and kuma.is_configured
    assert not ServiceConfig(service_name="uptime-kuma", service_url="  ").is_configured
    assert ServiceConfig(service_name="plex").needs_api_key


@pytest.mark.parametrize(
    ("status_code", "server", "client"),
    [
        (None, False, False),
        (200, False, False),
        (404, False, True),
        (499, False, True),
        (500, True, False),
        (503, True, False),
    ],
)
def test_error_log_classes(status_code, server, client):
    log = ErrorLog(error_code="X", status_code=status_code)
    assert (log.is_server_error, log.is_client_error) == (server, client)


@pytest.mark.parametrize(
    ("code", "family"),
    [("PLEX_UNREACHABLE", "plex"), ("validation.email", "validation"), ("TIMEOUT", "timeout"), ("", "unknown")],
)
def test_error_log_type(code, family):
    assert ErrorLog(error_code=code).error_type == family


@pytest.mark.parametrize(
    ("name", "value", "performance", "resource", "human"),
    [
        ("response_time_ms", 145, True, False, "145 ms"),
        ("response_time", 1530, True, False, "1.53 s"),
        ("throughput", 12, True, False, "12.0/s"),
        ("cpu_usage_percent", 42.46, False, True, "42.5%"),
        ("memory_bytes", 1.5 * 1024**3, False, True, "1.5 GB"),
        ("disk_free_bytes", 512, False, True, "512 B"),
        ("queue_length", 3, True, False, "3"),
        ("active_streams", 2.5, False, False, "2.5"),
    ],
)
def test_service_metric(name, value, performance, resource, human):
    metric = ServiceMetric(service_name="plex", metric_name=name, metric_value=value)
    assert metric.is_performance_metric == performance
    assert metric.is_resource_metric == resource
    assert metric.human_value == human


def test_service_incident():
    incident = ServiceIncident(severity=Severity.CRITICAL, status=IncidentStatus.OPEN, created_at=NOW)
    assert incident.is_open and incident.is_critical and incident.duration is None
    incident.status = "resolved"
    incident.resolved_at = NOW + timedelta(hours=1, minutes=30, seconds=59)
    assert not incident.is_open and incident.duration == 90
    assert ServiceIncident(status="investigating", severity="high").is_open
    assert not ServiceIncident(status="closed", severity="low").is_critical


# --- notifications -------------------------------------------------------------------------------------------------


def test_notification():
    broadcast = Notification(type="info", title="T", message="M", read=False, created_at=utcnow())
    assert broadcast.is_unread and broadcast.is_broadcast and broadcast.time_ago == "just now"
    personal = Notification(user_id=uuid.uuid4(), read=True, created_at=utcnow() - timedelta(days=2))
    assert not personal.is_unread and not personal.is_broadcast and personal.time_ago == "2 days ago"


# --- one round trip through a migrated SQLite database -------------------------------------------------------------


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIANEST_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("MEDIANEST_SKIP_DOTENV", "1")
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_DIR": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'models.sqlite3'}",
            "SQLALCHEMY_ENGINE_OPTIONS": {},
        }
    )
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_python_defaults_and_json_round_trip(sqlite_app):
    user = User(email="round@example.com")
    db.session.add(user)
    db.session.flush()
    download = YoutubeDownload(user=user, playlist_url="https://youtu.be/x", file_paths=["a.mp4", "b.mp4"])
    notice = Notification(user=user, type="success", title="Done", message="Ready", meta={"download_id": "x"})
    db.session.add_all([download, notice])
    db.session.commit()
    user_id = user.id
    db.session.expunge_all()

    user = db.session.get(User, user_id)
    assert isinstance(user.id, uuid.UUID)
    assert (user.role, user.status) == ("USER", "active")
    assert not user.requires_password_change and not user.plex_token_invalid
    assert user.created_at.tzinfo is None and abs(utcnow() - user.created_at) < timedelta(seconds=5)
    assert user.is_active and not user.is_admin
    assert [d.file_paths for d in user.youtube_downloads] == [["a.mp4", "b.mp4"]]
    assert user.youtube_downloads[0].status == DownloadStatus.QUEUED and user.youtube_downloads[0].is_active
    assert user.notifications[0].meta == {"download_id": "x"}
    stored = db.session.execute(sa.text("SELECT metadata FROM notifications")).scalar()
    assert "download_id" in stored
