"""The initial migration builds exactly the models' schema, on SQLite and on PostgreSQL.

Self-contained: every test builds its own app on a fresh database. The PostgreSQL variant creates one uniquely named
database per module on the server of MEDIANEST_TEST_DATABASE_URL (default: postgres@127.0.0.1:5432) and drops it
afterwards; when that server is unreachable those tests fail if MEDIANEST_TEST_DATABASE_URL is set, else skip.
"""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from medianest import create_app
from medianest.extensions import db
from medianest.models import (
    Account,
    MediaRequest,
    Notification,
    ServiceConfig,
    Session,
    SessionToken,
    User,
    YoutubeDownload,
)
from medianest.timeutil import utcnow

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
INITIAL = "0001_initial"

TABLES = {
    "users",
    "session_tokens",
    "rate_limits",
    "media_requests",
    "youtube_downloads",
    "service_status",
    "service_config",
    "error_logs",
    "service_metrics",
    "service_incidents",
    "notifications",
    "accounts",
    "sessions",
    "verification_tokens",
}

# Every index DATA_MODEL.md names, including its "Performance-Critical Indexes".
NAMED_INDEXES = {
    "users": {"idx_users_email", "idx_users_plex_id", "idx_users_role_status", "idx_users_last_login"},
    "session_tokens": {"idx_session_tokens_user_id", "idx_session_tokens_expires_at", "idx_session_tokens_token_hash"},
    "rate_limits": {"idx_rate_limits_user_endpoint", "idx_rate_limits_window_start"},
    "media_requests": {
        "idx_media_requests_user_id",
        "idx_media_requests_status",
        "idx_media_requests_user_status",
        "idx_media_requests_created_at",
        "idx_media_requests_tmdb_type",
    },
    "youtube_downloads": {
        "idx_youtube_downloads_user_id",
        "idx_youtube_downloads_status",
        "idx_youtube_downloads_created_at",
        "idx_youtube_downloads_user_status",
    },
    "service_status": {"idx_service_status_service_name", "idx_service_status_last_check"},
    "service_config": {"idx_service_config_service_name", "idx_service_config_enabled"},
    "error_logs": {
        "idx_error_logs_correlation_id",
        "idx_error_logs_created_at",
        "idx_error_logs_user_id",
        "idx_error_logs_error_code",
        "idx_error_logs_status_code",
        "idx_error_logs_user_date",
    },
    "service_metrics": {
        "idx_service_metrics_service_name",
        "idx_service_metrics_metric_name",
        "idx_service_metrics_timestamp",
        "idx_service_metrics_service_metric",
    },
    "service_incidents": {
        "idx_service_incidents_service_name",
        "idx_service_incidents_status",
        "idx_service_incidents_created_at",
        "idx_service_incidents_severity",
    },
    "notifications": {"idx_notifications_user_id", "idx_notifications_user_read", "idx_notifications_created_at"},
    "accounts": {"idx_accounts_user_id"},
    "sessions": {"idx_sessions_user_id", "idx_sessions_expires"},
}

# (table, index) -> the column that is sorted descending
DESC_INDEXES = {
    ("users", "idx_users_last_login"): "last_login_at",
    ("media_requests", "idx_media_requests_created_at"): "created_at",
    ("media_requests", "idx_media_requests_created_id"): "created_at",  # 0007: the lists' ORDER BY created_at DESC, id
    ("media_requests", "idx_media_requests_user_created_id"): "created_at",
    ("youtube_downloads", "idx_youtube_downloads_created_at"): "created_at",
    ("service_status", "idx_service_status_last_check"): "last_check_at",
    ("error_logs", "idx_error_logs_created_at"): "created_at",
    ("error_logs", "idx_error_logs_user_date"): "created_at",
    ("service_metrics", "idx_service_metrics_timestamp"): "timestamp",
    ("service_incidents", "idx_service_incidents_created_at"): "created_at",
    ("notifications", "idx_notifications_created_at"): "created_at",
}

UNIQUE_INDEXES = {
    ("users", "idx_users_email"),
    ("users", "idx_users_plex_id"),
    ("session_tokens", "idx_session_tokens_token_hash"),
    ("service_status", "idx_service_status_service_name"),
    ("service_config", "idx_service_config_service_name"),
}


# --- databases -----------------------------------------------------------------------------------------------------


def _admin_url() -> sa.URL:
    return make_url(os.environ.get("MEDIANEST_TEST_DATABASE_URL") or DEFAULT_ADMIN_URL).set(drivername="postgresql")


