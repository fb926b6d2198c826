"""Day-one trust: one active request per user and title, lost Plex access, lockouts.

Revision ID: 0008_trust
Revises: 0007_scale
Create Date: 2026-12-03
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0008_trust"
down_revision = "0007_scale"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
