"""Service monitoring additions.

Revision ID: 0004_monitoring
Revises: 0003_notifications
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_monitoring"
down_revision = "0003_notifications"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
