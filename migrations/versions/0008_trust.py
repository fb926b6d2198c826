"""Day-one trust: one active request per user and title, lost Plex access, lockouts.

Revision ID: 0008_trust
Revises: 0007_scale
Create Date: 2026-12-03

- media_requests.seasons_key: the season set as text ("" for films, "all", "1,2,5"), so that a partial unique
  index can hold one active (pending, approved, downloading) request per user, title and season set on
  PostgreSQL and SQLite alike. Duplicates the old race made are kept but marked failed (they no longer count
  toward the quota), the oldest active request of each set stays as it was.
- users.plex_access_checked_at / plex_access_lost_at: the periodic Plex server-access check.
- users.sign_in_unlocks: bumped by an admin's unlock; password-attempt counters are keyed by it.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_trust"
down_revision = "0007_scale"
branch_labels = None
depends_on = None

ACTIVE = "('pending', 'approved', 'downloading')"
ACTIVE_WHERE = f"status IN {ACTIVE}"
DUPLICATE_NOTE = "A duplicate of an earlier request for the same title; that one is followed instead."


def _key(media_type, seasons) -> str:
    if media_type != "tv":
        return ""
    if isinstance(seasons, str):
        import json

        seasons = json.loads(seasons)
    if not seasons:
        return "all"
    return ",".join(str(n) for n in sorted({int(n) for n in seasons}))


def upgrade():
    op.add_column("media_requests", sa.Column("seasons_key", sa.String(4000), server_default="", nullable=False))
    op.add_column("users", sa.Column("plex_access_checked_at", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("plex_access_lost_at", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("sign_in_unlocks", sa.Integer(), server_default="0", nullable=False))

    conn = op.get_bind()
    requests = sa.table("media_requests", sa.column("id", sa.Uuid()), sa.column("media_type", sa.String()),
                        sa.column("seasons", sa.JSON()), sa.column("seasons_key", sa.String()))
    for row in conn.execute(sa.select(requests.c.id, requests.c.media_type, requests.c.seasons)
                            .where(requests.c.media_type == "tv")):
        key = _key(row.media_type, row.seasons)
        conn.execute(requests.update().where(requests.c.id == row.id).values(seasons_key=key))
    # Newer active duplicates of the same user, title and season set (the old race) step aside.
    conn.execute(sa.text(
        f"UPDATE media_requests SET status = 'failed', forward_error = :note WHERE status IN {ACTIVE} AND EXISTS ("
        f" SELECT 1 FROM media_requests o WHERE o.user_id = media_requests.user_id"
        f" AND o.media_type = media_requests.media_type AND o.tmdb_id = media_requests.tmdb_id"
        f" AND o.seasons_key = media_requests.seasons_key AND o.status IN {ACTIVE}"
        f" AND (o.created_at < media_requests.created_at"
        f"      OR (o.created_at = media_requests.created_at AND o.id < media_requests.id)))"
    ), {"note": DUPLICATE_NOTE})
    op.create_index("uq_media_requests_one_active", "media_requests",
                    ["user_id", "media_type", "tmdb_id", "seasons_key"], unique=True,
                    postgresql_where=sa.text(ACTIVE_WHERE), sqlite_where=sa.text(ACTIVE_WHERE))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+): a batch table copy would rebuild the DESC indexes without DESC.
    op.drop_index("uq_media_requests_one_active", table_name="media_requests")
    for column in ("sign_in_unlocks", "plex_access_lost_at", "plex_access_checked_at"):
        op.drop_column("users", column)
    op.drop_column("media_requests", "seasons_key")
