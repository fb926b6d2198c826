"""Per-user read state for broadcast notifications.

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
    pass


def downgrade():
    pass
