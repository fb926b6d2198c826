"""Per-user read state for broadcast notifications.

A broadcast is one notifications row with user_id NULL; each user who reads it gets a
notification_reads row, so every user has their own read state.

Revision ID: 0003_notifications
Revises: 0002_auth
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_notifications"
down_revision = "0002_auth"
branch_labels = None
depends_on = None


def upgrade():
    now = "timezone('utc', CURRENT_TIMESTAMP)" if op.get_context().dialect.name == "postgresql" else "CURRENT_TIMESTAMP"
    op.create_table(
        "notification_reads",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("read_at", sa.DateTime(), server_default=sa.text(now), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"],
                                name=op.f("fk_notification_reads_notification_id_notifications"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_notification_reads_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notification_id", "user_id", name=op.f("pk_notification_reads")),
    )
    op.create_index("idx_notification_reads_user_id", "notification_reads", ["user_id"])


def downgrade():
    op.drop_index("idx_notification_reads_user_id", table_name="notification_reads")
    op.drop_table("notification_reads")
