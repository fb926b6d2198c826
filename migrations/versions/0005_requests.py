"""Media request tracking additions.

Revision ID: 0005_requests
Revises: 0004_monitoring
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_requests"
down_revision = "0004_monitoring"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
