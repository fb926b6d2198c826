"""Sign-in sessions, remember-me and Plex sign-in columns (issue: Plex sign-in).

sessions gains what the "Your sessions" page shows (created_at, last_seen_at, ip_address, user_agent) and
remember_token_id: the remember-me token issued to that browser, so signing the browser out also ends its
remember-me token. SQLite cannot ADD COLUMN with a CURRENT_TIMESTAMP default, so there the table is rebuilt.

Revision ID: 0002_auth
Revises: 0001_initial
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_auth"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade():
    now = "timezone('utc', CURRENT_TIMESTAMP)" if _postgresql() else "CURRENT_TIMESTAMP"
    with op.batch_alter_table("sessions", recreate="auto" if _postgresql() else "always") as batch:
        batch.add_column(sa.Column("created_at", sa.DateTime(), server_default=sa.text(now), nullable=False))
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("ip_address", sa.String(45), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.String(500), nullable=True))
        batch.add_column(sa.Column("remember_token_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_sessions_remember_token_id_session_tokens"), "session_tokens", ["remember_token_id"], ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("sessions", recreate="auto" if _postgresql() else "always") as batch:
        batch.drop_constraint(op.f("fk_sessions_remember_token_id_session_tokens"), type_="foreignkey")
        batch.drop_column("remember_token_id")
        batch.drop_column("user_agent")
        batch.drop_column("ip_address")
        batch.drop_column("last_seen_at")
        batch.drop_column("created_at")
