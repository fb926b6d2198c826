"""YouTube download additions.

Revision ID: 0006_youtube
Revises: 0005_requests
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_youtube"
down_revision = "0005_requests"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
