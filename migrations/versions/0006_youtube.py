"""YouTube download additions: options, folder, per-video state, progress, retries, Plex step.

Revision ID: 0006_youtube
Revises: 0005_requests
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_youtube"
down_revision = "0005_requests"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

COLUMNS = (
    "quality", "container", "folder", "entries", "is_playlist", "truncated", "bytes_total", "error", "attempts",
    "cancel_requested", "progress", "task_id", "plex_state", "plex_error", "plex_collection_owned",
    "started_at", "updated_at",
)
CHECKS = {
    "quality": "quality IN ('best', '1080p', '720p', 'audio')",
    "container": "container IN ('mp4', 'mkv', 'webm', 'm4a', 'mp3', 'opus')",
    "plex_state": "plex_state IS NULL OR plex_state IN ('pending', 'done', 'failed')",
}


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def _restore_desc_index():
    """SQLite's batch mode rebuilds the table and loses the index's DESC: build it again as 0001 made it."""
    if _sqlite():
        op.drop_index("idx_youtube_downloads_created_at", table_name="youtube_downloads")
        op.create_index("idx_youtube_downloads_created_at", "youtube_downloads", [sa.literal_column("created_at DESC")])


def upgrade():
    now = "CURRENT_TIMESTAMP" if _sqlite() else "timezone('utc', CURRENT_TIMESTAMP)"
    with op.batch_alter_table("youtube_downloads") as batch:
        batch.add_column(sa.Column("quality", sa.String(10), server_default="best", nullable=False))
        batch.add_column(sa.Column("container", sa.String(10), server_default="mp4", nullable=False))
        batch.add_column(sa.Column("folder", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("entries", JSON, nullable=True))
        batch.add_column(sa.Column("is_playlist", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("truncated", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("bytes_total", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("progress", JSON, nullable=True))
        batch.add_column(sa.Column("task_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("plex_state", sa.String(20), nullable=True))
        batch.add_column(sa.Column("plex_error", sa.String(500), nullable=True))
        batch.add_column(sa.Column("plex_collection_owned", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), server_default=sa.text(now), nullable=False))
        for name, sqltext in CHECKS.items():
            batch.create_check_constraint(op.f(f"ck_youtube_downloads_{name}"), sqltext)
    _restore_desc_index()


def downgrade():
    with op.batch_alter_table("youtube_downloads") as batch:
        for name in CHECKS:
            batch.drop_constraint(op.f(f"ck_youtube_downloads_{name}"), type_="check")
        for name in reversed(COLUMNS):
            batch.drop_column(name)
    _restore_desc_index()
