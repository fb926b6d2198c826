"""Media requests: seasons, decline reason, forward state, attribution; "me too" interests; per-user quotas.

Revision ID: 0005_requests
Revises: 0004_monitoring
Create Date: 2026-11-25

media_requests gains the columns the request journey needs (the row is the forward job's state: queued ->
sending -> sent | failed), request_interests records users who asked for a title someone else had already
requested, and request_quotas holds per-user overrides of the admin's quota defaults. SQLite gets the
column additions through batch mode (a NOT NULL column with a CURRENT_TIMESTAMP default needs a table copy).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_requests"
down_revision = "0004_monitoring"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
FORWARD_STATES = "forward_state IN ('queued', 'sending', 'sent', 'failed', 'cancelled')"


def _now() -> sa.TextClause:
    postgresql_ = op.get_context().dialect.name == "postgresql"
    return sa.text("timezone('utc', CURRENT_TIMESTAMP)" if postgresql_ else "CURRENT_TIMESTAMP")


def _created_at_desc_index():
    op.create_index("idx_media_requests_created_at", "media_requests", [sa.literal_column("created_at DESC")])


def upgrade():
    # SQLite's table copy would rebuild this index from reflection, which loses DESC: rebuild it by hand.
    op.drop_index("idx_media_requests_created_at", table_name="media_requests")
    with op.batch_alter_table("media_requests") as batch:
        batch.add_column(sa.Column("seasons", JSON, nullable=True))
        batch.add_column(sa.Column("year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("poster_path", sa.String(255), nullable=True))
        batch.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("forward_state", sa.String(20), server_default="queued", nullable=False))
        batch.add_column(sa.Column("forward_attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("forward_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("forwarded_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("requested_as_admin", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), server_default=_now(), nullable=False))
        batch.add_column(sa.Column("synced_at", sa.DateTime(), nullable=True))
        batch.create_check_constraint(op.f("ck_media_requests_forward_state"), FORWARD_STATES)
    _created_at_desc_index()
    # Rows that already reached Overseerr before this revision are not forwarded again.
    op.execute("UPDATE media_requests SET forward_state = 'sent' WHERE overseerr_id IS NOT NULL")
    op.create_index("idx_media_requests_user_created", "media_requests", ["user_id", sa.literal_column("created_at DESC")])
    op.create_index("idx_media_requests_overseerr_id", "media_requests", ["overseerr_id"])
    op.create_index("idx_media_requests_forward_state", "media_requests", ["forward_state"])

    op.create_table(
        "request_interests",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["media_requests.id"],
                                name=op.f("fk_request_interests_request_id_media_requests"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_request_interests_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id", "user_id", name=op.f("pk_request_interests")),
    )
    op.create_index("idx_request_interests_user_id", "request_interests", ["user_id"])

    op.create_table(
        "request_quotas",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("movie_limit", sa.Integer(), nullable=True),
        sa.Column("season_limit", sa.Integer(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.CheckConstraint("movie_limit IS NULL OR movie_limit >= 0", name=op.f("ck_request_quotas_movie_limit")),
        sa.CheckConstraint("season_limit IS NULL OR season_limit >= 0", name=op.f("ck_request_quotas_season_limit")),
        sa.CheckConstraint("days IS NULL OR (days >= 1 AND days <= 365)", name=op.f("ck_request_quotas_days")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_request_quotas_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_request_quotas")),
    )


def downgrade():
    op.drop_table("request_quotas")
    op.drop_index("idx_request_interests_user_id", table_name="request_interests")
    op.drop_table("request_interests")
    op.drop_index("idx_media_requests_forward_state", table_name="media_requests")
    op.drop_index("idx_media_requests_overseerr_id", table_name="media_requests")
    op.drop_index("idx_media_requests_user_created", table_name="media_requests")
    op.drop_index("idx_media_requests_created_at", table_name="media_requests")
    with op.batch_alter_table("media_requests") as batch:
        batch.drop_constraint(op.f("ck_media_requests_forward_state"), type_="check")
        for column in ("synced_at", "updated_at", "requested_as_admin", "forwarded_at", "forward_error",
                       "forward_attempts", "forward_state", "decline_reason", "poster_path", "year", "seasons"):
            batch.drop_column(column)
    _created_at_desc_index()
