"""Initial schema: the 14 tables of DATA_MODEL.md.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25

Besides the document's columns: users.password_hash (local accounts) and users.plex_token_invalid.
Runs on PostgreSQL and SQLite. The dialects differ only in server defaults (UUID and current-time expressions) and in
idx_users_last_login: SQLite cannot say NULLS LAST in an index, and its DESC already sorts NULLs last.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# A version-4 UUID as the 32 hex digits sa.Uuid stores on SQLite.
SQLITE_RANDOM_UUID = (
    "lower(hex(randomblob(4)) || hex(randomblob(2)) || '4' || substr(hex(randomblob(2)), 2) || "
    "substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || hex(randomblob(6)))"
)

# Children before parents, so SQLite (foreign_keys=ON) never sees a dangling reference.
TABLES = (
    "youtube_downloads",
    "media_requests",
    "notifications",
    "session_tokens",
    "accounts",
    "sessions",
    "service_config",
    "users",
    "verification_tokens",
    "rate_limits",
    "service_status",
    "error_logs",
    "service_metrics",
    "service_incidents",
)


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _uuid_pk() -> sa.Column:
    default = "gen_random_uuid()" if _postgresql() else SQLITE_RANDOM_UUID
    return sa.Column("id", sa.Uuid(), server_default=sa.text(default), nullable=False)


def _serial_pk() -> sa.Column:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def _now(name: str) -> sa.Column:
    """A NOT NULL naive-UTC timestamp defaulting to now (PostgreSQL's CURRENT_TIMESTAMP follows the session zone)."""
    default = "timezone('utc', CURRENT_TIMESTAMP)" if _postgresql() else "CURRENT_TIMESTAMP"
    return sa.Column(name, sa.DateTime(), server_default=sa.text(default), nullable=False)


def _user_fk(table: str, column: str = "user_id", ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def _desc(column: str) -> sa.ColumnElement:
    return sa.literal_column(f"{column} DESC")


def upgrade():
    op.create_table(
        "users",
        _uuid_pk(),
        sa.Column("plex_id", sa.String(255), nullable=True),
        sa.Column("plex_username", sa.String(255), nullable=True),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("role", sa.String(50), server_default="USER", nullable=False),
        sa.Column("plex_token", sa.Text(), nullable=True),
        sa.Column("image", sa.String(500), nullable=True),
        sa.Column("requires_password_change", sa.Boolean(), server_default=sa.false(), nullable=False),
        _now("created_at"),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(50), server_default="active", nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("plex_token_invalid", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("role IN ('USER', 'ADMIN')", name=op.f("ck_users_role")),
        sa.CheckConstraint("status IN ('active', 'inactive', 'suspended')", name=op.f("ck_users_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("idx_users_email", "users", ["email"], unique=True)
    op.create_index(
        "idx_users_plex_id",
        "users",
        ["plex_id"],
        unique=True,
        postgresql_where=sa.text("plex_id IS NOT NULL"),
        sqlite_where=sa.text("plex_id IS NOT NULL"),
    )
    op.create_index("idx_users_role_status", "users", ["role", "status"])
    last_login = "last_login_at DESC NULLS LAST" if _postgresql() else "last_login_at DESC"
    op.create_index("idx_users_last_login", "users", [sa.literal_column(last_login)])

    op.create_table(
        "session_tokens",
        _uuid_pk(),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        _now("created_at"),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        _user_fk("session_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_tokens")),
    )
    op.create_index("idx_session_tokens_user_id", "session_tokens", ["user_id"])
    op.create_index("idx_session_tokens_expires_at", "session_tokens", ["expires_at"])
    # token_hash is UNIQUE: its named index enforces it.
    op.create_index("idx_session_tokens_token_hash", "session_tokens", ["token_hash"], unique=True)

    op.create_table(
        "rate_limits",
        _serial_pk(),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("request_count", sa.Integer(), server_default="0", nullable=False),
        _now("window_start"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limits")),
    )
    op.create_index("idx_rate_limits_user_endpoint", "rate_limits", ["user_id", "endpoint"])
    op.create_index("idx_rate_limits_window_start", "rate_limits", ["window_start"])

    op.create_table(
        "media_requests",
        _uuid_pk(),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("media_type", sa.String(50), nullable=False),
        sa.Column("tmdb_id", sa.String(100), nullable=True),
        sa.Column("status", sa.String(50), server_default="pending", nullable=False),
        sa.Column("overseerr_id", sa.String(255), nullable=True),
        _now("created_at"),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'downloading', 'completed', 'denied', 'failed')",
            name=op.f("ck_media_requests_status"),
        ),
        sa.CheckConstraint("media_type IN ('movie', 'tv', 'music')", name=op.f("ck_media_requests_media_type")),
        _user_fk("media_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_requests")),
    )
    op.create_index("idx_media_requests_user_id", "media_requests", ["user_id"])
    op.create_index("idx_media_requests_status", "media_requests", ["status"])
    op.create_index("idx_media_requests_user_status", "media_requests", ["user_id", "status"])
    op.create_index("idx_media_requests_created_at", "media_requests", [_desc("created_at")])
    op.create_index("idx_media_requests_tmdb_type", "media_requests", ["tmdb_id", "media_type"])

    op.create_table(
        "youtube_downloads",
        _uuid_pk(),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("playlist_url", sa.Text(), nullable=False),
        sa.Column("playlist_title", sa.String(500), nullable=True),
        sa.Column("status", sa.String(50), server_default="queued", nullable=False),
        sa.Column("file_paths", JSON, nullable=True),
        sa.Column("plex_collection_id", sa.String(255), nullable=True),
        _now("created_at"),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("user_id IS NOT NULL", name=op.f("youtube_downloads_user_isolation")),
        sa.CheckConstraint(
            "status IN ('queued', 'downloading', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_youtube_downloads_status"),
        ),
        _user_fk("youtube_downloads"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_youtube_downloads")),
    )
    op.create_index("idx_youtube_downloads_user_id", "youtube_downloads", ["user_id"])
    op.create_index("idx_youtube_downloads_status", "youtube_downloads", ["status"])
    op.create_index("idx_youtube_downloads_created_at", "youtube_downloads", [_desc("created_at")])
    op.create_index("idx_youtube_downloads_user_status", "youtube_downloads", ["user_id", "status"])

    op.create_table(
        "service_status",
        _serial_pk(),
        sa.Column("service_name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(50), nullable=True),
        sa.Column("response_time_ms", sa.Integer(), nullable=True),
        sa.Column("last_check_at", sa.DateTime(), nullable=True),
        sa.Column("uptime_percentage", sa.Numeric(5, 2), nullable=True),
        sa.CheckConstraint("status IN ('online', 'offline', 'degraded')", name=op.f("ck_service_status_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_status")),
    )
    op.create_index("idx_service_status_service_name", "service_status", ["service_name"], unique=True)
    op.create_index("idx_service_status_last_check", "service_status", [_desc("last_check_at")])

    op.create_table(
        "service_config",
        _serial_pk(),
        sa.Column("service_name", sa.String(100), nullable=False),
        sa.Column("service_url", sa.Text(), nullable=False),
        sa.Column("api_key", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("config_data", JSON, nullable=True),
        _now("updated_at"),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        _user_fk("service_config", "updated_by", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_config")),
    )
    op.create_index("idx_service_config_service_name", "service_config", ["service_name"], unique=True)
    op.create_index("idx_service_config_enabled", "service_config", ["enabled"])

    op.create_table(
        "error_logs",
        _uuid_pk(),
        sa.Column("correlation_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("error_code", sa.String(100), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("stack_trace", sa.Text(), nullable=True),
        sa.Column("request_path", sa.String(500), nullable=True),
        sa.Column("request_method", sa.String(10), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("metadata", JSON, nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_error_logs")),
    )
    op.create_index("idx_error_logs_correlation_id", "error_logs", ["correlation_id"])
    op.create_index("idx_error_logs_created_at", "error_logs", [_desc("created_at")])
    op.create_index("idx_error_logs_user_id", "error_logs", ["user_id"])
    op.create_index("idx_error_logs_error_code", "error_logs", ["error_code"])
    op.create_index("idx_error_logs_status_code", "error_logs", ["status_code"])
    op.create_index("idx_error_logs_user_date", "error_logs", ["user_id", _desc("created_at")])

    op.create_table(
        "service_metrics",
        _uuid_pk(),
        sa.Column("service_name", sa.String(100), nullable=False),
        sa.Column("metric_name", sa.String(100), nullable=False),
        sa.Column("metric_value", sa.Float(), nullable=False),
        _now("timestamp"),
        sa.Column("metadata", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_metrics")),
    )
    op.create_index("idx_service_metrics_service_name", "service_metrics", ["service_name"])
    op.create_index("idx_service_metrics_metric_name", "service_metrics", ["metric_name"])
    op.create_index("idx_service_metrics_timestamp", "service_metrics", [_desc("timestamp")])
    op.create_index("idx_service_metrics_service_metric", "service_metrics", ["service_name", "metric_name"])

    op.create_table(
        "service_incidents",
        _uuid_pk(),
        sa.Column("service_name", sa.String(100), nullable=False),
        sa.Column("incident_type", sa.String(50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(20), server_default="low", nullable=False),
        sa.Column("status", sa.String(20), server_default="open", nullable=False),
        _now("created_at"),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("metadata", JSON, nullable=True),
        sa.CheckConstraint(
            "incident_type IN ('outage', 'degradation', 'configuration', 'performance')",
            name=op.f("ck_service_incidents_incident_type"),
        ),
        sa.CheckConstraint(
            "severity IN ('low', 'medium', 'high', 'critical')", name=op.f("ck_service_incidents_severity")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'investigating', 'resolved', 'closed')", name=op.f("ck_service_incidents_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_incidents")),
    )
    op.create_index("idx_service_incidents_service_name", "service_incidents", ["service_name"])
    op.create_index("idx_service_incidents_status", "service_incidents", ["status"])
    op.create_index("idx_service_incidents_created_at", "service_incidents", [_desc("created_at")])
    op.create_index("idx_service_incidents_severity", "service_incidents", ["severity"])

    op.create_table(
        "notifications",
        _uuid_pk(),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("read", sa.Boolean(), server_default=sa.false(), nullable=False),
        _now("created_at"),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("metadata", JSON, nullable=True),
        sa.CheckConstraint("type IN ('info', 'success', 'warning', 'error')", name=op.f("ck_notifications_type")),
        _user_fk("notifications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("idx_notifications_user_id", "notifications", ["user_id"])
    op.create_index("idx_notifications_user_read", "notifications", ["user_id", "read"])
    op.create_index("idx_notifications_created_at", "notifications", [_desc("created_at")])

    op.create_table(
        "accounts",
        _uuid_pk(),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("provider_account_id", sa.String(255), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Integer(), nullable=True),
        sa.Column("token_type", sa.String(50), nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("id_token", sa.Text(), nullable=True),
        sa.Column("session_state", sa.String(255), nullable=True),
        _user_fk("accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint(
            "provider", "provider_account_id", name=op.f("uq_accounts_provider_provider_account_id")
        ),
    )
    op.create_index("idx_accounts_user_id", "accounts", ["user_id"])

    op.create_table(
        "sessions",
        _uuid_pk(),
        sa.Column("session_token", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("expires", sa.DateTime(), nullable=False),
        _user_fk("sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("session_token", name=op.f("uq_sessions_session_token")),
    )
    op.create_index("idx_sessions_user_id", "sessions", ["user_id"])
    op.create_index("idx_sessions_expires", "sessions", ["expires"])

    op.create_table(
        "verification_tokens",
        sa.Column("identifier", sa.String(255), nullable=False),
        sa.Column("token", sa.String(255), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("identifier", "token", name=op.f("pk_verification_tokens")),
        sa.UniqueConstraint("token", name=op.f("uq_verification_tokens_token")),
    )


def downgrade():
    for table in TABLES:
        op.drop_table(table)  # its indexes and constraints go with it