def _libpq(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def pg_database_url():
    """A fresh, uniquely named PostgreSQL database for this module, dropped at the end."""
    admin = _admin_url()
    try:
        conn = psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        message = f"PostgreSQL at {admin.render_as_string()} is unreachable: {err}"
        if os.environ.get("MEDIANEST_TEST_DATABASE_URL"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"medianest_migrations_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    with psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _empty_public_schema(url: str) -> None:
    with psycopg.connect(_libpq(make_url(url)), autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    url = request.getfixturevalue("pg_database_url")
    _empty_public_schema(url)
    return url


@pytest.fixture
def app(database_url, tmp_path, monkeypatch):
    """An app on an empty database, with its app context pushed."""
    instance = tmp_path / "instance"
    monkeypatch.setenv("MEDIANEST_INSTANCE_DIR", str(instance))
    monkeypatch.setenv("MEDIANEST_SKIP_DOTENV", "1")
    postgresql = database_url.startswith("postgresql")
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_DIR": str(instance),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True} if postgresql else {"connect_args": {"timeout": 15}},
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def migrated(app):
    upgrade()
    return app


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def _dialect() -> str:
    return db.engine.dialect.name


# --- tests ---------------------------------------------------------------------------------------------------------


def _current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_history_starts_at_0001_initial_and_has_one_head(app):
    scripts = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    assert scripts.get_bases() == [INITIAL]
    assert len(scripts.get_heads()) == 1


def test_upgrade_from_empty_creates_every_table(app):
    assert _tables() == set()
    upgrade(revision=INITIAL)
    assert _tables() == TABLES | {"alembic_version"}
    assert _current_revision() == INITIAL

    upgrade()  # later revisions build on it
    assert _tables() >= TABLES | {"alembic_version"}


def test_migrated_schema_matches_the_models(migrated):
    """Head of the migrations == the models: any model change without its migration shows up here."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_every_named_index_exists(migrated):
    inspector = sa.inspect(db.engine)
    for table, names in NAMED_INDEXES.items():
        found = {index["name"] for index in inspector.get_indexes(table)}
        assert names <= found, f"{table} lacks {sorted(names - found)}"


def test_unique_partial_and_composite_indexes(migrated):
    inspector = sa.inspect(db.engine)
    indexes = {(table, ix["name"]): ix for table in NAMED_INDEXES for ix in inspector.get_indexes(table)}
    for key in UNIQUE_INDEXES:
        assert indexes[key]["unique"], key
    plex_id = indexes[("users", "idx_users_plex_id")]
    where = plex_id["dialect_options"][f"{_dialect()}_where"]
    assert "plex_id IS NOT NULL" in str(where)
    assert indexes[("youtube_downloads", "idx_youtube_downloads_user_status")]["column_names"] == ["user_id", "status"]
    assert indexes[("error_logs", "idx_error_logs_user_date")]["column_names"] == ["user_id", "created_at"]


def test_descending_indexes(migrated):
    if _dialect() == "postgresql":
        inspector = sa.inspect(db.engine)
        for (table, name), column in DESC_INDEXES.items():
            index = next(ix for ix in inspector.get_indexes(table) if ix["name"] == name)
            assert "desc" in index.get("column_sorting", {}).get(column, ()), name
        last_login = next(ix for ix in inspector.get_indexes("users") if ix["name"] == "idx_users_last_login")
        assert last_login["column_sorting"] == {"last_login_at": ("desc", "nulls_last")}
    else:  # SQLite does not reflect sort order; read the DDL it stored
        with db.engine.connect() as conn:
            for (_table, name), column in DESC_INDEXES.items():
                ddl = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name}).scalar()
                assert f"{column} DESC" in ddl, ddl


def test_plex_id_is_unique_only_when_present(migrated):
    db.session.add_all([User(email="a@example.com"), User(email="b@example.com"), User(email="c@example.com")])
    db.session.add(User(email="d@example.com", plex_id="plex-1"))
    db.session.commit()

    db.session.add(User(email="e@example.com", plex_id="plex-1"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.plex_id.is_(None))) == 3


def test_email_is_unique(migrated):
    db.session.add(User(email="same@example.com"))
    db.session.commit()
    db.session.add(User(email="same@example.com"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def _owned_rows(user: User) -> list:
    later = utcnow() + timedelta(days=1)
    return [
        MediaRequest(user=user, title="Alien", media_type="movie"),
        YoutubeDownload(user=user, playlist_url="https://www.youtube.com/playlist?list=x"),
        SessionToken(user=user, token_hash=uuid.uuid4().hex, expires_at=later),
        Account(user=user, type="oauth", provider="plex", provider_account_id=uuid.uuid4().hex),
        Session(user=user, session_token=uuid.uuid4().hex, expires=later),
        Notification(user=user, type="info", title="Hello", message="Welcome"),
    ]


OWNED = (MediaRequest, YoutubeDownload, SessionToken, Account, Session, Notification)


def test_deleting_a_user_deletes_their_rows(migrated):
    gone, kept = User(email="gone@example.com"), User(email="kept@example.com")
    db.session.add_all([gone, kept, *_owned_rows(gone), *_owned_rows(kept)])
    db.session.add(Notification(type="info", title="Everyone", message="Broadcast"))
    db.session.add(ServiceConfig(service_name="plex", service_url="http://127.0.0.1:32400", updated_by_user=gone))
    db.session.commit()
    gone_id, kept_id = gone.id, kept.id

    db.session.expunge_all()  # nothing loaded: the database, not the ORM, must do the deleting
    db.session.delete(db.session.get(User, gone_id))
    db.session.commit()

    for model in OWNED:
        rows = db.session.scalars(sa.select(model.user_id)).all()
        assert rows.count(gone_id) == 0, model.__tablename__
        assert rows.count(kept_id) == 1, model.__tablename__
    broadcasts = sa.select(sa.func.count()).select_from(Notification).where(Notification.user_id.is_(None))
    assert db.session.scalar(broadcasts) == 1
    assert db.session.scalars(sa.select(ServiceConfig)).one().updated_by is None


def test_youtube_download_without_user_is_rejected(migrated):
    checks = {ck["name"]: ck["sqltext"] for ck in sa.inspect(db.engine).get_check_constraints("youtube_downloads")}
    assert "user_id IS NOT NULL" in checks["youtube_downloads_user_isolation"]

    insert = sa.insert(YoutubeDownload).values(user_id=None, playlist_url="https://www.youtube.com/watch?v=x")
    with pytest.raises(IntegrityError):
        with db.engine.begin() as conn:
            conn.execute(insert)

    if _dialect() == "postgresql":  # the CHECK holds on its own, even without the NOT NULL
        with pytest.raises(IntegrityError, match="youtube_downloads_user_isolation"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE youtube_downloads ALTER COLUMN user_id DROP NOT NULL"))
                conn.execute(insert)


def test_status_checks_reject_unknown_values(migrated):
    user = User(email="status@example.com")
    db.session.add(user)
    db.session.commit()
    for row in (
        User(email="x@example.com", role="ROOT"),
        MediaRequest(user_id=user.id, title="X", media_type="book"),
        YoutubeDownload(user_id=user.id, playlist_url="https://youtu.be/x", status="paused"),
        Notification(type="shout", title="X", message="X"),
    ):
        db.session.add(row)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_server_defaults_fill_rows_inserted_by_hand(migrated):
    before = utcnow() - timedelta(seconds=5)
    with db.engine.begin() as conn:
        if _dialect() == "postgresql":  # timestamps must still be UTC when the session is not
            conn.execute(sa.text("SET TIME ZONE 'America/New_York'"))
        conn.execute(sa.text("INSERT INTO users (email) VALUES ('raw@example.com')"))
    user = db.session.scalars(sa.select(User)).one()
    assert isinstance(user.id, uuid.UUID) and user.id.version == 4
    assert (user.role, user.status) == ("USER", "active")
    assert not user.requires_password_change and not user.plex_token_invalid
    assert before <= user.created_at <= utcnow() + timedelta(seconds=5)


def test_downgrade_removes_every_table(migrated):
    downgrade(revision="base")
    assert _tables() == {"alembic_version"}
    assert _current_revision() is None
    if _dialect() == "postgresql":
        assert sa.inspect(db.engine).get_sequence_names() == []

    upgrade()  # and the schema comes back
    assert _tables() >= TABLES | {"alembic_version"}


def test_0007_fills_the_metric_rollups_from_existing_rows_and_goes_back(app):
    from medianest.models import ServiceMetric

    upgrade(revision="0006_youtube")
    now = utcnow()
    hour = now.replace(minute=0, second=0, microsecond=0)
    earlier = hour - timedelta(days=3, hours=1)
    rows = [(earlier + timedelta(minutes=5), 100.0), (earlier + timedelta(minutes=35), 300.0), (hour, 999.0)]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(ServiceMetric), [
            {"id": uuid.uuid4(), "service_name": "plex", "metric_name": "response_time_ms", "metric_value": value,
             "timestamp": at} for at, value in rows])
    upgrade(revision="0007_scale")
    with db.engine.connect() as conn:
        hourly = conn.execute(sa.text("SELECT bucket_start, sample_count, value_sum, value_min, value_max "
                                      "FROM service_metrics_hourly")).all()
        daily = conn.execute(sa.text("SELECT sample_count, value_sum FROM service_metrics_daily")).all()
    # Complete hours and days only: the hour in progress is left to the worker.
    assert [tuple(r[1:]) for r in hourly] == [(2, 400.0, 100.0, 300.0)]
    assert str(hourly[0][0]).startswith(earlier.strftime("%Y-%m-%d %H:00:00"))
    assert [tuple(r) for r in daily] == [(2, 400.0)]
    indexes = {ix["name"] for ix in sa.inspect(db.engine).get_indexes("media_requests")}
    assert {"idx_media_requests_created_id", "idx_media_requests_user_created_id"} <= indexes
    downgrade(revision="0006_youtube")
    assert not {"service_metrics_hourly", "service_metrics_daily"} & _tables()
    indexes = {ix["name"] for ix in sa.inspect(db.engine).get_indexes("media_requests")}
    assert "idx_media_requests_created_id" not in indexes


def test_0008_keys_season_sets_and_sets_aside_duplicates_the_old_race_made(app):
    upgrade(revision="0007_scale")
    user_id, other_id = uuid.uuid4(), uuid.uuid4()
    users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("email", sa.String()))
    requests = sa.table("media_requests", sa.column("id", sa.Uuid()), sa.column("user_id", sa.Uuid()),
                        sa.column("title", sa.String()), sa.column("media_type", sa.String()),
                        sa.column("tmdb_id", sa.String()), sa.column("status", sa.String()),
                        sa.column("seasons", sa.JSON()), sa.column("created_at", sa.DateTime()))
    now = utcnow()
    rows = [  # (name, user, type, tmdb, status, seasons, minutes ago)
        ("first", user_id, "movie", "603", "pending", None, 10),
        ("twin", user_id, "movie", "603", "pending", None, 5),  # the race's duplicate
        ("twin2", user_id, "movie", "603", "approved", None, 4),
        ("old-denied", user_id, "movie", "603", "denied", None, 20),
        ("bobs", other_id, "movie", "603", "pending", None, 3),
        ("s12", user_id, "tv", "1399", "pending", [2, 1], 9),
        ("s21", user_id, "tv", "1399", "pending", [1, 2], 8),  # the same set, written the other way round
        ("s3", user_id, "tv", "1399", "pending", [3], 7),
        ("all", user_id, "tv", "1396", "pending", None, 6),
    ]
    ids = {name: uuid.uuid4() for name, *_ in rows}
    with db.engine.begin() as conn:
        conn.execute(sa.insert(users), [{"id": user_id, "email": "a@example.com"},
                                        {"id": other_id, "email": "b@example.com"}])
        conn.execute(sa.insert(requests), [
            {"id": ids[name], "user_id": who, "title": name, "media_type": kind, "tmdb_id": tmdb, "status": status,
             "seasons": seasons, "created_at": now - timedelta(minutes=ago)}
            for name, who, kind, tmdb, status, seasons, ago in rows])
    upgrade(revision="0008_trust")
    with db.engine.connect() as conn:
        found = {r.title: (r.status, r.seasons_key) for r in conn.execute(
            sa.text("SELECT title, status, seasons_key FROM media_requests"))}
    assert found == {
        "first": ("pending", ""), "twin": ("failed", ""), "twin2": ("failed", ""), "old-denied": ("denied", ""),
        "bobs": ("pending", ""), "s12": ("pending", "1,2"), "s21": ("failed", "1,2"), "s3": ("pending", "3"),
        "all": ("pending", "all"),
    }
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.insert(requests).values(id=uuid.uuid4(), user_id=user_id, title="again", media_type="movie",
                                                tmdb_id="603", status="pending"))
    downgrade(revision="0007_scale")
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("users")}
    assert not {"plex_access_lost_at", "plex_access_checked_at", "sign_in_unlocks"} & columns
